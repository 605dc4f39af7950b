"""Media is private: every file under MEDIA_URL needs a login, and nothing outside MEDIA_ROOT
can be reached through it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils.http import http_date

pytestmark = pytest.mark.django_db

JPEG_BYTES = b"\xff\xd8\xff\xe0" + b"not really a jpeg but served as one" + b"\xff\xd9"


@pytest.fixture
def stored_file(settings) -> Path:
    path = Path(settings.MEDIA_ROOT) / "movies" / "7" / "frames" / "00000025.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(JPEG_BYTES)
    return path


URL = "/media/movies/7/frames/00000025.jpg"


def test_media_url_is_what_storage_hands_out():
    from django.core.files.storage import default_storage

    assert default_storage.url("movies/7/frames/00000025.jpg") == URL
    assert reverse("media", args=["movies/7/frames/00000025.jpg"]) == URL


@pytest.mark.parametrize("serving", ["django", "x-accel"])
def test_anonymous_users_are_sent_to_login(client, stored_file, settings, serving):
    settings.FACEFINDER_MEDIA_SERVING = serving
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "X-Accel-Redirect" not in response
    assert not getattr(response, "streaming", False)


def test_anonymous_users_get_nothing_even_in_debug(client, stored_file, settings):
    settings.DEBUG = True
    assert client.get(URL).status_code == 302


def test_logged_in_user_gets_the_file_with_private_cache_headers(user_client, stored_file):
    response = user_client.get(URL)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == JPEG_BYTES
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Length"] == str(len(JPEG_BYTES))
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert "private" in cache_control
    assert f"max-age={django_settings.FACEFINDER_MEDIA_MAX_AGE}" in cache_control
    assert "public" not in cache_control
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"] == http_date(int(stored_file.stat().st_mtime))


def test_conditional_requests_get_304(user_client, stored_file):
    first = user_client.get(URL)
    etag, last_modified = first["ETag"], first["Last-Modified"]
    again = user_client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert "private" in again["Cache-Control"]
    by_date = user_client.get(URL, HTTP_IF_MODIFIED_SINCE=last_modified)
    assert by_date.status_code == 304
    # A changed file gets a new validator and is sent again.
    os.utime(
        stored_file, ns=(stored_file.stat().st_atime_ns, stored_file.stat().st_mtime_ns + 10**9)
    )
    stored_file.write_bytes(JPEG_BYTES + b"x")
    changed = user_client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_head_works_and_writes_are_refused(user_client, stored_file):
    assert user_client.head(URL).status_code == 200
    assert user_client.post(URL).status_code == 405
    assert user_client.delete(URL).status_code == 405
    assert stored_file.exists()


def test_missing_file_is_404(user_client, stored_file):
    assert user_client.get("/media/movies/7/frames/00000030.jpg").status_code == 404
    assert user_client.get("/media/movies/7/frames/").status_code == 404  # a folder
    assert user_client.get("/media/").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/media/../config/settings.py",
        "/media/../../etc/passwd",
        "/media/%2e%2e/config/settings.py",
        "/media/%2E%2E/%2E%2E/etc/passwd",
        "/media/..%2fconfig%2fsettings.py",
        "/media/movies/../../config/settings.py",
        "/media/movies/7/frames/../../../../config/settings.py",
        "/media//etc/passwd",
        "/media/%2fetc%2fpasswd",
        "/media/..%5cconfig%5csettings.py",
        "/media/movies/7/frames/00000025.jpg%00.txt",
        "/media/./movies/7/frames/00000025.jpg",
    ],
)
def test_path_traversal_is_impossible(user_client, stored_file, settings, url):
    # A file that exists just outside MEDIA_ROOT, as the target of the attempts.
    outside = Path(settings.MEDIA_ROOT).parent / "config" / "settings.py"
    outside.parent.mkdir(exist_ok=True)
    outside.write_text("SECRET_KEY = 'leaked'")
    for serving in ("django", "x-accel"):
        settings.FACEFINDER_MEDIA_SERVING = serving
        response = user_client.get(url)
        assert response.status_code == 404, (serving, url)
        assert "X-Accel-Redirect" not in response
        assert b"leaked" not in response.content


def test_symlink_out_of_media_root_is_refused(user_client, settings, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("leaked")
    link = Path(settings.MEDIA_ROOT) / "innocent.jpg"
    link.symlink_to(secret)
    assert user_client.get("/media/innocent.jpg").status_code == 404


def test_x_accel_mode_hands_the_file_to_nginx(user_client, stored_file, settings):
    settings.FACEFINDER_MEDIA_SERVING = "x-accel"
    settings.FACEFINDER_MEDIA_INTERNAL_PREFIX = "/protected-media/"
    response = user_client.get(URL)
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == "/protected-media/movies/7/frames/00000025.jpg"
    assert response.content == b""  # nginx sends the bytes, not Django
    assert response["Content-Type"] == "image/jpeg"
    assert "private" in response["Cache-Control"]
    settings.FACEFINDER_MEDIA_INTERNAL_PREFIX = "/internal"  # without the trailing slash
    assert user_client.get(URL)["X-Accel-Redirect"] == "/internal/movies/7/frames/00000025.jpg"


def test_x_accel_mode_still_404s_missing_files(user_client, settings):
    settings.FACEFINDER_MEDIA_SERVING = "x-accel"
    response = user_client.get("/media/movies/1/frames/00000000.jpg")
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response


def test_names_with_spaces_are_quoted_for_nginx(user_client, settings):
    settings.FACEFINDER_MEDIA_SERVING = "x-accel"
    path = Path(settings.MEDIA_ROOT) / "movies" / "3" / "faces" / "my photo.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(JPEG_BYTES)
    response = user_client.get("/media/movies/3/faces/my%20photo.jpg")
    assert response["X-Accel-Redirect"] == "/protected-media/movies/3/faces/my%20photo.jpg"


@pytest.mark.parametrize(
    "name",
    ["movies/uploads/abc/film.mp4", "search/photos/1/0f.jpg", "movies/7/other/x.jpg", "x.jpg"],
)
def test_only_ingest_images_are_served_by_the_generic_view(user_client, settings, name):
    path = Path(settings.MEDIA_ROOT) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(JPEG_BYTES)
    assert user_client.get("/media/" + name).status_code == 404
