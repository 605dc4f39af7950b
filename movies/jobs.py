"""The ingest queue: enqueue and cancel ingest jobs, and the rq jobs they run (an ingest, or a
rebuild of a stored movie's shots and appearances).

The job takes a primary key, reloads the movie and calls ``movies.ingest.ingest_movie``; the
movie's status says whether it should still run, so a job cancelled (or a movie deleted) while
it waited does nothing.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any

import django_rq
from django.conf import settings
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from faces.rebuild import check_rebuildable, rebuild_appearances
from movies.errors import AlreadyQueued, IngestJobFailed, QueueUnavailable
from movies.ingest import ingest_movie
from movies.models import Movie
from movies.reports import ProgressLog
from movies.runs import holder_is_live

logger = logging.getLogger(__name__)

INGEST_QUEUE = "ingest"


def run_ingest_job(movie_id: int, from_scratch: bool = False) -> dict[str, Any]:
    """Ingest one movie on a worker (queue "ingest").

    The job starts only while the movie is still queued for this job: a movie cancelled (or
    deleted, or queued again) while its job waited is left alone. A run that still holds the
    movie (a Cancel and Ingest while its batch was in flight) is waited for (movies.runs).
    """
    if not Movie.objects.filter(pk=movie_id).exists():
        return {"movie_id": movie_id, "status": "deleted"}
    job = get_current_job()
    if job is None:
        raise RuntimeError("run_ingest_job runs on an rq worker (manage.py rqworker ingest)")
    # The worker's log gets a progress line every FACEFINDER_PROGRESS_SECONDS.
    progress = ProgressLog(
        partial(logger.info, "%s"), interval=settings.FACEFINDER_PROGRESS_SECONDS
    )
    report = ingest_movie(movie_id, from_scratch=from_scratch, job_id=job.id, progress=progress)
    if report.status == Movie.Status.FAILED:
        raise IngestJobFailed(f"{report.title}: {report.error}")
    return report.as_dict()


def enqueue_ingest(movie: Movie, *, from_scratch: bool = False) -> str:
    """Queue an ingest job on the "ingest" queue; returns its id.

    The movie is marked queued before the job exists (a fast worker must find it so) and put
    back as it was when Redis does not answer, which raises QueueUnavailable.
    """
    movie.refresh_from_db()
    if movie.status == Movie.Status.DONE and not from_scratch:
        raise AlreadyQueued(
            f"“{movie}” is already ingested; use “Re-ingest from scratch” to redo it"
        )
    _refuse_if_busy(movie)
    job_id = f"ingest-{movie.pk}-{uuid.uuid4().hex[:12]}"
    rows = Movie.objects.filter(pk=movie.pk)
    rows.queue(job_id)
    try:
        queue = django_rq.get_queue(INGEST_QUEUE)
        queue.enqueue(
            run_ingest_job,
            movie.pk,
            from_scratch=from_scratch,
            job_id=job_id,
            description=f"{'Re-ingest from scratch' if from_scratch else 'Ingest'}: {movie}",
        )
    except RedisError as exc:
        # The instance still holds the values from before queue().
        rows.unqueue(status=movie.status, job_id=movie.job_id, last_error=movie.last_error)
        movie.refresh_from_db()
        raise QueueUnavailable(
            f"the job queue (Redis) is not reachable, nothing was queued: {exc}"
        ) from exc
    movie.refresh_from_db()
    return job_id


def run_rebuild_job(movie_id: int) -> dict[str, Any]:
    """Rebuild one movie's shots and appearances on a worker (queue "ingest"); a RebuildError
    (movie busy, not done, video gone) fails the job with its one-line reason."""
    if not Movie.objects.filter(pk=movie_id).exists():
        return {"movie_id": movie_id, "status": "deleted"}
    report = rebuild_appearances(movie_id)
    return {"movie_id": movie_id, "status": "done", "message": report.message}


def enqueue_rebuild(movie: Movie) -> str:
    """Queue a rebuild of the movie's shots and appearances; returns the job's id.

    Refused at once (RebuildError) when the movie is not done or is being ingested, and
    QueueUnavailable when Redis does not answer. The movie's status is left as it is.
    """
    movie.refresh_from_db()
    check_rebuildable(movie)
    job_id = f"appearances-{movie.pk}-{uuid.uuid4().hex[:12]}"
    try:
        django_rq.get_queue(INGEST_QUEUE).enqueue(
            run_rebuild_job, movie.pk, job_id=job_id, description=f"Rebuild appearances: {movie}"
        )
    except RedisError as exc:
        raise QueueUnavailable(
            f"the job queue (Redis) is not reachable, nothing was queued: {exc}"
        ) from exc
    return job_id


def _refuse_if_busy(movie: Movie) -> None:
    """A movie queued for a live job, or running under a live run (its heartbeat fresh), is
    not queued again. A run that died is recognised by its heartbeat going stale
    (``FACEFINDER_INGEST_STALE_SECONDS``), and its movie may then be queued."""
    if movie.status == Movie.Status.QUEUED and _job_is_live(movie.job_id):
        raise AlreadyQueued(f"“{movie}” is already queued")
    if movie.status == Movie.Status.RUNNING and holder_is_live(movie):
        raise AlreadyQueued(
            f"“{movie}” is being ingested right now (a run that died counts as dead "
            f"{settings.FACEFINDER_INGEST_STALE_SECONDS} s after its last heartbeat)"
        )


def _job_is_live(job_id: str) -> bool:
    """Whether rq still holds the job as waiting or running (False when unknown)."""
    return _job_status(job_id) in {"queued", "started", "deferred", "scheduled"}


def _fetch_job(job_id: str) -> Job | None:
    """The rq job with this id, or None when rq does not know it or Redis cannot be reached."""
    if not job_id:
        return None
    try:
        return Job.fetch(job_id, connection=django_rq.get_connection(INGEST_QUEUE))
    except (NoSuchJobError, RedisError):
        return None


def _job_status(job_id: str) -> str | None:
    job = _fetch_job(job_id)
    try:
        return job.get_status(refresh=True) if job is not None else None
    except RedisError:
        return None


def cancel_ingest(movie: Movie) -> bool:
    """Stop a queued or running ingest; returns False when there was nothing to cancel.

    A queued job is taken off the queue; a running one sees the flag before its next batch
    and stops there, keeping its checkpoint ("Ingest" resumes it).
    """
    cancelled = Movie.objects.filter(pk=movie.pk).cancel()
    movie.refresh_from_db()
    if not cancelled:
        return False
    job = _fetch_job(movie.job_id)
    try:
        if job is not None and job.get_status(refresh=True) == "queued":
            job.cancel()
    except (InvalidJobOperation, RedisError):
        pass  # the status flag alone stops the job: it starts only from "queued"
    return True
