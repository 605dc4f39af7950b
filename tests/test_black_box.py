"""The app as a user and an attacker meet it: HTTP requests only, through Django's test client,
on a small library with two users (alice and bob) who each own a photo and saved searches.

Every URL the resolver knows is classified in ``ROUTES`` (site pages, by route) or by
``admin_expectation`` (everything under ``/admin/``), with what an anonymous visitor and a
logged-in user who is not staff get from a GET. A URL that is in neither fails
``test_every_url_is_classified`` until someone says what it should do, so a new page is
covered from the day it appears.

To add a URL (a later issue's page or endpoint): add its route to ``ROUTES`` exactly as the
failure message prints it, with a ``Route`` of the two expectations (``PAGE``, ``LOGIN``,
``API``, ...) and, when it takes parameters, a function from the ``World`` to their values
(``lambda w: {"pk": w.movie.pk}``). Only the login, sign-up and password-reset pages may
answer an anonymous visitor (``ANONYMOUS_PAGES``); the API answers 401 JSON.

The other cases try what an attacker would: somebody else's saved searches and photos, media
paths that climb out of ``MEDIA_ROOT``, numbers out of range or in other scripts, overlong
names, oversized and disguised uploads, password guessing and view-only staff posting admin
actions. None of them may get a 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from faces.models import Appearance, Correction, Face, Person
from movies.models import Frame, Movie
from search.models import QueryPhoto, SavedSearch
from tests.factories import (
    image_bytes,
    make_appearance,
    make_library,
    make_query_photo,
    make_shot,
)
from tests.shared_data import HAMILTON_CLIP

pytestmark = pytest.mark.django_db

# --- What a GET answers -----------------------------------------------------------------------

PAGE = "page"  # 200 with the page
LOGIN = "login"  # 302 to the login page, asking to come back
ADMIN_LOGIN = "admin-login"  # 302 to the admin's login page
API = "api"  # 200 JSON
API_401 = "api-401"  # 401 JSON, never a redirect
API_404 = "api-404"  # 404 JSON
UNAUTHORIZED = "401"  # 401, whatever the body
POST_ONLY = "post-only"  # 405: the URL takes POST only
REDIRECT = "redirect"  # 302 to another page of the site
MOVED = "moved"  # 301 to its new address


@dataclass(frozen=True)
class World:
    """What the requests name: alice's objects, bob's, and the library's."""

    movie: Movie
    frame: Frame
    face_id: int
    other_face_id: int
    photo: QueryPhoto  # alice's
    saved: SavedSearch  # alice's, a face search
    bobs_photo: QueryPhoto
    bobs_saved: SavedSearch
    appearance_id: int  # anna's first shot, followed as one appearance
    person_id: int  # anna, holding that appearance


Params = Callable[[World], dict]


@dataclass(frozen=True)
class Route:
    anonymous: str
    user: str
    params: Params = field(default=lambda world: {})


def _movie(w: World) -> dict:
    return {"pk": w.movie.pk}


def _frame(w: World) -> dict:
    return {"pk": w.frame.pk}


def _face(w: World) -> dict:
    return {"face_id": w.face_id}


def _photo(w: World) -> dict:
    return {"pk": w.photo.pk}


def _photo_face(w: World) -> dict:
    return {"pk": w.photo.pk, "index": 0}


def _saved(w: World) -> dict:
    return {"pk": w.saved.pk}


def _appearance(w: World) -> dict:
    return {"appearance_id": w.appearance_id}


def _person(w: World) -> dict:
    return {"pk": w.person_id}


def _person_id(w: World) -> dict:
    return {"person_id": w.person_id}


def _movie_id(w: World) -> dict:
    return {"movie_id": w.movie.pk}


def _media(w: World) -> dict:
    return {"path": w.frame.image.name}


def _reset_link(w: World) -> dict:
    return {"uidb64": "MQ", "token": "set-password"}


ROUTES: dict[str, Route] = {
    # Accounts: the only pages for anonymous visitors.
    "accounts/signup/": Route(PAGE, REDIRECT),
    "accounts/signup/pending/": Route(PAGE, PAGE),
    "accounts/login/": Route(PAGE, PAGE),
    "accounts/logout/": Route(POST_ONLY, POST_ONLY),
    "accounts/password_change/": Route(LOGIN, PAGE),
    "accounts/password_change/done/": Route(LOGIN, PAGE),
    "accounts/password_reset/": Route(PAGE, PAGE),
    "accounts/password_reset/done/": Route(PAGE, PAGE),
    "accounts/reset/<uidb64>/<token>/": Route(PAGE, PAGE, _reset_link),
    "accounts/reset/done/": Route(PAGE, PAGE),
    # Media: ingest images to logged-in users.
    "media/(?P<path>.*)$": Route(LOGIN, PAGE, _media),
    # Movies.
    "": Route(LOGIN, PAGE),
    "movies/<int:pk>/": Route(LOGIN, PAGE, _movie),
    "movies/<int:pk>/video/": Route(LOGIN, PAGE, _movie),
    "appearances/<int:pk>/": Route(LOGIN, PAGE, lambda w: {"pk": w.appearance_id}),
    "people/": Route(LOGIN, PAGE),
    "people/<int:pk>/": Route(LOGIN, PAGE, _person),
    # Corrections (faces.change_person; a reader gets 403 after logging in).
    "people/<int:pk>/rename/": Route(LOGIN, POST_ONLY, _person),
    "people/<int:pk>/hide/": Route(LOGIN, POST_ONLY, _person),
    "people/<int:pk>/merge/": Route(LOGIN, POST_ONLY, _person),
    "people/<int:pk>/split/": Route(LOGIN, POST_ONLY, _person),
    "people/<int:pk>/corrections/<int:correction>/undo/": Route(
        LOGIN, POST_ONLY, lambda w: {"pk": w.person_id, "correction": 1}
    ),
    "appearances/<int:pk>/not-this-person/": Route(
        LOGIN, POST_ONLY, lambda w: {"pk": w.appearance_id}
    ),
    "appearances/<int:pk>/move/": Route(LOGIN, POST_ONLY, lambda w: {"pk": w.appearance_id}),
    "frames/<int:pk>/": Route(LOGIN, PAGE, _frame),
    # Search pages.
    "search/face/<int:face_id>/": Route(LOGIN, PAGE, _face),
    "search/photo/": Route(LOGIN, PAGE),
    "search/photo/<int:pk>/": Route(LOGIN, PAGE, _photo),
    "search/photo/<int:pk>/image/": Route(LOGIN, PAGE, _photo),
    "search/photo/<int:pk>/face/<int:index>/": Route(LOGIN, PAGE, _photo_face),
    "search/saved/": Route(LOGIN, PAGE),
    "search/saved/new/": Route(LOGIN, REDIRECT),
    "search/saved/<int:pk>/": Route(LOGIN, REDIRECT, _saved),
    "search/saved/<int:pk>/rename/": Route(LOGIN, PAGE, _saved),
    "search/saved/<int:pk>/delete/": Route(LOGIN, PAGE, _saved),
    "search/appearance/<int:appearance_id>/": Route(LOGIN, PAGE, _appearance),
    "search/person/<int:person_id>/": Route(LOGIN, PAGE, _person_id),
    "search/api/face/<int:face_id>/": Route(MOVED, MOVED, _face),
    "search/api/photo/<int:pk>/face/<int:index>/": Route(MOVED, MOVED, _photo_face),
    # The JSON API.
    "api/search/face/<int:face_id>/": Route(API_401, API, _face),
    "api/search/photo/<int:pk>/face/<int:index>/": Route(API_401, API, _photo_face),
    "api/search/appearance/<int:appearance_id>/": Route(API_401, API, _appearance),
    "api/movies/<int:movie_id>/appearances/": Route(API_401, API, _movie_id),
    "api/appearances/<int:appearance_id>/": Route(API_401, API, _appearance),
    "api/search/person/<int:person_id>/": Route(API_401, API, _person_id),
    "api/people/": Route(API_401, API),
    "api/people/<int:person_id>/": Route(API_401, API, _person_id),
    "api/people/<int:person_id>/corrections/": Route(API_401, API, _person_id),
    # Corrections take POST only (see "Corrections" below for the POSTs).
    "api/people/<int:person_id>/name/": Route(API_401, POST_ONLY, _person_id),
    "api/people/<int:person_id>/hidden/": Route(API_401, POST_ONLY, _person_id),
    "api/people/<int:person_id>/merge/": Route(API_401, POST_ONLY, _person_id),
    "api/people/<int:person_id>/split/": Route(API_401, POST_ONLY, _person_id),
    "api/appearances/<int:appearance_id>/not-this-person/": Route(API_401, POST_ONLY, _appearance),
    "api/corrections/<int:correction_id>/undo/": Route(
        API_401, POST_ONLY, lambda w: {"correction_id": 1}
    ),
    "api/": Route(API_401, API_404),  # any other path under /api/
}

# The pages an anonymous visitor may see: logging in, signing up, resetting a password.
ANONYMOUS_PAGES = {
    "accounts/signup/",
    "accounts/signup/pending/",
    "accounts/login/",
    "accounts/password_reset/",
    "accounts/password_reset/done/",
    "accounts/reset/<uidb64>/<token>/",
    "accounts/reset/done/",
    "admin/login/",
}

# Values for the parameters of admin URLs (any value of the right shape will do: the login
# check comes before the object is looked up).
ADMIN_PARAMS = {
    "object_id": "1",
    "id": "1",
    "content_type_id": "1",
    "app_label": "auth",
    "url": "anything/",
    "queue_index": "0",
    "scheduler_index": "0",
    "connection_index": "0",
    "job_id": "job",
    "result_id": "result",
    "key": "worker",
    "scheduler_name": "scheduler",
    "cron_job_name": "cron",
    "token": "token",
}


def admin_expectation(route: str) -> Route | None:
    """Every admin page is for staff only: others are sent to the admin's login page."""
    if not route.startswith("admin/"):
        return None
    if route == "admin/login/":
        return Route(PAGE, PAGE)
    if route == "admin/logout/":  # a GET goes back to the admin (and so to its login page)
        return Route(REDIRECT, REDIRECT)
    if route.startswith("admin/django_rq/dashboard/stats.json"):  # staff or an API token
        return Route(UNAUTHORIZED, UNAUTHORIZED, lambda world: ADMIN_PARAMS)
    return Route(ADMIN_LOGIN, ADMIN_LOGIN, lambda world: ADMIN_PARAMS)


def site_routes() -> list[str]:
    """Every route of the URL resolver, spelt as Django's ``ResolverMatch.route`` spells it."""
    routes: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            part = str(pattern.pattern)
            joined = prefix + (part[1:] if prefix and part.startswith("^") else part)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, joined)
            elif isinstance(pattern, URLPattern):
                routes.append(joined.lstrip("^"))

    walk(get_resolver().url_patterns, "")
    return list(dict.fromkeys(routes))


def expectation(route: str) -> Route | None:
    return ROUTES.get(route) or admin_expectation(route)


def example_path(route: str, values: dict) -> str:
    """A concrete path for ``route`` with ``values`` for its parameters."""
    path = re.sub(
        r"\(\?P<(\w+)>(?:\[[^\]]*\]|[^)])*\)\??", lambda m: str(values[m.group(1)]), route
    )
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: quote(str(values[m.group(1)])), path)
    path = path.replace("/?$", "/").replace("$", "").replace("^", "")
    return "/" + path


# --- The world --------------------------------------------------------------------------------


@pytest.fixture
def world(user, other_user) -> World:
    library = make_library(people={"anna": (2, 2), "ben": (1, 1)})
    anna, ben = library.first("anna"), library.first("ben")
    photo = make_query_photo(user, anna)
    bobs_photo = make_query_photo(other_user, ben)
    saved = SavedSearch.objects.create(owner=user, name="Anna", face=anna)
    SavedSearch.objects.create(owner=user, name="Photo", photo=photo, photo_face_index=0)
    bobs_saved = SavedSearch.objects.create(
        owner=other_user, name="Bob's", photo=bobs_photo, photo_face_index=0
    )
    anna_faces = list(Face.objects.filter(pk__in=library.faces["anna"][:2]))
    shot = make_shot(library.movie, 0, 0, anna_faces[-1].frame_index)
    appearance = make_appearance(shot, anna_faces)
    SavedSearch.objects.create(owner=user, name="Anna on screen", appearance=appearance)
    person = Person.objects.create(name="Anna")
    Appearance.objects.filter(pk=appearance.pk).update(person=person)
    # A real video file, so that the player's URL has bytes to serve.
    Movie.objects.filter(pk=library.movie.pk).update(source_path=str(HAMILTON_CLIP))
    return World(
        movie=library.movie,
        frame=anna.frame,
        face_id=anna.pk,
        other_face_id=ben.pk,
        photo=photo,
        saved=saved,
        bobs_photo=bobs_photo,
        bobs_saved=bobs_saved,
        appearance_id=appearance.pk,
        person_id=person.pk,
    )


def check(response, expected: str, path: str) -> None:
    status, location = response.status_code, response.get("Location", "")
    what = f"GET {path} answered {status} {location}"
    if expected == PAGE:
        assert status == 200, what
    elif expected == LOGIN:
        assert status == 302 and location.startswith(reverse("login") + "?next="), what
    elif expected == ADMIN_LOGIN:
        assert status == 302 and location.startswith(reverse("admin:login") + "?next="), what
    elif expected == API:
        assert status == 200 and response["Content-Type"] == "application/json", what
    elif expected == API_401:
        assert status == 401 and response.json()["error"], what
    elif expected == API_404:
        assert status == 404 and response.json()["error"], what
    elif expected == UNAUTHORIZED:
        assert status == 401, what
    elif expected == POST_ONLY:
        assert status == 405, what
    elif expected == REDIRECT:
        assert status == 302 and location.startswith("/") and "login" not in location, what
    elif expected == MOVED:
        assert status == 301 and location.startswith("/api/"), what
    else:
        raise AssertionError(f"unknown expectation {expected!r}")


# --- Every URL, per role ----------------------------------------------------------------------

ALL_ROUTES = site_routes()


def test_every_url_is_classified():
    missing = [route for route in ALL_ROUTES if expectation(route) is None]
    assert not missing, (
        "URLs without an expected behaviour: add them to ROUTES in tests/test_black_box.py: "
        + ", ".join(repr(route) for route in missing)
    )
    stale = sorted(set(ROUTES) - set(ALL_ROUTES))
    assert not stale, f"ROUTES names routes that no longer exist: {stale}"


def test_only_login_sign_up_and_password_reset_answer_anonymous_visitors():
    public = {
        route for route in ALL_ROUTES if (expectation(route) or Route("", "")).anonymous == PAGE
    }
    assert public == ANONYMOUS_PAGES


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_each_url_as_an_anonymous_visitor(client, world, route):
    expected = expectation(route)
    if expected is None:
        pytest.fail(f"{route!r} is not classified (see test_every_url_is_classified)")
    path = example_path(route, expected.params(world))
    check(client.get(path), expected.anonymous, path)


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_each_url_as_a_logged_in_user(client, user, world, route):
    expected = expectation(route)
    if expected is None:
        pytest.fail(f"{route!r} is not classified (see test_every_url_is_classified)")
    client.force_login(user)
    path = example_path(route, expected.params(world))
    check(client.get(path), expected.user, path)


# --- Somebody else's things -------------------------------------------------------------------


def bobs_urls(w: World) -> list[str]:
    photo, saved = w.bobs_photo.pk, w.bobs_saved.pk
    return [
        reverse("search:photo-faces", args=[photo]),
        reverse("search:photo-image", args=[photo]),
        reverse("search:photo-results", args=[photo, 0]),
        reverse("api:search:photo", args=[photo, 0]),
        reverse("search:saved-run", args=[saved]),
        reverse("search:saved-rename", args=[saved]),
        reverse("search:saved-delete", args=[saved]),
        "/media/" + w.bobs_photo.image.name,
    ]


@pytest.mark.parametrize("number", range(8))
def test_another_users_photo_and_saved_search_do_not_exist(client, user, world, number):
    url = bobs_urls(world)[number]
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 404, url


def test_another_users_saved_search_cannot_be_renamed_or_deleted(client, user, world):
    client.force_login(user)
    saved = world.bobs_saved.pk
    assert client.post(reverse("search:saved-delete", args=[saved])).status_code == 404
    rename = client.post(reverse("search:saved-rename", args=[saved]), {"name": "mine now"})
    assert rename.status_code == 404
    assert SavedSearch.objects.get(pk=saved).name == "Bob's"


def test_another_users_photo_cannot_be_saved_into_ones_own_search(client, user, world):
    client.force_login(user)
    client.post(
        reverse("search:saved-create"),
        {"name": "stolen", "photo": world.bobs_photo.pk, "photo_face_index": 0},
    )
    assert not SavedSearch.objects.filter(name="stolen").exists()


# --- Media paths ------------------------------------------------------------------------------

MEDIA_ATTACKS = [
    "/media/../config/settings.py",
    "/media/%2e%2e/config/settings.py",
    "/media/..%2fconfig%2fsettings.py",
    "/media/%252e%252e/config/settings.py",
    "/media/movies/1/frames/../../../../config/settings.py",
    "/media/movies/1/frames/..%2f..%2f..%2f..%2fconfig%2fsettings.py",
    "/media/movies%2f..%2f..%2fconfig%2fsettings.py",
    "/media/%2fetc%2fpasswd",
    "/media//etc/passwd",
    "/media/..\\config\\settings.py",
    "/media/movies\\1\\frames\\00000000.jpg",
    "/media/..%5cconfig%5csettings.py",
    "/media/movies/1/frames/00000000.jpg%00.txt",
    "/media/movies/1/frames/link.jpg",  # a symlink to a file outside MEDIA_ROOT
    "/media/movies/uploads/abc/film.mp4",  # uploaded videos are never served
]


@pytest.mark.parametrize("url", MEDIA_ATTACKS)
def test_media_paths_never_leave_the_shared_images(client, user, world, settings, url):
    root = Path(settings.MEDIA_ROOT)
    outside = root.parent / "config" / "settings.py"
    outside.parent.mkdir(exist_ok=True)
    outside.write_text("SECRET_KEY = 'leaked'")
    frames = root / "movies" / "1" / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    (frames / "link.jpg").symlink_to(outside)
    upload = root / "movies" / "uploads" / "abc" / "film.mp4"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"video")
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 404, url
    assert b"leaked" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_a_real_frame_image_is_served_to_a_user(client, user, world):
    client.force_login(user)
    response = client.get(world.frame.image.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


# --- Numbers: out of range, other scripts, exponents ------------------------------------------

HUGE = "9" * 30
ODD_NUMBERS = ["0", "-1", "²", "٣", "1e3", "0x10", " 7", "nan", "inf", HUGE, "abc", ""]

# What each filter makes of each odd value: 200 searches, 400 says the filter is wrong.
FILTER_STATUS = {
    "k": {"0": 400, "-1": 400, "²": 400, "1e3": 400, "0x10": 400, "nan": 400, "inf": 400,
          HUGE: 400, "abc": 400, "٣": 200, " 7": 200, "": 200},
    "min_score": {"0": 200, "-1": 200, "²": 400, "1e3": 400, "0x10": 400, "nan": 400,
                  "inf": 400, HUGE: 400, "abc": 400, "٣": 400, " 7": 400, "": 200},
    "movie": {"0": 400, "-1": 400, "²": 400, "1e3": 400, "0x10": 400, "nan": 400, "inf": 400,
              HUGE: 400, "abc": 400, "٣": 400, " 7": 400, "": 200},
}  # fmt: skip


def search_urls(w: World) -> list[str]:
    return [
        reverse("search:face", args=[w.face_id]),
        reverse("search:photo-results", args=[w.photo.pk, 0]),
        reverse("api:search:face", args=[w.face_id]),
        reverse("api:search:photo", args=[w.photo.pk, 0]),
    ]


@pytest.mark.parametrize("name", ["k", "min_score", "movie"])
@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_odd_filter_values_search_or_say_why_not(client, user, world, name, value):
    client.force_login(user)
    expected = FILTER_STATUS[name][value]
    for url in search_urls(world):
        response = client.get(f"{url}?{urlencode({name: value})}")
        assert response.status_code == expected, (url, name, value, response.status_code)
        if expected == 400 and url.startswith("/api/"):
            assert name in response.json()["fields"]


# A results page shows its last page's number in a message (404); the API says 400 for a page
# that is not a whole number from 1 and 404 past the end.
PAGE_STATUS = {
    "0": (404, 400), "-1": (404, 400), "²": (404, 400), "٣": (404, 400), "1e3": (404, 400),
    "0x10": (404, 400), " 7": (404, 400), "nan": (404, 400), "inf": (404, 400),
    HUGE: (404, 404), "abc": (404, 400), "": (200, 200),
}  # fmt: skip


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_odd_page_numbers_get_a_clear_answer(client, user, world, value):
    client.force_login(user)
    page_status, api_status = PAGE_STATUS[value]
    for url in search_urls(world):
        response = client.get(f"{url}?{urlencode({'page': value})}")
        expected = api_status if url.startswith("/api/") else page_status
        assert response.status_code == expected, (url, value, response.status_code)


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_odd_page_numbers_on_lists_show_a_page(client, user, world, value):
    client.force_login(user)
    for url in (reverse("movies:list"), reverse("movies:detail", args=[world.movie.pk])):
        response = client.get(f"{url}?{urlencode({'page': value})}")
        assert response.status_code == 200, (url, value)
    saved = client.get(f"{reverse('search:saved-list')}?{urlencode({'page': value})}")
    assert saved.status_code in (200, 404), value


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_odd_saved_parameter_is_ignored(client, user, world, value):
    client.force_login(user)
    url = f"{reverse('search:face', args=[world.face_id])}?{urlencode({'saved': value})}"
    response = client.get(url)
    assert response.status_code == 200
    assert "Saved search <strong>" not in response.content.decode()


ID_PATHS = [
    "/movies/{}/",
    "/frames/{}/",
    "/search/face/{}/",
    "/search/photo/{}/",
    "/search/photo/{}/image/",
    "/search/photo/{photo}/face/{}/",
    "/search/saved/{}/",
    "/search/saved/{}/rename/",
    "/search/saved/{}/delete/",
    "/api/search/face/{}/",
    "/api/search/photo/{photo}/face/{}/",
]


@pytest.mark.parametrize("template", ID_PATHS)
@pytest.mark.parametrize("value", ["0", HUGE, "-1", "²", "٣", "1e3"])
def test_ids_that_name_nothing_are_404(client, user, world, template, value):
    if value == "0" and "{photo}" in template:
        value = "1"  # face 0 of alice's photo exists: face 1 does not
    client.force_login(user)
    url = template.format(quote(value), photo=world.photo.pk)
    response = client.get(url)
    assert response.status_code == 404, url
    if url.startswith("/api/"):
        assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "ids", ["²", "1,²", "٣", HUGE, f"1,{HUGE}", "-1", "1e3", ",,,", "x" * 5000]
)
def test_the_admin_progress_view_takes_any_ids(staff_client, world, ids):
    response = staff_client.get(
        reverse("admin:movies_movie_progress") + "?" + urlencode({"ids": ids})
    )
    assert response.status_code == 200
    assert isinstance(response.json()["movies"], list)


@pytest.mark.parametrize(
    "back", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example",
             "javascript:alert(1)", "http:/evil.example", "https:evil.example"]
)  # fmt: skip
def test_a_failed_save_never_sends_the_user_off_the_site(client, user, world, back):
    client.force_login(user)
    response = client.post(
        reverse("search:saved-create"), {"name": " ", "face": world.face_id, "next": back}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("search:saved-list")


# --- Overlong names ---------------------------------------------------------------------------


def test_overlong_names_are_form_errors(client, user, world):
    client.force_login(user)
    response = client.post(
        reverse("search:saved-create"), {"name": "n" * 500, "face": world.face_id}, follow=True
    )
    assert response.status_code == 200
    assert "Ensure this value has at most 120 characters" in response.content.decode()
    assert not SavedSearch.objects.filter(name__startswith="nnnn").exists()
    rename = client.post(reverse("search:saved-rename", args=[world.saved.pk]), {"name": "n" * 500})
    assert rename.status_code == 200
    assert "Ensure this value has at most 120 characters" in rename.content.decode()
    long = "x" * 300
    for url, data in (
        (reverse("signup"), {"username": long, "email": long + "@x.example", "password1": long,
                             "password2": long}),
        (reverse("password_reset"), {"email": long + "@x.example"}),
    ):  # fmt: skip
        response = Client().post(url, data)
        assert response.status_code == 200, url
        assert "Ensure this value has at most" in response.content.decode(), url
    login = Client().post(reverse("login"), {"username": long, "password": long})
    assert login.status_code == 200
    assert "Please enter a correct username and password" in login.content.decode()


def test_an_overlong_upload_name_is_cut_to_fit(staff_client, world):
    """Django shortens uploaded file names to 255 characters, keeping the extension."""
    video = SimpleUploadedFile("v" * 300 + ".mp4", b"\x00" * 100, "video/mp4")
    response = staff_client.post(
        reverse("admin:movies_movie_add"),
        {"upload": video, "sample_every": 25, "embedder": "dlib-resnet"},
    )
    assert response.status_code == 302
    movie = Movie.objects.exclude(pk=world.movie.pk).get()
    assert len(movie.file_name) == 255 and movie.file_name.endswith(".mp4")
    assert len(movie.title) <= 255


# --- Uploads ----------------------------------------------------------------------------------

POSTSCRIPT = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n%%EndComments\nshowpage\n%%EOF\n"


def upload_photo(client, name: str, data: bytes):
    return client.post(reverse("search:photo"), {"photo": SimpleUploadedFile(name, data)})


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("photo.jpg", POSTSCRIPT, "not an image we can read"),
        ("photo.jpg", image_bytes(64, 64)[:200], "not an image we can read"),
        ("photo.png", image_bytes(64, 64, image_format="PNG")[:-30], "not an image we can read"),
        ("bomb.png", image_bytes(12_000, 12_000, image_format="PNG"), "photos may have at most"),
        ("photo.gif", image_bytes(64, 64, image_format="GIF"), "please upload a JPEG, PNG"),
        ("notes.jpg", b"<html><script>alert(1)</script></html>", "not an image we can read"),
    ],
    ids=["postscript-named-jpg", "truncated-jpeg", "truncated-png", "bomb", "gif", "html"],
)
# The bomb's header claims more pixels than Pillow likes: it warns, then the app refuses it.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_disguised_and_broken_photos_are_form_errors(client, user, name, data, message):
    client.force_login(user)
    response = upload_photo(client, name, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not QueryPhoto.objects.exists()


def test_an_oversized_photo_is_refused_while_it_streams(client, user, settings):
    settings.FACEFINDER_MAX_PHOTO_BYTES = 10_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client.force_login(user)
    response = upload_photo(client, "big.jpg", b"\xff" * 50_000)
    assert response.status_code == 413


def test_photo_searches_are_rate_limited(client, user, settings):
    settings.FACEFINDER_PHOTO_SEARCHES_PER_HOUR = 3
    client.force_login(user)
    statuses = [upload_photo(client, "x.jpg", b"not an image").status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 429, 429]


# --- Corrections of people -------------------------------------------------------------------


def correction_posts(w: World, ben: Person) -> list[tuple[str, dict]]:
    """Every correction POST of the API, with a body that a permitted user may send."""
    person = w.person_id
    correction = Correction.objects.create(
        action=Correction.Action.NAME, person_id=person, summary="named", before={"name": ""}
    )
    return [
        (reverse("api:faces:person-name", args=[person]), {"name": "Mallory"}),
        (reverse("api:faces:person-hidden", args=[person]), {"hidden": "true"}),
        (reverse("api:faces:person-merge", args=[person]), {"other": ben.pk}),
        (reverse("api:faces:person-split", args=[person]), {"appearances": w.appearance_id}),
        (reverse("api:faces:appearance-not-this-person", args=[w.appearance_id]), {}),
        (reverse("api:faces:correction-undo", args=[correction.pk]), {}),
    ]


def people_state() -> list[tuple]:
    return sorted(Person.objects.values_list("pk", "name", "hidden", "merged_into_id")) + sorted(
        Appearance.objects.values_list("pk", "person_id")
    )


@pytest.fixture
def ben() -> Person:
    return Person.objects.create()  # unnamed: Anna may take them in without choosing a name


@pytest.mark.parametrize("number", range(6))
def test_a_reader_cannot_correct_anyone(client, user, world, ben, number):
    url, body = correction_posts(world, ben)[number]
    before, corrections = people_state(), Correction.objects.count()
    client.force_login(user)
    response = client.post(url, body)
    assert response.status_code == 403, url
    assert "faces.change_person" in response.json()["error"]
    assert people_state() == before and Correction.objects.count() == corrections


@pytest.mark.parametrize("number", range(6))
def test_an_anonymous_visitor_cannot_correct_anyone(client, world, ben, number):
    url, body = correction_posts(world, ben)[number]
    before = people_state()
    response = client.post(url, body)
    assert response.status_code == 401 and response.json()["error"], url
    assert people_state() == before


def _corrector(django_user_model):
    user = django_user_model.objects.create_user("carol", password="x-long-pass-42")
    user.user_permissions.add(Permission.objects.get(codename="change_person"))
    return user


@pytest.mark.parametrize("number", range(6))
def test_a_correction_without_the_csrf_token_is_refused(django_user_model, world, ben, number):
    url, body = correction_posts(world, ben)[number]
    before = people_state()
    client = Client(enforce_csrf_checks=True)
    client.force_login(_corrector(django_user_model))
    for response in (
        client.post(url, body),
        client.post(url, json.dumps(body), content_type="application/json"),
    ):
        assert response.status_code == 403, url
        assert "CSRF check failed" in response.json()["error"]
    assert people_state() == before


@pytest.mark.parametrize("number", range(6))
def test_a_permitted_user_with_the_token_corrects(django_user_model, world, ben, number):
    url, body = correction_posts(world, ben)[number]
    client = Client(enforce_csrf_checks=True)
    client.force_login(_corrector(django_user_model))
    client.get(reverse("movies:list"))  # the site's pages set the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(url, body, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, (url, response.content)
    correction = response.json()["correction"]
    assert "carol" in (correction["user"], correction["undone_by"])


# --- Accounts ---------------------------------------------------------------------------------


def test_thirty_wrong_passwords_are_not_thirty_guesses(client, user, password):
    statuses = [
        client.post(reverse("login"), {"username": "alice", "password": f"guess-{n}"}).status_code
        for n in range(30)
    ]
    assert statuses[:4] == [200] * 4
    assert set(statuses[4:]) == {429}
    response = client.post(reverse("login"), {"username": "alice", "password": password})
    assert response.status_code == 429
    assert "Try again in 15 minutes" in response.content.decode()


def test_a_sign_up_cannot_see_the_films_until_approved(client):
    client.post(
        reverse("signup"),
        {"username": "mallory", "email": "m@example.com", "password1": "correct-horse-battery-9",
         "password2": "correct-horse-battery-9"},
    )  # fmt: skip
    client.post(reverse("login"), {"username": "mallory", "password": "correct-horse-battery-9"})
    assert client.get(reverse("movies:list")).status_code == 302
    assert client.get(reverse("api:search:face", args=[1])).status_code == 401


def test_a_view_only_staff_member_cannot_run_ingest_actions(client, django_user_model, world):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_movie"))
    client.force_login(viewer)
    Movie.objects.filter(pk=world.movie.pk).update(status=Movie.Status.DONE)
    for action in ("ingest", "reingest_from_scratch", "cancel"):
        client.post(
            reverse("admin:movies_movie_changelist"),
            {"action": action, "_selected_action": [world.movie.pk]},
        )
        world.movie.refresh_from_db()
        assert world.movie.status == Movie.Status.DONE, action
        assert world.movie.frames.exists()


def test_an_ordinary_user_never_reaches_the_admin_even_by_posting(client, user, world):
    client.force_login(user)
    response = client.post(
        reverse("admin:movies_movie_changelist"),
        {"action": "reingest_from_scratch", "_selected_action": [world.movie.pk]},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert world.movie.frames.exists()


def test_a_site_form_without_the_csrf_token_still_gets_djangos_page(django_user_model, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(_corrector(django_user_model))
    response = client.post(reverse("search:saved-create"), {"name": "x", "face": world.face_id})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html") and b"CSRF" in response.content
    assert not SavedSearch.objects.filter(name="x").exists()
