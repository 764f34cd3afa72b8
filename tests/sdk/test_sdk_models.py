"""``rp.models`` and prompt runs, identical on the embedded and the remote transport (a real
uvicorn server), on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rippleops import Client, InvalidError, NotFoundError, UnavailableError
from rippleops.domain.records import GenerationRecord

POEM = "Write a long poem about the sea."


@pytest.fixture(autouse=True)
def _one_llm_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """One CPU thread per local model: the same tokens (llama.cpp's results do not depend on
    the thread count), and several times faster on a machine whose cores are busy."""
    monkeypatch.setenv("RIPPLE_LLM_THREADS", "1")


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_create_get_label_list(rp: Client, refused_url: str, tmp_path: Path) -> None:
    m = rp.models.create(
        "remote", provider="openai", base_url=refused_url, model="m", api_key_secret="KEY", message="one"
    )
    assert (m.ref, m.version, m.created, m.provider, m.api_key_secret) == ("model/remote:1", 1, True, "openai", "KEY")
    assert m.params["max_tokens"] == 256 and m.prices["currency"] == "USD"
    again = rp.models.create(
        "remote", spec={"provider": "openai", "base_url": refused_url, "model": "m", "api_key_secret": "KEY"}
    )
    assert again.version == 1 and again.created is False
    spec = tmp_path / "remote.yaml"
    spec.write_text(f"provider: openai\nbase_url: {refused_url}\nmodel: m\nprices: {{input_per_1m: 3}}\n")
    assert rp.models.create_from_file("remote", spec, message="priced").version == 2
    rp.models.label("remote", "production", 1)
    assert rp.models.get("remote@production").version == 1
    assert rp.models.get("remote", version=2).prices["input_per_1m"] == 3.0
    assert rp.models.get("model/remote").labels == ["latest"]
    assert [a.ref for a in rp.models.list()] == ["model/remote"]
    assert [v.version for v in rp.models.versions("remote")] == [1, 2]
    assert [(e.label, e.to_version) for e in rp.models.history("remote")] == [("production", 1)]
    with pytest.raises(NotFoundError, match="model/ghost does not exist"):
        rp.models.get("ghost")
    with pytest.raises(InvalidError, match="provider 'azure' is not known"):
        rp.models.create("bad", provider="azure")
    spec.write_text("provider: local\nparams: {temperature: [\n")
    with pytest.raises(InvalidError, match=r"model file .*remote.yaml is not valid YAML at line"):
        rp.models.create_from_file("remote", spec)


def test_errors_keep_their_types_across_transports(rp: Client, refused_url: str) -> None:
    down = rp.models.create("down", provider="openai", base_url=refused_url, model="m")
    with pytest.raises(UnavailableError, match="model/down:1: cannot reach the chat server"):
        down.generate("hi")
    with pytest.raises(UnavailableError, match="model/down:1: cannot reach the chat server"):
        down.stream("hi")  # raised by the call itself, before any delta is read
    with pytest.raises(InvalidError, match=r"call: params\.max_tokens"):
        down.generate("hi", max_tokens=0)
    with pytest.raises(InvalidError, match="role 'robot'"):
        down.generate([{"role": "robot", "content": "hi"}])
    keyed = rp.models.create("keyed", provider="openai", base_url=refused_url, model="m", api_key_secret="NOPE")
    with pytest.raises(NotFoundError, match="ripple secret set NOPE"):
        keyed.generate("hi")
    rp.prompts.create("nomodel", template="{{ q }}")
    with pytest.raises(InvalidError, match="names no model"):
        rp.prompts.get("nomodel").run(q="x")


@pytest.mark.slow
def test_generate_and_stream_with_usage_and_cost(rp: Client) -> None:
    rp.models.create(
        "local-smollm", provider="local", prices={"input_per_1m": 0.5, "output_per_1m": 1.0}, params={"max_tokens": 8}
    )
    rp.models.label("local-smollm", "production", 1)
    m = rp.models.get("local-smollm@production")
    assert len(m.weights_sha256) == 64 and m.context_window == 2048
    out = m.generate(POEM)
    assert isinstance(out, GenerationRecord)
    assert (out.model, out.finish_reason, out.usage.completion_tokens) == ("model/local-smollm:1", "length", 8)
    assert out.cost.total == out.usage.prompt_tokens * 0.5 / 1e6 + 8 * 1.0 / 1e6
    stream = m.stream(POEM)
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == out.text
    assert (stream.record.text, stream.record.usage, stream.record.cost) == (out.text, out.usage, out.cost)
    briefed = rp.models.generate("local-smollm@production", POEM, system="Answer in French.", max_tokens=4)
    assert briefed.usage.completion_tokens == 4 and briefed.usage.prompt_tokens != out.usage.prompt_tokens


@pytest.mark.slow
def test_prompt_run_from_the_sdk(rp: Client) -> None:
    rp.models.create("local-smollm", provider="local")
    rp.models.label("local-smollm", "production", 1)
    p = rp.prompts.create(
        "answer",
        template="Answer briefly: {{ question }}",
        model="model/local-smollm@production",
        params={"max_tokens": 6},
    )
    rp.prompts.label("answer", "production", 1)
    out = rp.prompts.get("answer@production").run(question="Why is the sea salty?")
    assert (out.prompt, out.model, out.usage.completion_tokens) == ("prompt/answer:1", "model/local-smollm:1", 6)
    assert p.run(question="Why is the sea salty?", params={"max_tokens": 3}).usage.completion_tokens == 3
    same = rp.prompts.run("answer", {"question": "Why is the sea salty?"}, label="production")
    assert same.text == out.text
    stream = p.stream(question="Why is the sea salty?")
    assert "".join(stream) == out.text and stream.record.prompt == "prompt/answer:1"


@pytest.mark.slow
def test_openai_model_through_a_real_server(rp: Client, keyed_llama_server: tuple[str, str]) -> None:
    url, key = keyed_llama_server
    rp.secrets.set("LLAMA_KEY", key)
    m = rp.models.create(
        "llama",
        provider="openai",
        base_url=url,
        model="smollm2",
        api_key_secret="LLAMA_KEY",
        params={"repeat_penalty": 1.0},
    )
    rp.models.create("local-smollm", provider="local")
    got = m.generate(POEM, max_tokens=12)
    want = rp.models.generate("local-smollm", POEM, max_tokens=12)
    assert got.text == want.text and got.usage.prompt_tokens == want.usage.prompt_tokens
    assert "".join(m.stream(POEM, max_tokens=12)) == want.text
