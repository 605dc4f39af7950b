"""Two assignments of one embedder at once found no person twice (``faces.locks``), a dead
holder's lock expires, and people's stored centroids stay those of their members."""

from __future__ import annotations

import threading
from contextlib import contextmanager, suppress
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from faces import centroids, people
from faces.locks import PeopleBusy, people_lock, try_claim
from faces.models import Appearance, PeopleLock, Person, PersonCentroid
from faces.people import assign_movie
from faces.recluster import recluster
from tests.factories import EMBEDDER
from tests.people_helpers import Cast


def _assign_twice_at_once(monkeypatch, movie_id: int) -> list:
    """Run two assignments in threads, each holding on after reading the waiting appearances and the
    centroids until the other has read them too (or 2 s have passed): without a lock both read the
    same waiting appearances and both found their person."""
    barrier = threading.Barrier(2, timeout=2)
    reach = people._reachable_people

    def slow_load(*args):
        found = reach(*args)
        # Broken: the other thread waits on the lock, so go on alone.
        with suppress(threading.BrokenBarrierError):
            barrier.wait()
        return found

    monkeypatch.setattr(people, "_reachable_people", slow_load)
    reports, errors = [], []

    def run() -> None:
        try:
            reports.extend(assign_movie(movie_id))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return reports


@pytest.mark.django_db(transaction=True)
def test_two_assignments_at_once_found_one_person(monkeypatch):
    movie = Cast().movie("Both", [[("ann", 0, 4)], [("ann", 0, 3)]])
    reports = _assign_twice_at_once(monkeypatch, movie.pk)
    assert sum(report.people_created for report in reports) == 1
    assert Person.objects.count() == 1
    assert Appearance.objects.filter(person=None).count() == 0


def _interleave(monkeypatch) -> list:
    """The race without threads: the first assignment, just after reading the waiting
    appearances and the centroids, lets a second one run to its end before it goes on."""
    reach = people._reachable_people
    nested: list = []

    def load_then_let_another_run(waiting, cents, threshold):
        found = reach(waiting, cents, threshold)
        if not nested:
            nested.append(None)
            try:
                nested.append(people.assign(EMBEDDER))
            except PeopleBusy as busy:
                nested.append(busy)
        return found

    monkeypatch.setattr(people, "_reachable_people", load_then_let_another_run)
    return nested


@pytest.mark.django_db
def test_without_the_lock_the_same_race_founds_two(monkeypatch):
    """The race is real: with the lock taken away, both assignments found a person for the
    same appearances (the second's is left empty and pruned, the duplicate was made)."""

    @contextmanager
    def no_lock(embedder, **kwargs):
        yield None

    monkeypatch.setattr(people, "people_lock", no_lock)
    movie = Cast().movie("Both", [[("ann", 0, 4)], [("ann", 0, 3)]])
    nested = _interleave(monkeypatch)
    (first,) = assign_movie(movie.pk)
    assert first.people_created + nested[1].people_created == 2


@pytest.mark.django_db
def test_with_the_lock_the_interleaved_one_waits_and_founds_none(monkeypatch, settings):
    settings.FACEFINDER_PEOPLE_LOCK_WAIT = 0.3
    movie = Cast().movie("Both", [[("ann", 0, 4)], [("ann", 0, 3)]])
    nested = _interleave(monkeypatch)
    (first,) = assign_movie(movie.pk)
    assert isinstance(nested[1], PeopleBusy)  # it waited for the holder, then gave up
    assert first.people_created == 1 and Person.objects.count() == 1


@pytest.mark.django_db
def test_a_held_lock_makes_a_waiter_give_up_and_an_expired_one_is_taken_over():
    with people_lock(EMBEDDER, ttl=60):
        assert try_claim(EMBEDDER) is None
        with (
            pytest.raises(PeopleBusy, match="held the people lock"),
            people_lock(EMBEDDER, wait=0.3),
        ):
            pass
    # Released: free again.
    claim = try_claim(EMBEDDER, ttl=60)
    assert claim is not None
    # A holder that died: its expiry passes and another process takes the lock over.
    PeopleLock.objects.filter(embedder=EMBEDDER).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert try_claim(EMBEDDER) is not None
    assert claim.renew() is False  # the dead holder no longer owns it


@pytest.mark.django_db
def test_a_busy_lock_leaves_the_movie_waiting_with_a_message(monkeypatch, settings):
    settings.FACEFINDER_PEOPLE_LOCK_WAIT = 0
    movie = Cast().movie("Later", [[("bo", 0, 4)]])
    with people_lock(EMBEDDER):
        (report,) = assign_movie(movie.pk)
    assert "people lock" in report.message and "wait" in report.message
    assert Appearance.objects.filter(person=None).count() == 1
    (report,) = assign_movie(movie.pk)
    assert report.people_created == 1


def _stored_match_members() -> None:
    stored = {c.person_id: c for c in PersonCentroid.objects.filter(embedder=EMBEDDER)}
    members = {p.pk: list(p.appearances.filter(embedder=EMBEDDER)) for p in Person.objects.all()}
    assert set(stored) == {p for p, rows in members.items() if rows}
    for person, rows in members.items():
        if not rows:
            continue
        expected = np.sum([np.frombuffer(bytes(r.embedding), dtype="<f4") for r in rows], axis=0)
        got = np.frombuffer(bytes(stored[person].vector_sum), dtype="<f8")
        assert stored[person].count == len(rows)
        assert stored[person].face_count == sum(r.face_count for r in rows)
        assert np.allclose(got, expected, atol=1e-9)


@pytest.mark.django_db
def test_centroids_follow_assignments_reclusters_and_deleted_movies():
    cast = Cast()
    first = cast.movie("One", [[("ann", 0, 4)], [("bob", 0, 4)], [("ann", 0, 2)]])
    assign_movie(first.pk)
    _stored_match_members()
    second = cast.movie("Two", [[("bob", 0, 1)], [("ann", 0, 3)]])
    assign_movie(second.pk)
    _stored_match_members()
    recluster(EMBEDDER)
    _stored_match_members()
    # A movie deleted takes members away: the next load finds the counts changed and sums
    # those people again.
    second.delete()
    loaded = centroids.load(EMBEDDER)
    _stored_match_members()
    assert {p: c.count for p, c in loaded.items()} == {
        c.person_id: c.count for c in PersonCentroid.objects.filter(embedder=EMBEDDER)
    }


@pytest.mark.django_db
def test_a_recluster_while_the_lock_is_held_says_so(settings):
    settings.FACEFINDER_PEOPLE_LOCK_WAIT = 0
    Cast().movie("Any", [[("ann", 0, 4)]])
    with people_lock(EMBEDDER), pytest.raises(CommandError, match="try again"):
        call_command("people", "cluster", "--embedder", EMBEDDER)
