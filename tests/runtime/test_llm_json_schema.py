"""Constrained JSON decoding (``json_schema=``), added to the LLM providers for synthetic
data: the shipped SmolLM2 on llama.cpp writes JSON that fits the schema, keys in the schema's
order, deterministic under a seed; the OpenAI-compatible client sends it as
``response_format`` to a real ``llama_cpp.server``. A call without it is unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import pytest

from rippleops.errors import InvalidError
from rippleops.runtime.providers.llm import LocalGGUF, OpenAICompatibleLLM
from support import LlamaServer

SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "answer": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["question", "answer", "score"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "Write a quiz question about the Moon, its answer and a score from 1 to 5."}]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local() -> Iterator[LocalGGUF]:
    with LocalGGUF() as llm:
        yield llm


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    running = LlamaServer(tmp_path_factory.mktemp("llama-json") / "server.log")
    yield running.url
    running.stop()


def _fits(text: str) -> dict[str, object]:
    value = json.loads(text)
    jsonschema.validate(value, SCHEMA)
    assert list(value) == ["question", "answer", "score"]  # the schema's order
    return value  # type: ignore[no-any-return]


def test_local_json_schema_gives_valid_json_deterministically(local: LocalGGUF) -> None:
    seeded = [local.generate(ASK, max_tokens=160, temperature=0.8, seed=s, json_schema=SCHEMA) for s in (1, 2, 1)]
    for g in seeded:
        assert g.finish_reason == "stop", g.text  # the grammar ends the object, and the turn
        _fits(g.text)
    assert seeded[0].text == seeded[2].text != seeded[1].text
    _fits(local.generate(ASK, max_tokens=160, json_schema=SCHEMA).text)
    plain = local.generate(ASK, max_tokens=24)
    assert plain.text == local.generate(ASK, max_tokens=24).text  # without a schema: decoding as before


def test_local_stream_with_json_schema_joins_to_generate(local: LocalGGUF) -> None:
    stream = local.stream(ASK, max_tokens=160, seed=5, temperature=0.8, json_schema=SCHEMA)
    text = "".join(stream)
    assert text == local.generate(ASK, max_tokens=160, seed=5, temperature=0.8, json_schema=SCHEMA).text
    _fits(text)


def test_bad_schemas_are_refused(local: LocalGGUF) -> None:
    with pytest.raises(InvalidError, match="json_schema must be a JSON schema object"):
        local.generate(ASK, max_tokens=4, json_schema="{}")  # type: ignore[arg-type]
    with pytest.raises(InvalidError, match=r"llama\.cpp cannot turn this JSON schema into a grammar"):
        local.generate(ASK, max_tokens=4, json_schema={"$ref": "https://example.com/elsewhere.json"})


def test_openai_compatible_sends_response_format(server: str) -> None:
    llm = OpenAICompatibleLLM(server, "smollm2", extra_body={"repeat_penalty": 1.0})
    out = llm.generate(ASK, max_tokens=160, temperature=0.0, json_schema=SCHEMA)
    assert out.finish_reason == "stop", out.text
    _fits(out.text)
    free = llm.generate(ASK, max_tokens=160, temperature=0.0)
    assert free.text != out.text  # the server did constrain the first reply
    streamed = "".join(llm.stream(ASK, max_tokens=160, temperature=0.0, json_schema=SCHEMA))
    assert streamed == out.text
