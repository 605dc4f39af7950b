"""Ingest: from a movie file to stored frames and embedded faces.

The one code path for the admin actions, the rq job and the ``ingest`` command.

No transactions are assumed (SingleStoreDB has none), so correctness comes from keys,
idempotent writes and one run per movie (``movies.runs``: a run token every write checks, and
a heartbeat). Per batch of sampled frames the order is: image files (deterministic
names, overwritten) → Frame rows → Face rows → the shots that ended in the batch, with their
appearances (``faces.appearances``) → the movie's checkpoint ``next_frame_index``. Everything
below the checkpoint is complete; on every (re)start whatever lies at or past it (a batch cut
short by a kill) is removed first, rows and files, the open shot's tracks are re-derived from
the stored faces, and the work goes on from there. The decode pass that samples frames also
finds the cuts (``movies.shots``), so nothing is decoded twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import closing

import cv2

from faces.appearances import AppearanceBuilder, feed
from faces.embedders import EmbedderError
from faces.models import Face
from faces.people import assign_movie
from faces.pipeline import analyse_images
from movies.errors import IngestError
from movies.frames import delete_ingest_output, delete_past_checkpoint, store_batch
from movies.ingest_plan import IngestPlan, check_readable, plan_run, reload_movie
from movies.models import Frame, Movie
from movies.reports import IngestReport, ProgressCallback, notify, report_of
from movies.runs import IngestRun, RunLost, claim_movie
from movies.shots import warmup_start
from movies.timing import NullTimer, StageTimer
from movies.video import (
    FrameSampler,
    SampledFrame,
    VideoError,
    prefetched,
)

logger = logging.getLogger(__name__)


def ingest_movie(
    movie_id: int,
    *,
    from_scratch: bool = False,
    progress: ProgressCallback | None = None,
    timer: StageTimer | None = None,
    job_id: str | None = None,
    appearances: bool = True,
) -> IngestReport:
    """Sample, detect, embed and store a movie, with its shots and appearances; resumes from
    its checkpoint.

    Returns a report; a bad file, an unknown embedder or missing weights give a ``failed``
    report (the movie is marked failed with the reason) rather than an exception, and keep
    whatever is stored: only a file whose bytes changed (its checksum) or ``from_scratch``
    clears it. Unexpected errors mark the movie failed too and are re-raised; the checkpoint
    stays, so the next run resumes.

    One run at a time holds a movie (``movies.runs``). ``job_id`` (the rq job) claims the
    movie only while it is still queued for that job, waiting up to
    ``FACEFINDER_INGEST_CLAIM_WAIT_SECONDS`` for a live run to end (a Cancel and Ingest while
    a batch was in flight); without it (the command) a queued movie, or one a live run holds,
    is refused at once with the reason (``report.not_started``). ``appearances=False`` stores
    frames and faces only (``bench_ingest`` measures what the shots and appearances cost).
    """
    timer = timer or NullTimer()
    started = time.monotonic()
    movie = Movie.objects.get(pk=movie_id)
    if movie.status == Movie.Status.DONE and not from_scratch and job_id is None:
        report = report_of(movie, Movie.Status.DONE, started, timer)
        report.already_done = True
        return report
    run, refusal = claim_movie(movie, job_id)
    if not reload_movie(movie):
        return report_of(movie, Movie.Status.CANCELLED, started, timer)
    if run is None:
        report = report_of(movie, movie.status, started, timer)
        report.not_started = refusal
        return report
    run.start_beating()
    try:
        return _run(run, movie, from_scratch, progress, timer, started, appearances)
    finally:
        run.stop_beating()


def _run(
    run: IngestRun,
    movie: Movie,
    from_scratch: bool,
    progress: ProgressCallback | None,
    timer: StageTimer,
    started: float,
    appearances: bool,
) -> IngestReport:
    resumed_from = movie.next_frame_index
    try:
        if from_scratch:
            check_readable(movie)  # a file gone for now must not cost the stored work
            delete_ingest_output(movie, run)
            reload_movie(movie)
            resumed_from = 0
        plan = plan_run(movie, timer, run, appearances=appearances)
        reload_movie(movie)
        resumed_from = movie.next_frame_index
        delete_past_checkpoint(movie, run)
        _start(run, movie, plan)
        report = _run_batches(run, movie, plan, progress=progress, timer=timer, started=started)
    except RunLost:
        # Another run holds the movie now: take back this batch's rows and stop writing.
        run.abandon_batch()
        reload_movie(movie)
        report = report_of(movie, movie.status, started, timer)
        report.not_started = "another ingest run took the movie over; this run stopped"
        return report
    except (VideoError, IngestError, EmbedderError) as exc:
        # The file is missing, unreadable or damaged, or a setting is wrong: fail with the
        # reason and keep what is stored (a later run resumes from the checkpoint).
        return _fail(run, movie, str(exc), started=started, timer=timer)
    except BaseException as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0]
        _fail(run, movie, f"{type(exc).__name__}: {first_line}".rstrip(": "), started, timer)
        raise
    report.resumed_from = resumed_from
    return report


def _start(run: IngestRun, movie: Movie, plan: IngestPlan) -> None:
    """Record the plan and the video's facts; the counters start from the stored rows, so a
    resumed run never counts a batch twice."""
    info = plan.info
    run.update(
        embedder=plan.embedder,
        min_face=plan.min_face,
        ingest_settings=plan.recorded_settings(),
        fps=info.fps,
        frame_count=info.estimated_frames,
        duration_seconds=info.duration_seconds,
        width=info.width,
        height=info.height,
        container=info.container,
        video_codec=info.codec,
        audio_codec=info.audio_codec,
        video_start_seconds=info.start_seconds,
        **_stored_counts(movie),
    )
    reload_movie(movie)


def _stored_counts(movie: Movie) -> dict[str, int]:
    """The movie's counters as its rows have them."""
    return {
        "frames_sampled": Frame.objects.filter(movie=movie).count(),
        "faces_found": Face.objects.filter(movie=movie).count(),
    }


def _run_batches(
    run: IngestRun,
    movie: Movie,
    plan: IngestPlan,
    *,
    progress: ProgressCallback | None,
    timer: StageTimer,
    started: float,
) -> IngestReport:
    start = movie.next_frame_index
    builder = None
    warmup = start
    if plan.appearances:
        builder = AppearanceBuilder.resume(
            movie,
            embedder=plan.embedder,
            sample_every=plan.sample_every,
            checkpoint=start,
            run=run,
        )
        warmup = warmup_start(start, builder.shot_start)
    sampler = FrameSampler(
        movie.path,
        plan.info,
        every=plan.sample_every,
        start=start,
        cuts=plan.appearances,
        warmup_from=warmup,
    )
    frames_added = faces_added = 0
    notify(progress, movie, plan.info.estimated_frames)
    # The next batch decodes in the background while this one is in the networks.
    with closing(prefetched(sampler, depth=plan.batch_size)) as frames:
        for batch in _batches(frames, plan.batch_size, timer):
            # Cancelled (or deleted) since the last batch: stop, keeping the checkpoint.
            if not reload_movie(movie) or movie.status != Movie.Status.RUNNING:
                run.release()
                return report_of(
                    movie, Movie.Status.CANCELLED, started, timer, frames_added, faces_added
                )
            run.check()
            faces_added += _ingest_batch(run, movie, plan, batch, timer, builder)
            frames_added += len(batch)
            notify(progress, movie, plan.info.estimated_frames)
    if builder is not None:
        with timer.stage("appearances"):
            for cut in sampler.trailing_cuts:
                builder.cut(cut)
            builder.finish(sampler.frames_read)
        with timer.stage("people"):
            run.check()  # people are assigned only by the run that still holds the movie
            assign_movie(movie.pk)
    with timer.stage("store"):
        run.finish(frame_count=sampler.frames_read, **_stored_counts(movie))
        reload_movie(movie)
    notify(progress, movie, plan.info.estimated_frames)
    return report_of(movie, Movie.Status.DONE, started, timer, frames_added, faces_added)


def _ingest_batch(
    run: IngestRun,
    movie: Movie,
    plan: IngestPlan,
    batch: list[SampledFrame],
    timer: StageTimer,
    builder: AppearanceBuilder | None,
) -> int:
    """Analyse and store one batch of sampled frames and the shots that ended in it, then move
    the checkpoint past it: files → rows (their ids recorded in ``run.batch``) → checkpoint,
    every write only while ``run`` holds the movie."""
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
        faces_in_batch = store_batch(run, movie, plan.embedder, batch, results)
    if builder is not None:
        with timer.stage("appearances"):
            # Faces are read back from their rows, as a resumed run reads them: both link the
            # same values.
            feed(builder, [(sampled.index, sampled.cuts) for sampled in batch])
    with timer.stage("store"):
        next_index = batch[-1].index + 1
        total = plan.info.estimated_frames
        run.checkpoint(
            next_frame_index=next_index,
            frames=len(batch),
            faces=faces_in_batch,
            progress=min(0.99, next_index / total) if total else 0.0,
        )
        reload_movie(movie)
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


def _fail(
    run: IngestRun, movie: Movie, reason: str, started: float, timer: StageTimer
) -> IngestReport:
    reason = " ".join(reason.split()) or "unknown error"
    logger.warning("ingest of movie %s (%s) failed: %s", movie.pk, movie.title, reason)
    if not run.fail(reason):  # another run holds the movie: its status is that run's
        logger.warning("movie %s: the failed run no longer held it", movie.pk)
    reload_movie(movie)
    report = report_of(movie, Movie.Status.FAILED, started, timer)
    report.error = reason
    return report
