"""One process at a time per embedder for people (``faces.people``): two ingests finishing at
once would both read the same waiting appearances and both found a person for them.

The lock is a ``PeopleLock`` row per embedder, claimed by a conditional UPDATE (free, or its
expiry passed) that writes an owner token and an expiry; the UPDATE's row count says who won.
It lives in the database rather than in Redis because assignment runs wherever an ingest runs,
including ``manage.py`` without a queue, and the database is the one thing every ingest
shares; a single-row UPDATE is atomic on SQLite and SingleStoreDB alike. A holder that dies
stops renewing, so its claim expires after ``FACEFINDER_PEOPLE_LOCK_TTL`` seconds and never
blocks forever; a long re-cluster renews it as it goes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from faces.models import PeopleLock

POLL_SECONDS = 0.2


class PeopleBusy(Exception):
    """Another process held the embedder's people lock for longer than the wait."""


class Claim:
    """A held lock: ``renew`` pushes its expiry on (False when it was lost meanwhile)."""

    def __init__(self, embedder: str, token: str, ttl: float) -> None:
        self.embedder, self.token, self.ttl = embedder, token, ttl

    def renew(self) -> bool:
        expires = timezone.now() + timedelta(seconds=self.ttl)
        mine = PeopleLock.objects.filter(embedder=self.embedder, owner=self.token)
        return mine.update(expires_at=expires) == 1

    def release(self) -> None:
        mine = PeopleLock.objects.filter(embedder=self.embedder, owner=self.token)
        mine.update(owner="", expires_at=None)


def try_claim(embedder: str, ttl: float | None = None) -> Claim | None:
    """Claim the lock if it is free or expired; None when someone else holds it."""
    ttl = settings.FACEFINDER_PEOPLE_LOCK_TTL if ttl is None else ttl
    if not PeopleLock.objects.filter(embedder=embedder).exists():
        # Another process may create it first: then claim it below like any other.
        with suppress(IntegrityError), transaction.atomic():
            PeopleLock.objects.create(embedder=embedder)
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        PeopleLock.objects.filter(embedder=embedder)
        .filter(Q(owner="") | Q(expires_at__lt=now))
        .update(owner=token, expires_at=now + timedelta(seconds=ttl))
    )
    return Claim(embedder, token, ttl) if claimed == 1 else None


@contextmanager
def people_lock(
    embedder: str, *, wait: float | None = None, ttl: float | None = None
) -> Iterator[Claim]:
    """Hold the embedder's people lock for the block, waiting up to ``wait`` seconds for it
    (PeopleBusy after that)."""
    wait = settings.FACEFINDER_PEOPLE_LOCK_WAIT if wait is None else wait
    deadline = time.monotonic() + wait
    while (claim := try_claim(embedder, ttl)) is None:
        if time.monotonic() >= deadline:
            raise PeopleBusy(
                f"{embedder}: another assignment or re-cluster has held the people lock for "
                f"over {wait:.0f} s"
            )
        time.sleep(POLL_SECONDS)
    try:
        yield claim
    finally:
        claim.release()
