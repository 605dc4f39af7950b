"""Fixtures shared by every test module. Area-specific fixtures live beside their tests."""

from __future__ import annotations

import os
import re

import pytest

from tests.factories import Library, make_library
from tests.ingest_helpers import Clips
from tests.shared_data import HAMILTON_CLIP, HAMILTON_INGEST


@pytest.fixture(autouse=True)
def _private_media_root(settings, tmp_path_factory):
    """Every test writes media into its own temporary folder, never into var/."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))


@pytest.fixture(autouse=True)
def _private_search_index(settings, tmp_path_factory, monkeypatch):
    """Every test (and every manage.py child it starts) persists search indexes into its own
    temporary folder, never into var/."""
    folder = str(tmp_path_factory.mktemp("search-index"))
    settings.FACEFINDER_SEARCH_INDEX_DIR = folder
    monkeypatch.setenv("FACEFINDER_SEARCH_INDEX_DIR", folder)


@pytest.fixture(autouse=True)
def _fresh_search_vectors():
    """Each test starts with no in-process search vectors.

    Tests roll their transaction back, and SQLite then hands out the same face ids again: a
    collection kept from an earlier test could look current while holding other vectors.
    """
    from search.backends import forget_cached_vectors

    forget_cached_vectors()
    yield
    forget_cached_vectors()


@pytest.fixture(autouse=True)
def _empty_throttle_counters():
    """Failed logins and rate-limited actions of one test never count against another."""
    from django.core.cache import caches

    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.fixture
def password() -> str:
    return "a-long-test-password-42"


@pytest.fixture
def user(django_user_model, password):
    return django_user_model.objects.create_user(username="alice", password=password)


@pytest.fixture
def other_user(django_user_model, password):
    return django_user_model.objects.create_user(username="bob", password=password)


@pytest.fixture
def staff_user(django_user_model, password):
    return django_user_model.objects.create_superuser(
        username="staff", password=password, email="staff@example.com"
    )


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def library(db) -> Library:
    """A synthetic library (tests/factories.py): Anna in 12 shots of 2 near-identical frames
    each, Ben in 4 single frames."""
    return make_library()


@pytest.fixture
def big_library(db) -> Library:
    """Anna in 30 shots of 2 frames: enough groups to fill a page of 20."""
    return make_library(people={"anna": (30, 2), "ben": (5, 1)}, seed=11)


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> Clips:
    """Small ffmpeg-made test videos, encoded once per session; each call returns a copy."""
    return Clips(tmp_path_factory.mktemp("clips"))


# --- the real Hamilton clip, ingested once per session --------------------------------------


@pytest.fixture(scope="session")
def hamilton_ingest(django_db_setup, django_db_blocker, tmp_path_factory):
    """Rows and media of the Hamilton clip run through the REAL pipeline (MTCNN + dlib).

    Runs ingest once per session inside a transaction that is rolled back, so the test
    database stays empty; returns the rows as plain dicts and the media folder holding the
    images. Use ``hamilton_movie`` in tests.
    """
    from django.db import connection, transaction
    from django.test import override_settings

    from faces.models import Appearance, Face
    from movies.ingest import ingest_movie
    from movies.models import Frame, Movie, Shot
    from movies.registration import register_movie

    media_root = tmp_path_factory.mktemp("hamilton_media")
    with django_db_blocker.unblock():
        # pytest-django creates the test database only when a collected test asks for one.
        name = str(connection.settings_dict["NAME"])
        assert "memory" in name or "test" in name, "mark the test django_db: " + name
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=str(media_root)),
        transaction.atomic(),
    ):
        movie, _ = register_movie(path=HAMILTON_CLIP, **HAMILTON_INGEST)
        report = ingest_movie(movie.pk)
        assert report.status == "done", report.message
        rows = {
            "movie": Movie.objects.filter(pk=movie.pk).values().get(),
            "frames": list(Frame.objects.filter(movie=movie).order_by("index").values()),
            "faces": list(Face.objects.filter(movie=movie).order_by("pk").values()),
            "shots": list(Shot.objects.filter(movie=movie).order_by("index").values()),
            "appearances": list(Appearance.objects.filter(movie=movie).order_by("pk").values()),
        }
        # The people the ingest's own clustering made: each a list of appearance row ids.
        people: dict[int, list[int]] = {}
        for row in rows["appearances"]:
            if row["person_id"]:
                people.setdefault(row["person_id"], []).append(row["id"])
        rows["people"] = list(people.values())
        transaction.set_rollback(True)
    return {"media_root": str(media_root), **rows}


@pytest.fixture
def hamilton_movie(db, settings, hamilton_ingest):
    """A ``Movie`` for the Hamilton clip with its Frames, Faces, Shots and Appearances from the
    real pipeline (dlib-resnet, every 5th frame; 55 frames, faces of Miranda, Lacamoire and the
    Obamas; 4 shots).

    MEDIA_ROOT points at the session's media folder, so images are served as stored.
    """
    from faces.models import Appearance, Face, Person
    from movies.models import Frame, Movie, Shot

    settings.MEDIA_ROOT = hamilton_ingest["media_root"]
    movie_fields = {k: v for k, v in hamilton_ingest["movie"].items() if k != "id"}
    movie = Movie.objects.create(**movie_fields)
    Frame.objects.bulk_create(
        Frame(**{**{k: v for k, v in row.items() if k not in ("id", "movie_id")}, "movie": movie})
        for row in hamilton_ingest["frames"]
    )
    frame_ids = dict(Frame.objects.filter(movie=movie).values_list("index", "pk"))
    skip = ("id", "movie_id", "frame_id", "appearance_id", "shot_id", "representative_face_id")
    skip += ("person_id",)
    Face.objects.bulk_create(
        Face(
            **{
                **{k: v for k, v in row.items() if k not in skip},
                "movie": movie,
                "frame_id": frame_ids[row["frame_index"]],
            }
        )
        for row in hamilton_ingest["faces"]
    )
    face_ids = {
        old["id"]: new
        for old, new in zip(
            hamilton_ingest["faces"],
            Face.objects.filter(movie=movie).order_by("pk").values_list("pk", flat=True),
            strict=True,
        )
    }
    Shot.objects.bulk_create(
        Shot(**{**{k: v for k, v in row.items() if k not in skip}, "movie": movie})
        for row in hamilton_ingest["shots"]
    )
    shot_ids = dict(Shot.objects.filter(movie=movie).values_list("index", "pk"))
    old_shots = {row["id"]: row["index"] for row in hamilton_ingest["shots"]}
    appearance_ids: dict[int, int] = {}
    for row in hamilton_ingest["appearances"]:
        appearance = Appearance.objects.create(
            **{k: v for k, v in row.items() if k not in skip},
            movie=movie,
            shot_id=shot_ids[old_shots[row["shot_id"]]],
            representative_face_id=face_ids[row["representative_face_id"]],
        )
        linked = [
            face_ids[f["id"]] for f in hamilton_ingest["faces"] if f["appearance_id"] == row["id"]
        ]
        Face.objects.filter(pk__in=linked).update(appearance=appearance)
        appearance_ids[row["id"]] = appearance.pk
    # The people the ingest made, as it made them.
    for members in hamilton_ingest["people"]:
        person = Person.objects.create()
        Appearance.objects.filter(pk__in=[appearance_ids[old] for old in members]).update(
            person=person
        )
    return movie


@pytest.fixture
def duplicate_grouping(monkeypatch):
    """Searches group near-duplicates unless told otherwise: for the tests of that grouping
    (``group=duplicate``), written before results came by appearance."""
    monkeypatch.setattr("search.services.DEFAULT_GROUP", "duplicate")


@pytest.fixture
def ingest_queue(settings, monkeypatch):
    """The "ingest" queue on a Redis database of its own (15, or ``FACEFINDER_TEST_REDIS_DB``),
    so tests never meet a real worker's jobs, nor those of another checkout's test run."""
    import django_rq
    import django_rq.settings

    base = re.sub(r"/\d*$", "", settings.REDIS_URL)
    database = os.environ.get("FACEFINDER_TEST_REDIS_DB", "15")
    monkeypatch.setitem(django_rq.settings.QUEUES["ingest"], "URL", f"{base}/{database}")
    queue = django_rq.get_queue("ingest")
    queue.connection.flushdb()
    yield queue
    queue.connection.flushdb()
