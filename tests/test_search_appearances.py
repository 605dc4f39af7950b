"""Results by appearance: the pages, the JSON API and search_faces, on the real Hamilton clip
(its shots and appearances from the session's ingest) and on synthetic rows."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from faces.models import Appearance, Face
from search.services import search_by_face, search_by_vector
from tests.shared_data import FACES, MIRANDA, shots_of

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def miranda_vector(hamilton_movie):
    """Lin-Manuel Miranda's labelled photo through the same face pipeline (dlib-resnet)."""
    from django.core.files import File

    from search.photos import analyse_photo, read_photo

    path = FACES / MIRANDA / "1.jpg"
    with path.open("rb") as handle:
        image = read_photo(File(handle, name=path.name))
    faces, packed, _detected = analyse_photo(image, "dlib-resnet")
    import numpy as np

    return np.frombuffer(packed, "<f4").reshape(len(faces), -1)[0]


def test_a_miranda_photo_finds_his_two_appearances_first_with_their_spans(
    hamilton_movie, miranda_vector
):
    result = search_by_vector(miranda_vector, "dlib-resnet", k=5, group="appearance")
    first_two = [Appearance.objects.get(pk=entry.appearance_id) for entry in result.appearances[:2]]
    shots = shots_of(MIRANDA)
    found = sorted((a.shot.first_frame, a.shot.last_frame) for a in first_two)
    assert found == [(shot.first_frame, shot.last_frame) for shot in shots]
    for appearance in first_two:
        assert appearance.start_seconds < appearance.end_seconds
        assert appearance.end_seconds <= appearance.shot.end_seconds
    scores = [entry.best.score for entry in result.appearances]
    assert scores == sorted(scores, reverse=True)


def test_k_counts_appearances_and_every_hit_is_in_one(hamilton_movie):
    query = Face.objects.filter(movie=hamilton_movie, appearance__shot__index=2).first()
    result = search_by_face(query, k=3, group="appearance")
    assert len(result.appearances) == 3
    assert result.appearances[0].appearance_id == query.appearance_id
    assert result.appearances[0].best.face_id == query.pk
    in_results = {hit.face_id for entry in result.appearances for hit in entry.hits}
    assert in_results == {hit.face_id for hit in result.hits}
    # Many faces, few appearances: more faces were found than appearances asked for.
    assert len(result.hits) > 3


def test_the_api_answers_by_appearance_by_default(user_client, hamilton_movie):
    query = Face.objects.filter(movie=hamilton_movie, appearance__shot__index=2).first()
    body = user_client.get(reverse("api:search:face", args=[query.pk]) + "?k=4").json()
    assert body["filters"]["group"] == "appearance"
    assert body["count"] == 4
    first = body["results"][0]
    appearance = query.appearance
    assert first["id"] == appearance.pk
    assert first["shot_index"] == 2
    assert first["face_ids"] == list(
        appearance.faces.order_by("frame_index").values_list("pk", flat=True)
    )
    assert first["best_hit"]["face_id"] == query.pk
    assert first["score"] == first["best_hit"]["score"]
    assert set(first) >= {"start_seconds", "end_seconds", "face_count", "representative_face_id"}
    duplicate = user_client.get(
        reverse("api:search:face", args=[query.pk]) + "?k=4&group=duplicate"
    ).json()
    assert "duplicates" in duplicate["results"][0]
    bad = user_client.get(reverse("api:search:face", args=[query.pk]) + "?group=people")
    assert bad.status_code == 400 and "group" in bad.json()["fields"]


def test_searching_with_an_appearance_uses_its_mean_vector(user_client, hamilton_movie):
    appearance = Appearance.objects.filter(movie=hamilton_movie, shot__index=2).get()
    body = user_client.get(reverse("api:search:appearance", args=[appearance.pk])).json()
    assert body["query"]["type"] == "appearance" and body["query"]["id"] == appearance.pk
    assert body["results"][0]["id"] == appearance.pk
    page = user_client.get(reverse("search:appearance", args=[appearance.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Appearance {appearance.pk}" in html
    assert "Search with this appearance" in html
    assert user_client.get(reverse("search:appearance", args=[99999])).status_code == 404


def test_the_results_page_pages_by_appearance(user_client, hamilton_movie, settings):
    settings.FACEFINDER_GROUPS_PER_PAGE = 2
    query = Face.objects.filter(movie=hamilton_movie, appearance__shot__index=2).first()
    url = reverse("search:face", args=[query.pk])
    html = user_client.get(url + "?k=5").content.decode()
    assert html.count("data-appearance-id=") == 2
    assert "On screen" in html
    assert user_client.get(url + "?k=5&page=3").content.decode().count("data-appearance-id") == 1


def test_faces_of_movies_without_appearances_are_results_of_their_own(user_client, library):
    body = user_client.get(reverse("api:search:face", args=[library.first("anna").pk])).json()
    assert body["results"]
    for item in body["results"]:
        assert item["id"] is None and item["shot_index"] is None
        assert item["face_ids"] == [item["best_hit"]["face_id"]]
        assert item["face_count"] == 1


def test_search_faces_prints_appearances(hamilton_movie):
    query = Face.objects.filter(movie=hamilton_movie, appearance__shot__index=2).first()
    out = io.StringIO()
    call_command("search_faces", "--face", str(query.pk), "--k", "3", stdout=out)
    assert "appearances" in out.getvalue()
    out = io.StringIO()
    call_command("search_faces", "--appearance", str(query.appearance_id), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["query"]["type"] == "appearance"
    assert data["results"][0]["id"] == query.appearance_id
