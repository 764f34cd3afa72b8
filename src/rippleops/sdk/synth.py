"""``rp.synth``: synthetic data, generated with a prompt and a model from a seed dataset into
a new dataset version. Each call submits a ``synth.generate`` job (see docs/synth.md for the
spec); on a server the job runs in its pool and ``wait=True`` polls until it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from rippleops.domain.jobs import JobState
from rippleops.domain.records import JobRecord
from rippleops.errors import ERRORS_BY_TYPE, RippleError
from rippleops.sdk.collections import _Collection
from rippleops.sdk.jobs import OnUpdate

KIND = "synth.generate"


class Synth(_Collection):
    """Generate records (question/answer pairs, paraphrases, labelled examples, or any JSON a
    prompt asks for), keep those that pass the rules, the schema and deduplication, and
    register them as the next version of a dataset whose provenance names the generator.

    >>> job = rp.synth.qa("dataset/docs", model="model/local-smollm", into="docs-qa", n=2, seed=7)  # doctest: +SKIP
    >>> job.result["dataset"], job.result["accepted"], job.result["rejected"]                       # doctest: +SKIP
    ('dataset/docs-qa:1', 5, {'not_grounded': 1})
    """

    def generate(
        self,
        spec: Mapping[str, Any] | BaseModel | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        on_update: OnUpdate | None = None,
        check: bool = True,
        project: str | None = None,
        **fields: Any,
    ) -> JobRecord:
        """Run a synth spec (a mapping, a :class:`~rippleops.domain.synth.SynthSpec`, and/or
        its fields as keywords, which win). With ``wait=True`` (the default) return once the
        job has ended; with ``check=True`` a job that failed raises its error (the counts of
        what was rejected are in the error's job, ``rp.jobs.get(id).result``).

        >>> rp.synth.generate({"task": "paraphrase", "source": "dataset/faq", "into": "faq-para",  # doctest: +SKIP
        ...                    "model": "model/local-smollm", "text_column": "question", "n": 3})
        """
        data = spec.model_dump(mode="json") if isinstance(spec, BaseModel) else dict(spec or {})
        data.update(fields)
        job = self._client.jobs.submit(KIND, data, wait=wait, timeout=timeout, on_update=on_update, project=project)
        if check and job.state in (JobState.FAILED, JobState.CANCELLED):
            raise job_error(job)
        return job

    def qa(self, source: str, *, model: str, into: str, n: int = 1, seed: int = 0, **fields: Any) -> JobRecord:
        """Question/answer pairs from the documents of ``source`` (``text`` and ``doc_id`` columns)."""
        return self.generate(task="qa", source=source, model=model, into=into, n=n, **_seeded(seed, fields))

    def paraphrase(self, source: str, *, model: str, into: str, n: int = 1, seed: int = 0, **fields: Any) -> JobRecord:
        """``n`` paraphrases of each row's ``text_column`` (default ``text``)."""
        return self.generate(task="paraphrase", source=source, model=model, into=into, n=n, **_seeded(seed, fields))

    def classify(
        self, source: str, *, model: str, into: str, label_column: str, n: int = 1, seed: int = 0, **fields: Any
    ) -> JobRecord:
        """``n`` new examples per label of ``label_column``, each shown seed examples of it."""
        return self.generate(
            task="classify", source=source, model=model, into=into, label_column=label_column, n=n,
            **_seeded(seed, fields),
        )  # fmt: skip


def _seeded(seed: int, fields: dict[str, Any]) -> dict[str, Any]:
    params = dict(fields.pop("params", None) or {})
    params.setdefault("seed", seed)
    return {**fields, "params": params}


def job_error(job: JobRecord) -> RippleError:
    """The error a job ended with, as the class it was raised as (its message names the job)."""
    if job.state is JobState.CANCELLED:
        return RippleError(f"job {job.id} ({job.kind}) was cancelled; rerun it with rp.jobs.rerun({job.id})")
    err = job.error
    cls = ERRORS_BY_TYPE.get(err.type, RippleError) if err else RippleError
    message = err.message if err else "no error was recorded"
    return cls(f"job {job.id} ({job.kind}) failed: {message}", details={"job": job.id})
