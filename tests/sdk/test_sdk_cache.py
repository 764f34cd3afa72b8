"""The SDK prompt cache: TTL, stale-while-revalidate with ETags, the last good version
when the server is down, and the caller's fallback when nothing was ever fetched."""

from __future__ import annotations

import time
import warnings

import pytest

from rippleops import Client, UnavailableError
from rippleops.settings import Settings
from support import RunningServer, free_port, start_server


def _remote(settings: Settings, url: str, ttl: float) -> Client:
    return Client(url=url, token=settings.token_file.read_text().strip(), settings=settings, cache_ttl=ttl)


def test_fresh_entries_come_from_memory(rp: Client) -> None:
    rp.prompts.create("answer", template="v1 {{ q }}")
    rp.prompts.label("answer", "production", 1)
    first = rp.prompts.get("answer@production", cache_ttl=60)
    rp.prompts.create("answer", template="v2 {{ q }}")
    rp.prompts.label("answer", "production", 2)
    assert rp.prompts.get("answer@production", cache_ttl=60).version == first.version == 1  # still fresh
    assert rp.prompts.get("answer@production", cache_ttl=0).version == 2  # ttl 0: always revalidate


def test_stale_is_served_then_revalidated_in_the_background(settings: Settings, server: RunningServer) -> None:
    admin = _remote(settings, server.url, ttl=0.2)
    admin.prompts.create("answer", template="v1 {{ q }}")
    admin.prompts.label("answer", "production", 1)
    assert admin.prompts.get("answer@production").version == 1
    admin.prompts.create("answer", template="v2 {{ q }}")
    admin.prompts.label("answer", "production", 2)
    time.sleep(0.3)
    assert admin.prompts.get("answer@production").version == 1  # stale copy at once ...
    deadline = time.monotonic() + 5
    while admin.prompts.get("answer@production").version != 2:  # ... refreshed behind the caller
        assert time.monotonic() < deadline, "the background refresh never landed"
        time.sleep(0.02)
    admin.close()


def test_unchanged_prompt_revalidates_with_304(settings: Settings, server: RunningServer) -> None:
    rp = _remote(settings, server.url, ttl=0)
    rp.prompts.create("answer", template="v1 {{ q }}")
    first = rp.prompts.get("answer")
    again = rp.prompts.get("answer")
    assert again.record is first.record  # the 304 kept the cached record object


def test_server_down_serves_last_good_version_with_a_warning(settings: Settings) -> None:
    srv = start_server(settings)
    rp = _remote(settings, srv.url, ttl=0)
    rp.prompts.create("answer", template="v1 {{ q }}")
    assert rp.prompts.get("answer").render(q="x") == "v1 x"
    srv.stop()
    with pytest.warns(RuntimeWarning, match="serving the last good version prompt/answer:1"):
        p = rp.prompts.get("answer")
    assert p.version == 1 and p.render(q="y") == "v1 y"
    rp.close()


def test_fallback_when_nothing_was_ever_fetched(settings: Settings) -> None:
    rp = _remote(settings, f"http://127.0.0.1:{free_port()}", ttl=60)
    with pytest.raises(UnavailableError, match="cannot reach the Ripple server"):
        rp.prompts.get("answer")
    with pytest.warns(RuntimeWarning, match="fallback"):
        p = rp.prompts.get("answer", label="production", fallback="Answer: {{ q }}")
    assert p.is_fallback and p.render(q="z") == "Answer: z"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chat = rp.prompts.get("answer", fallback=[{"role": "user", "content": "{{ q }}"}])
    assert chat.render(q="z") == [{"role": "user", "content": "z"}]
    rp.close()
