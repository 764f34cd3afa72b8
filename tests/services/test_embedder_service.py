"""Embedders through the service layer, on SQLite and PostgreSQL, with the real shipped
MiniLM and a real OpenAI-compatible server on 127.0.0.1; the embedding cache with real
concurrent writers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from embedding_server import EmbeddingServer, start_embedding_server
from rippleops.domain.access import Principal
from rippleops.domain.embedders import vector_key
from rippleops.errors import ForbiddenError, InvalidError, NotFoundError
from rippleops.runtime.providers.embedders import OnnxMiniLMEmbedder
from rippleops.services import Services
from rippleops.services.embedding_cache import text_key

P = "default"
TEXTS = ["How do I reset my password?", "Opening hours are 9 to 5.", "", "Café crème 東京 🚀"]


@pytest.fixture(scope="module")
def reference() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder()


@pytest.fixture
def embedding_server() -> Iterator[EmbeddingServer]:
    server = start_embedding_server()
    yield server
    server.stop()


def _viewer(services: Services, admin: Principal) -> Principal:
    services.access.create_user(admin, "vera")
    services.access.grant(admin, P, "vera", "viewer")
    token = services.access.create_token(admin, user="vera").token
    assert token
    return services.access.authenticate(token)


@pytest.mark.slow
def test_minilm_version_records_what_the_model_is(services: Services, admin: Principal) -> None:
    record = services.embedders.create(admin, P, "minilm", {"provider": "minilm", "message": "default"})
    c = record.content
    assert record.ref == "embedder/minilm:1" and record.kind == "embedder"
    assert c["provider"] == "minilm" and c["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert c["dimension"] == 384 and c["normalize"] is True and c["batch_size"] == 64
    assert len(c["weights_sha256"]) == 64 and len(c["tokenizer_sha256"]) == 64
    again = services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    assert again.created is False and again.version == 1
    bigger = services.embedders.create(admin, P, "minilm", {"provider": "minilm", "batch_size": 16})
    assert bigger.version == 2
    # only the batch size changed: same vectors, so the same cache key
    assert vector_key(bigger.content) == vector_key(c)
    assert services.embedders.get(admin, P, "minilm:1").content == c


@pytest.mark.slow
def test_embed_goes_through_the_cache(services: Services, admin: Principal, reference: OnnxMiniLMEmbedder) -> None:
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    stats = services.embedding_cache.stats
    first = services.embedders.embed(admin, P, "minilm", TEXTS)
    assert first.shape == (4, 384) and first.dtype == np.float32
    np.testing.assert_allclose(first, reference.embed(TEXTS), atol=1e-6)
    assert (stats.misses, stats.hits, stats.model_calls) == (4, 0, 1)

    again = services.embedders.embed(admin, P, "embedder/minilm@latest", list(reversed(TEXTS)))
    assert np.array_equal(again, first[::-1])
    assert (stats.misses, stats.hits, stats.model_calls) == (4, 4, 1), "unchanged text must cost no model call"

    # repeats inside one call are embedded once; a new text costs one call for that text only
    counted = services.embedders.embed_counted(admin, P, "minilm", ["new text", "new text", TEXTS[0]])
    assert (counted.embedded, counted.cached) == (1, 2)
    assert stats.model_calls == 2 and stats.misses == 5
    assert np.array_equal(counted.vectors[0], counted.vectors[1])

    # another Services object (another process, in effect) reads the same database rows
    other = Services(services.settings)
    try:
        other.embedders.embed(admin, P, "minilm", TEXTS)
        assert other.embedding_cache.stats.model_calls == 0 and other.embedding_cache.stats.hits == 4
    finally:
        other.close()


@pytest.mark.slow
def test_cache_lookups_are_one_query_per_batch(services: Services, admin: Principal) -> None:
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    texts = [f"sentence number {i} about topic {i % 5}" for i in range(64)]
    stats = services.embedding_cache.stats
    services.embedders.embed(admin, P, "minilm", texts)
    assert stats.queries == 2  # one lookup, one multi-row insert
    services.embedders.embed(admin, P, "minilm", texts)
    assert stats.queries == 3  # one lookup, nothing to insert
    assert stats.model_calls == 1


def test_concurrent_writers_do_not_fail_on_duplicates(services: Services) -> None:
    cache = services.embedding_cache
    keys = [text_key(f"text {i}") for i in range(300)]
    vectors = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            for j in range(6):  # every thread writes every row, each starting at another slice
                lo = ((j + offset) % 6) * 50
                cache.store("k" * 64, 8, keys[lo : lo + 50], vectors[lo : lo + 50])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    found = cache.lookup("k" * 64, 8, keys)
    assert len(found) == 300
    assert all(np.array_equal(found[k], vectors[i]) for i, k in enumerate(keys))
    # a lookup with the wrong dimension finds nothing rather than a garbled vector
    assert cache.lookup("k" * 64, 16, keys) == {}


@pytest.mark.slow
def test_openai_provider_reads_the_key_at_call_time(
    services: Services, admin: Principal, embedding_server: EmbeddingServer, reference: OnnxMiniLMEmbedder
) -> None:
    spec = {
        "provider": "openai",
        "base_url": embedding_server.url,
        "model": "all-MiniLM-L6-v2",
        "dimension": 384,
        "api_key_secret": "EMBED_KEY",
    }
    record = services.embedders.create(admin, P, "remote", spec)
    assert record.content["api_key_secret"] == "EMBED_KEY" and "sk-first" not in str(record.content)
    with pytest.raises(NotFoundError, match="ripple secret set EMBED_KEY"):
        services.embedders.embed(admin, P, "remote", ["hello"])
    services.secrets.set(admin, P, "EMBED_KEY", "sk-first")
    vectors = services.embedders.embed(admin, P, "remote", ["hello", "world"])
    np.testing.assert_allclose(vectors, reference.embed(["hello", "world"]), atol=1e-5)
    assert embedding_server.requests == 1

    # the server's key rotates; the old secret is refused with a clear error, the new one works at once
    embedding_server.api_key = "sk-second"
    with pytest.raises(InvalidError, match=r"(?i)api key|401"):
        services.embedders.embed(admin, P, "remote", ["a new text"])
    services.secrets.set(admin, P, "EMBED_KEY", "sk-second")
    services.embedders.embed(admin, P, "remote", ["a new text"])
    assert embedding_server.requests == 2  # the refused request is not counted: it never got past the key
    services.embedders.embed(admin, P, "remote", ["hello", "a new text"])  # all cached
    assert embedding_server.requests == 2


def test_bad_specs_name_the_problem(services: Services, admin: Principal) -> None:
    with pytest.raises(InvalidError, match="takes no dimension"):
        services.embedders.create(admin, P, "x", {"provider": "minilm", "dimension": 512})
    with pytest.raises(InvalidError, match="needs base_url, model, dimension"):
        services.embedders.create(admin, P, "x", {"provider": "openai"})
    with pytest.raises(InvalidError, match="provider"):
        services.embedders.create(admin, P, "x", {"provider": "word2vec"})
    with pytest.raises(InvalidError, match="unknown fields: colour"):
        services.embedders.create(admin, P, "x", {"provider": "minilm", "colour": "red"})
    with pytest.raises(InvalidError, match="api_key_secret names a Ripple secret"):
        services.embedders.create(
            admin, P, "x", {"provider": "openai", "base_url": "http://h/v1", "model": "m", "dimension": 3,
                            "api_key_secret": "sk-live-123!"},
        )  # fmt: skip
    with pytest.raises(NotFoundError, match="embedder/nothing does not exist"):
        services.embedders.embed(admin, P, "nothing", ["x"])


def test_a_viewer_cannot_register_an_embedder(services: Services, admin: Principal) -> None:
    viewer = _viewer(services, admin)
    with pytest.raises(ForbiddenError):
        services.embedders.create(viewer, P, "minilm", {"provider": "minilm"})


@pytest.mark.slow
def test_bad_texts_are_refused(services: Services, admin: Principal) -> None:
    services.embedders.create(admin, P, "minilm", {"provider": "minilm"})
    with pytest.raises(InvalidError, match="not a single str"):
        services.embedders.embed(admin, P, "minilm", "just one string")  # type: ignore[arg-type]
    with pytest.raises(InvalidError, match="text 1 is a int"):
        services.embedders.embed(admin, P, "minilm", ["ok", 3])  # type: ignore[list-item]
    assert services.embedders.embed(admin, P, "minilm", []).shape == (0, 384)


@pytest.mark.slow  # two real subprocesses
def test_a_missing_embed_extra_names_the_extra(tmp_path: object) -> None:
    """onnxruntime made unimportable in a real subprocess: the CLI says which extra to install."""
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from rippleops.cli.main import main\n"
        "sys.argv = ['ripple', 'embedder', 'add', 'minilm']\n"
        "main()\n"
    )
    home = os.path.join(str(tmp_path), "home")
    env = {**os.environ, "RIPPLE_HOME": home}
    subprocess.run(
        [sys.executable, "-c", "from rippleops.cli.main import main; import sys; sys.argv=['ripple','init']; main()"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "pip install 'rippleops[embed]'" in result.stderr
    assert "Traceback" not in result.stderr
