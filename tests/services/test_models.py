"""Model assets through the service layer, on SQLite and PostgreSQL: specs and versions,
the local SmolLM2 (real weights), the OpenAI-compatible provider against a real
``llama_cpp.server`` with its key in a Ripple secret, and real faults (a port that refuses, a
server too slow for the timeout, one that answers garbage). Assertions are about behaviour
(usage, cost, stops, streams, determinism), never about what the model knows."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from rippleops.domain.access import Principal
from rippleops.domain.models import parse_model_spec
from rippleops.errors import ForbiddenError, InvalidError, NotFoundError, UnavailableError
from rippleops.runtime.providers.llm.local import shipped_model_path
from rippleops.services import Services
from support import start_app

P = "default"
POEM = "Write a long poem about the sea."
PRICES = {"input_per_1m": 1.5, "output_per_1m": 4.0, "currency": "EUR"}


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """One CPU thread per local model: the same tokens (llama.cpp's results do not depend on
    the thread count), and several times faster on a machine whose cores are busy."""
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that is bound but not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def _broken_app() -> FastAPI:
    app = FastAPI()

    @app.post("/slow/v1/chat/completions")
    def slow() -> Response:
        time.sleep(1.5)
        return Response("{}", media_type="application/json")

    @app.post("/garbage/v1/chat/completions")
    def garbage() -> Response:
        return Response("<html>not an API</html>", media_type="text/html")

    return app


@pytest.fixture(scope="module")
def broken() -> Iterator[str]:
    running = start_app(_broken_app())
    yield running.url
    running.stop()


def openai_spec(base_url: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "openai", "base_url": base_url, "model": "smollm2", **extra}


# --- specs and versions (no model loaded) -------------------------------------------------------


def test_openai_versions_fill_defaults_and_hash_content(services: Services, admin: Principal) -> None:
    a = services.models.create(admin, P, "remote", openai_spec("http://127.0.0.1:9/v1", tags=["x"], message="one"))
    assert (a.ref, a.kind, a.created) == ("model/remote:1", "model", True)
    assert a.content == {
        "provider": "openai",
        "model": "smollm2",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key_secret": None,
        "timeout": 30.0,
        "retries": 3,
        "extra_body": {},
        "context_window": None,
        "params": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 256, "stop": [], "seed": None},
        "prices": {"input_per_1m": 0.0, "output_per_1m": 0.0, "currency": "USD"},
    }
    # the defaults written out, other metadata: the same version
    same = openai_spec("http://127.0.0.1:9/v1/", timeout=30, retries=3, params={"max_tokens": 256}, message="two")
    b = services.models.create(admin, P, "remote", same)
    assert (b.version, b.created, b.hash) == (1, False, a.hash)
    c = services.models.create(admin, P, "remote", openai_spec("http://127.0.0.1:9/v1", prices=PRICES))
    assert c.version == 2 and c.content["prices"] == {**PRICES, "input_per_1m": 1.5}
    services.labels.set(admin, P, "model/remote", "production", 1)
    assert services.models.get(admin, P, "remote@production").version == 1
    assert [v.version for v in services.models.versions(admin, P, "remote")] == [1, 2]
    with pytest.raises(NotFoundError, match="model/ghost does not exist"):
        services.models.get(admin, P, "ghost")


def test_viewers_read_models_but_do_not_create_them(services: Services, admin: Principal) -> None:
    services.models.create(admin, P, "remote", openai_spec("http://127.0.0.1:9/v1"))
    services.access.create_user(admin, "victor")
    services.access.grant(admin, P, "victor", "viewer")
    token = services.access.create_token(admin, user="victor").token
    assert token is not None
    viewer = services.access.authenticate(token)
    assert services.models.get(viewer, P, "remote").version == 1
    with pytest.raises(ForbiddenError):
        services.models.create(viewer, P, "local", {"provider": "local"})  # refused before any weights load


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"provider": "azure"}, "provider 'azure' is not known; providers: local"),
        ({}, "provider None is not known"),
        ({"provider": "openai", "base_url": "http://x/v1", "model": "m", "api_key": "sk-1"}, "never holds the key"),
        ({"provider": "local", "colour": "red"}, "unknown fields: colour"),
        ({"provider": "openai", "model": "m"}, "needs `base_url:`"),
        ({"provider": "openai", "base_url": "ftp://x", "model": "m"}, "needs `base_url:`"),
        ({"provider": "openai", "base_url": "http://x/v1"}, "needs `model:`"),
        ({"provider": "local", "base_url": "http://x/v1"}, "base_url only apply to provider openai"),
        (
            {"provider": "openai", "base_url": "http://x/v1", "model": "m", "file": "/a.gguf"},
            "only apply to provider local",
        ),
        ({"provider": "local", "file": "models/x.gguf"}, "absolute path"),
        ({"provider": "local", "params": {"temperature": 5}}, r"params.temperature must be a number in \[0.0, 2.0\]"),
        ({"provider": "local", "params": {"top_p": 0}}, "params.top_p"),
        ({"provider": "local", "params": {"max_tokens": 0}}, "params.max_tokens must be a positive integer"),
        ({"provider": "local", "params": {"stop": [1]}}, "params.stop"),
        ({"provider": "local", "params": {"seed": -1}}, "params.seed"),
        ({"provider": "local", "params": {"colour": 1}}, "'colour' is not a model parameter"),
        ({"provider": "local", "params": {"repeat_penalty": 1.2}}, "local provider decodes without"),
        ({"provider": "local", "context_window": 8}, "context_window must be"),
        ({"provider": "local", "context_window": 512, "params": {"max_tokens": 512}}, "leaves no room"),
        ({"provider": "local", "prices": {"input_per_1m": -1}}, "prices.input_per_1m"),
        ({"provider": "local", "prices": {"per_token": 1}}, "prices has unknown fields per_token"),
        ({**openai_spec("http://x/v1"), "api_key_secret": "my key"}, "not a secret name"),
        ({**openai_spec("http://x/v1"), "timeout": 0}, "timeout must be"),
        ({**openai_spec("http://x/v1"), "retries": 11}, "retries must be"),
        ({**openai_spec("http://x/v1"), "extra_body": {"temperature": 1}}, "extra_body may not set temperature"),
        ("provider: local", "must be a mapping"),
    ],
)
def test_bad_specs_name_the_field(spec: Any, match: str) -> None:
    with pytest.raises(InvalidError, match=match):
        parse_model_spec(spec, "model/x")


def test_a_small_window_gets_a_default_max_tokens_that_fits() -> None:
    spec = parse_model_spec({"provider": "local", "context_window": 128}, "model/x")
    assert spec.fields["params"]["max_tokens"] == 64


# --- faults of an OpenAI-compatible endpoint ------------------------------------------------------


def test_refused_endpoint_is_unavailable_and_names_the_model(
    services: Services, admin: Principal, refused_url: str
) -> None:
    services.models.create(admin, P, "down", openai_spec(refused_url))
    with pytest.raises(UnavailableError, match=r"model/down:1: cannot reach the chat server.*is the server at") as err:
        services.models.generate(admin, P, "down", "hi")
    assert err.value.details["model"] == "model/down:1"
    with pytest.raises(UnavailableError, match="model/down:1: cannot reach"):
        services.models.stream(admin, P, "down", "hi")  # fails when made, not at the first read


def test_call_parameters_are_checked_before_any_request(services: Services, admin: Principal, refused_url: str) -> None:
    services.models.create(admin, P, "down", openai_spec(refused_url))
    for params, match in [
        ({"temperature": 3}, "call: params.temperature"),
        ({"colour": "red"}, "call: 'colour' is not a model parameter"),
        ({"stop": ""}, "call: params.stop"),
        ({"n": 2}, "params.n must be 1"),
        ({"ref": "x"}, "'ref' is not a model parameter"),
    ]:
        with pytest.raises(InvalidError, match=match):
            services.models.generate(admin, P, "down", "hi", **params)
    with pytest.raises(InvalidError, match="role 'robot'"):
        services.models.generate(admin, P, "down", [{"role": "robot", "content": "x"}])
    with pytest.raises(InvalidError, match="no messages"):
        services.models.generate(admin, P, "down", [])


def test_missing_secret_names_it_and_the_fix(services: Services, admin: Principal, refused_url: str) -> None:
    services.models.create(admin, P, "keyed", openai_spec(refused_url, api_key_secret="NOPE_KEY"))
    with pytest.raises(
        NotFoundError, match=r"model/keyed:1 takes its API key from the secret 'NOPE_KEY'.*ripple secret set NOPE_KEY"
    ):
        services.models.generate(admin, P, "keyed", "hi")


def test_slow_endpoint_times_out_with_the_way_out(services: Services, admin: Principal, broken: str) -> None:
    services.models.create(admin, P, "slow", openai_spec(f"{broken}/slow/v1", timeout=0.3, retries=1))
    with pytest.raises(UnavailableError, match=r"model/slow:1: .*failed 2 time\(s\).*timeout of 0.3 s"):
        services.models.generate(admin, P, "slow", "hi")


def test_malformed_answer_is_invalid_and_names_the_endpoint(services: Services, admin: Principal, broken: str) -> None:
    services.models.create(admin, P, "garbage", openai_spec(f"{broken}/garbage/v1"))
    with pytest.raises(InvalidError, match=r"model/garbage:1: .*not JSON.*OpenAI-compatible /v1 endpoint"):
        services.models.generate(admin, P, "garbage", "hi")


# --- the local SmolLM2 ----------------------------------------------------------------------------


@pytest.mark.slow
def test_local_version_records_the_weights_hash(services: Services, admin: Principal) -> None:
    record = services.models.create(admin, P, "local-smollm", {"provider": "local", "message": "shipped"})
    with shipped_model_path().open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    c = record.content
    assert (c["provider"], c["model"], c["file"], c["context_window"]) == (
        "local",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        None,
        2048,
    )
    assert c["weights_sha256"] == digest
    assert (
        services.models.create(admin, P, "local-smollm", {"provider": "local", "weights_sha256": digest}).created
        is False
    )
    with pytest.raises(InvalidError, match="not the weights_sha256"):
        services.models.create(admin, P, "local-smollm", {"provider": "local", "weights_sha256": "0" * 64})
    named = services.models.create(admin, P, "by-path", {"provider": "local", "file": str(shipped_model_path())})
    assert (named.content["file"], named.content["model"]) == (str(shipped_model_path()), shipped_model_path().name)
    assert named.content["weights_sha256"] == digest


def test_a_file_that_is_not_gguf_is_refused(services: Services, admin: Principal, tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_text("not a model")
    with pytest.raises(InvalidError, match=r"model/junk: llama.cpp cannot load .*junk.gguf"):
        services.models.create(admin, P, "junk", {"provider": "local", "file": str(junk)})
    with pytest.raises(InvalidError, match=r"model/gone: no GGUF model at"):
        services.models.create(admin, P, "gone", {"provider": "local", "file": str(tmp_path / "gone.gguf")})
    assert services.assets.list(admin, P, kind="model").items == []


@pytest.mark.slow
def test_generate_reports_usage_and_cost_from_the_prices(services: Services, admin: Principal) -> None:
    services.models.create(
        admin, P, "local-smollm", {"provider": "local", "prices": PRICES, "params": {"max_tokens": 6}}
    )
    out = services.models.generate(admin, P, "local-smollm", POEM)
    assert (out.model, out.finish_reason, out.usage.completion_tokens) == ("model/local-smollm:1", "length", 6)
    assert out.params["max_tokens"] == 6 and out.usage.reported
    u = out.usage
    assert u.prompt_tokens > 0 and u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert out.cost.input == u.prompt_tokens * 1.5 / 1_000_000
    assert out.cost.output == u.completion_tokens * 4.0 / 1_000_000
    assert out.cost.total == out.cost.input + out.cost.output and out.cost.currency == "EUR"
    shorter = services.models.generate(admin, P, "local-smollm", POEM, max_tokens=3)  # the call overrides
    assert shorter.usage.completion_tokens == 3 and out.text.startswith(shorter.text)
    longer = services.models.generate(
        admin, P, "local-smollm", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": POEM}]
    )
    assert longer.usage.prompt_tokens != u.prompt_tokens


@pytest.mark.slow
def test_stream_joins_to_the_generated_text(services: Services, admin: Principal) -> None:
    services.models.create(admin, P, "local-smollm", {"provider": "local", "prices": PRICES})
    whole = services.models.generate(admin, P, "local-smollm", POEM, max_tokens=12)
    stream = services.models.stream(admin, P, "local-smollm", POEM, max_tokens=12)
    with pytest.raises(InvalidError, match="not ended"):
        stream.record  # noqa: B018 - reading it early must fail
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == whole.text
    rec = stream.record
    assert (rec.text, rec.finish_reason, rec.usage, rec.cost) == (whole.text, "length", whole.usage, whole.cost)
    assert rec.time_to_first_token_s is not None and 0 < rec.time_to_first_token_s <= rec.latency_s


@pytest.mark.slow
def test_stop_sequences_and_greedy_and_seeded_determinism(services: Services, admin: Principal) -> None:
    services.models.create(admin, P, "local-smollm", {"provider": "local"})
    full = services.models.generate(admin, P, "local-smollm", POEM, max_tokens=40)
    assert "\n" in full.text, "the poem should span lines; pick another prompt if the model changed"
    assert services.models.generate(admin, P, "local-smollm", POEM, max_tokens=40).text == full.text
    cut = services.models.generate(admin, P, "local-smollm", POEM, max_tokens=40, stop="\n")
    assert (cut.text, cut.finish_reason) == (full.text[: full.text.index("\n")], "stop")
    assert cut.usage.completion_tokens < full.usage.completion_tokens

    def sample(seed: int) -> str:
        return services.models.generate(admin, P, "local-smollm", POEM, max_tokens=12, temperature=1.0, seed=seed).text

    assert sample(7) == sample(7)
    assert len({sample(s) for s in (1, 2, 3)}) > 1, "different seeds should sample differently"
    with pytest.raises(InvalidError, match="local provider, which decodes without"):
        services.models.generate(admin, P, "local-smollm", POEM, repeat_penalty=1.3)


@pytest.mark.slow
def test_prompt_and_completion_must_fit_the_context_window(services: Services, admin: Principal) -> None:
    services.models.create(admin, P, "tiny", {"provider": "local", "context_window": 256})
    text = "The tide comes in and the tide goes out. " * 14  # ~140 tokens: over the bound, under the window
    with pytest.raises(InvalidError, match=r"model/tiny:1: max_tokens 300 leaves no room"):
        services.models.generate(admin, P, "tiny", text, max_tokens=300)
    with pytest.raises(
        InvalidError, match=r"more than the context window of 256 tokens; lower max_tokens to at most (\d+)"
    ) as err:
        services.models.generate(admin, P, "tiny", text, max_tokens=200)
    room = 256 - err.value.details["prompt_tokens"]
    assert 0 < room < 200
    with pytest.raises(InvalidError, match="context window"):
        services.models.generate(admin, P, "tiny", text, max_tokens=room + 1)
    fits = services.models.generate(admin, P, "tiny", text, max_tokens=room)
    assert fits.usage.prompt_tokens + room == 256 and fits.usage.completion_tokens <= room
    with pytest.raises(InvalidError, match=r"model/tiny:1: the prompt is \d+ tokens, which does not fit"):
        services.models.generate(admin, P, "tiny", text * 3, max_tokens=8)


# --- the OpenAI-compatible provider against a real llama_cpp.server -------------------------------


@pytest.mark.slow
def test_openai_model_with_its_key_in_a_secret(
    services: Services, admin: Principal, keyed_llama_server: tuple[str, str]
) -> None:
    url, key = keyed_llama_server
    services.secrets.set(admin, P, "LLAMA_KEY", "wrong-key")
    # llama.cpp's server penalises repeats unless told not to; the local runtime never does
    spec = openai_spec(url, api_key_secret="LLAMA_KEY", prices=PRICES, params={"repeat_penalty": 1.0, "max_tokens": 16})
    services.models.create(admin, P, "llama", spec)
    services.models.create(admin, P, "local-smollm", {"provider": "local"})
    with pytest.raises(InvalidError, match=r"model/llama:1: .*refused the credentials.*`ripple secret set LLAMA_KEY`"):
        services.models.generate(admin, P, "llama", POEM)
    services.secrets.set(admin, P, "LLAMA_KEY", key)  # rotated: read at the next call
    remote = services.models.generate(admin, P, "llama", POEM)
    local = services.models.generate(admin, P, "local-smollm", POEM, max_tokens=16)
    assert remote.text == local.text and remote.model == "model/llama:1"
    assert (remote.usage.prompt_tokens, remote.usage.completion_tokens) == (local.usage.prompt_tokens, 16)
    assert remote.cost.total == local.usage.prompt_tokens * 1.5 / 1e6 + 16 * 4.0 / 1e6
    assert remote.params == {**local.params, "repeat_penalty": 1.0}
    stream = services.models.stream(admin, P, "llama", POEM)
    assert "".join(stream) == local.text
    # llama.cpp's server sends no token counts in streams: said so, not invented
    assert (stream.record.usage.reported, stream.record.usage.total_tokens, stream.record.cost.total) == (False, 0, 0.0)
    with pytest.raises(InvalidError, match=r"model/llama:1: .*maximum context length is 2048 tokens"):
        services.models.generate(admin, P, "llama", "sea " * 2100)
