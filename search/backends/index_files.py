"""Low-level file work of the persisted index: checksums, and arrays written durably.

See ``index_store.py`` for the layout. Every write here ends with ``fsync``, so that a manifest
published after it never names a file whose bytes are still only in memory.
"""

from __future__ import annotations

import os
import uuid
import zlib
from pathlib import Path

import numpy as np

from search.backends.segments import Segment

# Files up to this size are checksummed whole when opened; larger ones (vectors, IVF codes:
# gigabytes at a million rows) by SAMPLE_BLOCKS blocks spread over the file, plus their size,
# so that opening stays in milliseconds instead of reading everything.
FULL_CHECKSUM_BYTES = 64 * 1024**2
SAMPLE_BLOCKS = 64
SAMPLE_BLOCK_BYTES = 64 * 1024
# Rows written per chunk when a segment's vectors are copied.
COPY_CHUNK = 65_536


class DamagedIndex(Exception):
    """A persisted file does not match its manifest (or the manifest is unreadable)."""


def file_record(path: Path) -> dict:
    """Name, size and checksum of a file, as the manifest records and ``check_file`` compares."""
    size = path.stat().st_size
    return {"name": path.name, "bytes": size, "crc32": _checksum(path, size)}


def _checksum(path: Path, size: int) -> int:
    crc = 0
    with path.open("rb") as handle:
        if size <= FULL_CHECKSUM_BYTES:
            for block in iter(lambda: handle.read(1 << 20), b""):
                crc = zlib.crc32(block, crc)
            return crc
        last = size - SAMPLE_BLOCK_BYTES
        for number in range(SAMPLE_BLOCKS):
            crc = zlib.crc32(
                os.pread(handle.fileno(), SAMPLE_BLOCK_BYTES, last * number // (SAMPLE_BLOCKS - 1)),
                crc,
            )
    return crc


def check_file(path: Path, record: dict) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DamagedIndex(f"{path} is missing") from None
    if size != record["bytes"]:
        raise DamagedIndex(f"{path} holds {size} bytes, the manifest says {record['bytes']}")
    if _checksum(path, size) != record["crc32"]:
        raise DamagedIndex(f"{path} does not match its checksum")


def write_array(path: Path, chunks: list[np.ndarray], *, staged: bool = False) -> dict:
    target = path.with_name(f".tmp-{uuid.uuid4().hex}") if staged else path
    array = np.concatenate(chunks) if len(chunks) != 1 else chunks[0]
    with target.open("wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    if staged:
        os.rename(target, path)
        fsync(path.parent)
    return file_record(path)


def write_vectors(path: Path, parts: list[tuple[Segment, np.ndarray]], dimension: int) -> dict:
    """Copy the vectors chunk by chunk, so that a million rows are never held twice."""
    rows = sum(len(positions) for _, positions in parts)
    header = {"descr": "<f4", "fortran_order": False, "shape": (rows, dimension)}
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for part, positions in parts:
            for start in range(0, len(positions), COPY_CHUNK):
                chunk = part.vectors[positions[start : start + COPY_CHUNK]]
                handle.write(np.ascontiguousarray(chunk, dtype="<f4").tobytes())
        handle.flush()
        os.fsync(handle.fileno())
    return file_record(path)


def fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
