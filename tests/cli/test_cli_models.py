"""``ripple model`` and ``ripple prompt run`` in-process: the flow on SQLite and PostgreSQL,
streaming output, JSON, and errors with their exit codes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from cli_helpers import Ripple

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


def test_model_add_show_label_list(ripple_on: Ripple, refused_url: str) -> None:
    r = ripple_on
    add = ["model", "add", "remote", "--provider", "openai", "--base-url", refused_url, "--model", "m"]
    out = r.ok(
        *add, "--api-key-secret", "KEY", "--price-input", "0.5", "--price-output", "2", "--param", "max_tokens=64"
    )
    assert out.stdout.strip() == "model/remote:1"
    again = r.ok(
        *add, "--api-key-secret", "KEY", "--price-input", "0.5", "--price-output", "2", "--param", "max_tokens=64"
    )
    assert again.stdout.strip() == "model/remote:1" and "unchanged" in again.stderr
    spec = r.file("remote.yaml", f"provider: openai\nbase_url: {refused_url}\nmodel: m\nparams: {{stop: ['###']}}\n")
    assert r.ok("model", "add", "remote", "--file", spec, "-m", "from a file").stdout.strip() == "model/remote:2"
    assert r.ok("model", "label", "remote", "production", "1").stdout.strip() == "model/remote@production -> 1"

    shown = r.json("model", "show", "remote@production")
    for field in ("ref", "kind", "name", "version", "hash", "labels", "inputs", "created_at", "created_by", "content"):
        assert field in shown, field
    assert (shown["ref"], shown["labels"], shown["content"]["api_key_secret"]) == (
        "model/remote:1",
        ["production"],
        "KEY",
    )
    assert shown["content"]["prices"] == {"input_per_1m": 0.5, "output_per_1m": 2.0, "currency": "USD"}
    assert shown["content"]["params"]["max_tokens"] == 64
    assert r.json("model", "show", "remote")["content"]["params"]["stop"] == ["###"]
    human = r.ok("model", "show", "remote@production").stdout
    assert "model/remote:1" in human and "secret KEY" in human and "0.5 in / 2 out USD per million tokens" in human
    listed = r.ok("model", "list").stdout
    assert "remote" in listed and "production" in listed
    assert [v["version"] for v in r.json("model", "versions", "remote")] == [1, 2]


def test_model_errors_have_exit_codes(ripple: Ripple, refused_url: str) -> None:
    assert "provider 'azure' is not known" in ripple.fails(2, "model", "add", "x", "--provider", "azure").stderr
    assert "--provider local or --provider openai" in ripple.fails(2, "model", "add", "x").stderr
    assert "absent.yaml does not exist" in ripple.fails(2, "model", "add", "x", "--file", "absent.yaml").stderr
    assert (
        "--param 'oops' is not name=value"
        in ripple.fails(2, "model", "add", "x", "--provider", "local", "--param", "oops").stderr
    )
    assert "model/ghost does not exist" in ripple.fails(3, "model", "run", "ghost", "hi").stderr
    ripple.ok("model", "add", "down", "--provider", "openai", "--base-url", refused_url, "--model", "m")
    down = ripple.fails(8, "model", "run", "down", "hi")
    assert "model/down:1: cannot reach the chat server" in down.stderr and down.stdout == ""
    assert "params.temperature" in ripple.fails(2, "model", "run", "down", "hi", "--temperature", "7").stderr
    ripple.ok("prompt", "create", "q", "--file", ripple.file("q.yaml", "template: '{{ q }}'\n"))
    assert "names no model" in ripple.fails(2, "prompt", "run", "q", "--var", "q=x").stderr


def test_help_explains_with_examples(ripple: Ripple) -> None:
    for args in (
        ["model", "--help"],
        ["model", "add", "--help"],
        ["model", "run", "--help"],
        ["prompt", "run", "--help"],
    ):
        text = ripple.ok(*args).stdout
        assert "Example" in text or "Commands" in text, args
    assert "--api-key-secret" in ripple.ok("model", "add", "--help").stdout
    assert "--stream" in ripple.ok("model", "run", "--help").stdout


@pytest.mark.slow
def test_model_run_streams_then_reports_usage_and_cost(ripple_on: Ripple) -> None:
    r = ripple_on
    r.ok("model", "add", "local-smollm", "--provider", "local", "--price-input", "1", "--price-output", "3")
    as_json = r.json("model", "run", "local-smollm", POEM, "--max-tokens", "9")
    assert (as_json["model"], as_json["usage"]["completion_tokens"], as_json["finish_reason"]) == (
        "model/local-smollm:1",
        9,
        "length",
    )
    assert as_json["cost"]["total"] == as_json["usage"]["prompt_tokens"] * 1 / 1e6 + 9 * 3 / 1e6
    streamed = r.ok("model", "run", "local-smollm", POEM, "--max-tokens", "9")
    assert streamed.stdout == as_json["text"] + "\n"
    assert (
        "model/local-smollm:1 · " in streamed.stderr
        and f"{as_json['usage']['prompt_tokens']} prompt + 9 completion" in streamed.stderr
    )
    assert f"cost {as_json['cost']['total']:.6f} USD" in streamed.stderr and "finish: length" in streamed.stderr
    whole = r.ok("model", "run", "local-smollm", POEM, "--max-tokens", "9", "--no-stream")
    assert whole.stdout == streamed.stdout
    stopped = r.json("model", "run", "local-smollm", POEM, "--max-tokens", "40", "--stop", "\n")
    assert "\n" not in stopped["text"] and stopped["finish_reason"] == "stop"
    r.ok("model", "label", "local-smollm", "production", "1")
    r.ok(
        "prompt",
        "create",
        "answer",
        "--file",
        r.file(
            "a.yaml",
            "template: 'Answer briefly: {{ question }}'\nmodel: model/local-smollm@production\nparams: {max_tokens: 5}\n",
        ),
    )
    run = r.json("prompt", "run", "answer", "--var", "question=Why?")
    assert (run["prompt"], run["model"], run["usage"]["completion_tokens"]) == (
        "prompt/answer:1",
        "model/local-smollm:1",
        5,
    )
    shown = r.ok("prompt", "run", "answer", "--var", "question=Why?")
    assert shown.stdout == run["text"] + "\n" and "prompt/answer:1 on model/local-smollm:1" in shown.stderr
    assert (
        r.json("prompt", "run", "answer", "--var", "question=Why?", "--max-tokens", "2")["usage"]["completion_tokens"]
        == 2
    )
