"""What an ingest run tells its caller: progress while it runs, and a report at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from movies.models import Movie
from movies.timing import StageTimer


@dataclass(frozen=True)
class IngestProgress:
    """What a progress callback gets before the first batch and after each one."""

    movie_id: int
    title: str
    next_frame_index: int
    total_frames: int | None
    frames_sampled: int
    faces_found: int


@dataclass
class IngestReport:
    """What one ingest run did: the command prints ``message``, the rq job returns
    ``as_dict()``. The ``_added`` counts are this run's, the others the movie's."""

    movie_id: int
    title: str
    status: str
    frames_sampled: int = 0
    faces_found: int = 0
    frames_added: int = 0
    faces_added: int = 0
    resumed_from: int = 0
    seconds: float = 0.0
    error: str = ""
    already_done: bool = False
    # Why the run did not start (or stopped without finishing): another run holds the movie,
    # it is queued for a worker, or the job was cancelled while it waited.
    not_started: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        if self.not_started and self.status != Movie.Status.CANCELLED:
            return False
        return self.status in (Movie.Status.DONE, Movie.Status.CANCELLED)

    @property
    def message(self) -> str:
        if self.not_started:
            return f"not ingested: {self.not_started}"
        if self.status == Movie.Status.FAILED:
            return f"failed: {self.error}"
        if self.status == Movie.Status.CANCELLED:
            return f"cancelled after {self.frames_sampled} sampled frames (resumable)"
        if self.already_done:
            return (
                f"already ingested ({self.frames_sampled} frames, {self.faces_found} faces); "
                "re-ingest from scratch to redo it"
            )
        resumed = f" (resumed at frame {self.resumed_from})" if self.resumed_from else ""
        if self.faces_found == 0:
            return f"done: {self.frames_sampled} frames sampled, no faces found{resumed}"
        return f"done: {self.frames_sampled} frames sampled, {self.faces_found} faces{resumed}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[IngestProgress], None]


def report_of(
    movie: Movie,
    status: str,
    started: float,
    timer: StageTimer,
    frames_added: int = 0,
    faces_added: int = 0,
) -> IngestReport:
    """The report of a run that started at ``started`` (``time.monotonic()``)."""
    return IngestReport(
        movie_id=movie.pk,
        title=movie.title,
        status=status,
        frames_sampled=movie.frames_sampled,
        faces_found=movie.faces_found,
        frames_added=frames_added,
        faces_added=faces_added,
        seconds=time.monotonic() - started,
        error=movie.last_error if status == Movie.Status.FAILED else "",
        timings=dict(timer.seconds),
    )


def notify(progress: ProgressCallback | None, movie: Movie, total_frames: int | None) -> None:
    """Tell the caller's callback where the run stands (before the first batch, after each)."""
    if progress is None:
        return
    progress(
        IngestProgress(
            movie_id=movie.pk,
            title=movie.title,
            next_frame_index=movie.next_frame_index,
            total_frames=total_frames,
            frames_sampled=movie.frames_sampled,
            faces_found=movie.faces_found,
        )
    )
