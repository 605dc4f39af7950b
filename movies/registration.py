"""Registering movies: a server file below the import folders or an upload becomes a Movie,
recognised by its checksum; a known movie's sampling settings change only under one rule."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from movies.errors import ImportPathError, IngestError
from movies.models import Frame, Movie


def import_dirs() -> list[Path]:
    """The folders below which staff may name server files (relative ones from BASE_DIR)."""
    folders = []
    for raw in settings.FACEFINDER_IMPORT_DIRS:
        folder = Path(raw).expanduser()
        if not folder.is_absolute():
            folder = Path(settings.BASE_DIR) / folder
        folders.append(folder.resolve())
    return folders


def resolve_import_path(raw: str) -> Path:
    """The real path of a server file that staff may import, or ImportPathError.

    Symlinks and ``..`` are resolved first, so a link inside an import folder cannot reach a
    file outside it. A relative path is taken relative to each import folder in turn.
    """
    raw = (raw or "").strip()
    if not raw:
        raise ImportPathError("no path given")
    folders = import_dirs()
    given = Path(raw).expanduser()
    candidates = [given] if given.is_absolute() else [folder / given for folder in folders]
    for candidate in candidates:
        real = candidate.resolve()
        if not any(real.is_relative_to(folder) for folder in folders):
            continue
        if not real.is_file():
            raise ImportPathError(f"not a file: {real}")
        return real
    allowed = ", ".join(str(folder) for folder in folders) or "(none configured)"
    raise ImportPathError(f"only files below the import folders may be added: {allowed}")


def register_movie(
    *,
    path: Path | None = None,
    upload: UploadedFile | None = None,
    title: str = "",
    sample_every: int | None = None,
    embedder: str | None = None,
    min_face: float | None = None,
) -> tuple[Movie, bool]:
    """The Movie for a server file or an upload; ``(movie, created)``.

    The same bytes added twice are the same movie (SHA-256), whatever the file is called.
    ``path`` is not checked against the import folders here (the command runs as the server's
    operator); the admin form does that with resolve_import_path().
    """
    if (path is None) == (upload is None):
        raise ValueError("give exactly one of path or upload")
    if path is not None:
        path = Path(path).expanduser().resolve()
        checksum, size = _file_checksum(path)
        name = path.name
    else:
        checksum, size = _upload_checksum(upload)
        name = Path(upload.name or "upload").name
    existing = Movie.objects.filter(checksum=checksum).order_by("pk").first()
    if existing is not None:
        return existing, False
    movie = Movie(
        title=(title or "").strip() or title_from_file_name(name),
        source_path=str(path) if path is not None else "",
        file_name=name,
        size_bytes=size,
        checksum=checksum,
        sample_every=sample_every or settings.FACEFINDER_SAMPLE_EVERY,
        embedder=embedder or settings.FACEFINDER_EMBEDDER,
        min_face=min_face if min_face is not None else settings.FACEFINDER_MIN_FACE,
    )
    if upload is not None:
        upload.seek(0)
        movie.upload.save(name, upload, save=False)
    movie.save()
    return movie, True


def title_from_file_name(name: str) -> str:
    stem = Path(name).stem.replace("_", " ").replace(".", " ").strip()
    stem = re.sub(r"\s+", " ", stem)
    return (stem[:1].upper() + stem[1:]) if stem else "Untitled"


def _file_checksum(path: Path) -> tuple[str, int]:
    if not path.exists():
        raise IngestError(f"file not found: {path}")
    if not path.is_file():
        raise IngestError(f"not a file: {path}")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(block)
    except OSError as exc:
        raise IngestError(f"cannot read {path} ({exc.strerror or exc})") from exc
    return digest.hexdigest(), path.stat().st_size


def _upload_checksum(upload: UploadedFile) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size


def has_stored_frames(movie: Movie) -> bool:
    """Whether an ingest has stored (or started storing) frames of this movie."""
    return movie.next_frame_index > 0 or Frame.objects.filter(movie=movie).exists()


def change_ingest_settings(movie: Movie, wanted: dict[str, Any], *, from_scratch: bool) -> None:
    """Give a known movie new sampling settings (``None`` values keep the current ones).

    Fine while nothing is stored, or before a from-scratch run; otherwise the stored frames
    would mix two settings, and IngestError says so.
    """
    changes = {
        key: value
        for key, value in wanted.items()
        if value is not None and getattr(movie, key) != value
    }
    if not changes:
        return
    if has_stored_frames(movie) and not from_scratch:
        described = ", ".join(f"{k} {getattr(movie, k)!r} → {v!r}" for k, v in changes.items())
        raise IngestError(
            f"“{movie}” is already stored with other settings ({described}); "
            "ingest it again from scratch to use the new ones"
        )
    Movie.objects.filter(pk=movie.pk).update(**changes)
    movie.refresh_from_db()
