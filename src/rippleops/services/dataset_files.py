"""Files a dataset is written to outside the blob store (exports, downloads): always
through a temp file in the target's folder, renamed at the end, so that an export that fails
or is interrupted leaves no half file. No pyarrow here: the remote SDK uses it too."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from rippleops.errors import InvalidError, NotFoundError


def write_chunks_atomically(chunks: Iterable[bytes], out: Path, on_chunk: Callable[[int], None] | None = None) -> int:
    """Write ``chunks`` to ``out`` through a temp file in the same folder, renamed at the
    end: a failed or interrupted export leaves no half file. The number of bytes written."""
    out = out.expanduser()
    if out.is_dir():
        raise InvalidError(f"{out} is a folder; give a file name to export to")
    if not out.parent.is_dir():
        raise NotFoundError(f"cannot export to {out}: the folder {out.parent} does not exist")
    temp = out.parent / f".{out.name}.{uuid.uuid4().hex}.part"
    size = 0
    try:
        with temp.open("xb") as f:
            for chunk in chunks:
                f.write(chunk)
                size += len(chunk)
                if on_chunk is not None:
                    on_chunk(size)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
    return size
