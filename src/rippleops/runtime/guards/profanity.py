"""Offensive language: alt-profanity-check's classifier (tf-idf + calibrated linear SVMs),
loaded safely (see :mod:`._safe_pickle`) and run with numpy. A test checks that the
probabilities equal the package's own ``predict_prob`` on a few hundred texts."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import cache

import numpy as np
import numpy.typing as npt

from rippleops.domain.guards import GuardContext
from rippleops.runtime.guards._safe_pickle import ProfanityArrays, load_arrays
from rippleops.runtime.guards.base import Outcome, Validator, require_text

_lock = threading.Lock()


class ProfanityModel:
    """Probability that a text is offensive, from :class:`ProfanityArrays`."""

    def __init__(self, arrays: ProfanityArrays) -> None:
        self.arrays = arrays
        self.token = re.compile(arrays.token_pattern)

    def predict_prob(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """One probability per text (what ``profanity_check.predict_prob`` gives)."""
        a = self.arrays
        out = np.empty(len(texts), dtype=np.float64)
        for i, text in enumerate(texts):
            counts: dict[int, int] = {}
            for token in self.token.findall(text.lower()):
                j = a.vocabulary.get(token)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if counts:
                idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
                tfidf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts)) * a.idf[idx]
                tfidf /= np.linalg.norm(tfidf)
                scores = a.coefs[:, idx] @ tfidf + a.intercepts
            else:
                scores = a.intercepts.copy()
            out[i] = float(np.mean(1.0 / (1.0 + np.exp(a.a * scores + a.b))))
        return out


@cache
def _shared_model() -> ProfanityModel:
    return ProfanityModel(load_arrays())


def profanity_model() -> ProfanityModel:
    """The shipped model, loaded once per process."""
    with _lock:
        return _shared_model()


class ProfanityValidator(Validator):
    """Fails when the classifier's probability of offensive language reaches ``threshold``."""

    def warm(self) -> None:
        profanity_model()

    def check(self, text: str, ctx: GuardContext) -> Outcome:
        text = require_text(text, "profanity")
        p = float(profanity_model().predict_prob([text])[0])
        threshold = self.spec.settings["threshold"]
        details = {"score": round(p, 4), "threshold": threshold}
        if p >= threshold:
            return Outcome(
                False,
                f"offensive language (score {p:.2f} >= {threshold:g})",
                details,
                reask="Answer again in polite, respectful language, without offensive words.",
            )
        return Outcome(True, f"no offensive language (score {p:.2f})", details)
