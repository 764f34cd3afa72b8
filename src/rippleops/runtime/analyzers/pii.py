"""Find and redact personal data with presidio-analyzer's pattern recognizers, no NLP model.

Presidio's default :class:`AnalyzerEngine` wants spaCy's large English model for names and
places; that model is not installable here and Ripple never downloads one. The pattern
recognizers (regular expressions plus checksums: Luhn for cards, mod-97 for IBANs, the
phone-number rules of Google's libphonenumber) need no model at all, so :class:`PiiScanner`
builds those recognizers itself and runs them on the text. That is what presidio's
``AnalyzerEngine`` with its ``NoOpNlpEngine`` does too (the tests check that both find the
same spans), minus the engine's per-call overhead — context words cannot raise scores
without NLP tokens either way.

Two of presidio's recognizers are swapped for exact, faster equivalents, and one is split:

- e-mail: presidio checks the domain with ``tldextract``, whose default reaches out to the
  network for the public-suffix list on first use; here it reads the list bundled inside
  ``tldextract`` (no network, no cache folder);
- phone: presidio's recognizer asks libphonenumber to parse and validate every digit group
  of the text (and parts of it), once per region (8 regions), ~1 ms on a 200-character
  message with a few numbers. Here a digit group too short or too long to be a valid
  national number of the region, and not written internationally, is not parsed: it could
  never validate, so the findings are the same (a test compares them with presidio's
  recognizer on a corpus of phone-like text);
- IP: the IPv4 pattern and the (slow) IPv6 patterns run as two recognizers, each only on
  text that has three dots, or two colons.

Scanning also skips a recognizer when the text lacks what every one of its matches needs
(an ``@`` for e-mail, 13 digits for a card number ...). On top of presidio, Ripple drops
phone findings of fewer than 7 digits (unless written with ``+``) and US ZIP+4 codes, both
valid German numbers to libphonenumber and common in ordinary text (:func:`plausible`).
Names, postal addresses and other free-form personal data are **not** found: they need an
NLP model (see docs/quality.md).

>>> scanner = PiiScanner()
>>> [f.entity for f in scanner.scan("Mail ana@example.org or call +44 20 7946 0958")]
['EMAIL_ADDRESS', 'PHONE_NUMBER']
>>> scanner.redact("card 4111 1111 1111 1111, thanks")
'card <CREDIT_CARD>, thanks'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rippleops.errors import InvalidError

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

#: Found by default: formats with a checksum or a shape distinct enough to rarely fire on
#: ordinary text and numbers.
DEFAULT_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD",
    "CRYPTO",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "PHONE_NUMBER",
    "US_ITIN",
    "US_SSN",
)
#: Also available when asked for by name; left out of the defaults because they fire on
#: ordinary text: any domain name is a URL (and so is the end of every e-mail address), one
#: 10-digit number in 11 passes the NHS checksum, dates are everywhere, and the US passport,
#: bank-account, driver-licence and medical-licence shapes are any run of digits or letters
#: that presidio only trusts next to context words (which need an NLP model).
OPTIONAL_ENTITIES: tuple[str, ...] = (
    "DATE_TIME",
    "MEDICAL_LICENSE",
    "UK_NHS",
    "URL",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "US_PASSPORT",
    "UUID",
)
ALL_ENTITIES: tuple[str, ...] = tuple(sorted(DEFAULT_ENTITIES + OPTIONAL_ENTITIES))
#: Findings scored below this are dropped: presidio gives its "very weak" patterns (any
#: 9-digit number as an SSN) 0.05 and trusts them only with context words.
DEFAULT_MIN_SCORE = 0.4
DATA_EXTRA_HINT = "pip install 'rippleops[data]'"
#: A phone number needs this many digits unless written with "+": libphonenumber accepts
#: German numbers of 4 to 6 digits, which flags ticket and order numbers ("#350258").
MIN_PHONE_DIGITS = 7
# A US ZIP+4 code ("Boston, MA 02110-1301", in every GPL notice) is a valid German and Israeli
# phone number to libphonenumber; Ripple does not take that shape for a phone number.
_ZIP_PLUS_4 = re.compile(r"\d{5}-\d{4}")

_DIGIT = re.compile(r"\d")
_DIGIT_RE2 = r"\p{Nd}"  # the same characters as Python's \d (Unicode decimal digits)


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """One piece of personal data: its entity type, the span ``text[start:end]``, a score."""

    entity: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "start": self.start, "end": self.end, "score": self.score}


@dataclass(frozen=True, slots=True)
class _Need:
    """What every match of a recognizer needs, read off its regular expressions: at least
    ``digits`` digits, one of the characters ``any_of``, ``times`` copies of ``repeat``, and
    (checked on whole batches only, by RE2 in pyarrow) a match of ``pattern``."""

    digits: int = 0
    any_of: str = ""
    repeat: str = ""
    times: int = 0
    pattern: str | None = None

    def met(self, text: str, digits: int) -> bool:
        return (
            digits >= self.digits
            and (not self.any_of or any(c in text for c in self.any_of))
            and (not self.repeat or text.count(self.repeat) >= self.times)
        )

    def mask(self, texts: pa.Array, digits: np.ndarray) -> np.ndarray:
        """:meth:`met` (and ``pattern``) for a whole string array at once."""
        ok = digits >= self.digits
        if self.any_of:
            ok &= np.logical_or.reduce([_flags(pc.match_substring(texts, c)) for c in self.any_of])
        if self.repeat:
            ok &= np.asarray(pc.fill_null(pc.count_substring(texts, self.repeat), 0)) >= self.times
        if self.pattern is not None and ok.any():
            ok &= _flags(pc.match_substring_regex(texts, self.pattern))
        return ok


def _flags(mask: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False), dtype=bool)


@dataclass(frozen=True, slots=True)
class _Check:
    """A recognizer plus what every match of it needs (a cheap test before running it)."""

    recognizer: EntityRecognizer
    entity: str
    need: _Need


class PiiScanner:
    """Pattern-based PII detection and redaction (presidio-analyzer, no NLP model).

    ``entities`` picks the entity types (default :data:`DEFAULT_ENTITIES`; any of
    :data:`ALL_ENTITIES`); ``min_score`` drops weaker findings. Overlapping findings are
    resolved to the one with the higher score (then the longer span), so spans never overlap.
    One scanner is safe to share between threads; building one costs ~1 s the first time
    (presidio imports spaCy as a library) and little after.

    Example::

        scanner = PiiScanner()
        scanner.scan("write to ana@example.org")
        # [PiiFinding(entity='EMAIL_ADDRESS', start=9, end=24, score=1.0)]
        scanner.redact("write to ana@example.org")   # 'write to <EMAIL_ADDRESS>'
    """

    def __init__(self, entities: Sequence[str] | None = None, *, min_score: float = DEFAULT_MIN_SCORE) -> None:
        wanted = tuple(DEFAULT_ENTITIES if entities is None else entities)
        if isinstance(entities, str) or not wanted:
            raise InvalidError(f"entities must be a non-empty list of entity types; known: {', '.join(ALL_ENTITIES)}")
        unknown = sorted(set(wanted) - set(ALL_ENTITIES))
        if unknown:
            raise InvalidError(f"unknown PII entity type {', '.join(unknown)}; known: {', '.join(ALL_ENTITIES)}")
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not 0 <= min_score <= 1:
            raise InvalidError(f"min_score must be a number from 0 to 1, not {min_score!r}")
        self.entities: tuple[str, ...] = tuple(sorted(set(wanted)))
        self.min_score = float(min_score)
        self._checks = [check for check in _all_checks() if check.entity in self.entities]

    def scan(self, text: str) -> list[PiiFinding]:
        """Every finding in ``text``, in text order, spans not overlapping."""
        if not isinstance(text, str):
            raise InvalidError(f"PII scanning needs a string, not {type(text).__name__}")
        if not text:
            return []
        digits = len(_DIGIT.findall(text))
        found: list[PiiFinding] = []
        for check in self._checks:
            if not check.need.met(text, digits):
                continue
            # pattern recognizers take no NLP artifacts (there is no NLP model to make them)
            for result in check.recognizer.analyze(text, [check.entity], None):  # type: ignore[arg-type]
                finding = PiiFinding(result.entity_type, result.start, result.end, round(result.score, 4))
                if finding.score >= self.min_score and plausible(finding, text):
                    found.append(finding)
        return _resolve_overlaps(found)

    def candidates(self, texts: pa.Array) -> np.ndarray:
        """A boolean mask of the texts of a pyarrow string array that :meth:`scan` could find
        anything in; the others need no scan (nulls and empty texts never do). Computed by
        pyarrow for the whole array, so a batch of ordinary text costs no Python call per
        text; the tests check that no text left out has a finding."""
        if pa.types.is_dictionary(texts.type):
            texts = texts.dictionary_decode()
        if not pa.types.is_large_string(texts.type):
            texts = texts.cast(pa.large_string())
        digits = np.asarray(pc.fill_null(pc.count_substring_regex(texts, _DIGIT_RE2), 0))
        out = np.zeros(len(texts), dtype=bool)
        for check in self._checks:
            out |= check.need.mask(texts, digits)
        return out

    def redact(self, text: str, replacement: str = "<{entity}>") -> str:
        """``text`` with every finding replaced by ``replacement`` (``{entity}`` is filled in).

        >>> PiiScanner().redact("ana@example.org", replacement="[{entity}]")
        '[EMAIL_ADDRESS]'
        """
        if not isinstance(replacement, str):
            raise InvalidError("the replacement must be a string such as '<{entity}>'")
        return redact_findings(text, self.scan(text), replacement)

    def __repr__(self) -> str:
        return f"PiiScanner(entities={list(self.entities)!r}, min_score={self.min_score})"


def plausible(finding: PiiFinding, text: str) -> bool:
    """Ripple's rules on top of presidio's, for phone numbers: 7 digits at least unless
    written with "+" (see :data:`MIN_PHONE_DIGITS`), and not the shape of a US ZIP+4 code."""
    if finding.end <= finding.start:
        return False
    if finding.entity == "PHONE_NUMBER":
        span = text[finding.start : finding.end]
        if "+" in span:
            return True
        return len(_DIGIT.findall(span)) >= MIN_PHONE_DIGITS and not _ZIP_PLUS_4.fullmatch(span)
    return True


def redact_findings(text: str, findings: Iterable[PiiFinding], replacement: str = "<{entity}>") -> str:
    """Replace non-overlapping ``findings`` (as :meth:`PiiScanner.scan` returns them) in ``text``."""
    parts: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < pos:
            continue  # overlaps the previous one: already covered
        parts.append(text[pos : f.start])
        parts.append(replacement.replace("{entity}", f.entity))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


def mask(value: str) -> str:
    """A hint of a PII value that does not disclose it: first and last character, length.

    >>> mask("ana@example.org")
    'a*************g'
    """
    if len(value) <= 4:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]


def _resolve_overlaps(found: list[PiiFinding]) -> list[PiiFinding]:
    # Higher score wins, then the longer span, then the earlier one: deterministic.
    kept: list[PiiFinding] = []
    for f in sorted(found, key=lambda f: (-f.score, -(f.end - f.start), f.start, f.entity)):
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: (f.start, f.end))


@cache
def _all_checks() -> tuple[_Check, ...]:
    try:
        from presidio_analyzer import predefined_recognizers as pr
    except ImportError as exc:  # the data extra is not installed
        raise InvalidError(
            f"PII detection needs the 'data' extra (presidio-analyzer): {DATA_EXTRA_HINT}",
            details={"missing": exc.name},
        ) from exc
    from rippleops.runtime.analyzers._presidio import FastPhoneRecognizer, OfflineEmailRecognizer

    # Each need is a necessary condition read off the recognizer's regular expressions (which
    # presidio runs with the ``regex`` module, case-insensitive but for IBAN); ``pattern``
    # uses \pL / \pN where the recognizer has [a-z] or \d, so case folding and Unicode digits
    # can only widen it.
    hex_run = r"[\pL\pN]"
    table: list[tuple[EntityRecognizer, _Need]] = [
        (pr.CreditCardRecognizer(), _Need(digits=13)),  # 4 + 3 + 3 + 3 digits at the least
        # bitcoin: (bc1|[13]) then 25 to 59 letters and digits
        (pr.CryptoRecognizer(), _Need(any_of="13", pattern=r"[13][\pL\pN]{25}")),
        (OfflineEmailRecognizer(), _Need(any_of="@")),
        # two capitals, the two check digits, then two groups of four (case-sensitive)
        (pr.IbanRecognizer(), _Need(digits=2, pattern=r"[A-Z]{2}[0-9]{2}[ -]?[A-Z0-9]{4}[ -]?[A-Z0-9]{4}")),
        # presidio's IP recognizer, split: its IPv6 patterns are slow and need two colons
        (
            pr.IpRecognizer(patterns=[p for p in pr.IpRecognizer.PATTERNS if p.name == "IPv4"]),
            _Need(digits=4, repeat=".", times=3),
        ),
        (
            pr.IpRecognizer(patterns=[p for p in pr.IpRecognizer.PATTERNS if p.name != "IPv4"]),
            _Need(repeat=":", times=2),
        ),
        # 12 hex digits in pairs joined by : or -, or in fours joined by dots
        (
            pr.MacAddressRecognizer(),
            _Need(any_of=":-.", pattern=rf"{hex_run}{{2}}[:-]{hex_run}{{2}}[:-]|{hex_run}{{4}}\.{hex_run}{{4}}\."),
        ),
        (FastPhoneRecognizer(), _Need(digits=min(MIN_PHONE_DIGITS, FastPhoneRecognizer.MIN_INTERNATIONAL))),
        # 9, two digits, an optional separator, two more digits: the start of every ITIN pattern
        (pr.UsItinRecognizer(), _Need(digits=9, pattern=r"9\p{Nd}{2}[- ]?\p{Nd}{2}")),
        (pr.UsSsnRecognizer(), _Need(digits=9)),
        (pr.DateRecognizer(), _Need(digits=1)),
        (pr.MedicalLicenseRecognizer(), _Need(digits=1)),
        (pr.NhsRecognizer(), _Need(digits=10)),
        (pr.UrlRecognizer(), _Need(any_of=".")),
        (pr.UsBankRecognizer(), _Need(digits=8)),
        (pr.UsLicenseRecognizer(), _Need(digits=1)),
        (pr.UsPassportRecognizer(), _Need(digits=1)),
        (pr.UuidRecognizer(), _Need(any_of="-")),
    ]
    return tuple(_Check(rec, rec.supported_entities[0], need) for rec, need in table)
