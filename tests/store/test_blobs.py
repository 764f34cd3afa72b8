"""Blob stores: the same behaviour from the local, in-memory and S3 backends.

The S3 backend talks to a real S3-compatible HTTP server (moto's) on a free 127.0.0.1
port; the crash test kills a real process at the ``blob.before_rename`` fault point.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from rippleops.errors import InvalidError, NotFoundError, UnavailableError
from rippleops.settings import get_settings
from rippleops.store.blobs import (
    BlobStore,
    FsspecBlobStore,
    LocalBlobStore,
    blob_digest,
    open_blob_store,
)

MIB = 1024 * 1024
BUCKET = "ripple-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _s3_options(endpoint: str) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
    }


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No RIPPLE_* from the outside (RIPPLE_TEST_* stays), and a home of our own."""
    for name in list(os.environ):
        if name.startswith("RIPPLE_") and not name.startswith("RIPPLE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RIPPLE_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_client(s3_endpoint: str) -> Any:
    """A plain boto3 client, to look at (and tamper with) the bucket behind the store's back."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return open_blob_store(str(tmp_path / "blobs"))
    if request.param == "memory":
        return open_blob_store(f"memory://blobs-{uuid.uuid4().hex}")
    endpoint = request.getfixturevalue("s3_endpoint")
    return open_blob_store(f"s3://{BUCKET}/blobs", _s3_options(endpoint))


def _random_bytes(size: int = 1000) -> bytes:
    # Fresh bytes per test, so tests sharing the S3 bucket never see each other's blobs.
    return os.urandom(size)


def _overwrite(store: BlobStore, digest: str, data: bytes) -> None:
    """Replace a stored blob's bytes in place, as disk rot or a careless hand would."""
    if isinstance(store, LocalBlobStore):
        store.path(digest).write_bytes(data)
    else:
        assert isinstance(store, FsspecBlobStore)
        store.fs.pipe_file(store.key(digest), data)


# --- behaviour shared by every backend ---------------------------------------------------


def test_roundtrip(store: BlobStore) -> None:
    data = _random_bytes()
    digest = store.put(data)
    assert digest == blob_digest(data)
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert store.exists(digest)
    assert store.get(digest) == data
    assert store.size(digest) == len(data)
    assert store.verify(digest)


def test_empty_blob(store: BlobStore) -> None:
    digest = store.put(b"")
    assert store.get(digest) == b""
    assert store.size(digest) == 0
    assert store.verify(digest)


def test_open_reads_the_blob(store: BlobStore) -> None:
    data = _random_bytes(3 * 4096)
    digest = store.put(data)
    with store.open(digest) as stream:
        assert stream.read(10) == data[:10]
        assert stream.read() == data[10:]


def test_put_is_idempotent_and_does_not_rewrite(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _random_bytes()
    digest = store.put(data)
    if isinstance(store, LocalBlobStore):
        before = store.path(digest).stat()
        assert store.put(data) == digest
        after = store.path(digest).stat()
        # os.replace would give the path a new inode
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    else:
        assert isinstance(store, FsspecBlobStore)
        writes: list[str] = []
        real_pipe_file = store.fs.pipe_file

        def counting_pipe_file(path: str, value: bytes, **kwargs: Any) -> Any:
            writes.append(path)
            return real_pipe_file(path, value, **kwargs)

        monkeypatch.setattr(store.fs, "pipe_file", counting_pipe_file)
        assert store.put(data) == digest
        assert writes == []
    assert store.get(digest) == data


def test_layout_is_sha256_two_hex_rest(store: BlobStore) -> None:
    digest = store.put(_random_bytes())
    hex_digest = digest.removeprefix("sha256:")
    if isinstance(store, LocalBlobStore):
        assert store.path(digest) == store.root / "sha256" / hex_digest[:2] / hex_digest[2:]
        assert store.path(digest).is_file()
    else:
        assert isinstance(store, FsspecBlobStore)
        assert store.key(digest) == f"{store.root}/sha256/{hex_digest[:2]}/{hex_digest[2:]}"
        assert store.fs.exists(store.key(digest))


def test_put_file_streams_a_multi_megabyte_file(store: BlobStore, tmp_path: Path) -> None:
    data = _random_bytes(8 * MIB + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    digest = store.put_file(source)
    assert digest == blob_digest(data)
    assert store.size(digest) == len(data)
    assert store.verify(digest)
    assert store.get(digest) == data
    assert store.put_file(str(source)) == digest  # str paths too, and idempotent


def test_put_file_of_a_missing_file_is_not_found(store: BlobStore, tmp_path: Path) -> None:
    missing = tmp_path / "nope.bin"
    with pytest.raises(NotFoundError, match=r"nope\.bin"):
        store.put_file(missing)


def test_fsspec_put_file_refuses_a_file_that_changed_during_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_blob_store(f"memory://blobs-{uuid.uuid4().hex}")
    assert isinstance(store, FsspecBlobStore)
    source = tmp_path / "growing.log"
    source.write_bytes(b"first line\n")
    real_put_file = store.fs.put_file

    def put_then_append(lpath: str, rpath: str, **kwargs: Any) -> Any:
        result = real_put_file(lpath, rpath, **kwargs)
        with open(lpath, "ab") as out:  # a writer still appending while we upload
            out.write(b"second line\n")
        return result

    monkeypatch.setattr(store.fs, "put_file", put_then_append)
    with pytest.raises(InvalidError, match="changed while it was being stored"):
        store.put_file(source)
    assert not store.exists(blob_digest(b"first line\n"))


def test_verify_notices_corruption(store: BlobStore) -> None:
    data = _random_bytes()
    digest = store.put(data)
    _overwrite(store, digest, data[:-1] + bytes([data[-1] ^ 0xFF]))
    assert store.exists(digest)
    assert not store.verify(digest)


BAD_DIGESTS = [
    "",
    "abc",
    "sha256:",
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "A" * 64,
    "sha256:" + "g" * 64,
    "md5:" + "a" * 32,
    "SHA256:" + "a" * 64,
    "sha256:../../" + "a" * 58,
]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
@pytest.mark.parametrize("method", ["get", "open", "exists", "size", "verify"])
def test_bad_digest_is_invalid(store: BlobStore, method: str, digest: str) -> None:
    with pytest.raises(InvalidError, match="64 lowercase hex"):
        getattr(store, method)(digest)


@pytest.mark.parametrize("method", ["get", "open", "size", "verify"])
def test_missing_blob_is_not_found(store: BlobStore, method: str) -> None:
    digest = blob_digest(_random_bytes())
    assert not store.exists(digest)
    with pytest.raises(NotFoundError) as caught:
        getattr(store, method)(digest)
    assert digest in caught.value.message
    assert store.url in caught.value.message
    assert "RIPPLE_BLOB_URL" in caught.value.message


# --- S3: real HTTP against an S3-compatible server ------------------------------------------


def test_s3_exists_asks_the_server_not_a_cache(s3_endpoint: str, s3_client: Any) -> None:
    store = open_blob_store(f"s3://{BUCKET}/blobs", _s3_options(s3_endpoint))
    assert isinstance(store, FsspecBlobStore)
    data = _random_bytes()
    digest = blob_digest(data)
    folder, _, name = store.key(digest).rpartition("/")
    key = f"{folder.removeprefix(BUCKET + '/')}/{name}"
    # A neighbour in the same sha256/<2 hex>/ folder, so that listing it fills s3fs's cache.
    neighbour = next(b for b in iter(_random_bytes, None) if blob_digest(b)[:9] == digest[:9] and b != data)
    store.put(neighbour)

    store.fs.ls(folder)  # cached listing: the neighbour only
    s3_client.put_object(Bucket=BUCKET, Key=key, Body=data)
    assert store.exists(digest)
    assert store.get(digest) == data

    store.fs.ls(folder)  # cached listing: both blobs
    s3_client.delete_object(Bucket=BUCKET, Key=key)
    assert not store.exists(digest)
    with pytest.raises(NotFoundError):
        store.size(digest)


def test_s3_stores_see_each_others_writes(s3_endpoint: str) -> None:
    writer = open_blob_store(f"s3://{BUCKET}/blobs", _s3_options(s3_endpoint))
    reader = open_blob_store(f"s3://{BUCKET}/blobs", _s3_options(s3_endpoint))
    data = _random_bytes()
    assert not reader.exists(blob_digest(data))
    digest = writer.put(data)
    assert reader.exists(digest)
    assert reader.get(digest) == data


@pytest.mark.parametrize("how", ["put", "put_file"])
def test_s3_creates_a_missing_bucket_on_first_write(s3_endpoint: str, s3_client: Any, tmp_path: Path, how: str) -> None:
    bucket = f"ripple-fresh-{uuid.uuid4().hex[:12]}"
    store = open_blob_store(f"s3://{bucket}/blobs", _s3_options(s3_endpoint))
    names = {b["Name"] for b in s3_client.list_buckets()["Buckets"]}
    assert bucket not in names
    data = _random_bytes()
    assert not store.exists(blob_digest(data))

    if how == "put":
        digest = store.put(data)
    else:
        source = tmp_path / "data.bin"
        source.write_bytes(data)
        digest = store.put_file(source)

    assert bucket in {b["Name"] for b in s3_client.list_buckets()["Buckets"]}
    assert store.get(digest) == data


def test_unreachable_s3_is_unavailable_quickly() -> None:
    port = _free_port()  # nobody listens here: connections are refused
    url = f"s3://{BUCKET}/blobs"
    options = {
        **_s3_options(f"http://127.0.0.1:{port}"),
        "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}},
    }
    store = open_blob_store(url, options)
    digest = blob_digest(b"x")
    calls: list[Callable[[], object]] = [
        lambda: store.put(b"x"),
        lambda: store.exists(digest),
        lambda: store.get(digest),
        lambda: store.open(digest),
        lambda: store.size(digest),
        lambda: store.verify(digest),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(UnavailableError) as caught:
            call()
        assert time.monotonic() - started < 10
        assert url in caught.value.message
        assert "RIPPLE_BLOB_URL" in caught.value.message
        assert "credentials" in caught.value.message


# --- local: atomic writes, a real crash, temp clean-up -------------------------------------


def test_local_crash_before_rename_leaves_no_blob(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    data = _random_bytes(64 * 1024)
    digest = blob_digest(data)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from rippleops.store.blobs import LocalBlobStore\n"
        "LocalBlobStore(sys.argv[1]).put(Path(sys.argv[2]).read_bytes())\n"
        "print('survived the fault point')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_")}
    env |= {"RIPPLE_FAULTS": "blob.before_rename", "RIPPLE_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(root), str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "survived" not in done.stdout

    store = LocalBlobStore(root)
    assert not store.exists(digest)
    assert not store.path(digest).exists()
    parts = list((root / "tmp").glob("*.part"))
    assert len(parts) == 1
    assert parts[0].read_bytes() == data  # written and synced in full before the fault

    # The same bytes go in fine afterwards (RIPPLE_FAULTS is unset in this process).
    assert store.put(data) == digest
    assert store.verify(digest)
    assert store.cleanup_temp() == 0  # the leftover is fresh: start-up clean-up keeps it
    assert store.cleanup_temp(0) == 1
    assert list((root / "tmp").glob("*.part")) == []
    assert store.get(digest) == data


def test_local_cleanup_temp_only_removes_old_parts(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    assert store.cleanup_temp() == 0  # no tmp folder yet
    temp = tmp_path / "blobs" / "tmp"
    temp.mkdir(parents=True)
    old, new, other = temp / "old.part", temp / "new.part", temp / "notes.txt"
    for path in (old, new, other):
        path.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert store.cleanup_temp() == 1
    assert not old.exists() and new.exists() and other.exists()
    with pytest.raises(InvalidError):
        store.cleanup_temp(-1)


def test_local_put_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = _random_bytes()
    store.put(data)
    store.put(data)
    source = tmp_path / "data.bin"
    source.write_bytes(_random_bytes())
    store.put_file(source)
    store.put_file(source)
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_local_put_file_does_not_read_the_file_into_memory(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(16):
            out.write(os.urandom(MIB))
    tracemalloc.start()
    try:
        digest = store.put_file(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MIB, f"put_file of a 16 MiB file peaked at {peak} bytes"
    assert store.size(digest) == 16 * MIB


def test_local_unwritable_root_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    store = LocalBlobStore(blocker / "blobs")
    with pytest.raises(UnavailableError, match="RIPPLE_BLOB_URL"):
        store.put(b"x")


# --- opening a store from its URL -----------------------------------------------------------


def test_open_blob_store_picks_the_backend(tmp_path: Path) -> None:
    plain = open_blob_store(str(tmp_path / "a"))
    assert isinstance(plain, LocalBlobStore) and plain.root == tmp_path / "a"
    file_url = open_blob_store(f"file://{tmp_path / 'b'}")
    assert isinstance(file_url, LocalBlobStore) and file_url.root == tmp_path / "b"
    memory = open_blob_store("memory://somewhere")
    assert isinstance(memory, FsspecBlobStore) and memory.url == "memory://somewhere"


@pytest.mark.parametrize(
    ("url", "problem"),
    [("nosuchprotocol://x/y", "cannot be opened"), ("s3://", "names no bucket")],
)
def test_open_blob_store_rejects_bad_urls(url: str, problem: str) -> None:
    with pytest.raises(InvalidError, match=problem):
        open_blob_store(url)


def test_services_open_the_blob_store_from_settings(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RIPPLE_BLOB_URL and RIPPLE_BLOB_OPTIONS (JSON) reach the store the services use."""
    from rippleops.services import Services, initialise

    monkeypatch.setenv("RIPPLE_BLOB_URL", f"s3://{BUCKET}/from-settings")
    monkeypatch.setenv("RIPPLE_BLOB_OPTIONS", json.dumps(_s3_options(s3_endpoint)))
    get_settings.cache_clear()
    initialise(get_settings(), "alice")
    services = Services(get_settings())
    try:
        digest = services.blobs.put(b"through the settings")
        assert isinstance(services.blobs, FsspecBlobStore)
        assert open_blob_store(f"s3://{BUCKET}/from-settings", _s3_options(s3_endpoint)).get(digest) == (
            b"through the settings"
        )
    finally:
        services.close()
