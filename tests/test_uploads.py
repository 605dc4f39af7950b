"""Request bodies past their view's limit are refused while they stream in (config/uploads.py):
nothing of them reaches a temporary file, and the page names the limit."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.test import RequestFactory
from django.urls import reverse

from config.uploads import BodyLimitHandler
from movies.models import Movie
from search.models import QueryPhoto

pytestmark = pytest.mark.django_db


@pytest.fixture
def to_disk(settings, monkeypatch):
    """Every upload goes to a temporary file (no in-memory ones); records each chunk written."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    written: list[int] = []
    original = TemporaryFileUploadHandler.receive_data_chunk

    def receive(self, raw_data, start):
        written.append(len(raw_data))
        return original(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", receive)
    return written


def test_a_photo_over_its_limit_is_refused_before_it_is_written_anywhere(
    user_client, settings, to_disk
):
    settings.FACEFINDER_MAX_PHOTO_BYTES = 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    big = SimpleUploadedFile("big.jpg", b"\xff" * 20_000, "image/jpeg")
    response = user_client.post(reverse("search:photo"), {"photo": big})
    assert response.status_code == 413
    content = response.content.decode()
    assert "This upload is too large" in content
    assert "This page accepts files of at most 1.0\xa0KB" in content
    assert to_disk == []
    assert not QueryPhoto.objects.exists()


def test_a_photo_within_its_limit_reaches_the_form(user_client, settings, to_disk):
    settings.FACEFINDER_MAX_PHOTO_BYTES = 30_000
    small = SimpleUploadedFile("notes.jpg", b"not an image", "image/jpeg")
    response = user_client.post(reverse("search:photo"), {"photo": small})
    assert response.status_code == 400
    assert "not an image we can read" in response.content.decode()
    assert sum(to_disk) == len(b"not an image")


def test_a_movie_over_the_upload_limit_is_refused_with_a_pointer_to_server_paths(
    staff_client, settings, to_disk
):
    settings.FACEFINDER_MAX_UPLOAD_BYTES = 10_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    video = SimpleUploadedFile("film.mp4", b"\x00" * 50_000, "video/mp4")
    response = staff_client.post(
        reverse("admin:movies_movie_add"),
        {"upload": video, "sample_every": 25, "embedder": "dlib-resnet"},
    )
    assert response.status_code == 413
    assert "Large movies are better added by server path" in response.content.decode()
    assert to_disk == []
    assert not Movie.objects.exists()


def test_the_add_form_says_that_large_movies_are_better_added_by_server_path(staff_client):
    page = staff_client.get(reverse("admin:movies_movie_add")).content.decode()
    assert "Large movies are better added by server path" in page


def test_other_pages_keep_the_small_limit_for_files_too(user_client, settings, to_disk):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    stray = SimpleUploadedFile("stray.bin", b"\x00" * 20_000)
    response = user_client.post(reverse("search:saved-create"), {"name": "x", "file": stray})
    assert response.status_code == 413
    assert "This page accepts at most 4.0\xa0KB of form data" in response.content.decode()
    assert to_disk == []


def test_a_body_that_grows_past_its_declared_length_is_cut_off():
    """The declared length is the client's claim; the handler counts what really arrives."""
    request = RequestFactory().post("/")
    handler = BodyLimitHandler(request, limit=100)
    assert handler.handle_raw_input(None, {}, 50, b"boundary") is None
    assert handler.receive_data_chunk(b"x" * 60, 0) == b"x" * 60
    with pytest.raises(StopUpload) as stopped:
        handler.receive_data_chunk(b"x" * 60, 60)
    assert stopped.value.connection_reset
    assert handler.refused_size == 120
