"""Registering movies: a server file below the import folders or an upload becomes a Movie,
recognised by its checksum; a known movie's sampling settings change only under one rule."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from movies.checksums import FileFacts, file_facts, upload_facts
from movies.errors import ImportPathError, IngestError, SettingsConflict
from movies.models import Frame, Movie, MovieChecksum
from movies.storage import delete_upload


def import_dirs() -> list[Path]:
    """The folders below which staff may name server files (relative ones from BASE_DIR)."""
    return [resolve_folder(raw) for raw in settings.FACEFINDER_IMPORT_DIRS]


def resolve_folder(raw: str) -> Path:
    """A folder named in a setting, as a real path (a relative one taken from BASE_DIR)."""
    folder = Path(raw).expanduser()
    if not folder.is_absolute():
        folder = Path(settings.BASE_DIR) / folder
    return folder.resolve()


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

    Settings left out get the site's defaults; see add_movie.
    """
    movie = Movie(
        title=title, sample_every=sample_every, embedder=embedder or "", min_face=min_face
    )
    registered = add_movie(movie, path=path, upload=upload)
    return registered, registered is movie


def add_movie(
    movie: Movie, *, path: Path | None = None, upload: UploadedFile | None = None
) -> Movie:
    """Save the unsaved ``movie`` for a server file or an upload; returns the library's movie
    of that file.

    The same bytes added twice are the same movie (SHA-256), whatever the file is called: when
    the library already holds them, that movie is returned and ``movie`` stays unsaved (with
    the file's checksum, name and size filled in). Otherwise the file's facts, a title from the
    file name and the site's default settings fill what ``movie`` leaves empty, an upload is
    moved into media storage, and ``movie`` is saved. ``path`` is not checked against the
    import folders here (the command runs as the server's operator); the admin form does that
    with resolve_import_path().

    Hashing and moving the file happen before any write, and must be called outside a
    transaction (the admin's add view runs without one): SQLite holds its write lock for a
    whole transaction, and a worker's batch write would time out behind a long hash. Two adds
    of the same bytes at once give one movie: the one whose ``MovieChecksum`` row is written
    first; the other removes its own row and upload and returns that movie.
    """
    if (path is None) == (upload is None):
        raise ValueError("give exactly one of path or upload")
    if path is not None:
        path = Path(path).expanduser().resolve()
        facts = file_facts(path)
        movie.file_name = path.name
    else:
        facts = upload_facts(upload)
        movie.file_name = Path(upload.name or "upload").name
    movie.checksum, movie.size_bytes, movie.file_mtime_ns = facts.checksum, facts.size, None
    existing = movie_with_checksum(movie.checksum)
    if existing is not None:
        return existing
    movie.title = (movie.title or "").strip() or title_from_file_name(movie.file_name)
    movie.source_path = str(path) if path is not None else ""
    movie.sample_every = movie.sample_every or settings.FACEFINDER_SAMPLE_EVERY
    movie.embedder = movie.embedder or settings.FACEFINDER_EMBEDDER
    if movie.min_face is None:
        movie.min_face = settings.FACEFINDER_MIN_FACE
    if upload is not None:
        upload.seek(0)
        movie.upload.save(movie.file_name, upload, save=False)
        movie.file_mtime_ns = _mtime_ns(movie)
    else:
        movie.file_mtime_ns = facts.mtime_ns
    try:
        with transaction.atomic():
            movie.save()
            MovieChecksum.objects.create(checksum=movie.checksum, movie=movie)
    except IntegrityError:
        # Another add of the same bytes won. Without transactions (SingleStoreDB) this add's
        # row is still there: remove it, and the upload it moved, before answering.
        winner = movie_with_checksum(movie.checksum)
        if movie.pk is not None:
            # Without its upload name, so that deleting the row leaves the file to the check
            # below (movies.signals deletes a deleted movie's upload).
            Movie.objects.filter(pk=movie.pk).update(upload="")
            Movie.objects.filter(pk=movie.pk).delete()
        # The same bytes under the same name are the same storage file (media storage
        # overwrites): that one is the winner's.
        ours = movie.upload.name if upload is not None else ""
        if ours and (winner is None or winner.upload.name != ours):
            delete_upload(ours)
        movie.pk = None
        movie._state.adding = True
        if winner is None:
            raise
        return winner
    return movie


def movie_with_checksum(checksum: str) -> Movie | None:
    """The library's movie of the file with this SHA-256, if any.

    ``MovieChecksum`` names it; a movie with this checksum but no such row (added before the
    table existed, or by an add stopped between its two writes) is given one here.
    """
    if not checksum:
        return None
    row = MovieChecksum.objects.filter(checksum=checksum).select_related("movie").first()
    if row is not None:
        return row.movie
    orphan = Movie.objects.filter(checksum=checksum).order_by("pk").first()
    if orphan is None:
        return None
    try:
        with transaction.atomic():
            MovieChecksum.objects.create(checksum=checksum, movie=orphan)
    except IntegrityError:
        row = MovieChecksum.objects.filter(checksum=checksum).select_related("movie").first()
        return row.movie if row is not None else orphan
    return orphan


def record_new_contents(movie: Movie, facts: FileFacts) -> None:
    """The movie's file now holds other bytes: its checksum row moves to them.

    IngestError when another movie of the library already holds those bytes.
    """
    try:
        with transaction.atomic():
            MovieChecksum.objects.create(checksum=facts.checksum, movie=movie)
    except IntegrityError:
        other = movie_with_checksum(facts.checksum)
        raise IngestError(
            f"the file {movie.path} changed and now holds the same bytes as “{other}”"
            f" (movie {other.pk if other else '?'}); nothing was changed"
        ) from None
    MovieChecksum.objects.filter(checksum=movie.checksum, movie=movie).delete()
    Movie.objects.filter(pk=movie.pk).update(
        checksum=facts.checksum, size_bytes=facts.size, file_mtime_ns=facts.mtime_ns
    )
    movie.checksum, movie.size_bytes, movie.file_mtime_ns = (
        facts.checksum,
        facts.size,
        facts.mtime_ns,
    )


def title_from_file_name(name: str) -> str:
    stem = Path(name).stem.replace("_", " ").replace(".", " ").strip()
    stem = re.sub(r"\s+", " ", stem)
    return (stem[:1].upper() + stem[1:]) if stem else "Untitled"


def _mtime_ns(movie: Movie) -> int | None:
    """The stored upload's modification time, where it is a local file."""
    try:
        return movie.path.stat().st_mtime_ns
    except (NotImplementedError, OSError):
        return None


# The settings that decide which frames and faces an ingest stores.
SAMPLING_FIELDS = ("sample_every", "embedder", "min_face")


def has_stored_frames(movie: Movie) -> bool:
    """Whether an ingest has stored (or started storing) frames of this movie."""
    return movie.next_frame_index > 0 or Frame.objects.filter(movie=movie).exists()


def check_settings_change(
    movie: Movie, wanted: Mapping[str, Any], *, from_scratch: bool = False
) -> None:
    """The one rule for a movie's sampling settings: its stored frames and faces all come from
    one set of them.

    ``wanted`` holds the settings a change or an ingest run would use (sample_every, embedder,
    min_face, and for a run min_probability; ``None`` keeps a value). While frames are stored,
    or a run has begun storing them, any other value needs a from-scratch run, and
    SettingsConflict says so. The admin's change form, the ingest command and the ingest run
    itself all check it here.
    """
    if from_scratch or not has_stored_frames(movie):
        return
    # What the stored frames were made with; the movie's fields for frames stored before
    # ingest_settings was recorded.
    stored = {key: getattr(movie, key) for key in SAMPLING_FIELDS}
    stored = {key: value for key, value in stored.items() if value not in ("", None)}
    stored.update(movie.ingest_settings or {})
    changed = [
        f"{key} {stored[key]!r} → {value!r}"
        for key, value in wanted.items()
        if value is not None and key in stored and stored[key] != value
    ]
    if changed:
        raise SettingsConflict(
            f"“{movie}” is already stored with other settings ({', '.join(changed)}); "
            "ingest it again from scratch to use the new ones"
        )


def update_movie(movie: Movie, changes: Mapping[str, Any], *, from_scratch: bool = False) -> None:
    """Give a known movie a new title or sampling settings (``None`` values keep the current
    ones), under check_settings_change: ``from_scratch`` when a from-scratch run follows."""
    check_settings_change(
        movie, {k: v for k, v in changes.items() if k in SAMPLING_FIELDS}, from_scratch=from_scratch
    )
    changes = {key: value for key, value in changes.items() if value is not None}
    if changes:
        Movie.objects.filter(pk=movie.pk).update(**changes)
    movie.refresh_from_db()
