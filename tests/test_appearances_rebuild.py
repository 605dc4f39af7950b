"""Shots and appearances for movies stored earlier: ``manage.py appearances rebuild``, the admin
action and its job; and a movie's appearances as JSON (API and ``appearances list``)."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from faces.models import Appearance, Face
from faces.rebuild import RebuildError, rebuild_appearances
from movies.models import Movie, Shot
from tests.ingest_helpers import run_worker
from tests.test_ingest_admin import act, messages_of

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def natural(movie: Movie) -> list[tuple]:
    """The movie's appearances by natural keys, with their faces' keys."""
    out = []
    for appearance in Appearance.objects.filter(movie=movie).select_related(
        "shot", "representative_face"
    ):
        faces = appearance.faces.order_by("frame_index", "face_index")
        out.append(
            (
                appearance.shot.index,
                appearance.first_frame_index,
                appearance.first_face_index,
                appearance.last_frame_index,
                appearance.end_seconds,
                appearance.face_count,
                bytes(appearance.embedding),
                (
                    appearance.representative_face.frame_index,
                    appearance.representative_face.face_index,
                ),
                tuple(faces.values_list("frame_index", "face_index")),
            )
        )
    return sorted(out)


def forget_appearances(movie: Movie, *, sharpness: bool = False) -> None:
    """The movie as an ingest before appearances left it: no shots, no links (no sharpness)."""
    Face.objects.filter(movie=movie).update(appearance=None)
    Appearance.objects.filter(movie=movie).delete()
    Shot.objects.filter(movie=movie).delete()
    if sharpness:
        Face.objects.filter(movie=movie).update(sharpness=None)


def test_rebuild_reproduces_what_the_ingest_stored(hamilton_movie):
    ingested = natural(hamilton_movie)
    assert len(ingested) >= 4
    forget_appearances(hamilton_movie)
    report = rebuild_appearances(hamilton_movie.pk)
    assert (report.shots, report.appearances) == (4, len(ingested))
    assert natural(hamilton_movie) == ingested
    # Twice is the same as once.
    rebuild_appearances(hamilton_movie.pk)
    assert natural(hamilton_movie) == ingested


def test_rebuild_scores_faces_stored_without_sharpness_from_their_frames(hamilton_movie):
    forget_appearances(hamilton_movie, sharpness=True)
    report = rebuild_appearances(hamilton_movie.pk)
    assert report.faces_scored == Face.objects.filter(movie=hamilton_movie).count()
    assert not Face.objects.filter(movie=hamilton_movie, sharpness=None).exists()
    assert not Face.objects.filter(movie=hamilton_movie, appearance=None).exists()
    assert Shot.objects.filter(movie=hamilton_movie).count() == 4


def test_rebuild_says_plainly_that_it_needs_the_video(hamilton_movie, tmp_path):
    moved = tmp_path / "gone.mp4"
    shutil.copy(hamilton_movie.path, moved)
    Movie.objects.filter(pk=hamilton_movie.pk).update(source_path=str(moved))
    moved.unlink()
    before = natural(hamilton_movie)
    with pytest.raises(RebuildError, match="shots are found in the video itself, and its file"):
        rebuild_appearances(hamilton_movie.pk)
    assert natural(hamilton_movie) == before  # nothing was deleted


def test_rebuild_waits_for_the_ingest(hamilton_movie):
    Movie.objects.filter(pk=hamilton_movie.pk).update(status=Movie.Status.RUNNING)
    with pytest.raises(RebuildError, match="is being ingested"):
        rebuild_appearances(hamilton_movie.pk)
    Movie.objects.filter(pk=hamilton_movie.pk).update(status=Movie.Status.FAILED)
    with pytest.raises(RebuildError, match="not fully ingested"):
        rebuild_appearances(hamilton_movie.pk)


def test_the_command_rebuilds_and_lists(hamilton_movie):
    forget_appearances(hamilton_movie)
    out = io.StringIO()
    call_command("appearances", "rebuild", "--movie", str(hamilton_movie.pk), stdout=out)
    assert "4 shots" in out.getvalue()
    out = io.StringIO()
    call_command("appearances", "list", "--movie", str(hamilton_movie.pk), "--json", stdout=out)
    items = json.loads(out.getvalue())
    assert len(items) == Appearance.objects.filter(movie=hamilton_movie).count()
    assert [item["start_seconds"] for item in items] == sorted(i["start_seconds"] for i in items)
    with pytest.raises(CommandError, match="There is no movie 999"):
        call_command("appearances", "list", "--movie", "999")


def test_the_admin_action_queues_a_rebuild_that_the_worker_runs(
    staff_client,
    hamilton_movie,
    ingest_queue,
):
    forget_appearances(hamilton_movie)
    response = act(staff_client, "rebuild_appearances", hamilton_movie)
    assert any("Queued a rebuild" in message for message in messages_of(response))
    assert len(ingest_queue) == 1
    run_worker()
    assert Shot.objects.filter(movie=hamilton_movie).count() == 4
    Movie.objects.filter(pk=hamilton_movie.pk).update(status=Movie.Status.QUEUED)
    response = act(staff_client, "rebuild_appearances", hamilton_movie)
    assert any("is being ingested" in message for message in messages_of(response))
    assert len(ingest_queue) == 0


# --- JSON ---------------------------------------------------------------------------------------

ITEM_KEYS = [
    "id", "movie_id", "embedder", "shot_index", "start_seconds", "end_seconds",
    "first_frame_index", "last_frame_index", "face_count", "representative_face_id", "person_id",
]  # fmt: skip


def test_the_api_lists_a_movies_appearances_as_the_command_does(user_client, hamilton_movie):
    url = reverse("api:faces:movie-appearances", args=[hamilton_movie.pk])
    assert url == f"/api/movies/{hamilton_movie.pk}/appearances/"
    body = user_client.get(url).json()
    assert body["count"] == Appearance.objects.filter(movie=hamilton_movie).count()
    assert body["page"] == 1 and body["previous"] is None
    assert all(list(item) == ITEM_KEYS for item in body["results"])
    out = io.StringIO()
    call_command("appearances", "list", "--movie", str(hamilton_movie.pk), "--json", stdout=out)
    assert json.loads(out.getvalue()) == body["results"]
    miranda = [item for item in body["results"] if item["shot_index"] == 2]
    assert len(miranda) == 1 and miranda[0]["face_count"] > 20


def test_one_appearance_adds_its_face_ids_in_frame_order(user_client, hamilton_movie):
    appearance = Appearance.objects.filter(movie=hamilton_movie).order_by("-face_count").first()
    body = user_client.get(reverse("api:faces:appearance", args=[appearance.pk])).json()
    assert list(body) == [*ITEM_KEYS, "face_ids"]
    faces = Face.objects.filter(pk__in=body["face_ids"])
    ordered = sorted(faces, key=lambda face: (face.frame_index, face.face_index))
    assert body["face_ids"] == [face.pk for face in ordered]
    assert len(body["face_ids"]) == appearance.face_count
    assert body["representative_face_id"] in body["face_ids"]


def test_appearance_endpoints_follow_the_api_rules(user_client, hamilton_movie):
    anonymous = Client()
    urls = [
        reverse("api:faces:movie-appearances", args=[hamilton_movie.pk]),
        reverse("api:faces:appearance", args=[Appearance.objects.first().pk]),
    ]
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 401 and "error" in response.json()
        assert user_client.post(url).status_code == 405
    assert user_client.get(reverse("api:faces:appearance", args=[99999])).status_code == 404
    missing = user_client.get(reverse("api:faces:movie-appearances", args=[99999]))
    assert missing.status_code == 404
    assert missing.json() == {"error": "There is no movie 99999."}
    assert user_client.get(urls[0] + "?page=9").status_code == 404
