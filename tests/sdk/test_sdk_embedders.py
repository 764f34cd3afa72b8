"""``rp.embedders`` on both transports (embedded, and remote against a real server), on
SQLite and PostgreSQL, with the real shipped MiniLM."""

from __future__ import annotations

import numpy as np
import pytest

from rippleops import Client
from rippleops.errors import InvalidError, NotFoundError

pytestmark = pytest.mark.slow  # every test loads the model


def test_create_get_list_label_versions(rp: Client) -> None:
    first = rp.embedders.create("minilm", message="the default")
    assert first.record.ref == "embedder/minilm:1" and first.dimension == 384
    assert first.model_id == "sentence-transformers/all-MiniLM-L6-v2" and first.normalize is True
    assert rp.embedders.create("minilm").record.created is False
    rp.embedders.create("minilm", batch_size=16)
    assert [v.version for v in rp.embedders.versions("minilm")] == [1, 2]
    rp.embedders.label("minilm", "production", 1)
    pinned = rp.embedders.get("minilm", label="production")
    assert pinned.record.version == 1 and "production" in pinned.record.labels
    assert rp.embedders.get("embedder/minilm:2").batch_size == 16
    assert [(a.name, a.latest_version, a.labels) for a in rp.embedders.list()] == [("minilm", 2, {"production": 1})]


def test_embed_returns_unit_vectors_and_uses_the_cache(rp: Client) -> None:
    rp.embedders.create("minilm")
    texts = ["how do I reset my password?", "opening hours", "how do I reset my password?"]
    vectors = rp.embedders.embed("minilm", texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])
    # related texts are closer than unrelated ones: these are real embeddings
    more = rp.embedders.get("minilm").embed(["I forgot my password", "the weather is nice today"])
    assert float(more[0] @ vectors[0]) > float(more[1] @ vectors[0]) + 0.2
    again = rp.embedders.embed_record("minilm@latest", texts)
    assert (again.cached, again.embedded, again.ref) == (3, 0, "embedder/minilm:1")
    np.testing.assert_allclose(np.asarray(again.vectors, dtype=np.float32), vectors, atol=1e-7)


def test_errors_cross_both_transports(rp: Client) -> None:
    with pytest.raises(NotFoundError, match="embedder/nothing does not exist"):
        rp.embedders.embed("nothing", ["x"])
    with pytest.raises(InvalidError, match="needs base_url, model, dimension"):
        rp.embedders.create("remote", provider="openai")
    with pytest.raises(InvalidError, match="not a single str"):
        rp.embedders.embed("minilm", "one string")  # type: ignore[arg-type]
