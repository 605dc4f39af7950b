"""Where a movie's video file is: on this server's disk, and for nginx (x-accel mode).

An uploaded movie lies in media storage below MEDIA_ROOT, so nginx reaches it through the
internal location of all media (``FACEFINDER_MEDIA_INTERNAL_PREFIX``). A movie added by a server
path lies below one of ``FACEFINDER_IMPORT_DIRS``; each of those folders has an internal
location of its own, named in ``FACEFINDER_IMPORT_INTERNAL_PREFIXES`` as ``folder=prefix``
pairs. The mapping is by folder, never by position in a list, so that reordering the import
folders can never make nginx send one film's file for another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

from movies.models import Movie
from movies.registration import import_dirs, resolve_folder


class VideoUnavailable(Exception):
    """The movie's video cannot be served. ``str()`` is one line anyone may read; ``detail``
    adds what only staff may see (a server path, the setting to fix)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def import_internal_prefixes() -> dict[Path, str]:
    """Each configured import folder (a real path) and its nginx internal location."""
    return {
        resolve_folder(folder): _as_prefix(prefix)
        for folder, prefix in settings.FACEFINDER_IMPORT_INTERNAL_PREFIXES.items()
    }


def _as_prefix(prefix: str) -> str:
    return "/" + prefix.strip("/") + "/"


@dataclass(frozen=True)
class VideoLocation:
    """A movie's video file that exists: its real path, and where nginx finds it."""

    movie: Movie
    path: Path

    def internal_uri(self) -> str:
        """The URI of an X-Accel-Redirect to this file, or VideoUnavailable when no internal
        location covers it."""
        if self.movie.upload:
            root = Path(settings.MEDIA_ROOT).resolve()
            relative = self.path.relative_to(root)
            return _as_prefix(settings.FACEFINDER_MEDIA_INTERNAL_PREFIX) + quote(
                relative.as_posix()
            )
        folder = _import_folder_of(self.path)
        if folder is None:
            raise VideoUnavailable(
                "This movie's video cannot be served from where it lies.",
                f"{self.path} is below none of FACEFINDER_IMPORT_DIRS",
            )
        prefix = import_internal_prefixes().get(folder)
        if prefix is None:
            raise VideoUnavailable(
                "This movie's video cannot be served from where it lies.",
                f"the import folder {folder} has no nginx internal location in "
                "FACEFINDER_IMPORT_INTERNAL_PREFIXES",
            )
        return prefix + quote(self.path.relative_to(folder).as_posix())


def _import_folder_of(path: Path) -> Path | None:
    """The innermost import folder holding ``path`` (folders may be nested)."""
    holding = [folder for folder in import_dirs() if path.is_relative_to(folder)]
    return max(holding, key=lambda folder: len(folder.parts), default=None)


def video_location(movie: Movie) -> VideoLocation:
    """The movie's video file, or VideoUnavailable saying why it cannot be had."""
    if movie.upload:
        try:
            raw = Path(movie.upload.path)
        except NotImplementedError:  # an upload kept in remote storage (S3)
            raise VideoUnavailable(
                "This movie's video is in remote media storage, which the player cannot read.",
                f"upload {movie.upload.name}",
            ) from None
        path = raw.resolve()
        if not path.is_relative_to(Path(settings.MEDIA_ROOT).resolve()):
            raise VideoUnavailable(
                "This movie's video cannot be served from where it lies.",
                f"{path} is outside MEDIA_ROOT",
            )
    elif movie.source_path:
        raw = Path(movie.source_path)
        path = raw.resolve()
    else:
        raise VideoUnavailable("This movie has no video file.")
    if not path.is_file():
        raise VideoUnavailable("The video file of this movie is gone.", f"expected at {raw}")
    return VideoLocation(movie=movie, path=path)
