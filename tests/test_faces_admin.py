"""The read-only Face admin: lists with thumbnails, no add/change/delete, no embeddings loaded."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from faces.models import Face
from tests.factories import image_bytes, make_face, make_frame, make_movie, unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def faces() -> list[Face]:
    """Two faces on one frame, one per embedder; only the first has a thumbnail."""
    movie = make_movie("Hamilton at the White House", file_name="clip.mp4")
    frame = make_frame(movie, 25, size=(8, 8))
    vector = unit([1.0] + [0.0] * 127)
    made = [
        make_face(
            frame,
            vector,
            face_index=face_index,
            embedder=embedder,
            box=(10, 20, 110, 140),
            probability=0.99731,
            landmarks=[[40, 60], [80, 60], [60, 80], [45, 110], [75, 110]],
        )
        for face_index, embedder in enumerate(["dlib-resnet", "facenet-vggface2"])
    ]
    made[0].thumbnail.save(f"faces/{movie.pk}_25_0.jpg", ContentFile(image_bytes()))
    return made


def test_list_shows_thumbnails_and_details_without_loading_embeddings(staff_client, faces):
    url = reverse("admin:faces_face_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(url)

    assert response.status_code == 200
    page = response.content.decode()
    assert f'<img src="{faces[0].thumbnail.url}"' in page
    assert "(no thumbnail)" in page
    assert "Hamilton at the White House" in page
    assert "0.9973" in page
    assert "dlib-resnet" in page and "facenet-vggface2" in page
    face_queries = [q["sql"] for q in queries.captured_queries if '"faces_face"' in q["sql"]]
    assert face_queries
    assert not any('"embedding"' in sql for sql in face_queries)


def test_filters_by_embedder_and_movie(staff_client, faces):
    url = reverse("admin:faces_face_changelist")
    response = staff_client.get(url, {"embedder": "facenet-vggface2"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1

    response = staff_client.get(url, {"movie__id__exact": faces[0].movie_id})
    assert response.context["cl"].result_count == 2


def test_faces_are_read_only(staff_client, faces):
    assert staff_client.get(reverse("admin:faces_face_add")).status_code == 403

    detail = reverse("admin:faces_face_change", args=[faces[0].pk])
    response = staff_client.get(detail)
    assert response.status_code == 200
    assert b'name="_save"' not in response.content  # no save button: view only
    assert b"10, 20, 110, 140" in response.content
    assert b"128" in response.content  # the embedding's dimension

    response = staff_client.post(detail, {"probability": "0.5"})
    assert response.status_code == 403
    assert Face.objects.get(pk=faces[0].pk).probability == pytest.approx(0.99731)
    delete = reverse("admin:faces_face_delete", args=[faces[0].pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert Face.objects.count() == 2


def test_non_staff_cannot_see_faces(user_client, faces):
    response = user_client.get(reverse("admin:faces_face_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response.url
