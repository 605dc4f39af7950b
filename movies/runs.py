"""One ingest run's hold on its movie: a run token on the movie's row, and a heartbeat.

A run claims the movie by writing a fresh token (``Movie.run_token``) with one conditional
UPDATE: only a movie that no live run holds can be claimed, that is one without a token or
whose heartbeat (``Movie.heartbeat_at``) is older than ``FACEFINDER_INGEST_STALE_SECONDS`` (its
run died: killed, its machine gone). A live run refreshes the heartbeat every
``FACEFINDER_INGEST_HEARTBEAT_SECONDS`` from a small background thread, also while it loads
the networks or seeks into a long video, and with every checkpoint.

Every write of a batch checks first that the row still holds the run's token (``check``), and
the checkpoint advances only ``WHERE run_token = <token>``. A run whose token is gone (a later
run took the movie over after the heartbeat went stale, or the movie was deleted) gets
``RunLost``: it removes the rows its current batch wrote (by id, see ``BatchWrites``) and stops
without writing anything more. Image files are left: their names and bytes are deterministic,
so any file it wrote is one the movie's owner writes identically.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.db.models import QuerySet
from django.utils import timezone

from movies.models import Movie

logger = logging.getLogger(__name__)


class RunLost(Exception):
    """The run no longer holds its movie: another run took it over, or the movie is gone."""


def heartbeat_seconds() -> float:
    return float(settings.FACEFINDER_INGEST_HEARTBEAT_SECONDS)


def stale_seconds() -> float:
    return float(settings.FACEFINDER_INGEST_STALE_SECONDS)


def stale_before() -> datetime:
    """Heartbeats older than this belong to dead runs."""
    return timezone.now() - timedelta(seconds=stale_seconds())


def holder_is_live(movie: Movie) -> bool:
    """Whether a live run holds the movie (a token with a fresh heartbeat)."""
    return bool(movie.run_token) and (
        movie.heartbeat_at is not None and movie.heartbeat_at >= stale_before()
    )


def silent_for(movie: Movie) -> float | None:
    """Seconds since the holding run's last heartbeat (None without one)."""
    if movie.heartbeat_at is None:
        return None
    return max(0.0, (timezone.now() - movie.heartbeat_at).total_seconds())


def claim_movie(movie: Movie, job_id: str | None) -> tuple[IngestRun | None, str]:
    """Claim the movie for a new ingest run: ``(run, "")``, or ``(None, why not)``.

    With ``job_id`` (the rq job) only while the movie is still queued for that job, waiting
    up to ``FACEFINDER_INGEST_CLAIM_WAIT_SECONDS`` for a live run to end (after a Cancel and
    Ingest while a batch was in flight), then failing the movie with the reason. Without (the
    command), a queued movie or one that a live run holds is refused at once.
    """
    if job_id is None:
        rows = Movie.objects.filter(pk=movie.pk).exclude(status=Movie.Status.QUEUED)
        run = IngestRun.claim(movie.pk, rows)
        return run, "" if run is not None else busy_reason(movie)
    waited_until = time.monotonic() + float(settings.FACEFINDER_INGEST_CLAIM_WAIT_SECONDS)
    queued = Movie.objects.filter(pk=movie.pk, status=Movie.Status.QUEUED, job_id=job_id)
    while True:
        run = IngestRun.claim(movie.pk, queued)
        if run is not None:
            return run, ""
        if not queued.exists():
            return None, "cancelled, or queued again as another job, while this job waited"
        if time.monotonic() > waited_until:
            reason = (
                "another ingest run of this movie did not end within "
                f"{settings.FACEFINDER_INGEST_CLAIM_WAIT_SECONDS} s; queue it again later"
            )
            queued.fail(reason, release=False)  # the live run keeps its token
            return None, reason
        time.sleep(min(1.0, heartbeat_seconds()))


def command_refusal(movie: Movie) -> str:
    """Why a run outside the queue (``manage.py ingest``) may not take the movie now, or ""."""
    if movie.status == Movie.Status.QUEUED or holder_is_live(movie):
        return busy_reason(movie)
    return ""


def busy_reason(movie: Movie) -> str:
    """Why a run cannot claim the movie now, for a person."""
    movie.refresh_from_db()
    if movie.status == Movie.Status.QUEUED:
        return (
            f"queued for a worker (job {movie.job_id}); cancel it first to ingest it here, "
            "nothing was written"
        )
    silent = silent_for(movie)
    beat = f"its last heartbeat {silent:.0f} s ago" if silent is not None else "no heartbeat"
    return (
        f"being ingested by another run ({beat}); nothing was written. If that run died, "
        f"it counts as dead {settings.FACEFINDER_INGEST_STALE_SECONDS} s after its last "
        "heartbeat and may then be taken over"
    )


@dataclass
class BatchWrites:
    """The rows one batch wrote so far, by id: what a run that lost its movie removes."""

    frames: list[int] = field(default_factory=list)
    faces: list[int] = field(default_factory=list)
    shots: list[int] = field(default_factory=list)
    appearances: list[int] = field(default_factory=list)

    def remove(self) -> None:
        from faces.models import Appearance, Face
        from movies.models import Frame, Shot

        # Faces first: a kill half way leaves no face pointing at a missing appearance.
        Face.objects.filter(pk__in=self.faces).delete()
        Appearance.objects.filter(pk__in=self.appearances).delete()
        Shot.objects.filter(pk__in=self.shots).delete()
        Frame.objects.filter(pk__in=self.frames).delete()


class IngestRun:
    """A claimed movie: check before each write, checkpoint, finish, fail or release."""

    def __init__(self, movie_id: int, token: str) -> None:
        self.movie_id = movie_id
        self.token = token
        self.batch = BatchWrites()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost = threading.Event()

    @classmethod
    def claim(cls, movie_id: int, rows: QuerySet[Movie]) -> IngestRun | None:
        """Claim the movie (``rows``: its row with the caller's conditions) in one conditional
        UPDATE, unless a live run holds it; None when nothing was claimed."""
        token = uuid.uuid4().hex
        if not rows.claimable(stale_before()).claim(token):  # type: ignore[attr-defined]
            return None
        logger.info("movie %s: ingest run %s claimed it", movie_id, token)
        return cls(movie_id, token)

    # --- ownership ---------------------------------------------------------------------------

    @property
    def rows(self):
        """The movie's row while this run holds it (empty once it does not)."""
        return Movie.objects.filter(pk=self.movie_id).owned_by(self.token)

    def owned(self) -> bool:
        """Whether the movie's row still holds this run's token."""
        if self._lost.is_set():
            return False
        if self.rows.exists():
            return True
        self._lost.set()
        return False

    def check(self) -> None:
        """Raise RunLost unless this run still holds the movie (before every write)."""
        self._still_held(self.owned())

    def _still_held(self, held: int | bool) -> None:
        """After a write conditioned on the token: RunLost when it changed nothing."""
        if not held:
            self._lost.set()
            raise RunLost(f"movie {self.movie_id} is no longer held by this ingest run")

    def beat(self) -> None:
        """Refresh the heartbeat; RunLost when the movie is no longer this run's."""
        self._still_held(self.rows.beat())

    def update(self, **values: object) -> None:
        """A plain update of the movie's row, only while this run holds it."""
        self._still_held(self.rows.update(**values))

    def checkpoint(self, **values: object) -> None:
        """Move the checkpoint past the batch (MovieQuerySet.checkpoint) while this run holds
        the movie; the batch's rows are then complete and no longer this run's to remove."""
        self._still_held(self.rows.checkpoint(**values))
        self.batch = BatchWrites()

    def finish(self, **values: object) -> None:
        self._still_held(self.rows.finish(**values))
        logger.info("movie %s: ingest run %s ended: done", self.movie_id, self.token)

    def fail(self, reason: str) -> bool:
        """Mark the movie failed (and free it) if this run still holds it."""
        failed = bool(self.rows.fail(reason))
        logger.info("movie %s: ingest run %s ended: failed", self.movie_id, self.token)
        return failed

    def release(self) -> None:
        """Give the movie up, status unchanged (a cancelled run)."""
        self.rows.release()
        logger.info("movie %s: ingest run %s ended: released", self.movie_id, self.token)

    def abandon_batch(self) -> None:
        """Remove the rows of the batch in progress (this run lost the movie mid-batch)."""
        logger.warning(
            "movie %s: ingest run %s lost it; removing its unfinished batch",
            self.movie_id,
            self.token,
        )
        self.batch.remove()
        self.batch = BatchWrites()

    # --- the heartbeat thread ----------------------------------------------------------------

    def start_beating(self) -> None:
        """Beat from a background thread until ``stop_beating``.

        Not inside a transaction (the test suite's, or a caller's ``atomic()``): no other
        connection could see the claim there, so the run beats with its own writes only.
        """
        if connection.in_atomic_block or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._beat_loop, name=f"ingest-heartbeat-{self.movie_id}", daemon=True
        )
        self._thread.start()

    def stop_beating(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=heartbeat_seconds() + 30)
            self._thread = None

    def _beat_loop(self) -> None:
        warned = False
        try:
            while not self._stop.wait(heartbeat_seconds()):
                try:
                    self.beat()
                except RunLost:
                    return  # the main thread finds out at its next check
                except DatabaseError as exc:
                    # A missed beat only brings the stale limit nearer; the main thread's own
                    # writes still beat and check.
                    if not warned:
                        logger.warning("heartbeat of movie %s failed: %s", self.movie_id, exc)
                        warned = True
        finally:
            connections.close_all()
