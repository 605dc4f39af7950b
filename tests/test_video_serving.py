"""``/movies/<id>/video/``: the movie's file for the player, by id, to logged-in users, with
byte ranges (movies/ranges.py lists the choices the RFC leaves open) or, behind nginx, an
X-Accel-Redirect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.http import http_date

from movies.models import Movie
from tests.factories import make_movie

pytestmark = pytest.mark.django_db

SIZE = 10_000
DATA = (bytes(range(256)) * 40)[:SIZE]


@pytest.fixture
def import_folder(tmp_path, settings) -> Path:
    folder = tmp_path / "films"
    folder.mkdir()
    settings.FACEFINDER_IMPORT_DIRS = [str(folder)]
    return folder


@pytest.fixture
def movie(import_folder) -> Movie:
    """A movie added by server path: an MP4 (as probed) of SIZE known bytes."""
    path = import_folder / "sub dir" / "film.mp4"
    path.parent.mkdir()
    path.write_bytes(DATA)
    return make_movie(
        "Film", source_path=str(path), container="mp4", video_codec="h264", audio_codec="aac"
    )


@pytest.fixture
def uploaded(settings) -> Movie:
    name = "movies/uploads/0123abcd/film one.webm"
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True)
    path.write_bytes(DATA)
    return make_movie("Upload", upload=name, container="webm", video_codec="vp9")


def video_url(movie: Movie) -> str:
    return reverse("movies:video", args=[movie.pk])


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def test_the_url_names_the_movie_by_id(movie):
    assert video_url(movie) == f"/movies/{movie.pk}/video/"


# --- login, methods, ids ---------------------------------------------------------------------


@pytest.mark.parametrize("serving", ["django", "x-accel"])
def test_anonymous_visitors_are_sent_to_log_in(client, movie, settings, serving):
    settings.FACEFINDER_MEDIA_SERVING = serving
    settings.FACEFINDER_IMPORT_INTERNAL_PREFIXES = {
        settings.FACEFINDER_IMPORT_DIRS[0]: "/protected-import/films/"
    }
    response = client.get(video_url(movie), headers={"range": "bytes=0-9"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "X-Accel-Redirect" not in response
    assert not getattr(response, "streaming", False)


def test_an_unknown_movie_is_404(user_client):
    assert user_client.get("/movies/999999/video/").status_code == 404


def test_writes_are_refused(user_client, movie):
    assert user_client.post(video_url(movie)).status_code == 405
    assert user_client.put(video_url(movie)).status_code == 405


# --- whole file, validators, HEAD -----------------------------------------------------------


def test_the_whole_file_says_that_ranges_are_accepted(user_client, movie):
    response = user_client.get(video_url(movie))
    assert response.status_code == 200
    assert body(response) == DATA
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(SIZE)
    assert response["Content-Type"] == "video/mp4"
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"] == http_date(int(Path(movie.source_path).stat().st_mtime))
    assert "private" in response["Cache-Control"]


def test_head_answers_like_get_without_a_body_and_ignores_range(user_client, movie):
    response = user_client.head(video_url(movie), headers={"range": "bytes=0-9"})
    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert "Content-Range" not in response
    assert body(response) == b""


def test_conditional_requests(user_client, movie):
    first = user_client.get(video_url(movie))
    etag, last_modified = first["ETag"], first["Last-Modified"]
    not_modified = user_client.get(video_url(movie), headers={"if-none-match": etag})
    assert not_modified.status_code == 304
    assert body(not_modified) == b""
    by_date = user_client.get(video_url(movie), headers={"if-modified-since": last_modified})
    assert by_date.status_code == 304
    assert user_client.get(video_url(movie), headers={"if-match": '"other"'}).status_code == 412


@pytest.mark.parametrize(
    ("if_range", "status"),
    [("{etag}", 206), ("{last_modified}", 206), ('"stale-tag"', 200), ("W/{etag}", 200)],
)
def test_if_range_applies_the_range_only_to_the_same_file(user_client, movie, if_range, status):
    first = user_client.get(video_url(movie))
    value = if_range.format(etag=first["ETag"], last_modified=first["Last-Modified"])
    headers = {"range": "bytes=0-9", "if-range": value}
    response = user_client.get(video_url(movie), headers=headers)
    assert response.status_code == status
    assert body(response) == (DATA[:10] if status == 206 else DATA)


def test_a_changed_file_gets_new_validators(user_client, movie):
    etag = user_client.get(video_url(movie))["ETag"]
    path = Path(movie.source_path)
    path.write_bytes(DATA + b"more")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    again = user_client.get(video_url(movie), headers={"if-none-match": etag})
    assert again.status_code == 200
    assert again["ETag"] != etag


# --- ranges ----------------------------------------------------------------------------------

PARTIAL = [
    ("bytes=0-0", 0, 0),  # the first byte
    ("bytes=0-499", 0, 499),  # the first bytes
    ("bytes=-500", SIZE - 500, SIZE - 1),  # a suffix: the last 500 bytes
    ("bytes=9000-", 9000, SIZE - 1),  # an open range
    ("bytes=0-", 0, SIZE - 1),
    ("bytes=9990-20000", 9990, SIZE - 1),  # a last position past the end is clipped
    ("bytes=-20000", 0, SIZE - 1),  # a suffix longer than the file is the file
    ("Bytes=10-19", 10, 19),  # the unit is case-insensitive
    ("bytes= 10-19 ", 10, 19),  # spaces around list elements
    ("bytes=10-19,,", 10, 19),  # empty list elements are ignored
    ("bytes=000010-000019", 10, 19),
]


@pytest.mark.parametrize(("header", "first", "last"), PARTIAL)
def test_a_satisfiable_range_is_206_with_its_bytes(user_client, movie, header, first, last):
    response = user_client.get(video_url(movie), headers={"range": header})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"
    assert response["ETag"].startswith('"')
    assert body(response) == DATA[first : last + 1]


@pytest.mark.parametrize(
    "header",
    [
        "bytes=10000-",  # starts at the end
        "bytes=10000-10010",
        "bytes=-0",  # an empty suffix
        "bytes=20000-,30000-",  # several, none within the file
        "bytes=abc",  # malformed: rejected rather than ignored (RFC 9110 14.2 allows either)
        "bytes=5-1",  # ends before it starts
        "bytes=",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=0-9,junk",
        "bytes=\uff11-\uff12",  # digits, but not ASCII ones (fullwidth 1 and 2)
        "garbage",
    ],
)
def test_an_unsatisfiable_or_malformed_range_is_416(user_client, movie, header):
    response = user_client.get(video_url(movie), headers={"range": header})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert body(response) == b""


@pytest.mark.parametrize("header", ["bytes=0-9,20-29", "bytes=-5,0-1", "bytes=0-9,20000-"])
def test_several_ranges_get_the_whole_file(user_client, movie, header):
    response = user_client.get(video_url(movie), headers={"range": header})
    assert response.status_code == 200
    assert "Content-Range" not in response
    assert body(response) == DATA


def test_another_range_unit_is_ignored(user_client, movie):
    response = user_client.get(video_url(movie), headers={"range": "items=0-9"})
    assert response.status_code == 200
    assert body(response) == DATA


# --- the file and its type -------------------------------------------------------------------


def test_an_upload_is_served_with_the_type_of_its_container(user_client, uploaded):
    response = user_client.get(video_url(uploaded), headers={"range": "bytes=-4"})
    assert response.status_code == 206
    assert response["Content-Type"] == "video/webm"
    assert body(response) == DATA[-4:]


def test_a_movie_not_probed_yet_gets_the_type_of_its_file_name(user_client, movie):
    Movie.objects.filter(pk=movie.pk).update(container="", video_codec="", audio_codec="")
    assert user_client.get(video_url(movie))["Content-Type"] == "video/mp4"


def test_a_gone_file_is_404_without_its_path(user_client, movie, settings):
    Path(movie.source_path).unlink()
    settings.DEBUG = True  # even the debug page must not show the server path
    response = user_client.get(video_url(movie))
    assert response.status_code == 404
    assert b"sub dir" not in response.content and b"film.mp4" not in response.content


def test_a_movie_without_any_file_is_404(user_client):
    assert user_client.get(video_url(make_movie("Nothing"))).status_code == 404


def test_an_upload_linking_out_of_media_root_is_404(user_client, settings, tmp_path):
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"leaked")
    link = Path(settings.MEDIA_ROOT) / "movies" / "uploads" / "x" / "film.mp4"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    movie = make_movie("Link", upload="movies/uploads/x/film.mp4", container="mp4")
    response = user_client.get(video_url(movie))
    assert response.status_code == 404
    assert b"leaked" not in body(response)


# --- behind nginx ----------------------------------------------------------------------------


@pytest.fixture
def x_accel(settings, import_folder):
    settings.FACEFINDER_MEDIA_SERVING = "x-accel"
    settings.FACEFINDER_IMPORT_INTERNAL_PREFIXES = {str(import_folder): "/protected-import/films"}
    return settings


def test_x_accel_hands_an_import_folder_file_to_its_internal_location(user_client, movie, x_accel):
    response = user_client.get(video_url(movie), headers={"range": "bytes=0-9"})
    assert response.status_code == 200  # nginx answers the range from the internal location
    assert response["X-Accel-Redirect"] == "/protected-import/films/sub%20dir/film.mp4"
    assert body(response) == b""
    assert response["Content-Type"] == "video/mp4"
    assert "private" in response["Cache-Control"]
    # nginx keeps an upstream Accept-Ranges over its own: the app leaves it to nginx.
    assert "Accept-Ranges" not in response


def test_x_accel_hands_an_upload_to_the_media_location(user_client, uploaded, x_accel):
    x_accel.FACEFINDER_MEDIA_INTERNAL_PREFIX = "/protected-media/"
    response = user_client.get(video_url(uploaded))
    assert response["X-Accel-Redirect"] == (
        "/protected-media/movies/uploads/0123abcd/film%20one.webm"
    )
    assert response["Content-Type"] == "video/webm"


def test_x_accel_uses_the_innermost_import_folder(user_client, movie, x_accel, import_folder):
    inner = import_folder / "sub dir"
    x_accel.FACEFINDER_IMPORT_DIRS = [str(import_folder), str(inner)]
    x_accel.FACEFINDER_IMPORT_INTERNAL_PREFIXES = {
        str(import_folder): "/protected-import/films/",
        str(inner): "/protected-import/inner/",
    }
    response = user_client.get(video_url(movie))
    assert response["X-Accel-Redirect"] == "/protected-import/inner/film.mp4"


def test_x_accel_without_a_location_for_the_folder_is_404_and_a_startup_warning(
    user_client, movie, x_accel, import_folder
):
    x_accel.FACEFINDER_IMPORT_INTERNAL_PREFIXES = {}
    response = user_client.get(video_url(movie))
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response
    from movies.checks import check_video_locations

    warnings = check_video_locations()
    assert [warning.id for warning in warnings] == ["movies.W001"]
    assert str(import_folder) in warnings[0].msg


def test_x_accel_refuses_a_file_outside_every_import_folder(user_client, x_accel, tmp_path):
    path = tmp_path / "elsewhere.mp4"
    path.write_bytes(DATA)
    movie = make_movie("Elsewhere", source_path=str(path), container="mp4")
    assert user_client.get(video_url(movie)).status_code == 404


def test_x_accel_still_404s_a_gone_file(user_client, movie, x_accel):
    Path(movie.source_path).unlink()
    response = user_client.get(video_url(movie))
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response


def test_no_warning_when_every_folder_is_mapped_or_nginx_is_not_used(movie, x_accel):
    from movies.checks import check_video_locations

    assert check_video_locations() == []
    x_accel.FACEFINDER_MEDIA_SERVING = "django"
    x_accel.FACEFINDER_IMPORT_INTERNAL_PREFIXES = {}
    assert check_video_locations() == []
    call_command("check")  # the check is registered and passes
