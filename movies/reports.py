"""What an ingest run tells its caller: progress while it runs, and a report at the end.

``ProgressLog`` turns the progress callbacks into one line at a steady interval, for runs
without a terminal (the ``ingest`` command under cron or a service, the rq worker's log);
``progress_line`` is that line's one format.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from movies.display import hms
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


def progress_line(
    step: IngestProgress, *, frames_per_second: float | None, elapsed_seconds: float
) -> str:
    """One line on how far an ingest is: frames decoded (of the total), sampled frames, faces,
    the decode rate of this run and the time left at that rate.

    ``frames_per_second`` is None until the run has a rate (its first batch); the time left
    needs it and a known total.
    """
    frame = f"frame {step.next_frame_index:,}"
    if step.total_frames:
        share = min(100.0, 100.0 * step.next_frame_index / step.total_frames)
        frame += f" of {step.total_frames:,} ({share:.0f}%)"
    parts = [
        f"“{step.title}” (movie {step.movie_id}): {frame}",
        f"{step.frames_sampled:,} sampled frames, {step.faces_found:,} faces",
    ]
    if frames_per_second:
        rate = f"{frames_per_second:.1f} frames/s"
        if step.total_frames:
            remaining = max(0, step.total_frames - step.next_frame_index)
            left = f"{hms(remaining / frames_per_second)} left"
        else:
            left = "time left unknown (no frame count)"
        parts.append(f"{rate}, {hms(elapsed_seconds)} elapsed, {left}")
    else:
        parts.append(f"{hms(elapsed_seconds)} elapsed, time left unknown yet")
    return "; ".join(parts)


class ProgressLog:
    """A progress callback for ``ingest_movie`` that writes ``progress_line`` at most once per
    ``interval`` seconds: on the first call (the run starts), then on the first call after
    each interval has passed (calls come after each batch, so lines follow the batches).

    The rate counts only this run's frames (a resumed run starts from its checkpoint) over
    this run's time. ``interval`` 0 writes on every call; ``clock`` is for tests.
    """

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < 0:
            raise ValueError(f"the progress interval must be 0 or more seconds, got {interval}")
        self.write = write
        self.interval = interval
        self.clock = clock
        self._started: float | None = None
        self._first_frame = 0
        self._last_line: float | None = None

    def __call__(self, step: IngestProgress) -> None:
        now = self.clock()
        if self._started is None:
            self._started, self._first_frame = now, step.next_frame_index
        if self._last_line is not None and now - self._last_line < self.interval:
            return
        self._last_line = now
        elapsed = now - self._started
        frames = step.next_frame_index - self._first_frame
        rate = frames / elapsed if elapsed > 0 and frames > 0 else None
        self.write(progress_line(step, frames_per_second=rate, elapsed_seconds=elapsed))


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
