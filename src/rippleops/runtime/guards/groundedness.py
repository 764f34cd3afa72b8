"""Groundedness without an LLM: each sentence of the answer must be supported by a
retrieved passage, by embedding similarity to one of its sentences (``min_similarity``) or
by word overlap with it (``min_overlap``: the share of the sentence's content words found in
one passage). The score is the share of supported sentences; below ``threshold`` it fails.

Sentences of fewer than :data:`MIN_WORDS` words ("Sure!", "Hope this helps.") are not
judged. Without retrieved passages there is nothing to judge against: the check passes and
says so (``details.skipped``).
"""

from __future__ import annotations

import re

import numpy as np

from rippleops.domain.guards import GuardContext
from rippleops.domain.policies import ValidatorSpec
from rippleops.runtime.guards.base import Embedding, Outcome, Validator, require_text
from rippleops.runtime.guards.embedding import unit_rows

MIN_WORDS = 4
MAX_SENTENCES = 64
MAX_CONTEXT_SENTENCES = 256
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "also",
        "just",
        "only",
        "very",
        "more",
        "most",
        "some",
        "any",
        "all",
        "each",
        "other",
        "such",
        "own",
        "same",
        "both",
        "few",
        "after",
        "before",
        "about",
        "over",
        "under",
        "again",
        "further",
        "once",
        "here",
    ]
)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SPLIT.split(text) if s.strip()]


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and (len(w) > 2 or w.isdigit())}


class GroundednessValidator(Validator):
    """Fails when too few answer sentences are supported by the retrieved passages."""

    whole_text = True

    def __init__(self, spec: ValidatorSpec, embedding: Embedding | None) -> None:
        super().__init__(spec)
        self.embedding = embedding

    def check(self, text: str, ctx: GuardContext) -> Outcome:
        text = require_text(text, "groundedness")
        s = self.spec.settings
        if not ctx.contexts:
            return Outcome(True, "no retrieved passages to check the answer against", {"skipped": True})
        claims = [c for c in sentences(text) if len(_WORD.findall(c)) >= MIN_WORDS][:MAX_SENTENCES]
        if not claims:
            return Outcome(True, "no sentence long enough to judge", {"skipped": True, "sentences": 0})
        passages = [content_words(p) for p in ctx.contexts]
        overlap = []
        for claim in claims:
            words = content_words(claim)
            overlap.append(max((len(words & p) / len(words) for p in passages), default=0.0) if words else 1.0)
        similarity = [0.0] * len(claims)
        if self.embedding is not None:
            support = [c for p in ctx.contexts for c in sentences(p)][:MAX_CONTEXT_SENTENCES]
            vectors = unit_rows(self.embedding, claims + support)
            sims = vectors[: len(claims)] @ vectors[len(claims) :].T
            similarity = [float(x) for x in np.max(sims, axis=1)]
        supported = [
            o >= s["min_overlap"] or m >= s["min_similarity"] for o, m in zip(overlap, similarity, strict=True)
        ]
        score = sum(supported) / len(claims)
        unsupported = [c for c, ok in zip(claims, supported, strict=True) if not ok]
        details = {
            "score": round(score, 4),
            "threshold": s["threshold"],
            "sentences": len(claims),
            "unsupported": unsupported[:10],
            "per_sentence": [
                {"overlap": round(o, 3), "similarity": round(m, 3), "supported": ok}
                for o, m, ok in zip(overlap, similarity, supported, strict=True)
            ],
        }
        if score >= s["threshold"]:
            return Outcome(True, f"{sum(supported)} of {len(claims)} sentences supported by the context", details)
        listed = "; ".join(repr(u[:80]) for u in unsupported[:3])
        return Outcome(
            False,
            f"only {sum(supported)} of {len(claims)} sentences supported by the context "
            f"(score {score:.2f} < {s['threshold']:g}); unsupported: {listed}",
            details,
            reask="Answer only with what the provided context says; these sentences were not supported by it: "
            + listed,
        )
