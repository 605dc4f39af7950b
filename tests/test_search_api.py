"""The JSON API: /api/ root, one envelope, one error shape, the page's results, the old URLs."""

from __future__ import annotations

import io
import json
import math
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.urls import reverse

from config import api
from faces.models import Face
from movies.models import Movie
from search.services import search_by_face
from tests.factories import make_library, make_query_photo

# These tests check the near-duplicate grouping (group=duplicate).
pytestmark = pytest.mark.usefixtures("duplicate_grouping")


ENVELOPE = {"count", "page", "num_pages", "next", "previous", "results"}


def api_url(face_id: int, query: str = "") -> str:
    return reverse("api:search:face", args=[face_id]) + (f"?{query}" if query else "")


@pytest.mark.django_db
def test_anonymous_gets_json_401_not_a_redirect(client, user, library):
    photo = make_query_photo(user, library.first("ben"))
    for url in (api_url(library.first("anna").pk), reverse("api:search:photo", args=[photo.pk, 0])):
        response = client.get(url)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"error": "Authentication required: log in first."}


def test_groups_match_the_search_service(user_client, library):
    query = library.first("anna")
    response = user_client.get(api_url(query.pk, "k=12"))
    assert response.status_code == 200
    data = response.json()
    expected = search_by_face(query.pk, k=12)
    summary = {"query", "embedder", "filters", "hit_count", "empty_reason"}
    summary |= {"same_person_threshold", "nobody_matches"}
    assert set(data) == {*summary, *ENVELOPE}
    assert [g["face_id"] for g in data["results"]] == [g.leader.face_id for g in expected.groups]
    assert [[d["face_id"] for d in g["duplicates"]] for g in data["results"]] == [
        [d.face_id for d in g.duplicates] for g in expected.groups
    ]
    assert data["embedder"] == "dlib-resnet"
    assert data["hit_count"] == 12
    assert data["empty_reason"] is None
    assert data["filters"] == {"k": 12, "movie_id": None, "min_score": None, "group": "duplicate"}
    assert data["query"]["type"] == "face" and data["query"]["face_id"] == query.pk
    assert data["count"] == len(expected.groups) <= 10  # one page of FACEFINDER_GROUPS_PER_PAGE
    assert (data["page"], data["num_pages"], data["next"], data["previous"]) == (1, 1, None, None)


def test_each_result_carries_what_a_client_needs(user_client, library):
    query = library.first("anna")
    data = user_client.get(api_url(query.pk)).json()
    first = data["results"][0]
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
    scores = [g["score"] for g in data["results"]]
    assert scores == sorted(scores, reverse=True)


def test_movie_filter(user_client, library):
    other = make_library(title="Elsewhere", people={"dora": (2, 1)}, seed=5)
    data = user_client.get(api_url(library.first("anna").pk, f"movie={other.movie.pk}")).json()
    movies = {g["movie"]["id"] for g in data["results"][1:]}
    assert movies == {other.movie.pk}


def test_unknown_face_is_json_404(user_client, library):
    response = user_client.get(api_url(987_654))
    assert response.status_code == 404
    assert response.json()["error"] == "There is no face 987654."


def test_bad_filters_are_json_400(user_client, library):
    response = user_client.get(api_url(library.first("anna").pk, "k=0&min_score=5"))
    assert response.status_code == 400
    assert response.json()["error"] == "Invalid filters."
    fields = response.json()["fields"]
    assert set(fields) == {"k", "min_score"}
    assert all(isinstance(message, str) for messages in fields.values() for message in messages)


def test_photo_endpoint_is_private_to_the_uploader(client, user, other_user, library):
    face = library.first("ben")
    photo = make_query_photo(user, face, faces=[{"box": [1, 1, 9, 9], "probability": 0.999}])
    url = reverse("api:search:photo", args=[photo.pk, 0])
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    assert client.get(url).json() == {"error": f"There is no photo {photo.pk}."}
    client.force_login(user)
    data = client.get(url).json()
    assert data["query"] == {
        "type": "photo",
        "photo_id": photo.pk,
        "face_index": 0,
        "face_count": 1,
        "box": [1, 1, 9, 9],
        "image_url": f"http://testserver{photo.get_image_url()}",
    }
    assert data["results"][0]["face_id"] == face.pk
    assert Face.objects.filter(pk=data["results"][0]["face_id"]).exists()
    missing = client.get(reverse("api:search:photo", args=[photo.pk, 1]))
    assert missing.status_code == 404
    assert missing.json() == {"error": "This photo has no face 2."}


# --- the envelope -------------------------------------------------------------------------


def test_groups_are_paged_in_the_envelope(user_client, big_library, settings):
    settings.FACEFINDER_GROUPS_PER_PAGE = 4
    query = big_library.first("anna")
    expected = [g.leader.face_id for g in search_by_face(query.pk, k=60).groups]
    assert len(expected) > 8  # three pages or more
    first = user_client.get(api_url(query.pk, "k=60")).json()
    assert (first["count"], first["page"], first["previous"]) == (len(expected), 1, None)
    assert first["num_pages"] == math.ceil(len(expected) / 4)
    assert first["next"] == f"http://testserver{api_url(query.pk, 'k=60&page=2')}"
    second = user_client.get(first["next"]).json()
    assert second["previous"] == f"http://testserver{api_url(query.pk, 'k=60&page=1')}"
    assert second["hit_count"] == first["hit_count"] == 60  # the summary is the whole search's
    leaders, page = [], first
    while True:
        leaders += [group["face_id"] for group in page["results"]]
        assert len(page["results"]) <= 4
        if page["next"] is None:
            break
        page = user_client.get(page["next"]).json()
    assert leaders == expected
    assert page["page"] == page["num_pages"]


@pytest.mark.parametrize("page", ["0", "abc", "-1", "²", "1.5"])
def test_a_page_that_is_not_a_number_from_1_is_a_400(user_client, library, page):
    response = user_client.get(api_url(library.first("anna").pk, urlencode({"page": page})))
    assert response.status_code == 400
    assert response.json() == {
        "error": "Invalid page.",
        "fields": {"page": ["Give a page number from 1."]},
    }


def test_a_page_past_the_end_is_a_json_404(user_client, library):
    response = user_client.get(api_url(library.first("anna").pk, "page=2"))
    assert response.status_code == 404
    assert response.json() == {"error": "There is no page 2; the list has 1 page."}


def test_an_empty_result_is_one_empty_page_with_its_explanation(user_client, user, library):
    empty = Movie.objects.create(title="Not ingested yet")
    url = reverse("api:search:photo", args=[make_query_photo(user, library.first("ben")).pk, 0])
    data = user_client.get(f"{url}?movie={empty.pk}").json()
    assert (data["count"], data["page"], data["num_pages"], data["results"]) == (0, 1, 1, [])
    assert data["hit_count"] == 0
    assert data["empty_reason"].startswith("No face matches these filters.")
    assert user_client.get(f"{url}?movie={empty.pk}&page=2").status_code == 404


# --- errors, methods and the old URLs --------------------------------------------------------


def test_the_error_helper_makes_every_api_error_one_shape():
    for status in (400, 401, 404, 405, 429):
        response = api.error(status, "Why, in one line.")
        assert response.status_code == status
        assert json.loads(response.content) == {"error": "Why, in one line."}
    throttled = api.error(429, "Too many searches; wait a minute.", retry_after=60)
    assert throttled["Retry-After"] == "60"
    with pytest.raises(ValueError, match="not an API error status"):
        api.error(200, "fine")


def test_other_methods_are_a_json_405(user_client, library):
    response = user_client.post(api_url(library.first("anna").pk))
    assert response.status_code == 405
    assert response.json() == {"error": "POST is not allowed here."}
    assert "GET" in response["Allow"]


def test_the_old_urls_redirect_permanently_with_the_query_string(user_client, user, library):
    face = library.first("anna")
    photo = make_query_photo(user, library.first("ben"))
    moved = {
        f"/search/api/face/{face.pk}/": reverse("api:search:face", args=[face.pk]),
        f"/search/api/photo/{photo.pk}/face/0/": reverse("api:search:photo", args=[photo.pk, 0]),
    }
    for old, new in moved.items():
        response = user_client.get(f"{old}?k=5&min_score=0.1")
        assert response.status_code == 301
        assert response["Location"] == f"{new}?k=5&min_score=0.1"
        followed = user_client.get(f"{old}?k=5&min_score=0.1", follow=True)
        assert followed.status_code == 200
        assert followed.json() == user_client.get(f"{new}?k=5&min_score=0.1").json()
        assert followed.json()["filters"]["k"] == 5


# --- one hit shape ---------------------------------------------------------------------------


def test_the_command_prints_the_api_hit_shape_with_paths(user_client, library, settings):
    settings.FACEFINDER_GROUPS_PER_PAGE = 50
    query = library.first("anna")
    from_api = user_client.get(api_url(query.pk, "k=12")).json()
    out = io.StringIO()
    call_command("search_faces", "--face", str(query.pk), "--k", "12", "--json", stdout=out)
    from_command = json.loads(out.getvalue())
    assert from_command["results"] and from_command["results"][0]["search_url"].startswith("/")
    assert with_host(from_command["results"]) == from_api["results"]
    assert with_host(from_command["query"]) == from_api["query"]


def with_host(value):
    """The command's JSON with its site paths made absolute, as the API writes them."""
    if isinstance(value, dict):
        return {
            key: f"http://testserver{item}" if key.endswith("url") and item else with_host(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [with_host(item) for item in value]
    return value
