"""PII detection on presidio's pattern recognizers: real entities with exact spans, no false
positives on ordinary text, and the fast paths checked against presidio's own recognizer and
AnalyzerEngine (NoOpNlpEngine) on seeded random texts."""

from __future__ import annotations

import doctest
import random
import socket

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

pytest.importorskip("presidio_analyzer")

from rippleops.errors import InvalidError
from rippleops.runtime.analyzers import pii
from rippleops.runtime.analyzers.pii import (
    ALL_ENTITIES,
    DEFAULT_ENTITIES,
    PiiFinding,
    PiiScanner,
    _resolve_overlaps,
    mask,
    plausible,
    redact_findings,
)


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    return PiiScanner()


@pytest.mark.parametrize(
    ("value", "entity"),
    [
        ("ana.sousa@example.pt", "EMAIL_ADDRESS"),
        ("+44 20 7946 0958", "PHONE_NUMBER"),
        ("(415) 555-2671", "PHONE_NUMBER"),
        ("+49 30 901820", "PHONE_NUMBER"),
        ("4111 1111 1111 1111", "CREDIT_CARD"),
        ("5500-0000-0000-0004", "CREDIT_CARD"),
        ("DE89 3704 0044 0532 0130 00", "IBAN_CODE"),
        ("GB82WEST12345698765432", "IBAN_CODE"),
        ("192.168.10.20", "IP_ADDRESS"),
        ("2001:db8:85a3::8a2e:370:7334", "IP_ADDRESS"),
        ("00:1A:2B:3C:4D:5E", "MAC_ADDRESS"),
        ("536-22-8726", "US_SSN"),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "CRYPTO"),
    ],
)
def test_finds_entity_with_exact_span(scanner: PiiScanner, value: str, entity: str) -> None:
    text = f"Hello, please note {value} for the record."
    findings = scanner.scan(text)
    assert [(f.entity, text[f.start : f.end]) for f in findings] == [(entity, value)]
    assert scanner.redact(text) == f"Hello, please note <{entity}> for the record."


def test_several_entities_in_one_text(scanner: PiiScanner) -> None:
    text = "Mail ana@example.org, call +1 (415) 555-2671, pay with 4111 1111 1111 1111 from 10.0.0.7."
    found = scanner.scan(text)
    assert [f.entity for f in found] == ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IP_ADDRESS"]
    assert found == sorted(found, key=lambda f: f.start)
    assert scanner.redact(text, replacement="[{entity}]") == (
        "Mail [EMAIL_ADDRESS], call [PHONE_NUMBER], pay with [CREDIT_CARD] from [IP_ADDRESS]."
    )
    assert all(0 < f.score <= 1 for f in found)


@pytest.mark.parametrize(
    ("value", "entity"),
    [
        ("4111 1111 1111 1112", "CREDIT_CARD"),  # fails the Luhn check
        ("DE89 3704 0044 0532 0130 01", "IBAN_CODE"),  # fails the IBAN mod-97 check
        ("078-05-1120", "US_SSN"),  # the famous invalid Woolworth SSN (a valid phone shape, though)
        ("999.999.999.999", "IP_ADDRESS"),  # not an IPv4 address
        ("ana@localhost", "EMAIL_ADDRESS"),  # no real top-level domain
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "CRYPTO"),  # bad address checksum
    ],
)
def test_checksums_and_validation_reject_lookalikes(scanner: PiiScanner, value: str, entity: str) -> None:
    text = f"reference {value} ok"
    assert entity not in [f.entity for f in scanner.scan(text)]


ORDINARY = [
    "I ordered a blue kettle on Tuesday and it arrived with a cracked lid.",
    "Order number 58213 was placed on 2024-03-02 at 10am and cost $129.99.",
    "We grew revenue by 12% in 2023, to 1,234,567 units across 3 regions.",
    "Version 2.14.3 fixes the crash; see section 4.2 on page 17.",
    "The meeting moved from 09:30 to 14:45 on 12/05/2023, room 301.",
    "Ticket #559210 has been open for 45 days; priority 2 of 5.",
    "The recipe needs 250 g flour, 3 eggs and 0.5 l of milk at 180 degrees.",
    "Call the main office or write to the support team for help.",
    "Our Berlin warehouse ships about 4000 parcels a day, 7 days a week.",
    "ISBN 978-3-16-148410-0 is the second edition, printed in 2019.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_no_false_positives_on_ordinary_text(scanner: PiiScanner, text: str) -> None:
    assert scanner.scan(text) == []
    assert scanner.redact(text) == text


def test_short_numbers_are_not_phone_numbers(scanner: PiiScanner) -> None:
    # libphonenumber takes "350258" for a valid German number; Ripple wants 7 digits or a "+"
    assert scanner.scan("Ticket #350258 is still open") == []
    assert [f.entity for f in scanner.scan("Ruf an: +49 30 1234")] == ["PHONE_NUMBER"]
    assert [f.entity for f in scanner.scan("Ruf an: 030 123456")] == ["PHONE_NUMBER"]
    # nor is a US ZIP+4 code (a valid German number to libphonenumber), as in every GPL notice
    assert scanner.scan("51 Franklin Street, Fifth Floor, Boston, MA 02110-1301 USA") == []


def test_names_and_addresses_are_not_found_without_an_nlp_model(scanner: PiiScanner) -> None:
    # Documented limit: pattern recognizers cannot see free-form personal data.
    assert scanner.scan("John Smith lives at 221B Baker Street, London.") == []


def test_optional_entities_only_when_asked() -> None:
    text = "See https://example.org/docs or write to ana@example.org"
    assert [f.entity for f in PiiScanner().scan(text)] == ["EMAIL_ADDRESS"]
    both = PiiScanner(entities=["URL", "EMAIL_ADDRESS"]).scan(text)
    # The e-mail's domain also looks like a URL; the overlap goes to the e-mail (higher score).
    assert [(f.entity, text[f.start : f.end]) for f in both] == [
        ("URL", "https://example.org/docs"),
        ("EMAIL_ADDRESS", "ana@example.org"),
    ]


def test_min_score_drops_weak_findings() -> None:
    text = "phone 415-555-2671"
    assert [f.entity for f in PiiScanner(min_score=0.4).scan(text)] == ["PHONE_NUMBER"]
    assert PiiScanner(min_score=0.5).scan(text) == []  # presidio scores phones 0.4


def test_overlaps_resolve_deterministically() -> None:
    found = [PiiFinding("A", 0, 10, 0.5), PiiFinding("B", 5, 8, 0.9), PiiFinding("C", 8, 12, 0.5)]
    assert _resolve_overlaps(found) == [PiiFinding("B", 5, 8, 0.9), PiiFinding("C", 8, 12, 0.5)]
    assert _resolve_overlaps(list(reversed(found))) == _resolve_overlaps(found)


def test_redact_findings_and_mask() -> None:
    assert redact_findings("abc", []) == "abc"
    assert (
        redact_findings("my 123 and 456", [PiiFinding("N", 3, 6, 1.0), PiiFinding("N", 11, 14, 1.0)])
        == "my <N> and <N>"
    )
    assert mask("ana@example.org") == "a*************g"
    assert mask("1234") == "****"
    assert PiiFinding("EMAIL_ADDRESS", 1, 2, 1.0).to_dict() == {
        "entity": "EMAIL_ADDRESS",
        "start": 1,
        "end": 2,
        "score": 1.0,
    }


def test_empty_and_unicode_text(scanner: PiiScanner) -> None:
    assert scanner.scan("") == []
    text = "Grüße — schreib an jürgen@example.de ☺"
    [f] = scanner.scan(text)
    assert text[f.start : f.end] == "jürgen@example.de"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"entities": ["PERSON"]}, "unknown PII entity type PERSON"),
        ({"entities": []}, "non-empty list"),
        ({"entities": "EMAIL_ADDRESS"}, "non-empty list"),
        ({"min_score": 1.5}, "from 0 to 1"),
    ],
)
def test_bad_scanner_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        PiiScanner(**kwargs)  # type: ignore[arg-type]


def test_bad_text(scanner: PiiScanner) -> None:
    with pytest.raises(InvalidError, match="needs a string"):
        scanner.scan(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidError, match="replacement"):
        scanner.redact("x", replacement=None)  # type: ignore[arg-type]


def test_no_network_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # presidio's own e-mail check would fetch the public-suffix list; ours must not try.
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("PII scanning tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert [f.entity for f in PiiScanner().scan("mail ana@example.co.uk now")] == ["EMAIL_ADDRESS"]


PIECES = [
    "+44 20 7946 0958", "(415) 555-2671", "415.555.2671", "030 1234567", "+49 30 901820", "0049 30 901820",
    "011 44 20 7946 0958", "+1-800-555-0199 ext. 12", "06 12 34 56 78", "+33 6 12 34 56 78", "98765 43210",
    "+91 98765 43210", "(11) 91234-5678", "+55 11 91234-5678", "03-1234567", "+972-3-1234567", "2024-03-02",
    "4111 1111 1111 1111", "58213", "10am", "12:30", "$1,234.56", "1-800-FLOWERS", "555-1234 x89", "0800 123 4567",
    "07700 900123", "+447700900123", "1 415 555 2671", "00 1 415 555 2671", "12/05/2023", "pp. 211-227 (2003)",
    "90 11 91234 5678", "0 21 11 91234 5678", "ana@example.org", "10.1.2.3", "536-22-8726", "DE89 3704 0044 0532 0130 00",
    "2001:db8::8a2e:370:7334", "::ffff:192.168.1.1", "::1", "fe80::1%eth0", "12:30:45", "a:b:c", "1.2.3", "1.2.3.4.5",
]  # fmt: skip
WORDS = ["call", "me", "on", "order", "the", "and", "at", "ref", "tel:", "phone", "x", "-", ",", "(", ")", "/", "#"]


def _random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(2, 10)):
            r = rng.random()
            if r < 0.4:
                parts.append(rng.choice(PIECES))
            elif r < 0.6:
                parts.append("".join(rng.choice("0123456789 -.()+/") for _ in range(rng.randint(3, 16))))
            else:
                parts.append(rng.choice(WORDS))
        texts.append(" ".join(parts))
    return texts


def test_fast_phone_recognizer_finds_what_presidios_finds() -> None:
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from rippleops.runtime.analyzers._presidio import FastPhoneRecognizer

    fast, stock = FastPhoneRecognizer(), PhoneRecognizer()
    texts = _random_texts(300, seed=11)
    found = 0
    for text in texts:
        ours = sorted((r.start, r.end, r.score) for r in fast.analyze(text, ["PHONE_NUMBER"], None))
        theirs = sorted((r.start, r.end, r.score) for r in stock.analyze(text, ["PHONE_NUMBER"], None))
        assert ours == theirs, text
        found += len(ours)
    assert found > 100  # the corpus does exercise the matcher


def test_scanner_agrees_with_presidio_analyzer_engine() -> None:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import IpRecognizer, PhoneRecognizer

    from rippleops.runtime.analyzers._presidio import FastPhoneRecognizer

    scanner = PiiScanner(entities=ALL_ENTITIES, min_score=0.3)
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for check in pii._all_checks():  # presidio's own recognizers where Ripple changed or split one
        if isinstance(check.recognizer, FastPhoneRecognizer):
            registry.add_recognizer(PhoneRecognizer())
        elif isinstance(check.recognizer, IpRecognizer):
            if len(check.recognizer.patterns) == 1:
                registry.add_recognizer(IpRecognizer())
        else:
            registry.add_recognizer(check.recognizer)
    engine = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])
    for text in _random_texts(150, seed=5) + ORDINARY:
        results = engine.analyze(text, language="en", entities=list(ALL_ENTITIES), score_threshold=0.3)
        found = [PiiFinding(r.entity_type, r.start, r.end, round(r.score, 4)) for r in results]
        theirs = _resolve_overlaps([f for f in found if plausible(f, text)])  # plus Ripple's phone rules
        assert scanner.scan(text) == theirs, text


def test_default_entities_are_a_subset() -> None:
    assert set(DEFAULT_ENTITIES) < set(ALL_ENTITIES)
    assert PiiScanner().entities == tuple(sorted(DEFAULT_ENTITIES))


def test_doctests() -> None:
    assert doctest.testmod(pii).failed == 0


def test_the_batch_prefilter_never_skips_a_text_a_recognizer_matches() -> None:
    """Each recognizer's need (what :meth:`PiiScanner.candidates` checks in pyarrow) holds for
    every text that recognizer matches at all, at any score, so skipping the rest loses nothing."""
    extra = [
        "00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5e", "001a.2b3c.4d5e", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "GB82WEST12345698765432",
        "GB82 WEST 1234 5698 7654 32", "912-70-1234", "912 70 1234", "912701234", "\uff19\uff11\uff12-\uff17\uff10-\uff11\uff12\uff13\uff14",
        "\u0669\u0661\u0662\u0667\u0660\u0661\u0662\u0663\u0664", "4111-1111-1111-1111", "+44 20 7946 0958", "customer-000000912", "order 912-70 1234 shipped",
        "\uff2b1BvBMSEYstWetqTFn5Au4m4GFg7x", "DE89370400440532013000", "https://example.org/a?b=c", "2024-03-02",
        "123e4567-e89b-12d3-a456-426614174000", "943 476 5919", "\u017f00:1a:2b:3c:4d:5e",
    ]  # fmt: skip
    texts = _random_texts(400, seed=3) + ORDINARY + extra + [f"see {t} now" for t in extra]
    array = pa.array(texts)
    digits = np.asarray(pc.fill_null(pc.count_substring_regex(array, pii._DIGIT_RE2), 0))
    assert digits.tolist() == [len(pii._DIGIT.findall(t)) for t in texts]  # RE2 and Python agree on digits
    matched = 0
    for check in pii._all_checks():
        need = check.need.mask(array, digits)
        for text, ok in zip(texts, need.tolist(), strict=True):
            if check.recognizer.analyze(text, [check.entity], None):  # type: ignore[arg-type]
                matched += 1
                assert ok, (check.entity, text)
    assert matched > 300
    scanner = PiiScanner(entities=ALL_ENTITIES, min_score=0.0)
    skipped = ~scanner.candidates(array)
    assert skipped.any() and not any(scanner.scan(t) for t, s in zip(texts, skipped.tolist(), strict=True) if s)
    assert scanner.candidates(pa.array(["", None, "a"], pa.string())).tolist() == [False, False, False]
