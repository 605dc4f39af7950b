"""The people a user meets: the grid, a person's page, the movie's cast strip, the JSON API and
the ``people`` command (one item shape), and searching with a person."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from faces.models import Appearance, Person
from faces.people import assign_movie
from tests.people_helpers import Cast, person_of

pytestmark = pytest.mark.django_db

ITEM_KEYS = [
    "id", "name", "hidden", "embedders", "appearance_count", "movie_count", "screen_seconds",
    "representative_face_id",
]  # fmt: skip


@pytest.fixture
def cast_library():
    """Two movies: Mia in both (named), an unnamed lead in the first, a hidden extra."""
    cast = Cast()
    first = cast.movie("Alpha", [[("mia", 0, 10)], [("lead", 0, 20)], [("extra", 0, 4)]])
    second = cast.movie("Beta", [[("mia", 0, 6)], [("mia", 0, 3)]])
    assign_movie(first.pk)
    assign_movie(second.pk)
    mia = Person.objects.get(pk=person_of(first, 0))
    mia.name = "Mia Wallace"
    mia.save()
    Person.objects.filter(pk=person_of(first, 2)).update(hidden=True)
    return {
        "first": first,
        "second": second,
        "mia": mia,
        "lead": Person.objects.get(pk=person_of(first, 1)),
        "extra": Person.objects.get(pk=person_of(first, 2)),
    }


def test_the_people_grid_shows_names_screen_time_and_counts(user_client, cast_library):
    page = user_client.get(reverse("faces:people")).content.decode()
    # Mia: 10 + 6 + 3 faces, one every 5 frames at 25 fps: 0.2 s each.
    assert "Mia Wallace" in page and "0:00:03 on screen" in page
    assert "2 movies · 3 appearances" in page
    assert "Unnamed" in page  # the lead
    assert f'data-person-id="{cast_library["extra"].pk}"' not in page  # hidden by default
    hidden = user_client.get(reverse("faces:people"), {"hidden": "true"}).content.decode()
    assert f'data-person-id="{cast_library["extra"].pk}"' in hidden
    assert f'data-person-id="{cast_library["mia"].pk}"' not in hidden


def test_the_grid_searches_by_name_and_filters_named_and_unnamed(user_client, cast_library):
    found = user_client.get(reverse("faces:people"), {"q": "wallace"}).content.decode()
    assert "Mia Wallace" in found and f'data-person-id="{cast_library["lead"].pk}"' not in found
    unnamed = user_client.get(reverse("faces:people"), {"named": "false"}).content.decode()
    assert "Mia Wallace" not in unnamed and f'data-person-id="{cast_library["lead"].pk}"' in unnamed
    nobody = user_client.get(reverse("faces:people"), {"q": "zed"}).content.decode()
    assert "No person matches these filters." in nobody
    bad = user_client.get(reverse("faces:people"), {"named": "perhaps"})
    assert bad.status_code == 200 and "Check the filters" in bad.content.decode()


def test_the_grid_is_paginated(user_client, db):
    cast = Cast()
    movie = cast.movie("Crowd", [[(f"p{n}", 0, 3)] for n in range(30)])
    assign_movie(movie.pk)
    assert Person.objects.count() == 30
    first = user_client.get(reverse("faces:people")).content.decode()
    assert first.count('class="card person-card') == 24 and "1 / 2" in first
    second = user_client.get(reverse("faces:people"), {"page": "2"}).content.decode()
    assert second.count('class="card person-card') == 6


def test_a_person_page_lists_appearances_by_movie_with_links(user_client, cast_library):
    mia = cast_library["mia"]
    page = user_client.get(reverse("faces:person", args=[mia.pk])).content.decode()
    assert page.index("Alpha") < page.index("Beta")
    for appearance in Appearance.objects.filter(person=mia):
        assert reverse("faces:appearance", args=[appearance.pk]) in page
    assert "0:00:00.0\u20130:00:02.0" in page  # Mia's first appearance: 10 faces, 2 s
    # Each movie's strip: one mark per appearance of hers, linking to its page.
    for appearance in Appearance.objects.filter(person=mia):
        assert f'class="timeline-mark" href="{appearance.get_absolute_url()}"' in page
    assert reverse("search:person", args=[mia.pk]) in page
    assert user_client.get(reverse("faces:person", args=[999999])).status_code == 404


def test_the_movie_page_shows_its_cast_by_screen_time(user_client, cast_library):
    page = user_client.get(reverse("movies:detail", args=[cast_library["first"].pk]))
    text = page.content.decode()
    strip = text[text.index('class="cast-strip"') :]
    lead, mia = cast_library["lead"].pk, cast_library["mia"].pk
    assert strip.index(f'data-person-id="{lead}"') < strip.index(f'data-person-id="{mia}"')
    assert f'data-person-id="{cast_library["extra"].pk}"' not in strip


def test_the_api_and_the_command_give_the_same_people(user_client, cast_library):
    body = user_client.get("/api/people/").json()
    assert body["count"] == 2 and body["page"] == 1
    assert all(list(item) == ITEM_KEYS for item in body["results"])
    mia = next(item for item in body["results"] if item["name"] == "Mia Wallace")
    assert mia["embedders"] == ["dlib-resnet"]
    assert (mia["appearance_count"], mia["movie_count"], mia["screen_seconds"]) == (3, 2, 3.8)
    out = io.StringIO()
    call_command("people", "list", "--json", stdout=out)
    assert json.loads(out.getvalue()) == body["results"]
    hidden = user_client.get("/api/people/", {"hidden": "true"}).json()["results"]
    assert [item["id"] for item in hidden] == [cast_library["extra"].pk]
    named = user_client.get("/api/people/", {"named": "true", "q": "mia"}).json()["results"]
    assert [item["name"] for item in named] == ["Mia Wallace"]
    bad = user_client.get("/api/people/", {"hidden": "maybe"})
    assert bad.status_code == 400 and "hidden" in bad.json()["fields"]


def test_one_person_in_the_api_and_the_command(user_client, cast_library):
    mia = cast_library["mia"]
    body = user_client.get(f"/api/people/{mia.pk}/").json()
    assert list(body) == [*ITEM_KEYS, "movies"]
    assert [movie["title"] for movie in body["movies"]] == ["Alpha", "Beta"]
    movie = cast_library["second"]
    listed = user_client.get(f"/api/movies/{movie.pk}/appearances/").json()["results"]
    assert body["movies"][1]["appearances"] == listed
    assert all(item["person_id"] == mia.pk for item in listed)
    out = io.StringIO()
    call_command("people", "show", str(mia.pk), "--json", stdout=out)
    assert json.loads(out.getvalue()) == body
    missing = user_client.get("/api/people/999999/")
    assert missing.status_code == 404 and missing.json()["error"] == "There is no person 999999."


def test_search_with_a_person_finds_them_everywhere_named_and_marked(user_client, cast_library):
    mia = cast_library["mia"]
    body = user_client.get(f"/api/search/person/{mia.pk}/", {"k": "5"}).json()
    assert body["query"]["type"] == "person" and body["query"]["appearance_count"] == 3
    assert body["same_person_threshold"] == pytest.approx(0.9246)
    top = body["results"][:3]
    assert {item["person_id"] for item in top} == {mia.pk}
    assert all(item["person_name"] == "Mia Wallace" for item in top)
    assert all(item["likely_same_person"] for item in top)
    assert not any(item["likely_same_person"] for item in body["results"][3:])
    page = user_client.get(reverse("search:person", args=[mia.pk])).content.decode()
    assert "Where this person appears" in page
    assert page.count("likely the same person") == 3
    assert page.count(f'href="{reverse("faces:person", args=[mia.pk])}"') >= 3


def test_an_uncalibrated_embedder_marks_no_result(user_client, cast_library, monkeypatch):
    monkeypatch.delitem(__import__("faces.calibration").calibration.SHIPPED, "dlib-resnet")
    mia = cast_library["mia"]
    body = user_client.get(f"/api/search/person/{mia.pk}/").json()
    assert body["same_person_threshold"] is None
    assert all(item["likely_same_person"] is None for item in body["results"])
    page = user_client.get(reverse("search:person", args=[mia.pk])).content.decode()
    assert "likely the same person" not in page


def test_a_face_search_offers_to_search_with_its_person(user_client, cast_library):
    mia = cast_library["mia"]
    face = Appearance.objects.filter(person=mia).first().faces.first()
    page = user_client.get(reverse("search:face", args=[face.pk])).content.decode()
    query_panel = page[: page.index('class="result-list')]
    assert reverse("search:person", args=[mia.pk]) in query_panel
    assert "Mia Wallace" in query_panel
    glimpse = Cast(seed=5).movie("Gamma", [[("nobody", 0, 1)]])
    assign_movie(glimpse.pk)
    waiting = Appearance.objects.get(movie=glimpse)
    assert waiting.person_id is None
    other = user_client.get(reverse("search:appearance", args=[waiting.pk])).content.decode()
    assert "Search with this person</a>" not in other[: other.index('class="result-list')]


def test_an_unnamed_person_whose_movie_was_deleted_is_gone_and_a_named_one_stays(
    user_client, cast_library
):
    lead, mia = cast_library["lead"], cast_library["mia"]
    cast_library["first"].delete()
    body = user_client.get("/api/people/").json()
    assert [item["id"] for item in body["results"]] == [mia.pk]
    assert user_client.get(f"/api/people/{lead.pk}/").status_code == 404
    cast_library["second"].delete()
    named = user_client.get("/api/people/").json()["results"]
    assert [(item["name"], item["appearance_count"]) for item in named] == [("Mia Wallace", 0)]
