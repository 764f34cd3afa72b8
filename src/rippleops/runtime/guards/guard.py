"""A policy version at run time: its validators in order, the actions they take, and the
:class:`GuardResult` of a check.

Validators run in the order the policy lists them, each on the text as the ones before it
left it (a redaction or a fix is seen by the next). A ``block`` ends the check at once.
A validator that raises is recorded as an ``error`` finding; with ``on_error: closed`` the
check ends there and blocks, with ``open`` it goes on without that validator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from rippleops.domain.guards import Finding, GuardContext, GuardResult, strongest
from rippleops.domain.policies import PolicySpec, ValidatorSpec
from rippleops.errors import InvalidError
from rippleops.runtime.guards.base import Embedding, Outcome, Validator, apply_spans
from rippleops.runtime.guards.checks import reask_instruction, run_validator
from rippleops.runtime.guards.stream import GuardedStream
from rippleops.runtime.guards.text import DenyValidator, FormatValidator, LengthValidator, RegexValidator

Factory = Callable[[ValidatorSpec, Embedding | None], Validator]


def _registry() -> dict[str, Factory]:
    # Each family's module is imported when a policy uses it: numpy, jsonschema and the
    # profanity model are optional extras that a policy of patterns never needs.
    def pii(spec: ValidatorSpec, _: Embedding | None) -> Validator:
        from rippleops.runtime.guards.pii import PiiValidator

        return PiiValidator(spec)

    def json_schema(spec: ValidatorSpec, _: Embedding | None) -> Validator:
        from rippleops.runtime.guards.json_schema import JsonSchemaValidator

        return JsonSchemaValidator(spec)

    def profanity(spec: ValidatorSpec, _: Embedding | None) -> Validator:
        from rippleops.runtime.guards.profanity import ProfanityValidator

        return ProfanityValidator(spec)

    def topic(spec: ValidatorSpec, embedding: Embedding | None) -> Validator:
        from rippleops.runtime.guards.topic import TopicValidator

        return TopicValidator(spec, embedding)

    def injection(spec: ValidatorSpec, embedding: Embedding | None) -> Validator:
        from rippleops.runtime.guards.injection import InjectionValidator

        return InjectionValidator(spec, embedding)

    def groundedness(spec: ValidatorSpec, embedding: Embedding | None) -> Validator:
        from rippleops.runtime.guards.groundedness import GroundednessValidator

        return GroundednessValidator(spec, embedding)

    return {
        "pii": pii,
        "regex": lambda spec, _: RegexValidator(spec),
        "deny": lambda spec, _: DenyValidator(spec),
        "length": lambda spec, _: LengthValidator(spec),
        "format": lambda spec, _: FormatValidator(spec),
        "json_schema": json_schema,
        "profanity": profanity,
        "topic": topic,
        "injection": injection,
        "groundedness": groundedness,
    }


class Guard:
    """The validators of one policy version, ready to check texts (thread-safe).

    Example::

        guard = Guard("policy/default:1", parse_policy({"input": [{"type": "pii"}]}))
        guard.check_input("mail me at ana@example.org").text   # 'mail me at <EMAIL_ADDRESS>'
    """

    def __init__(self, ref: str, spec: PolicySpec, embedding: Embedding | None = None) -> None:
        self.ref = ref
        self.spec = spec
        self.max_reasks = spec.max_reasks
        self.safe_answer = spec.safe_answer
        self.on_error = spec.on_error
        self.stream_window = spec.stream_window
        self.embedding = embedding
        registry = _registry()
        self.validators: dict[str, list[Validator]] = {
            "input": [_build(registry, v, embedding) for v in spec.input],
            "output": [_build(registry, v, embedding) for v in spec.output],
        }

    def warm(self) -> None:
        """Load every model and vector the validators need now (not on the first check)."""
        for validators in self.validators.values():
            for v in validators:
                v.warm()

    def check_input(self, text: str, ctx: GuardContext | None = None) -> GuardResult:
        """Run the ``input:`` validators on the user's input."""
        return self.check(text, "input", ctx)

    def check_output(self, text: str, ctx: GuardContext | None = None) -> GuardResult:
        """Run the ``output:`` validators on a model's answer."""
        return self.check(text, "output", ctx)

    def check(self, text: str, stage: str, ctx: GuardContext | None = None) -> GuardResult:
        if stage not in self.validators:
            raise InvalidError(f"stage must be input or output, not {stage!r}")
        if not isinstance(text, str):
            raise InvalidError(f"a guard checks text, not {type(text).__name__}")
        started = time.perf_counter()
        ctx = ctx or GuardContext()
        findings: list[Finding] = []
        reasks: list[str] = []
        blocked = False
        current = text
        for validator in self.validators[stage]:
            finding, outcome = run_validator(validator, current, ctx)
            findings.append(finding)
            if finding.action == "error":
                if self.on_error == "closed":
                    blocked = True
                    break
                continue
            if outcome is None or outcome.passed:
                continue
            if finding.action == "block":
                blocked = True
                break
            current, reask = self._act(validator, outcome, current, finding)
            if reask:
                reasks.append(reask)
        return self.result(stage, current, findings, blocked, reasks, started)

    def result(
        self, stage: str, text: str, findings: list[Finding], blocked: bool, reasks: list[str], started: float
    ) -> GuardResult:
        decision = strongest(f.action for f in findings)
        if decision == "reask" and not reasks:
            decision = "warn"  # pragma: no cover - every reask finding carries an instruction
        return GuardResult(
            stage=stage,
            policy=self.ref,
            decision=decision,
            blocked=blocked,
            text=self.safe_answer if blocked else text,
            reask=reask_instruction(reasks) if decision == "reask" else None,
            findings=findings,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    @staticmethod
    def _act(validator: Validator, outcome: Outcome, text: str, finding: Finding) -> tuple[str, str | None]:
        """Apply a failing validator's action to ``text``: the new text and any re-ask."""
        if finding.action == "redact":
            return apply_spans(text, outcome.spans), None
        if finding.action == "fix":
            return (outcome.fixed if outcome.fixed is not None else text), None
        if finding.action == "reask":
            return text, f"{validator.name}: {outcome.reask or outcome.message}"
        return text, None

    def stream(self, deltas: Iterator[str], ctx: GuardContext | None = None) -> GuardedStream:
        """Guard a model's text as it streams (see :class:`GuardedStream`)."""
        return GuardedStream(self, deltas, ctx or GuardContext())

    def __repr__(self) -> str:
        return f"Guard({self.ref!r})"


def _build(registry: dict[str, Factory], spec: ValidatorSpec, embedding: Embedding | None) -> Validator:
    try:
        return registry[spec.type](spec, embedding)
    except InvalidError as exc:
        raise InvalidError(f"{spec.where}: {exc.message}", details=exc.details) from None
