"""PII scan speed: p50/p95 per ~200-character message and messages/s, for Ripple's
PiiScanner and for presidio's own AnalyzerEngine on a NoOpNlpEngine (no spaCy model) with
the same recognizers, on ~2,000 varied support-desk messages (a quarter carry PII).

    .venv/bin/python benchmarks/pii.py [N_MESSAGES]

Needs the data extra (pip install -e '.[data]'). Target: <= 1 ms p50 per message.
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from rippleops.runtime.analyzers.pii import PiiScanner, _all_checks

OPENINGS = [
    "Hi team,",
    "Hello,",
    "Good morning,",
    "Dear support,",
    "Hey there,",
    "",
]
BODIES = [
    "I ordered a blue kettle on Tuesday and it arrived with a cracked lid.",
    "my invoice for March shows the same subscription charged twice.",
    "the mobile app logs me out every time I switch to another app.",
    "we cannot export the quarterly usage report as CSV any more.",
    "the password reset link in your email expires before I can open it.",
    "our warehouse in Leeds has not received the delayed delivery yet.",
    "the API rate limit for the free tier seems lower than documented.",
    "two-factor authentication does not work on my new phone.",
]
NUMBERS = [
    "Order number {n5}.",
    "It was placed on {date} at {hour}am.",
    "The total was ${amount}.",
    "Ticket #{n6} is still open after {d2} days.",
    "We have {d3} users on the plan.",
    "Version {d1}.{d2}.{d1} of the app.",
    "",
]
ASKS = [
    "Could you send a replacement or refund me?",
    "Can someone look into this today?",
    "Please advise on the next steps.",
    "Thanks a lot for your help!",
    "Is there a workaround in the meantime?",
]
PII = [
    "You can reach me at {name}.{last}@example.com.",
    "Call me back on +44 20 7946 {d4}.",
    "My number is (415) 555-{d4}.",
    "The card ending in the charge is 4111 1111 1111 1111.",
    "Refund to IBAN DE89 3704 0044 0532 0130 00 please.",
    "The request came from 192.168.{d2}.{d2}.",
    "My phone: 030 {d4}{d3}.",
]
NAMES = ["ana", "ben", "chloe", "dev", "erin", "farid"]


def message(rng: random.Random) -> tuple[str, bool]:
    def fill(s: str) -> str:
        return s.format(
            n5=rng.randint(10000, 99999),
            n6=rng.randint(100000, 999999),
            date=f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            hour=rng.randint(7, 11),
            amount=f"{rng.randint(5, 999)}.{rng.randint(0, 99):02d}",
            d1=rng.randint(1, 9),
            d2=rng.randint(10, 99),
            d3=rng.randint(100, 999),
            d4=rng.randint(1000, 9999),
            name=rng.choice(NAMES),
            last=rng.choice(NAMES),
        )

    has_pii = rng.random() < 0.25
    parts = [rng.choice(OPENINGS), rng.choice(BODIES), fill(rng.choice(NUMBERS))]
    if has_pii:
        parts.append(fill(rng.choice(PII)))
    parts.append(rng.choice(ASKS))
    text = " ".join(p for p in parts if p)
    while len(text) < 180:
        text += " " + rng.choice(BODIES).capitalize()
    return text[:200], has_pii


def measure(name: str, scan, messages: list[str]) -> list[float]:  # type: ignore[no-untyped-def]
    for m in messages[:50]:
        scan(m)
    samples = []
    start = time.perf_counter()
    for m in messages:
        t = time.perf_counter()
        scan(m)
        samples.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    s = sorted(samples)
    p50, p95 = s[len(s) // 2] * 1e3, s[int(len(s) * 0.95)] * 1e3
    print(
        f"{name:<44} p50 {p50:6.3f} ms   p95 {p95:6.3f} ms   mean {statistics.mean(s) * 1e3:6.3f} ms   {len(messages) / total:8.0f} messages/s"
    )
    return samples


def presidio_engine():  # type: ignore[no-untyped-def]
    """presidio's AnalyzerEngine with its NoOpNlpEngine and presidio's own recognizers (the
    e-mail one offline, else it would try to download the public-suffix list)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from rippleops.runtime.analyzers._presidio import FastPhoneRecognizer

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    scanner = PiiScanner()
    for check in _all_checks():
        if check.entity in scanner.entities:
            rec = PhoneRecognizer() if isinstance(check.recognizer, FastPhoneRecognizer) else check.recognizer
            registry.add_recognizer(rec)
    engine = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])
    entities = list(scanner.entities)
    return lambda text: engine.analyze(text, language="en", entities=entities, score_threshold=scanner.min_score)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = random.Random(7)
    corpus = [message(rng) for _ in range(n)]
    messages = [m for m, _ in corpus]
    print(
        f"{n} messages, mean {statistics.mean(len(m) for m in messages):.0f} characters, "
        f"{sum(p for _, p in corpus)} with PII"
    )
    t = time.perf_counter()
    scanner = PiiScanner()
    print(f"PiiScanner() built in {time.perf_counter() - t:.2f} s (imports presidio and spaCy the first time)")
    measure("PiiScanner.scan, all messages", scanner.scan, messages)
    measure("PiiScanner.scan, messages with PII", scanner.scan, [m for m, p in corpus if p])
    measure("PiiScanner.scan, messages without PII", scanner.scan, [m for m, p in corpus if not p])
    engine = presidio_engine()
    measure("presidio AnalyzerEngine (NoOp NLP), all messages", engine, messages)
    measure("presidio AnalyzerEngine, messages with PII", engine, [m for m, p in corpus if p])
    found = sum(len(scanner.scan(m)) for m in messages)
    print(f"findings: {found} (target: <= 1 ms p50 per message)")


if __name__ == "__main__":
    main()
