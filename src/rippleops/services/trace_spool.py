"""The trace spool: accepted OTLP payloads on disk until the writer has committed them.

A server appends each accepted export to the current segment file of
``$RIPPLE_HOME/trace-spool/`` before it answers 200, and deletes a segment once every export
in it is committed. A process that is killed leaves its segments behind; the next start
replays them (span inserts are idempotent, so an export written just before the crash is
not stored twice) and deletes them.

Records are ``length (4 bytes) | crc32 (4 bytes) | payload``: a record torn by a crash in
the middle of a write was never acknowledged, and is skipped. No fsync: the spool guards
against the process dying (the page cache survives that), not against the machine losing
power. Each live segment holds an exclusive ``flock``, so two servers on one home never
replay each other's live segments.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["Spool", "Ticket", "orphan_segments", "read_segment"]

log = logging.getLogger(__name__)
SEGMENT_BYTES = 64 * 1024 * 1024
_HEADER = struct.Struct("<II")
SUFFIX = ".seg"


@dataclass(eq=False)
class Ticket:
    """One open segment; an appended export holds it until the writer is done with it."""

    path: Path
    file: BinaryIO
    size: int = 0
    pending: int = 0
    sealed: bool = False


class Spool:
    """Segments of one process in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._current: Ticket | None = None
        self._counter = 0
        self._lock = threading.Lock()
        self.appended_bytes = 0

    def append(self, payload: bytes, holders: int = 1) -> Ticket:
        """Write ``payload`` to the current segment; it stays until :meth:`done` is called
        ``holders`` times with the ticket returned."""
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            seg = self._current
            if seg is None or seg.size >= SEGMENT_BYTES:
                if seg is not None:
                    seg.sealed = True
                seg = self._current = self._open()
            seg.file.write(record)
            seg.size += len(record)
            seg.pending += holders
            self.appended_bytes += len(record)
            return seg

    def done(self, ticket: Ticket) -> None:
        """One holder of ``ticket`` is committed; a segment nobody holds is deleted."""
        with self._lock:
            ticket.pending -= 1
            if ticket.pending > 0:
                return
            if ticket is self._current:
                self._current = None
            self._remove(ticket)

    def close(self) -> None:
        """Close the segments; one still held by a queued export stays for the next start."""
        with self._lock:
            seg, self._current = self._current, None
            if seg is not None:
                if seg.pending == 0:
                    self._remove(seg)
                else:
                    seg.file.close()

    def _open(self) -> Ticket:
        self._counter += 1
        path = self.folder / f"{time.time_ns()}-{os.getpid()}-{self._counter}{SUFFIX}"
        file = open(path, "ab", buffering=0)  # noqa: SIM115 (the ticket owns it until done)
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return Ticket(path, file)

    @staticmethod
    def _remove(seg: Ticket) -> None:
        seg.path.unlink(missing_ok=True)
        seg.file.close()


def orphan_segments(folder: Path) -> Iterator[tuple[Path, BinaryIO]]:
    """The segments no live process holds (left by one that was killed), oldest first, each
    open and locked: read it with :func:`read_segment`, then delete it and close the file."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*" + SUFFIX), key=lambda p: p.name):
        try:
            file = open(path, "rb")  # noqa: SIM115 (handed to the caller)
        except FileNotFoundError:
            continue  # its owner finished it meanwhile
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()  # a live process owns it
            continue
        yield path, file


def read_segment(file: BinaryIO, name: str = "segment") -> Iterator[bytes]:
    """The whole records of a segment; a torn last record is skipped (never acknowledged)."""
    data = file.read()
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        payload = data[pos + _HEADER.size : pos + _HEADER.size + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            log.warning("trace spool %s: a torn record at byte %d skipped (it was never acknowledged)", name, pos)
            return
        yield payload
        pos += _HEADER.size + length
