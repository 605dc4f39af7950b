"""The rq job of a full re-cluster of people (queue ``ingest``, beside ingests and rebuilds:
one worker pool runs all the work that writes appearances)."""

from __future__ import annotations

import uuid
from typing import Any

import django_rq
from redis.exceptions import RedisError

from faces.people import embedders_with_appearances
from faces.recluster import recluster
from movies.errors import QueueUnavailable
from movies.jobs import INGEST_QUEUE


def run_cluster_job(embedder: str | None = None, from_scratch: bool = False) -> dict[str, Any]:
    """Re-cluster the people of one embedder (None: every embedder with appearances)."""
    names = [embedder] if embedder else embedders_with_appearances()
    reports = [recluster(name, from_scratch=from_scratch) for name in names]
    return {"status": "done", "messages": [report.message for report in reports]}


def enqueue_cluster(embedder: str | None = None, *, from_scratch: bool = False) -> str:
    """Queue a re-cluster; returns the job's id (QueueUnavailable when Redis does not answer)."""
    job_id = f"people-{embedder or 'all'}-{uuid.uuid4().hex[:12]}"
    try:
        django_rq.get_queue(INGEST_QUEUE).enqueue(
            run_cluster_job,
            embedder,
            from_scratch=from_scratch,
            job_id=job_id,
            description=f"Re-cluster people: {embedder or 'every embedder'}",
        )
    except RedisError as exc:
        raise QueueUnavailable(
            f"the job queue (Redis) is not reachable, nothing was queued: {exc}"
        ) from exc
    return job_id
