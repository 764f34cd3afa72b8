"""Quality report on real text: duplicates and near-duplicates (and not below the threshold),
empty and over-long texts, PII masked, label balance, column statistics, bad input, and the
same report whatever the batching or the process."""

from __future__ import annotations

import datetime as dt
import doctest
import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from rippleops.errors import InvalidError
from rippleops.runtime.analyzers import quality
from rippleops.runtime.analyzers._hashing import hash_binary, hash_bytes
from rippleops.runtime.analyzers._near_dups import NearDuplicateFinder, shingle_hashes, shingles
from rippleops.runtime.analyzers._quality_parts import HashSet
from rippleops.runtime.analyzers.quality import quality_report, quality_summary

RESET = (
    "To reset your password, open the sign-in page and choose Forgot password. Enter the email address of "
    "your account and we will send you a link that stays valid for thirty minutes. Open the link on the same "
    "device, pick a new password of at least twelve characters and confirm it. If the email does not arrive "
    "within five minutes, look in your spam folder, make sure the address is spelled correctly and try again. "
    "Accounts that belong to a company may have single sign-on, in which case your administrator resets it."
)
# One word changed in a 90-word text: 3 of ~88 word 3-grams differ, Jaccard about 0.93.
RESET_VARIANT = RESET.replace("thirty minutes", "sixty minutes")
# The same topic in other words: Jaccard far below any sensible threshold.
RESET_PARAPHRASE = (
    "Forgot your password? Go to the login screen, click the reset link and type the address you signed up "
    "with. We email a link valid for half an hour; open it on this device and choose a new password with at "
    "least twelve characters. Nothing arrived after five minutes? Check spam and the spelling, then retry."
)
REFUND = (
    "Refunds are paid to the card or account used for the purchase. Once the returned item reaches our "
    "warehouse we check it within three working days and then issue the refund, which your bank may take up "
    "to a week to show. Shipping costs are refunded only when the item was faulty or we sent the wrong one."
)
SHIPPING = (
    "Standard delivery takes three to five working days inside the country and seven to ten days abroad. "
    "Express orders placed before noon leave the warehouse the same day. Every parcel has a tracking number "
    "that we send by email as soon as the carrier collects it."
)


def _jaccard(a: str, b: str) -> float:
    sa, sb = set(shingles(a)), set(shingles(b))
    return len(sa & sb) / len(sa | sb)


def _docs() -> pa.Table:
    texts = [RESET, REFUND, RESET_VARIANT, SHIPPING, RESET_PARAPHRASE, REFUND, "   ", None, "ok"]
    return pa.table(
        {
            "doc_id": [f"doc-{i}" for i in range(len(texts))],
            "text": texts,
            "label": ["account", "billing", "account", "shipping", "account", "billing", "account", None, "account"],
        }
    )


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    return quality_report(_docs(), key="doc_id", label_column="label")


def test_columns(report: dict[str, object]) -> None:
    cols = report["columns"]  # type: ignore[index]
    assert report["rows"] == 9
    assert cols["text"]["type"] == "string" and cols["text"]["nulls"] == 1
    assert cols["text"]["null_rate"] == pytest.approx(1 / 9, abs=1e-6)
    assert cols["text"]["distinct"] == 7 and cols["text"]["distinct_exact"] is True  # REFUND twice, None not counted
    assert cols["doc_id"]["distinct"] == 9
    assert cols["label"]["distinct"] == 3 and cols["label"]["nulls"] == 1
    assert cols["text"]["text"]["max_chars"] == len(RESET) and cols["text"]["text"]["min_chars"] == 2
    assert report["text_columns"] == ["text"]  # string columns but the key and the label
    assert "text" not in cols["doc_id"]


def test_exact_duplicates_ignore_the_key(report: dict[str, object]) -> None:
    exact = report["exact_duplicates"]  # type: ignore[index]
    # rows 1 and 5 differ only in doc_id
    assert exact == {"count": 1, "examples": [{"rows": [1, 5], "copies": 1}]}
    assert report["text_duplicates"]["text"] == {"count": 1, "examples": [{"rows": [1, 5], "copies": 1}]}  # type: ignore[index]
    assert report["key_check"] == {"nulls": 0, "duplicates": 0, "examples": []}


def test_near_duplicates_found_and_not_below_threshold(report: dict[str, object]) -> None:
    assert _jaccard(RESET, RESET_VARIANT) > 0.9 > 0.3 > _jaccard(RESET, RESET_PARAPHRASE)
    near = report["near_duplicates"]  # type: ignore[index]
    assert near["threshold"] == 0.9
    assert near["count"] == 1 and near["pairs"] == 1 and near["by_column"] == {"text": 1}
    [example] = near["examples"]
    assert example["column"] == "text" and example["rows"] == [0, 2]
    assert example["jaccard"] == pytest.approx(_jaccard(RESET, RESET_VARIANT), abs=0.08)
    # the exact copy (rows 1 and 5) is not counted again as a near-duplicate
    assert all(e["rows"] != [1, 5] for e in near["examples"])


def test_threshold_moves_what_counts_as_near() -> None:
    exact_j = _jaccard(RESET, RESET_VARIANT)
    table = pa.table({"text": [RESET, RESET_VARIANT]})
    assert (
        quality_report(table, near_duplicate_threshold=min(0.99, exact_j + 0.05), pii=False)["near_duplicates"]["count"]
        == 0
    )
    assert quality_report(table, near_duplicate_threshold=0.8, pii=False)["near_duplicates"]["count"] == 1


def test_many_near_copies_of_a_template_stay_linear() -> None:
    # 400 tickets that differ in one number (Jaccard ~0.93): each nearly repeats an earlier one
    texts = [f"{RESET} Ticket number {1000 + i} was opened today." for i in range(400)]
    near = quality_report(pa.table({"text": texts}), pii=False, near_duplicate_threshold=0.8)["near_duplicates"]
    assert near["count"] == 399
    assert len(near["examples"]) == 5


def test_near_duplicate_recall_and_precision_on_controlled_pairs() -> None:
    rng = random.Random(4)
    vocab = [f"w{i}" for i in range(5000)]
    texts, similar, distant = [], [], []
    for i in range(200):
        base = [rng.choice(vocab) for _ in range(150)]
        variant = list(base)
        changes = 1 if i % 2 == 0 else 12  # one word: Jaccard ~0.98; twelve: ~0.78
        for pos in rng.sample(range(150), changes):
            variant[pos] = f"x{i}-{pos}"
        (similar if changes == 1 else distant).append((len(texts), len(texts) + 1))
        texts += [" ".join(base), " ".join(variant)]
    near = quality_report(pa.table({"text": texts}), pii=False, max_examples=1000)["near_duplicates"]
    found = {tuple(e["rows"]) for e in near["examples"]}
    assert len(found & set(similar)) >= 95  # of 100
    assert not found & set(distant)
    assert found <= set(similar)


def test_signatures_equal_datasketch_minhash() -> None:
    from datasketch import MinHash

    texts = [RESET, "", None, "  ...  ", "Two words", REFUND]
    finder = NearDuplicateFinder(0.9)
    sigs, kept = finder.signatures_of(pa.array(texts))
    assert kept.tolist() == [0, 4, 5]
    hashes, starts, _ = shingle_hashes(pa.array(texts))
    bounds = [*starts.tolist(), hashes.size]
    for i, row in enumerate(sigs):
        m = MinHash(num_perm=128, seed=1, hashfunc=int, scheme="affine32")
        m.update_batch(hashes[bounds[i] : bounds[i + 1]].tolist())
        assert row.tolist() == m.hashvalues.tolist()


def test_shingle_hashes_follow_the_word_shingles() -> None:
    texts = [RESET, "Two words", "One", "Grüße an Jürgen, 2024!", RESET_VARIANT]
    hashes, starts, kept = shingle_hashes(pa.array(texts))
    bounds = [*starts.tolist(), hashes.size]
    per_text = [set(hashes[bounds[i] : bounds[i + 1]].tolist()) for i in range(len(kept))]
    for text, found in zip(texts, per_text, strict=True):
        assert len(found) == len(shingles(text))
    assert shingles("Grüße an Jürgen, 2024!") == {("grüße", "an", "jürgen"), ("an", "jürgen", "2024")}
    # the same shingles hash the same in another text and another batch
    shared = len(shingles(RESET) & shingles(RESET_VARIANT))
    assert len(per_text[0] & per_text[4]) == shared
    again, _, _ = shingle_hashes(pa.array([RESET]))
    assert set(again.tolist()) == per_text[0]


def test_empty_and_over_long_texts() -> None:
    long_text = "word " * 5000
    r = quality_report(pa.table({"text": ["fine", "", "  \n", long_text, None]}), max_text_chars=1000, pii=False)
    assert r["empty_texts"] == {
        "count": 2,
        "by_column": {"text": 2},
        "examples": [{"row": 1, "column": "text"}, {"row": 2, "column": "text"}],
    }
    assert r["over_long_texts"] == {
        "max_chars": 1000,
        "count": 1,
        "by_column": {"text": 1},
        "examples": [{"row": 3, "column": "text", "chars": 25000}],
    }
    assert any("Empty or whitespace-only texts: 2" in w for w in r["warnings"])
    assert any("longer than 1000 characters: 1" in w for w in r["warnings"])


def test_pii_counted_and_masked() -> None:
    pytest.importorskip("presidio_analyzer")
    texts = [
        "Please reply to ana.sousa@example.pt about my order.",
        "My number is +44 20 7946 0958 and my other email is ben@example.com",
        "Nothing personal in this one, just order 58213 from 2024-03-02.",
    ]
    r = quality_report(pa.table({"text": texts}))
    pii = r["pii"]
    assert pii["entities"] == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}
    assert pii["rows"] == 2
    first = pii["examples"]["EMAIL_ADDRESS"][0]
    assert first == {"row": 0, "column": "text", "start": 16, "end": 36, "masked": "a******************t"}
    assert texts[0][first["start"] : first["end"]] == "ana.sousa@example.pt"
    dumped = json.dumps(r)
    for secret in ("ana.sousa@example.pt", "ben@example.com", "7946 0958"):
        assert secret not in dumped
    assert any("Possible personal data in 2 rows" in w for w in r["warnings"])
    assert quality_report(pa.table({"text": texts}), pii=False)["pii"] is None
    # a copy of a text counts again (its findings are reused, not rescanned)
    twice = quality_report(pa.table({"text": texts + texts[:1]}).to_batches(max_chunksize=2))["pii"]
    assert twice["entities"] == {"EMAIL_ADDRESS": 3, "PHONE_NUMBER": 1} and twice["rows"] == 3


def test_label_balance() -> None:
    labels = ["spam"] * 95 + ["ham"] * 5 + [None] * 2
    r = quality_report(pa.table({"label": labels, "n": list(range(102))}), label_column="label", pii=False)
    balance = r["label_balance"]
    assert balance["classes"] == 2 and balance["imbalance_ratio"] == 19.0
    assert balance["labels"] == [
        {"label": "spam", "missing": False, "count": 95, "share": pytest.approx(95 / 102, abs=1e-6)},
        {"label": "ham", "missing": False, "count": 5, "share": pytest.approx(5 / 102, abs=1e-6)},
        {"label": "(missing)", "missing": True, "count": 2, "share": pytest.approx(2 / 102, abs=1e-6)},
    ]
    assert any("Label 'ham' has 5 rows, under 10%" in w for w in r["warnings"])
    balanced = quality_report(pa.table({"label": [1, 2, 1, 2]}), label_column="label", pii=False)
    assert balanced["label_balance"]["imbalance_ratio"] == 1.0
    assert not any("imbalanced" in w for w in balanced["warnings"])
    assert quality_report(pa.table({"label": [1]}), pii=False)["label_balance"] is None


def test_key_check_finds_duplicate_and_null_keys() -> None:
    r = quality_report(pa.table({"id": ["a", "b", "a", None], "x": [1, 2, 3, 4]}), key="id", pii=False)
    assert r["key_check"] == {"nulls": 1, "duplicates": 1, "examples": [{"rows": [0, 2], "copies": 1}]}
    assert r["exact_duplicates"]["count"] == 0
    assert any("key column 'id'" in w for w in r["warnings"])


def test_many_types_and_nulls() -> None:
    table = pa.table(
        {
            "i": pa.array([1, 1, None, 3], pa.int32()),
            "f": [0.5, 0.5, float("nan"), -0.0],
            "b": [True, True, False, None],
            "ts": pa.array([dt.datetime(2024, 1, 1)] * 2 + [None, dt.datetime(2024, 1, 2)], pa.timestamp("us")),
            "d": pa.array([dt.date(2024, 1, 1)] * 4, pa.date32()),
            "tags": [["a", "b"], ["a", "b"], [], None],
            "meta": [{"k": 1}, {"k": 1}, {"k": 2}, None],
            "blob": [b"\x00\xff", b"\x00\xff", b"", None],
            "cat": pa.array(["x", "x", "y", None]).dictionary_encode(),
            "dec": pa.array([1, 1, 2, None], pa.decimal128(10, 2)),
        }
    )
    r = quality_report(table, pii=False)
    distinct = {name: col["distinct"] for name, col in r["columns"].items()}
    assert distinct == {"i": 2, "f": 3, "b": 2, "ts": 2, "d": 1, "tags": 2, "meta": 2, "blob": 2, "cat": 2, "dec": 2}
    assert r["columns"]["i"]["type"] == "int32" and r["columns"]["i"]["nulls"] == 1
    assert r["exact_duplicates"] == {"count": 1, "examples": [{"rows": [0, 1], "copies": 1}]}
    assert r["text_columns"] == ["cat"]


@pytest.mark.parametrize("text_type", [pa.string(), pa.large_string(), pa.string_view()])
def test_every_string_type_is_text(text_type: pa.DataType) -> None:
    values = pa.array([RESET, RESET, "", None], text_type)
    r = quality_report(
        pa.table({"t": values, "label": pa.array(["a", "a", "b", None], text_type)}), label_column="label"
    )
    assert r["text_columns"] == ["t"]
    assert r["exact_duplicates"]["count"] == 1 and r["empty_texts"]["count"] == 1
    assert r["columns"]["t"]["distinct"] == 2 and r["columns"]["t"]["text"]["max_chars"] == len(RESET)
    assert [x["count"] for x in r["label_balance"]["labels"]] == [2, 1, 1]


def test_null_and_empty_string_rows_differ() -> None:
    r = quality_report(pa.table({"a": ["", None, "x"], "b": ["x", "x", ""]}), pii=False)
    assert r["exact_duplicates"]["count"] == 0  # ("", "x"), (None, "x") and ("x", "") are three rows


def test_distinct_is_estimated_above_the_exact_limit() -> None:
    n = quality.EXACT_DISTINCT_LIMIT if hasattr(quality, "EXACT_DISTINCT_LIMIT") else 100_000
    values = pa.array(range(n + 20_000), pa.int64())
    r = quality_report(pa.table({"v": values}), pii=False)
    col = r["columns"]["v"]
    assert col["distinct_exact"] is False
    assert col["distinct"] == pytest.approx(n + 20_000, rel=0.03)


def test_same_report_whatever_the_batching() -> None:
    table = pa.concat_tables([_docs()] * 3)
    whole = quality_report(table, key="doc_id", label_column="label")
    parts = quality_report(table.to_batches(max_chunksize=4), key="doc_id", label_column="label")
    assert json.dumps(whole, sort_keys=True) == json.dumps(parts, sort_keys=True)
    assert whole["rows"] == 27 and whole["exact_duplicates"]["count"] == 27 - 8  # 8 distinct rows but the key
    assert whole["key_check"]["duplicates"] == 18


def test_same_report_in_another_process() -> None:
    code = (
        "import json, sys, pyarrow as pa\n"
        "from rippleops.runtime.analyzers.quality import quality_report\n"
        "t = pa.table(json.loads(sys.stdin.read()))\n"
        "print(json.dumps(quality_report(t, pii=False), sort_keys=True))\n"
    )
    data = _docs().to_pydict()
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(data), capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == json.dumps(quality_report(pa.table(data), pii=False), sort_keys=True)


def test_progress_reports_rows_done() -> None:
    seen: list[int] = []
    quality_report(pa.table({"x": list(range(10))}).to_batches(max_chunksize=4), progress=seen.append, pii=False)
    assert seen == [4, 8, 10]


def test_empty_input() -> None:
    r = quality_report([])
    assert r["rows"] == 0 and r["columns"] == {} and r["warnings"] == ["The dataset is empty: it has no rows."]
    r = quality_report(pa.table({"text": pa.array([], pa.string())}), pii=False)
    assert r["rows"] == 0 and r["columns"]["text"]["distinct"] == 0 and r["text_columns"] == ["text"]
    assert quality_summary(r) == {
        "version": 1, "rows": 0, "exact_duplicates": 0, "near_duplicates": 0, "empty_texts": 0,
        "over_long_texts": 0, "pii": None, "warnings": 1,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_columns": ["body"]}, r"no column text column 'body'.*columns: doc_id: string, text: string, n: int64"),
        ({"label_column": "topic"}, "no column label column 'topic'"),
        ({"key": "id"}, "no column key column 'id'"),
        ({"text_columns": "text"}, "list of column names"),
        ({"text_columns": ["n"]}, "text column 'n' holds int64"),
        ({"near_duplicate_threshold": 1.5}, "between 0 and 1"),
        ({"max_text_chars": 0}, "max_text_chars"),
        ({"max_examples": -1}, "max_examples"),
        ({"label_column": "tags"}, "labels must be single values"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, object], message: str) -> None:
    table = pa.table({"doc_id": ["a"], "text": ["x"], "n": [1], "tags": [["t"]]})
    with pytest.raises(InvalidError, match=message):
        quality_report(table, pii=False, **kwargs)  # type: ignore[arg-type]


def test_batches_must_share_one_schema() -> None:
    one = pa.record_batch({"text": ["a"]})
    other = pa.record_batch({"text": [1]})
    with pytest.raises(InvalidError, match=re.escape("the first had (text: string)")):
        quality_report([one, other], pii=False)
    with pytest.raises(InvalidError, match="RecordBatches"):
        quality_report([["a"]], pii=False)  # type: ignore[list-item]


def test_doctests() -> None:
    assert doctest.testmod(quality).failed == 0


def test_hash_binary_is_a_function_of_the_bytes_only() -> None:
    values = ["", "a", "a\x00", "\x00a", "abcdefgh", "abcdefgh\x00", "abcdefghi", "é" * 9, "x" * 1000, "x" * 1001]
    array = pa.array([*values, None, *values], pa.string())
    h = hash_binary(array)
    assert len(set(h[: len(values)].tolist())) == len(values)  # zero bytes and lengths count
    assert h[len(values)] == h[0]  # a null hashes as the empty value (callers mask nulls)
    assert h[len(values) + 1 :].tolist() == h[: len(values)].tolist()
    assert hash_binary(array.slice(3, 5)).tolist() == h[3:8].tolist()  # sliced arrays read their own bytes
    assert hash_binary(pa.array(values, pa.large_binary())).tolist() == h[: len(values)].tolist()
    assert hash_bytes([v.encode() for v in values]).tolist() == h[: len(values)].tolist()
    many = pa.array([f"customer-{i:09d}" for i in range(200_000)])
    assert np.unique(hash_binary(many)).size == 200_000
    code = "from rippleops.runtime.analyzers._hashing import hash_bytes; print(hash_bytes([b'ripple', b'']).tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(hash_bytes([b"ripple", b""]).tolist())


def test_hash_set_answers_like_a_python_set() -> None:
    rng = np.random.default_rng(1)
    seen, reference = HashSet(), set()
    for _ in range(300):
        batch = np.unique(rng.integers(0, 5000, size=int(rng.integers(1, 200))).astype(np.uint64))
        new = seen.add(batch)
        assert new.tolist() == [int(x) not in reference for x in batch.tolist()]
        reference.update(batch.tolist())
    assert len(seen) == len(reference) and len(seen._runs) <= 12


def test_short_texts_are_near_duplicates_only_of_the_same_words() -> None:
    ids = [f"customer-{i:09d}" for i in range(60_000)]  # one shingle each: no near-duplicates at all
    texts = [*ids, "Hello there!", "hello, THERE", "hello there friend", "Zürich", "zürich."]
    report = quality_report(pa.table({"text": texts}), pii=False)
    near = report["near_duplicates"]
    assert near["count"] == 2 and near["pairs"] == 2
    assert [e["rows"] for e in near["examples"]] == [[60_000, 60_001], [60_003, 60_004]]
    assert all(e["jaccard"] == 1.0 for e in near["examples"])
    # at a threshold of 0.5 or less a short text may match a longer one: MinHash handles them all
    low = quality_report(
        pa.table({"text": ["hello there my", "hello there my friend"]}), pii=False, near_duplicate_threshold=0.4
    )
    assert low["near_duplicates"]["count"] == 1
