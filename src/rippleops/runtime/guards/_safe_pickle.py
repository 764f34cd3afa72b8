"""Reading alt-profanity-check's model without trusting its pickles.

``alt-profanity-check`` ships its trained model as two joblib pickles (an sklearn
``TfidfVectorizer`` and a ``CalibratedClassifierCV`` over ``LinearSVC``). Unpickling runs
whatever the file says, so ``joblib.load`` is not used. Instead:

1. each file's sha256 must be one Ripple knows (:data:`KNOWN_FILES`), else it is refused;
2. it is read by joblib's own unpickler with ``find_class`` restricted to the handful of
   numpy / sklearn classes these files are made of (:data:`ALLOWED`): any other global in
   the stream stops the load with an error naming it;
3. what is needed for prediction is taken out as plain arrays (vocabulary, idf weights,
   the linear models' coefficients and the sigmoid calibrations), checked for the shape
   Ripple's numpy predictor assumes; the sklearn objects are then dropped.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rippleops.errors import InvalidError

GUARD_EXTRA_HINT = "pip install 'rippleops[guard]'"
#: sha256 of the files of alt-profanity-check 1.9.1 (the version the parity test ran on).
KNOWN_FILES: dict[str, frozenset[str]] = {
    "vectorizer.joblib": frozenset({"19c5200dc6a41f026e0558e2f164f5fe8d8f58e502b46b37e4385037fcfa4831"}),
    "model.joblib": frozenset({"aeafc04849d4d93db4721cf30a86ebf22085595294b8a07d51918e7fa98f538b"}),
}
#: The only globals the two pickles may name.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy", "float64"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("sklearn.feature_extraction.text", "TfidfVectorizer"),
        ("sklearn.feature_extraction.text", "TfidfTransformer"),
        ("sklearn.calibration", "CalibratedClassifierCV"),
        ("sklearn.calibration", "_CalibratedClassifier"),
        ("sklearn.calibration", "_SigmoidCalibration"),
        ("sklearn.svm._classes", "LinearSVC"),
    }
)


@dataclass(frozen=True)
class ProfanityArrays:
    """The model as plain data: a word-level tf-idf (l2-normalised) and an average of
    sigmoid-calibrated linear scores."""

    token_pattern: str
    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float64]
    coefs: npt.NDArray[np.float64]  # (models, features)
    intercepts: npt.NDArray[np.float64]  # (models,)
    a: npt.NDArray[np.float64]  # sigmoid slope per model
    b: npt.NDArray[np.float64]  # sigmoid offset per model


def data_path(name: str) -> Path:
    try:
        root = importlib.resources.files("profanity_check")
    except ModuleNotFoundError as exc:
        raise InvalidError(f"profanity validators need alt-profanity-check: {GUARD_EXTRA_HINT}") from exc
    return Path(str(root / "data" / name))


def safe_load(path: Path, allowed: frozenset[tuple[str, str]] = ALLOWED) -> Any:
    """Unpickle a joblib file, allowing only ``allowed`` globals."""
    try:
        from joblib.numpy_pickle import NumpyUnpickler  # type: ignore[import-untyped]
    except ImportError as exc:
        raise InvalidError(f"profanity validators need joblib: {GUARD_EXTRA_HINT}") from exc

    class AllowListUnpickler(NumpyUnpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) not in allowed:
                raise InvalidError(
                    f"{path.name} asks for {module}.{name}, which is not among the classes this model "
                    "is made of; refusing to load it (reinstall alt-profanity-check from PyPI)",
                    details={"file": str(path), "global": f"{module}.{name}"},
                )
            return super().find_class(module, name)

    with path.open("rb") as fh:
        return AllowListUnpickler(str(path), fh, True).load()


def check_digest(path: Path) -> None:
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    if digest not in KNOWN_FILES.get(path.name, frozenset()):
        raise InvalidError(
            f"{path} has sha256 {digest}, not one Ripple has checked; install the checked version: "
            "pip install alt-profanity-check==1.9.1",
            details={"file": str(path), "sha256": digest},
        )


def load_arrays() -> ProfanityArrays:
    """The shipped model as :class:`ProfanityArrays` (digests checked, allow-listed load)."""
    paths = {name: data_path(name) for name in KNOWN_FILES}
    for p in paths.values():
        if not p.is_file():
            raise InvalidError(f"alt-profanity-check's model file {p} is missing; reinstall it: {GUARD_EXTRA_HINT}")
        check_digest(p)
    vectorizer = safe_load(paths["vectorizer.joblib"])
    model = safe_load(paths["model.joblib"])
    return to_arrays(vectorizer, model)


def to_arrays(vectorizer: Any, model: Any) -> ProfanityArrays:
    expected = {
        "analyzer": "word",
        "lowercase": True,
        "ngram_range": (1, 1),
        "strip_accents": None,
        "preprocessor": None,
        "tokenizer": None,
        "binary": False,
        "norm": "l2",
        "use_idf": True,
        "sublinear_tf": False,
    }
    for key, want in expected.items():
        got = getattr(vectorizer, key, None)
        if got != want:
            raise InvalidError(f"the profanity vectorizer has {key}={got!r}; Ripple's predictor expects {want!r}")
    calibrated = list(model.calibrated_classifiers_)
    if getattr(model, "method", None) != "sigmoid" or list(model.classes_) != [0, 1] or not calibrated:
        raise InvalidError("the profanity model is not a sigmoid-calibrated binary classifier, as Ripple expects")
    coefs = np.vstack([np.asarray(c.estimator.coef_, dtype=np.float64).reshape(1, -1) for c in calibrated])
    vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
    idf = np.asarray(vectorizer._tfidf.idf_, dtype=np.float64)
    if coefs.shape[1] != len(vocabulary) or idf.shape != (len(vocabulary),):
        raise InvalidError("the profanity model's vocabulary, idf and coefficients disagree in size")
    return ProfanityArrays(
        token_pattern=str(vectorizer.token_pattern),
        vocabulary=vocabulary,
        idf=idf,
        coefs=coefs,
        intercepts=np.array([float(np.ravel(c.estimator.intercept_)[0]) for c in calibrated]),
        a=np.array([float(c.calibrators[0].a_) for c in calibrated]),
        b=np.array([float(c.calibrators[0].b_) for c in calibrated]),
    )
