"""Ingest: from a movie file to stored frames and embedded faces.

The one code path for the admin actions, the rq job and the ``ingest`` command.

No transactions are assumed (SingleStoreDB has none), so correctness comes from keys and
idempotent writes. Per batch of sampled frames the order is: image files (deterministic
names, overwritten) → Frame rows → Face rows → the movie's checkpoint ``next_frame_index``.
Everything below the checkpoint is complete; on every (re)start whatever lies at or past it
(a batch cut short by a kill) is removed first, rows and files, and the work goes on from there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
from django.conf import settings
from django.core.exceptions import ValidationError

from faces.embedders import EmbedderError, get_embedder
from faces.models import Face
from faces.pipeline import analyse_images
from movies.errors import IngestError
from movies.frames import delete_ingest_output, delete_past_checkpoint, store_batch
from movies.models import Frame, Movie, validate_min_face, validate_sample_every
from movies.registration import check_settings_change
from movies.timing import NullTimer, StageTimer
from movies.video import (
    FrameSampler,
    SampledFrame,
    VideoError,
    VideoInfo,
    prefetched,
    probe_video,
)

logger = logging.getLogger(__name__)


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
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in (Movie.Status.DONE, Movie.Status.CANCELLED)

    @property
    def message(self) -> str:
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


@dataclass(frozen=True)
class _Plan:
    """What one ingest run does, fixed before the first frame."""

    embedder: str
    min_face: float
    min_probability: float
    sample_every: int
    batch_size: int
    info: VideoInfo

    def recorded_settings(self) -> dict[str, Any]:
        return {
            "sample_every": self.sample_every,
            "embedder": self.embedder,
            "min_face": self.min_face,
            "min_probability": self.min_probability,
        }


def ingest_movie(
    movie_id: int,
    *,
    from_scratch: bool = False,
    progress: ProgressCallback | None = None,
    timer: StageTimer | None = None,
    expect_status: str | None = None,
) -> IngestReport:
    """Sample, detect, embed and store a movie; resumes from its checkpoint.

    Returns a report; a bad file, an unknown embedder or missing weights give a ``failed``
    report (the movie is marked failed with the reason) rather than an exception. Unexpected
    errors mark the movie failed too and are re-raised; the checkpoint stays, so the next run
    resumes. ``expect_status`` (used by the rq job) starts only if the movie is still in that
    status, so a job cancelled while it waited does nothing.
    """
    timer = timer or NullTimer()
    started = time.monotonic()
    movie = Movie.objects.get(pk=movie_id)
    if movie.status == Movie.Status.DONE and not from_scratch and expect_status is None:
        report = _report(movie, Movie.Status.DONE, started, timer)
        report.already_done = True
        return report
    rows = Movie.objects.filter(pk=movie.pk)
    if expect_status is not None:
        rows = rows.filter(status=expect_status)
    claimed = rows.claim()
    if not _reload(movie):
        return _report(movie, Movie.Status.CANCELLED, started, timer)
    if not claimed:
        return _report(movie, movie.status, started, timer)
    if from_scratch:
        delete_ingest_output(movie)
        _reload(movie)
    resumed_from = movie.next_frame_index
    try:
        plan = _plan(movie, timer)
        if not from_scratch:  # from scratch, delete_ingest_output left nothing to delete
            delete_past_checkpoint(movie)
        _start(movie, plan)
        report = _run_batches(movie, plan, progress=progress, timer=timer, started=started)
    except VideoError as exc:
        # The file itself is unusable: nothing of it may stay behind.
        delete_ingest_output(movie)
        return _fail(movie, str(exc), started=started, timer=timer)
    except (IngestError, EmbedderError) as exc:
        return _fail(movie, str(exc), started=started, timer=timer)
    except BaseException as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        _fail(movie, f"{type(exc).__name__}: {first_line}".rstrip(": "), started, timer)
        raise
    report.resumed_from = resumed_from
    return report


def _reload(movie: Movie) -> bool:
    """Reload the movie after a change of its row; False when the row is gone (the movie was
    deleted while being ingested), and then whatever the run stored is deleted too."""
    try:
        movie.refresh_from_db()
    except Movie.DoesNotExist:
        delete_ingest_output(movie)
        return False
    return True


def _plan(movie: Movie, timer: StageTimer) -> _Plan:
    """Probe the video, check the settings and load the models; writes nothing."""
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
        info = probe_video(video_path)
    plan = _Plan(
        embedder=embedder,
        min_face=float(min_face),
        min_probability=float(settings.FACEFINDER_MIN_PROBABILITY),
        sample_every=int(movie.sample_every),
        batch_size=max(1, int(settings.FACEFINDER_FRAME_BATCH)),
        info=info,
    )
    check_settings_change(movie, plan.recorded_settings())
    with timer.stage("load models"):
        get_embedder(embedder)  # unknown name or missing weights fail here, before any work
    return plan


def _start(movie: Movie, plan: _Plan) -> None:
    """Record the plan and the video's facts; the counters start from the stored rows, so a
    resumed run never counts a batch twice."""
    info = plan.info
    Movie.objects.filter(pk=movie.pk).update(
        embedder=plan.embedder,
        min_face=plan.min_face,
        ingest_settings=plan.recorded_settings(),
        fps=info.fps,
        frame_count=info.estimated_frames,
        duration_seconds=info.duration_seconds,
        width=info.width,
        height=info.height,
        **_stored_counts(movie),
    )
    _reload(movie)


def _stored_counts(movie: Movie) -> dict[str, int]:
    """The movie's counters as its rows have them."""
    return {
        "frames_sampled": Frame.objects.filter(movie=movie).count(),
        "faces_found": Face.objects.filter(movie=movie).count(),
    }


def _run_batches(
    movie: Movie,
    plan: _Plan,
    *,
    progress: ProgressCallback | None,
    timer: StageTimer,
    started: float,
) -> IngestReport:
    sampler = FrameSampler(
        movie.path, plan.info, every=plan.sample_every, start=movie.next_frame_index
    )
    frames_added = faces_added = 0
    _notify(progress, movie, plan)
    # The next batch decodes in the background while this one is in the networks.
    with closing(prefetched(sampler, depth=plan.batch_size)) as frames:
        for batch in _batches(frames, plan.batch_size, timer):
            # Cancelled (or deleted) since the last batch: stop, keeping the checkpoint.
            if not _reload(movie) or movie.status != Movie.Status.RUNNING:
                return _report(
                    movie, Movie.Status.CANCELLED, started, timer, frames_added, faces_added
                )
            faces_added += _ingest_batch(movie, plan, batch, timer)
            frames_added += len(batch)
            _notify(progress, movie, plan)
    with timer.stage("store"):
        Movie.objects.filter(pk=movie.pk).finish(
            frame_count=sampler.frames_read, **_stored_counts(movie)
        )
        _reload(movie)
    _notify(progress, movie, plan)
    return _report(movie, Movie.Status.DONE, started, timer, frames_added, faces_added)


def _ingest_batch(movie: Movie, plan: _Plan, batch: list[SampledFrame], timer: StageTimer) -> int:
    """Analyse and store one batch of sampled frames, then move the checkpoint past it."""
    with timer.stage("convert"):
        images_rgb = [cv2.cvtColor(f.image_bgr, cv2.COLOR_BGR2RGB) for f in batch]
    results = analyse_images(
        images_rgb,
        embedder=plan.embedder,
        min_face=plan.min_face,
        min_probability=plan.min_probability,
        timer=timer,
    )
    with timer.stage("store"):
        faces_in_batch = store_batch(movie, plan.embedder, batch, results)
        next_index = batch[-1].index + 1
        total = plan.info.estimated_frames
        Movie.objects.filter(pk=movie.pk).checkpoint(
            next_frame_index=next_index,
            frames=len(batch),
            faces=faces_in_batch,
            progress=min(0.99, next_index / total) if total else 0.0,
        )
        _reload(movie)
    return faces_in_batch


def _batches(
    sampler: Iterable[SampledFrame], size: int, timer: StageTimer
) -> Iterator[list[SampledFrame]]:
    """Lists of up to ``size`` sampled frames; decoding time goes to the "decode" stage."""
    frames = iter(sampler)
    while True:
        batch: list[SampledFrame] = []
        with timer.stage("decode"):
            for frame in frames:
                batch.append(frame)
                if len(batch) == size:
                    break
        if not batch:
            return
        yield batch
        if len(batch) < size:
            return


def _fail(movie: Movie, reason: str, started: float, timer: StageTimer) -> IngestReport:
    reason = " ".join(reason.split()) or "unknown error"
    logger.warning("ingest of movie %s (%s) failed: %s", movie.pk, movie.title, reason)
    Movie.objects.filter(pk=movie.pk).fail(reason)
    _reload(movie)
    report = _report(movie, Movie.Status.FAILED, started, timer)
    report.error = reason
    return report


def _report(
    movie: Movie,
    status: str,
    started: float,
    timer: StageTimer,
    frames_added: int = 0,
    faces_added: int = 0,
) -> IngestReport:
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


def _notify(progress: ProgressCallback | None, movie: Movie, plan: _Plan) -> None:
    if progress is None:
        return
    progress(
        IngestProgress(
            movie_id=movie.pk,
            title=movie.title,
            next_frame_index=movie.next_frame_index,
            total_frames=plan.info.estimated_frames,
            frames_sampled=movie.frames_sampled,
            faces_found=movie.faces_found,
        )
    )
