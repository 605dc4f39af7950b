"""A movie file's identity: its SHA-256, taken once per change of the file.

A movie is recognised by the checksum of its bytes (``movies.registration``), and stored work
belongs to the bytes it was made from. Hashing a multi-gigabyte file takes minutes, so the
file's size and modification time are recorded beside the checksum: while both are unchanged
the file is taken to be unchanged, and an ingest does not read it all again.

Every hash is taken outside any database transaction (SQLite takes its write lock when one
begins), by the callers' design.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile

from movies.errors import IngestError
from movies.models import Movie

BLOCK = 1024 * 1024


@dataclass(frozen=True)
class FileFacts:
    """What was read of a file: its checksum, size and modification time (ns)."""

    checksum: str
    size: int
    mtime_ns: int | None


def file_stat(path: Path) -> os.stat_result:
    """The file's stat, or IngestError with the reason (missing, not a file, unreadable)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise IngestError(f"file not found: {path}") from None
    except OSError as exc:
        raise IngestError(f"cannot read {path} ({exc.strerror or exc})") from exc
    if not path.is_file():
        raise IngestError(f"not a file: {path}")
    return stat


def file_facts(path: Path) -> FileFacts:
    """Hash a file on disk; IngestError when it is missing or cannot be read."""
    stat = file_stat(path)
    digest = sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(BLOCK), b""):
                digest.update(block)
    except OSError as exc:
        raise IngestError(f"cannot read {path} ({exc.strerror or exc})") from exc
    return FileFacts(digest.hexdigest(), stat.st_size, stat.st_mtime_ns)


def upload_facts(upload: UploadedFile) -> FileFacts:
    """Hash an upload (its temporary file or memory), leaving it at its start."""
    digest = sha256()
    size = 0
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return FileFacts(digest.hexdigest(), size, None)


@dataclass(frozen=True)
class SourceCheck:
    """The movie's file as an ingest found it: its facts, and whether its bytes changed."""

    facts: FileFacts
    changed: bool


def check_source(movie: Movie, path: Path) -> SourceCheck:
    """Whether the movie's file still holds the bytes its checksum names.

    A missing or unreadable file raises IngestError (the caller keeps everything stored). The
    file is hashed again only when its size or modification time differ from the recorded
    ones, or none were recorded.
    """
    stat = file_stat(path)
    if (
        movie.checksum
        and movie.size_bytes == stat.st_size
        and movie.file_mtime_ns == stat.st_mtime_ns
    ):
        facts = FileFacts(movie.checksum, stat.st_size, stat.st_mtime_ns)
        return SourceCheck(facts, changed=False)
    facts = file_facts(path)
    return SourceCheck(facts, changed=bool(movie.checksum) and facts.checksum != movie.checksum)
