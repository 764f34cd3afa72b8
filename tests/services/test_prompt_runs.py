"""Prompt runs through the service layer, on SQLite and PostgreSQL: render a prompt version,
call the model version its `model:` names, merge parameters (model < prompt < call), and
record exactly which versions ran."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from rippleops.domain.access import Principal
from rippleops.domain.prompts import parse_spec
from rippleops.errors import InvalidError, NotFoundError, UnavailableError
from rippleops.services import Services

P = "default"


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


def prompt(services: Services, who: Principal, name: str, **spec: object) -> str:
    return services.prompts.create(who, P, name, parse_spec(spec)).ref


def test_the_prompt_must_name_a_model_that_exists(services: Services, admin: Principal, refused_url: str) -> None:
    prompt(services, admin, "nomodel", template="Q: {{ q }}")
    with pytest.raises(InvalidError, match=r"prompt/nomodel:1 names no model; pass one"):
        services.prompt_runs.run(admin, P, "nomodel", {"q": "x"})
    prompt(services, admin, "ghost", template="Q: {{ q }}", model="model/ghost@production")
    with pytest.raises(
        NotFoundError, match=r"prompt/ghost:1 runs on model/ghost@production: model/ghost does not exist"
    ):
        services.prompt_runs.run(admin, P, "ghost", {"q": "x"})
    services.models.create(admin, P, "remote", {"provider": "openai", "base_url": refused_url, "model": "m"})
    with pytest.raises(NotFoundError, match="no label 'production'"):
        services.prompt_runs.run(admin, P, "ghost", {"q": "x"}, model="remote@production")


def test_variables_and_parameters_are_checked_before_the_model_is_called(
    services: Services, admin: Principal, refused_url: str
) -> None:
    services.models.create(admin, P, "remote", {"provider": "openai", "base_url": refused_url, "model": "m"})
    prompt(services, admin, "answer", template="Q: {{ q }}", model="model/remote", params={"n": 2})
    with pytest.raises(InvalidError, match="missing variables: q"):
        services.prompt_runs.run(admin, P, "answer", {})
    with pytest.raises(InvalidError, match=r"prompt/answer:1 params: params.n must be 1"):
        services.prompt_runs.run(admin, P, "answer", {"q": "x"})
    prompt(services, admin, "answer", template="Q: {{ q }}", model="model/remote")
    with pytest.raises(InvalidError, match=r"call: params\.top_p"):
        services.prompt_runs.run(admin, P, "answer", {"q": "x"}, top_p=0)
    with pytest.raises(UnavailableError, match="model/remote:1: cannot reach"):  # the model is called last
        services.prompt_runs.run(admin, P, "answer", {"q": "x"})


@pytest.mark.slow
def test_run_records_the_versions_and_merges_parameters(services: Services, admin: Principal) -> None:
    prices = {"input_per_1m": 2.0, "output_per_1m": 5.0}
    services.models.create(admin, P, "local-smollm", {"provider": "local", "prices": prices})
    services.models.create(admin, P, "local-smollm", {"provider": "local", "params": {"max_tokens": 4}})
    services.labels.set(admin, P, "model/local-smollm", "production", 1)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Write a poem about {{ topic }}."}]
    prompt(services, admin, "poem", messages=chat, model="model/local-smollm@production", params={"max_tokens": 7})

    out = services.prompt_runs.run(admin, P, "poem", {"topic": "the sea"})
    assert (out.prompt, out.model, out.usage.completion_tokens) == ("prompt/poem:1", "model/local-smollm:1", 7)
    assert out.params["max_tokens"] == 7  # the prompt's params over the model's default (256)
    assert out.cost.total == out.usage.prompt_tokens * 2.0 / 1e6 + 7 * 5.0 / 1e6
    rendered = services.prompts.render(admin, P, "poem", {"topic": "the sea"})
    assert isinstance(rendered, list)
    direct = services.models.generate(admin, P, "local-smollm:1", rendered, max_tokens=7)
    assert (direct.text, direct.usage) == (out.text, out.usage)

    assert services.prompt_runs.run(admin, P, "poem", {"topic": "the sea"}, max_tokens=3).usage.completion_tokens == 3
    other = services.prompt_runs.run(admin, P, "poem", {"topic": "the sea"}, model="local-smollm:2")
    assert other.model == "model/local-smollm:2" and other.params["max_tokens"] == 7
    services.labels.set(admin, P, "model/local-smollm", "production", 2)  # the label is resolved at each run
    assert services.prompt_runs.run(admin, P, "poem", {"topic": "the sea"}).model == "model/local-smollm:2"

    stream = services.prompt_runs.stream(admin, P, "poem:1", {"topic": "the sea"})
    assert "".join(stream) == out.text
    assert (stream.record.prompt, stream.record.model, stream.record.usage) == (
        "prompt/poem:1",
        "model/local-smollm:2",
        out.usage,
    )


@pytest.mark.slow
def test_a_text_prompt_is_one_user_turn(services: Services, admin: Principal) -> None:
    services.models.create(admin, P, "local-smollm", {"provider": "local"})
    prompt(services, admin, "answer", template="Answer briefly: {{ question }}", model="local-smollm")
    out = services.prompt_runs.run(admin, P, "answer", {"question": "Why is the sky blue?"}, max_tokens=5)
    direct = services.models.generate(admin, P, "local-smollm", "Answer briefly: Why is the sky blue?", max_tokens=5)
    assert (out.text, out.usage, out.model) == (direct.text, direct.usage, "model/local-smollm:1")


@pytest.mark.slow
def test_an_output_schema_constrains_the_local_model_to_json_of_that_shape(
    services: Services, admin: Principal
) -> None:
    services.models.create(admin, P, "local-smollm", {"provider": "local"})
    schema = {
        "type": "object",
        "properties": {"colour": {"type": "string"}, "hex": {"type": "string"}},
        "required": ["colour", "hex"],
    }
    chat = [{"role": "user", "content": "Name a colour of the sea and its hex code, as JSON."}]
    prompt(services, admin, "colour", messages=chat, model="local-smollm", output_schema=schema)
    prompt(services, admin, "free", messages=chat, model="local-smollm")
    out = services.prompt_runs.run(admin, P, "colour", {}, max_tokens=48)
    reply = json.loads(out.text)
    assert set(reply) == {"colour", "hex"} and all(isinstance(v, str) for v in reply.values())
    assert out.params["constrained"] is True and out.finish_reason == "stop"
    assert services.prompt_runs.run(admin, P, "colour", {}, max_tokens=48).text == out.text  # greedy: the same
    free = services.prompt_runs.run(admin, P, "free", {}, max_tokens=48)
    assert "constrained" not in free.params and free.text != out.text
    # streaming decodes under the same grammar
    stream = services.prompt_runs.stream(admin, P, "colour", {}, max_tokens=48)
    assert "".join(stream) == out.text
