"""Before an ingest run's first frame (``movies.ingest``): check the file (missing,
unreadable, or its bytes changed since its checksum was taken), probe the video, check the
settings and load the models, and fix what the run will do as an ``IngestPlan``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from faces.embedders import get_embedder
from movies.checksums import check_source, file_stat
from movies.errors import IngestError
from movies.frames import delete_ingest_output
from movies.models import Movie, validate_min_face, validate_sample_every
from movies.registration import check_settings_change, record_new_contents
from movies.runs import IngestRun
from movies.timing import StageTimer
from movies.video import VideoInfo, probe_video

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestPlan:
    """What one ingest run does, fixed before the first frame."""

    embedder: str
    min_face: float
    min_probability: float
    sample_every: int
    batch_size: int
    info: VideoInfo
    # Shots and appearances are built as the frames are stored (False: bench_ingest's
    # comparison, and runs resuming frames stored before appearances existed).
    appearances: bool = True

    def recorded_settings(self) -> dict[str, Any]:
        return {
            "sample_every": self.sample_every,
            "embedder": self.embedder,
            "min_face": self.min_face,
            "min_probability": self.min_probability,
            "appearances": self.appearances,
        }


def reload_movie(movie: Movie) -> bool:
    """Reload the movie after a change of its row; False when the row is gone (the movie was
    deleted while being ingested), and then whatever the run stored is deleted too."""
    try:
        movie.refresh_from_db()
    except Movie.DoesNotExist:
        delete_ingest_output(movie)
        return False
    return True


def plan_run(
    movie: Movie, timer: StageTimer, run: IngestRun, *, appearances: bool = True
) -> IngestPlan:
    """Check the file, probe the video, check the settings and load the models.

    A file whose bytes changed since its checksum was taken makes the stored work useless: it
    is cleared here (and the new checksum recorded); otherwise nothing is written but the
    file's size and time.

    A run resuming frames stored without shots and appearances carries on without them too
    (``manage.py appearances rebuild`` makes them once it is done): shots cannot be found for
    the frames it would not decode again.
    """
    embedder = movie.embedder or settings.FACEFINDER_EMBEDDER
    min_face = movie.min_face if movie.min_face is not None else settings.FACEFINDER_MIN_FACE
    try:
        validate_sample_every(movie.sample_every)
        validate_min_face(min_face)
    except ValidationError as exc:
        raise IngestError(exc.messages[0]) from exc
    try:
        video_path = movie.path
    except NotImplementedError as exc:  # an upload kept in remote storage (S3)
        raise IngestError(
            "the uploaded video is in remote media storage, which ingest cannot read; "
            "add the movie by a server path instead"
        ) from exc
    with timer.stage("probe"):
        _check_source(movie, video_path, run)
        info = probe_video(video_path)
    plan = IngestPlan(
        embedder=embedder,
        min_face=float(min_face),
        min_probability=float(settings.FACEFINDER_MIN_PROBABILITY),
        sample_every=int(movie.sample_every),
        batch_size=max(1, int(settings.FACEFINDER_FRAME_BATCH)),
        info=info,
        appearances=appearances and _appearances_so_far(movie),
    )
    check_settings_change(movie, plan.recorded_settings())
    with timer.stage("load models"):
        get_embedder(embedder)  # unknown name or missing weights fail here, before any work
    return plan


def check_readable(movie: Movie) -> None:
    """IngestError (stored work kept) when the movie's local file is missing or unreadable."""
    try:
        path = movie.path
    except NotImplementedError:
        return  # remote storage: plan_run says why ingest cannot read it
    try:
        file_stat(path)
    except IngestError as exc:
        raise IngestError(f"{exc}; the stored frames and faces are kept") from exc


def _check_source(movie: Movie, path: Path, run: IngestRun) -> None:
    """Stop (IngestError, stored work kept) when the file is missing or unreadable; clear the
    stored work when its bytes changed."""
    try:
        found = check_source(movie, path)
    except IngestError as exc:
        raise IngestError(f"{exc}; the stored frames and faces are kept") from exc
    if found.changed:
        logger.warning("movie %s: its file changed, clearing what was stored", movie.pk)
        run.check()
        record_new_contents(movie, found.facts)
        delete_ingest_output(movie, run)
        reload_movie(movie)
    elif movie.file_mtime_ns != found.facts.mtime_ns or movie.size_bytes != found.facts.size:
        run.update(size_bytes=found.facts.size, file_mtime_ns=found.facts.mtime_ns)
        reload_movie(movie)


def _appearances_so_far(movie: Movie) -> bool:
    """Whether the frames stored so far (if any) had their shots and appearances built."""
    if movie.next_frame_index == 0:
        return True
    return bool((movie.ingest_settings or {}).get("appearances", False))
