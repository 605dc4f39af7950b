"""The django-rq job: takes a primary key, reloads the movie and calls the ingest service."""

from __future__ import annotations

from typing import Any

from movies.models import Movie
from movies.services import IngestError, ingest_movie


class IngestJobFailed(IngestError):
    """Raised so that rq records the job as failed; the movie carries the same reason."""


def run_ingest_job(movie_id: int, from_scratch: bool = False) -> dict[str, Any]:
    """Ingest one movie on a worker (queue "ingest").

    The job starts only while the movie is still "queued": a movie cancelled (or deleted)
    while its job waited is left alone.
    """
    if not Movie.objects.filter(pk=movie_id).exists():
        return {"movie_id": movie_id, "status": "deleted"}
    report = ingest_movie(movie_id, from_scratch=from_scratch, expect_status=Movie.Status.QUEUED)
    if report.status == Movie.Status.FAILED:
        raise IngestJobFailed(f"{report.title}: {report.error}")
    return report.as_dict()
