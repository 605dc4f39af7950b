"""Photo uploads as an attacker sends them: files that are not what their name says, corrupt
ones, crowds of faces, too many searches and too many kept photos. Every one is a form error or
a page that says what to do, never a 500.

The networks are replaced by a counting stand-in where only the mechanics are tested (how many
faces reach the embedder); tests/test_pages_search.py runs the real ones.
"""

from __future__ import annotations

import io
import struct
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import EpsImagePlugin, Image

from faces.detection import Detection
from search.models import QueryPhoto, SavedSearch
from tests.factories import image_bytes, make_library, make_query_photo, random_unit

pytestmark = pytest.mark.django_db

# A real (tiny) Encapsulated PostScript file: Pillow's EPS plugin would hand it to Ghostscript.
POSTSCRIPT = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n%%EndComments\n"
    b"newpath 0 0 moveto 16 16 lineto stroke\nshowpage\n%%EOF\n"
)


def upload(client, name: str, data: bytes, content_type: str = "image/jpeg"):
    return client.post(
        reverse("search:photo"), {"photo": SimpleUploadedFile(name, data, content_type)}
    )


def test_a_postscript_file_named_jpg_is_refused_before_any_decoder_sees_it(
    user_client, monkeypatch
):
    with Image.open(io.BytesIO(POSTSCRIPT)) as unrestricted:
        assert unrestricted.format == "EPS"  # what Pillow would do with it, left to itself

    def must_not_open(self):
        raise AssertionError("the EPS plugin was asked to open an upload")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", must_not_open)
    response = upload(user_client, "holiday.jpg", POSTSCRIPT)
    assert response.status_code == 400
    assert "not an image we can read" in response.content.decode()
    assert not QueryPhoto.objects.exists()


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF"])
def test_formats_other_than_jpeg_png_and_webp_are_refused(user_client, image_format):
    data = image_bytes(64, 64, image_format=image_format)
    response = upload(user_client, "photo.jpg", data)
    assert response.status_code == 400
    assert "please upload a JPEG, PNG or WebP photo" in response.content.decode()


def test_a_corrupt_png_is_a_form_error(user_client):
    data = bytearray(image_bytes(64, 64, image_format="PNG"))
    data[33 + 8 : 33 + 12] = b"\xff\xff\xff\xff"  # the length of the chunk after the header
    response = upload(user_client, "photo.png", bytes(data), "image/png")
    assert response.status_code == 400
    assert "not an image we can read" in response.content.decode()


@pytest.mark.parametrize("error", [EOFError(), struct.error("unpack requires a buffer"), OSError()])
def test_every_decoding_error_is_a_form_error(user_client, monkeypatch, error):
    """What Pillow's decoders raise on damaged data, wherever it comes from."""

    def damaged(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(Image.Image, "convert", damaged)
    response = upload(user_client, "photo.jpg", image_bytes(64, 64))
    assert response.status_code == 400
    assert "not an image we can read" in response.content.decode()


# --- A crowd of faces -------------------------------------------------------------------------


class CountingEmbedder:
    """Stands in for the embedder: counts the faces it is given, returns unit vectors."""

    dimension = 128
    thread_safe = False

    def __init__(self) -> None:
        self.embedded = 0

    def embed_many(self, items) -> np.ndarray:
        count = sum(len(faces) for _image, faces in items)
        self.embedded += count
        rng = np.random.default_rng(count)
        return np.stack([random_unit(rng) for _ in range(count)]) if count else np.empty((0, 128))


def crowd(count: int) -> list[Detection]:
    """``count`` faces in a row, face ``i`` ``20 + i`` pixels wide."""
    faces, x = [], 0.0
    for i in range(count):
        side = 20.0 + i
        faces.append(Detection((x, 10.0, x + side, 10.0 + side), 0.999, [[0.0, 0.0]] * 5))
        x += side + 2
    return faces


def test_a_crowded_photo_has_only_its_largest_faces_embedded_and_says_so(
    user_client, settings, monkeypatch
):
    settings.FACEFINDER_MAX_PHOTO_FACES = 20
    embedder = CountingEmbedder()
    monkeypatch.setattr("faces.pipeline.get_embedder", lambda name: embedder)
    monkeypatch.setattr("faces.pipeline.detect_faces", lambda image, **kwargs: crowd(30))
    response = upload(user_client, "crowd.jpg", image_bytes(1400, 200))
    assert response.status_code == 302
    photo = QueryPhoto.objects.get()
    assert embedder.embedded == 20  # the other ten never reached the embedder
    assert photo.face_count == 20
    widths = [round(x2 - x1) for x1, _y1, x2, _y2 in (photo.box(i) for i in range(20))]
    assert widths == list(range(30, 50))  # the largest, still numbered left to right
    page = user_client.get(response["Location"]).content.decode()
    assert "This photo shows 30 faces; the 20 largest can be searched." in page


# --- Limits per user --------------------------------------------------------------------------


def test_photo_searches_are_limited_per_user(user_client, other_user, client, settings):
    settings.FACEFINDER_PHOTO_SEARCHES_PER_HOUR = 2
    for _ in range(2):
        assert upload(user_client, "notes.jpg", b"not an image").status_code == 400
    refused = upload(user_client, "notes.jpg", b"not an image")
    assert refused.status_code == 429
    assert "searched by photo as often as one account may in an hour" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 3600
    client.force_login(other_user)  # another account is not held back
    assert upload(client, "notes.jpg", b"not an image").status_code == 400


def test_with_the_throttle_cache_down_photo_searches_are_refused_not_run(user_client, settings):
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    response = upload(user_client, "me.jpg", image_bytes(64, 64))
    assert response.status_code == 503
    assert "Searching by photo is unavailable for a moment" in response.content.decode()


def test_kept_photos_are_capped_per_user(user_client, user, settings):
    library = make_library(people={"anna": (1, 1)})
    settings.FACEFINDER_MAX_KEPT_PHOTOS = 2
    saved = make_query_photo(user, library.first("anna"))
    SavedSearch.objects.create(owner=user, name="kept", photo=saved, photo_face_index=0)
    expired = make_query_photo(user, library.first("anna"))
    long_ago = timezone.now() - timedelta(seconds=settings.FACEFINDER_PHOTO_TTL_SECONDS + 60)
    QueryPhoto.objects.filter(pk=expired.pk).update(created_at=long_ago)
    make_query_photo(user, library.first("anna"))
    # The expired one goes first; the saved one and the fresh one fill the allowance.
    response = upload(user_client, "me.jpg", image_bytes(64, 64))
    assert response.status_code == 400
    assert "You keep 2 photos, the most one account may" in response.content.decode()
    assert QueryPhoto.objects.filter(owner=user).count() == 2


def test_saved_searches_are_capped_per_user(user_client, user, settings):
    library = make_library(people={"anna": (2, 1)})
    settings.FACEFINDER_MAX_SAVED_SEARCHES = 1
    first, second = library.faces["anna"]
    user_client.post(reverse("search:saved-create"), {"name": "one", "face": first})
    response = user_client.post(
        reverse("search:saved-create"), {"name": "two", "face": second}, follow=True
    )
    assert "You have 1 saved search, the most one account may keep" in response.content.decode()
    assert list(SavedSearch.objects.values_list("name", flat=True)) == ["one"]
