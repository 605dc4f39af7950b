"""Movie pages as a user sees them: the library, a movie's frames with faces, one frame."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from faces.models import Face
from movies.display import box_percentages, hms
from movies.models import Frame, Movie
from movies.storage import frame_image_path
from tests.factories import make_face, make_frame, random_unit

pytestmark = pytest.mark.django_db

FRAME_W, FRAME_H = 160, 90


def frame_with_faces(movie: Movie, index: int, faces: int = 0) -> Frame:
    """A stored frame with ``faces`` faces side by side, 40 x 45 pixels each."""
    frame = make_frame(movie, index, size=(FRAME_W, FRAME_H))
    rng = np.random.default_rng(index)
    for face_index in range(faces):
        x1 = 10 + 50 * face_index
        box = (x1, 20, x1 + 40, 65)
        make_face(frame, random_unit(rng), face_index=face_index, box=box, probability=0.995)
    return frame


@pytest.fixture
def movie() -> Movie:
    """A finished movie: frames 0..50 every 5th; frames 5, 15, 25 have faces (2, 1, 1)."""
    movie = Movie.objects.create(
        title="Test Clip",
        file_name="test_clip.mp4",
        status=Movie.Status.DONE,
        frames_sampled=11,
        faces_found=4,
        duration_seconds=3725.4,
        fps=25.0,
        sample_every=5,
        width=FRAME_W,
        height=FRAME_H,
    )
    faces_by_index = {5: 2, 15: 1, 25: 1}
    for index in range(0, 55, 5):
        frame_with_faces(movie, index, faces=faces_by_index.get(index, 0))
    return movie


def frame_at(movie: Movie, index: int) -> Frame:
    return Frame.objects.get(movie=movie, index=index)


# --- login required / 404 ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["list", "detail", "frame"])
def test_every_movie_page_needs_login(client, movie, name):
    args = {"list": [], "detail": [movie.pk], "frame": [frame_at(movie, 5).pk]}[name]
    url = reverse(f"movies:{name}", args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "next=" in response["Location"]


@pytest.mark.parametrize("url", ["/movies/999999/", "/frames/999999/"])
def test_unknown_ids_are_404(user_client, url):
    assert user_client.get(url).status_code == 404


@pytest.mark.parametrize("url", ["/movies/abc/", "/frames/-1/", "/movies/1.5/"])
def test_malformed_ids_are_404(user_client, url):
    assert user_client.get(url).status_code == 404


# --- movie list -------------------------------------------------------------------------


def test_empty_library_has_a_designed_empty_state(user_client):
    response = user_client.get("/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "No movies yet" in content
    # Regular users get no admin link.
    assert "/admin/" not in content


def test_empty_library_offers_staff_a_way_to_add_a_movie(staff_client):
    content = staff_client.get("/").content.decode()
    assert "No movies yet" in content
    assert "Add a movie in the admin" in content
    assert f'href="{reverse("admin:movies_movie_add")}"' in content


def test_movie_list_shows_counts_status_duration_and_poster(user_client, movie):
    running = Movie.objects.create(title="Another", status=Movie.Status.RUNNING, progress=0.42)
    response = user_client.get("/")
    assert response.status_code == 200
    content = response.content.decode()
    card = content[content.index("Test Clip") - 600 :]
    assert movie.get_absolute_url() in content
    assert re.search(r"<strong>11</strong>\s*frames", content)
    assert re.search(r"<strong>4</strong>\s*faces", content)
    assert "1:02:05" in content  # 3725.4 s
    assert "Done" in card
    # The poster is the thumbnail of the first frame that has faces (frame 5), via /media/.
    assert f"/media/{frame_image_path(movie.pk, 5, 'thumbnail')}" in content
    # The running movie shows its progress.
    assert "Ingesting" in content and "42%" in content
    assert running.get_absolute_url() in content


def test_the_pages_show_the_movies_counters_of_a_running_ingest(user_client):
    """A running ingest's counters are those of its last checkpoint: the pages show them, not
    the rows of a batch still being stored."""
    movie = Movie.objects.create(
        title="Halfway", status=Movie.Status.RUNNING, frames_sampled=3, faces_found=2
    )
    for index in range(5):
        frame_with_faces(movie, index, faces=1)
    listing = user_client.get("/").content.decode()
    assert re.search(r"<strong>3</strong>\s*frames", listing)
    assert re.search(r"<strong>2</strong>\s*faces", listing)
    page = user_client.get(movie.get_absolute_url()).content.decode()
    assert re.search(r"<strong>3</strong>\s*sampled frames", page)
    assert re.search(r"<strong>2</strong>\s*faces", page)


def test_movie_list_query_count_does_not_grow_with_movies(
    user_client, movie, django_assert_max_num_queries
):
    for n in range(5):
        other = Movie.objects.create(title=f"Extra {n}")
        frame_with_faces(other, 0, faces=1)
    with django_assert_max_num_queries(8):
        assert user_client.get("/").status_code == 200


def test_movie_list_paginates_and_forgives_bad_page_numbers(user_client):
    Movie.objects.bulk_create(Movie(title=f"Movie {n:03d}") for n in range(30))
    first = user_client.get("/")
    assert "Movie 000" in first.content.decode() and "Movie 024" not in first.content.decode()
    assert first.context["page_obj"].paginator.num_pages == 2
    last = user_client.get("/?page=2")
    assert "Movie 029" in last.content.decode()
    for page, expected in [("999", 2), ("0", 2), ("-3", 2), ("abc", 1), ("", 1)]:
        response = user_client.get(f"/?page={page}")
        assert response.status_code == 200, page
        assert response.context["page_obj"].number == expected, page


# --- movie page -------------------------------------------------------------------------


def test_movie_page_shows_only_frames_with_faces_and_their_boxes(user_client, movie):
    response = user_client.get(movie.get_absolute_url())
    assert response.status_code == 200
    content = response.content.decode()
    shown = [frame.index for frame in response.context["frames"]]
    assert shown == [5, 15, 25]
    for index in (5, 15, 25):
        frame = frame_at(movie, index)
        assert frame.get_absolute_url() in content
        assert f"test_clip.mp4_{index}" in content  # Frame.name, the seed's form
    assert frame_at(movie, 10).get_absolute_url() not in content
    # Four faces, four boxes, positioned in percentages of the frame (never re-encoded images).
    assert content.count('class="face-box"') == 4
    assert "left:6.250%;top:22.222%;width:25.000%;height:50.000%" in content
    assert "0:00:01" in content  # frame 25 at 25 fps
    assert f"/media/{frame_image_path(movie.pk, 15, 'thumbnail')}" in content


def test_movie_page_paginates_frames(user_client):
    movie = Movie.objects.create(title="Long", file_name="long.mkv")
    for index in range(30):
        frame_with_faces(movie, index, faces=1)
    url = movie.get_absolute_url()
    first = user_client.get(url)
    assert [f.index for f in first.context["frames"]] == list(range(24))
    assert 'href="?page=2"' in first.content.decode()
    second = user_client.get(url + "?page=2")
    assert [f.index for f in second.context["frames"]] == list(range(24, 30))
    past_the_end = user_client.get(url + "?page=50")
    assert past_the_end.status_code == 200
    assert past_the_end.context["page_obj"].number == 2
    assert user_client.get(url + "?page=x%00y").status_code == 200


def test_movie_page_queries_do_not_grow_with_frames(user_client, django_assert_max_num_queries):
    movie = Movie.objects.create(title="Many")
    for index in range(20):
        frame_with_faces(movie, index, faces=2)
    with django_assert_max_num_queries(9):
        assert user_client.get(movie.get_absolute_url()).status_code == 200


def test_movie_without_faces_explains_why(user_client):
    movie = Movie.objects.create(title="Empty", status=Movie.Status.DONE)
    frame_with_faces(movie, 0)
    content = user_client.get(movie.get_absolute_url()).content.decode()
    assert "No faces in this movie" in content
    queued = Movie.objects.create(title="Waiting", status=Movie.Status.QUEUED)
    assert "not been ingested yet" in user_client.get(queued.get_absolute_url()).content.decode()


def test_a_failed_movie_shows_its_reason_to_staff_only(client, user, staff_user):
    """The reason may name files on the server: users learn that it failed, staff why."""
    movie = Movie.objects.create(
        title="Broken",
        status=Movie.Status.FAILED,
        last_error="cannot read /srv/films/broken.mkv (Permission denied)",
    )
    client.force_login(user)
    for page in (movie.get_absolute_url(), "/"):
        content = client.get(page).content.decode()
        assert "staff can see why in the admin" in content
        assert "/srv/films" not in content
    client.force_login(staff_user)
    for page in (movie.get_absolute_url(), "/"):
        assert "cannot read /srv/films/broken.mkv" in client.get(page).content.decode()


# --- frame page -------------------------------------------------------------------------


def test_frame_page_boxes_every_face_and_links_each_to_its_search(user_client, movie):
    frame = frame_at(movie, 5)
    response = user_client.get(frame.get_absolute_url())
    assert response.status_code == 200
    content = response.content.decode()
    assert f"/media/{frame_image_path(movie.pk, 5)}" in content  # full image
    faces = list(frame.faces.order_by("face_index"))
    assert len(faces) == 2
    for face in faces:
        search_url = f"/search/face/{face.pk}/"
        # One link on the box over the image, one in the list below it.
        assert content.count(f'href="{search_url}"') == 2
    assert content.count('class="face-box"') == 2
    assert "0.995" in content
    assert "test_clip.mp4_5" in content
    assert "0:00:00" in content


def test_frame_page_previous_and_next_move_between_frames_with_faces(user_client, movie):
    content = user_client.get(frame_at(movie, 15).get_absolute_url()).content.decode()
    assert f'href="{frame_at(movie, 5).get_absolute_url()}" rel="prev"' in content
    assert f'href="{frame_at(movie, 25).get_absolute_url()}" rel="next"' in content
    first = user_client.get(frame_at(movie, 5).get_absolute_url()).content.decode()
    assert 'rel="prev"' not in first
    last = user_client.get(frame_at(movie, 25).get_absolute_url()).content.decode()
    assert 'rel="next"' not in last


def test_frame_without_faces_still_renders(user_client, movie):
    response = user_client.get(frame_at(movie, 10).get_absolute_url())
    assert response.status_code == 200
    assert "No face was found in this frame" in response.content.decode()


def test_frame_page_never_loads_embeddings(user_client, movie, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        user_client.get(frame_at(movie, 5).get_absolute_url())
        user_client.get(movie.get_absolute_url())
    face_selects = [q["sql"] for q in queries if 'FROM "faces_face"' in q["sql"]]
    assert face_selects
    assert not any('"faces_face"."embedding"' in sql for sql in face_selects)


# --- template helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0:00:00"),
        (59.9, "0:00:59"),
        (61, "0:01:01"),
        (3725.4, "1:02:05"),
        (36000, "10:00:00"),
        (-3, "0:00:00"),
        (None, ""),
        ("junk", ""),
    ],
)
def test_hms(seconds, expected):
    assert hms(seconds) == expected


def test_hms_with_decimals_truncates_like_the_whole_seconds():
    assert hms(62.345, 2) == "0:01:02.34"
    assert hms(10.6) == "0:00:10"
    assert hms(float("nan")) == ""


def test_the_admin_and_the_pages_show_one_duration(staff_client, movie):
    """One formatter: a 10.6 s movie is 0:00:10 on the list page and in the admin alike."""
    movie.duration_seconds = 10.6
    movie.save()
    page = staff_client.get(reverse("movies:list")).content.decode()
    admin_page = staff_client.get(reverse("admin:movies_movie_changelist")).content.decode()
    assert "0:00:10" in page and "0:00:10" in admin_page
    assert "0:00:11" not in page + admin_page


def test_box_percentages_clip_to_the_frame():
    assert box_percentages((-10, -5, 50, 45), 100, 50) == {
        "left": 0.0,
        "top": 0.0,
        "width": 50.0,
        "height": 90.0,
    }
    assert box_percentages((80, 40, 130, 70), 100, 50)["width"] == 20.0


# --- on the real Hamilton clip (shared session fixture: real MTCNN + dlib) --------------


@pytest.mark.slow
def test_real_clip_pages_show_stored_frames_and_boxes(user_client, hamilton_movie):
    listing = user_client.get("/").content.decode()
    assert hamilton_movie.title in listing
    with_faces = list(frames_with_faces_of(hamilton_movie))
    assert with_faces, "the Hamilton clip has faces"

    page = user_client.get(hamilton_movie.get_absolute_url())
    assert page.status_code == 200
    content = page.content.decode()
    shown = list(page.context["frames"])
    assert [f.index for f in shown] == [f.index for f in with_faces[: len(shown)]]
    expected_boxes = Face.objects.filter(frame__in=shown).count()
    assert content.count('class="face-box"') == expected_boxes
    assert f"hamilton_whitehouse_clip.mp4_{shown[0].index}" in content

    # The grid's images are the thumbnails stored at ingest, served as they are.
    first = shown[0]
    thumb = user_client.get(first.thumbnail.url)
    assert thumb.status_code == 200
    assert "private" in thumb["Cache-Control"]
    image = Image.open(io.BytesIO(b"".join(thumb.streaming_content)))
    assert image.format == "JPEG"
    assert image.width < first.width

    # Frame page: the full image and one search link per face, on the box and in the list.
    frame_page = user_client.get(first.get_absolute_url()).content.decode()
    assert first.image.url in frame_page
    for face in first.faces.all():
        assert frame_page.count(f'href="{reverse("search:face", args=[face.pk])}"') == 2
    full = user_client.get(first.image.url)
    full_image = Image.open(io.BytesIO(b"".join(full.streaming_content)))
    assert (full_image.width, full_image.height) == (first.width, first.height)


def frames_with_faces_of(movie: Movie):
    return Frame.objects.filter(movie=movie, faces__isnull=False).distinct().order_by("index")
