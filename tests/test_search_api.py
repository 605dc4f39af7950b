"""The JSON endpoint: same results as the page, 401/404/400 as JSON, never a login redirect."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from faces.models import Face
from search.models import QueryPhoto
from search.services import search_by_face
from tests.search_pages_fixtures import *  # noqa: F403


def api_url(face_id: int, query: str = "") -> str:
    return reverse("search:api-face", args=[face_id]) + (f"?{query}" if query else "")


@pytest.mark.django_db
def test_anonymous_gets_json_401_not_a_redirect(client, library):
    response = client.get(api_url(library.first("anna").pk))
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert "log in" in response.json()["error"]


def test_groups_match_the_search_service(user_client, library):
    query = library.first("anna")
    response = user_client.get(api_url(query.pk, "k=12"))
    assert response.status_code == 200
    data = response.json()
    expected = search_by_face(query.pk, k=12)
    assert [g["face_id"] for g in data["groups"]] == [g.leader.face_id for g in expected.groups]
    assert [[d["face_id"] for d in g["duplicates"]] for g in data["groups"]] == [
        [d.face_id for d in g.duplicates] for g in expected.groups
    ]
    assert data["embedder"] == "dlib-resnet"
    assert data["hit_count"] == 12
    assert data["filters"] == {"k": 12, "movie_id": None, "min_score": None}
    assert data["query"]["type"] == "face" and data["query"]["face_id"] == query.pk


def test_each_result_carries_what_a_client_needs(user_client, library):
    query = library.first("anna")
    data = user_client.get(api_url(query.pk)).json()
    first = data["groups"][0]
    frame = query.frame
    assert first["face_id"] == query.pk
    assert first["score"] == pytest.approx(1.0, abs=1e-5)
    assert first["movie"] == {"id": library.movie.pk, "title": "Synthetic Film"}
    assert first["frame"]["index"] == frame.index
    assert first["frame"]["name"] == f"synthetic.mp4_{frame.index}"
    assert first["frame"]["url"].endswith(reverse("movies:frame", args=[frame.pk]))
    assert first["timestamp"] == pytest.approx(frame.timestamp)
    assert first["timestamp_display"] == "0:00:00"
    assert first["box"] == [40.0, 20.0, 80.0, 70.0]
    assert first["image_url"].startswith("http://testserver/media/")
    assert "/thumbnails/" in first["thumbnail_url"]
    assert first["search_url"].endswith(reverse("search:face", args=[query.pk]))
    duplicate = first["duplicates"][0]
    assert duplicate["face_id"] == library.faces["anna"][1]
    assert set(duplicate) >= {"face_id", "score", "frame", "movie", "box", "thumbnail_url"}
    scores = [g["score"] for g in data["groups"]]
    assert scores == sorted(scores, reverse=True)


def test_movie_filter(user_client, library):
    other = make_library(title="Elsewhere", people={"dora": (2, 1)}, seed=5)  # noqa: F405
    data = user_client.get(api_url(library.first("anna").pk, f"movie={other.movie.pk}")).json()
    movies = {g["movie"]["id"] for g in data["groups"][1:]}
    assert movies == {other.movie.pk}


def test_unknown_face_is_json_404(user_client, library):
    response = user_client.get(api_url(987_654))
    assert response.status_code == 404
    assert response.json()["error"] == "There is no face 987654."


def test_bad_filters_are_json_400(user_client, library):
    response = user_client.get(api_url(library.first("anna").pk, "k=0&min_score=5"))
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert set(fields) == {"k", "min_score"}


def test_photo_endpoint_is_private_to_the_uploader(client, user, other_user, library):
    face = library.first("ben")
    photo = QueryPhoto(
        owner=user,
        width=10,
        height=10,
        embedder=face.embedder,
        faces=[{"box": [1, 1, 9, 9], "probability": 0.999}],
        embeddings=bytes(face.embedding),
    )
    photo.image.save("p.jpg", ContentFile(b"x"), save=False)
    photo.save()
    url = reverse("search:api-photo", args=[photo.pk, 0])
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    client.force_login(user)
    data = client.get(url).json()
    assert data["query"]["type"] == "photo"
    assert data["groups"][0]["face_id"] == face.pk
    assert Face.objects.filter(pk=data["groups"][0]["face_id"]).exists()
    assert client.get(reverse("search:api-photo", args=[photo.pk, 1])).status_code == 404
