"""The results pages (face and photo), photo upload and face choice, as a user sees them."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from faces.models import Face
from search.models import QueryPhoto, SavedSearch
from search.presentation import group_cards
from search.results import Group, Hit
from tests.factories import EMBEDDER, faceless_photo, image_bytes, make_library, make_query_photo
from tests.shared_data import FACES, GROUP_PHOTOS, MIRANDA, in_shot_of, shots_of

# These tests check the near-duplicate grouping (group=duplicate).
pytestmark = pytest.mark.usefixtures("duplicate_grouping")


MIRANDA_PHOTO = FACES / "lin_manuel_miranda" / "1.jpg"
GROUP_PHOTO = GROUP_PHOTOS / "kit_harington_and_rose_leslie.jpg"


def face_url(face_id, **params) -> str:
    url = reverse("search:face", args=[face_id])
    if params:
        url += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return url


def result_face_ids(html: str) -> list[int]:
    """Face ids of the group leaders, in page order."""
    return [int(x) for x in re.findall(r'class="result-group[^"]*" data-face-id="(\d+)"', html)]


def duplicate_face_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'class="duplicate" data-face-id="(\d+)"', html)]


def upload(client, name: str, data: bytes, content_type: str = "image/jpeg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("search:photo"), {"photo": SimpleUploadedFile(name, data, content_type)}
    )


# --- Login required ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_search_page_needs_login(client, library):
    face_id = library.faces["anna"][0]
    urls = [
        reverse("search:face", args=[face_id]),
        reverse("search:photo"),
        reverse("search:photo-faces", args=[1]),
        reverse("search:photo-image", args=[1]),
        reverse("search:photo-results", args=[1, 0]),
        reverse("search:saved-list"),
        reverse("search:saved-run", args=[1]),
        reverse("search:saved-rename", args=[1]),
        reverse("search:saved-delete", args=[1]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


# --- Results for a stored face ----------------------------------------------------------------


def test_results_show_query_first_then_ranked_groups_with_duplicates(user_client, library):
    query = library.first("anna")
    response = user_client.get(face_url(query.pk))
    assert response.status_code == 200
    html = response.content.decode()
    leaders = result_face_ids(html)
    # The query face leads, then the other shots of Anna (12 shots in all), each as one group.
    assert leaders[0] == query.pk
    assert len(leaders) == 10  # FACEFINDER_GROUPS_PER_PAGE
    anna = set(library.faces["anna"])
    assert set(leaders) <= anna
    duplicates = duplicate_face_ids(html)
    # Every shot has two near-identical frames: one leads, the other sits beside it.
    assert library.faces["anna"][1] in duplicates
    assert set(duplicates) <= anna
    # Query face shown at the top, with its frame name in the seed's form and real index.
    frame = query.frame
    assert f"Face {query.pk}" in html
    assert f"synthetic.mp4_{frame.index}" in html
    # Each group: red box, face id, frame name, movie, h:mm:ss, score, frame and search links.
    assert html.count('class="face-box match"') >= len(leaders) + len(duplicates)
    assert "Synthetic Film" in html
    second = Face.objects.select_related("frame").get(pk=leaders[1])
    assert second.frame.name in html
    assert reverse("movies:frame", args=[second.frame_id]) in html
    assert reverse("search:face", args=[second.pk]) in html
    assert "0:00:" in html  # timestamps as h:mm:ss
    assert "1.000" in html  # the query face's own score


def test_scores_fall_down_the_page(user_client, library):
    html = user_client.get(face_url(library.first("anna").pk)).content.decode()
    scores = [float(s) for s in re.findall(r'class="score-value">([-0-9.]+)<', html)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(1.0)


def test_results_paginate_by_groups(user_client, library):
    query = library.first("anna")
    first = result_face_ids(user_client.get(face_url(query.pk, k=40)).content.decode())
    response = user_client.get(face_url(query.pk, k=40, page=2))
    assert response.status_code == 200
    second = result_face_ids(response.content.decode())
    assert second and not set(first) & set(second)
    assert 'rel="prev"' in response.content.decode()
    assert "k=40" in response.content.decode()  # page links keep the filters


def test_page_out_of_range_gets_a_clear_message(user_client, library):
    query = library.first("anna")
    for page in ("99", "abc", "0"):
        response = user_client.get(face_url(query.pk, page=page))
        assert response.status_code == 404
        assert "There is no page" in response.content.decode()


def test_unknown_face_is_a_404(user_client, library):
    assert user_client.get(reverse("search:face", args=[999_999])).status_code == 404
    # A malformed id does not even match the URL.
    assert user_client.get("/search/face/abc/").status_code == 404
    assert user_client.get("/search/face/-1/").status_code == 404


def test_face_alone_in_its_embedder_gets_a_clear_message(user_client, library):
    lonely = make_library(
        title="Other embedder", people={"solo": (1, 1)}, embedder="facenet-vggface2"
    )
    # Same-sized vectors would not be compared anyway: embedders are never mixed.
    response = user_client.get(face_url(lonely.faces["solo"][0]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "No other face has been embedded with facenet-vggface2" in html
    assert result_face_ids(html) == [lonely.faces["solo"][0]]


def test_movie_and_min_score_filters(user_client, library):
    other = make_library(
        title="Second Film", file_name="second.mp4", people={"carl": (3, 1)}, seed=99
    )
    query = library.first("anna")
    response = user_client.get(face_url(query.pk, movie=other.movie.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert set(result_face_ids(html)) - {query.pk} <= set(other.faces["carl"])
    # A minimum score nothing reaches: the designed no-match state.
    response = user_client.get(face_url(query.pk, min_score="0.999"))
    html = response.content.decode()
    assert "No face matches these filters" in html
    assert result_face_ids(html) == [query.pk]


@pytest.mark.parametrize(
    "params",
    [{"k": "0"}, {"k": "100000"}, {"k": "abc"}, {"min_score": "2"}, {"movie": "999999"}],
)
def test_bad_filters_get_a_message_not_a_500(user_client, library, params):
    response = user_client.get(face_url(library.first("anna").pk, **params))
    assert response.status_code == 400
    assert "Check the filters" in response.content.decode()


def test_result_rows_are_loaded_in_one_query(library, django_assert_num_queries):
    anna = library.faces["anna"]
    groups = [
        Group(leader=Hit(anna[i], 0.9), duplicates=[Hit(anna[i + 1], 0.89)])
        for i in range(0, 20, 2)
    ]
    with django_assert_num_queries(1):
        cards = group_cards(groups)
        # Everything the template reads is there: no lazy loads afterwards.
        rendered = [
            (c.frame_name, c.movie_title, c.image_url, c.thumbnail_url)
            for g in cards
            for c in [g.leader, *g.duplicates]
        ]
    assert len(rendered) == 20


def test_whole_page_query_count_does_not_grow_with_results(
    user_client, big_library, settings, django_assert_max_num_queries
):
    settings.FACEFINDER_GROUPS_PER_PAGE = 20
    with django_assert_max_num_queries(15):
        response = user_client.get(face_url(big_library.first("anna").pk, k=60))
    assert len(result_face_ids(response.content.decode())) == 20


def test_the_query_face_is_read_once(user_client, library):
    """One read of the query face (row, frame, movie) serves the search and the page."""
    query = library.first("anna")
    url = face_url(query.pk)
    user_client.get(url)  # the first search loads the backend's vectors
    with CaptureQueriesContext(connection) as captured:
        response = user_client.get(url)
    assert response.status_code == 200
    # Reads of face rows; the results' timelines read only (id, movie, frame time) of every
    # result, in one query of their own.
    face_reads = [
        q["sql"]
        for q in captured
        if q["sql"].startswith('SELECT "faces_face"."id", "faces_face"."movie_id", "faces_face"')
    ]
    assert len(face_reads) == 2, face_reads  # the query face, then the page's other cards
    query_read, cards_read = face_reads
    assert f'WHERE "faces_face"."id" = {query.pk} ' in query_read
    (card_ids,) = re.findall(r'"faces_face"."id" IN \(([^)]*)\)', cards_read)
    assert str(query.pk) not in card_ids.replace(" ", "").split(",")


def test_twenty_groups_weigh_far_less_than_the_seed(user_client, big_library, settings):
    """The seed inlined 20 re-encoded frames as base64; here images are plain cached URLs."""
    settings.FACEFINDER_GROUPS_PER_PAGE = 20
    response = user_client.get(face_url(big_library.first("anna").pk, k=60))
    html = response.content
    assert len(result_face_ids(html.decode())) == 20
    assert len(duplicate_face_ids(html.decode())) >= 15
    assert len(html) < 60_000, len(html)
    # No image inlined into the page (the site's tiny SVG favicon aside).
    assert not re.search(rb"<img[^>]+(src|srcset)=\"data:", html)
    assert b"base64" not in html
    # Duplicates use the small stored thumbnails, and images below the fold load lazily.
    assert html.count(b"/thumbnails/") >= 20
    assert html.count(b'loading="lazy"') >= 30


def test_result_images_are_served_privately(client, user_client, library):
    html = user_client.get(face_url(library.first("anna").pk)).content.decode()
    image_url = re.search(r'<img src="(/media/[^"]+)"', html).group(1)
    response = user_client.get(image_url)
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]
    client.logout()
    assert client.get(image_url).status_code == 302


def test_results_page_offers_to_save_the_search(user_client, library):
    query = library.first("anna")
    html = user_client.get(face_url(query.pk, k=30)).content.decode()
    assert reverse("search:saved-create") in html
    assert f'name="face" value="{query.pk}"' in html
    assert 'name="k" value="30"' in html


# --- Photo uploads: bad input ----------------------------------------------------------------


@pytest.mark.django_db
def test_upload_page_renders(user_client):
    response = user_client.get(reverse("search:photo"))
    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content


@pytest.mark.django_db
def test_non_image_upload_is_refused(user_client):
    response = upload(user_client, "notes.jpg", b"this is not an image at all")
    assert response.status_code == 400
    assert "not an image we can read" in response.content.decode()
    assert not QueryPhoto.objects.exists()


@pytest.mark.django_db
def test_truncated_image_is_refused(user_client):
    data = MIRANDA_PHOTO.read_bytes()[:5000]
    response = upload(user_client, "cut.jpg", data)
    assert response.status_code == 400
    assert "not an image we can read" in response.content.decode()


@pytest.mark.django_db
def test_huge_pixel_count_is_refused_before_decoding(user_client, settings):
    settings.FACEFINDER_MAX_PHOTO_PIXELS = 1_000_000
    response = upload(
        user_client, "wide.png", image_bytes(1500, 1000, image_format="PNG"), "image/png"
    )
    assert response.status_code == 400
    assert "1500 x 1000 pixels" in response.content.decode()
    assert "at most 1 megapixels" in response.content.decode()


@pytest.mark.django_db
def test_decompression_bomb_is_refused(user_client, settings):
    """A tiny file that claims an enormous canvas never gets decoded."""
    settings.FACEFINDER_MAX_PHOTO_PIXELS = 10**12  # only Pillow's own guard is left
    response = upload(
        user_client, "bomb.png", image_bytes(20_000, 10_000, image_format="PNG"), "image/png"
    )
    assert response.status_code == 400
    assert "too many pixels" in response.content.decode()


@pytest.mark.django_db
def test_too_many_bytes_is_refused(user_client, settings):
    settings.FACEFINDER_MAX_PHOTO_BYTES = 10_000
    response = upload(user_client, "big.jpg", MIRANDA_PHOTO.read_bytes())
    assert response.status_code == 400
    assert "photos may be at most" in response.content.decode()


@pytest.mark.slow
@pytest.mark.django_db
def test_photo_without_a_face_is_refused(user_client, settings):
    settings.FACEFINDER_EMBEDDER = EMBEDDER
    response = upload(user_client, "wall.jpg", faceless_photo())
    assert response.status_code == 400
    assert "No face was found in this photo" in response.content.decode()
    assert not QueryPhoto.objects.exists()


@pytest.mark.django_db
def test_unavailable_embedder_is_a_clear_message_that_names_no_server_file(
    user_client, monkeypatch, caplog
):
    from faces.embedders import EmbedderUnavailable

    def unavailable(*args, **kwargs):
        raise EmbedderUnavailable(
            "facenet-vggface2 weights not found: FACENET_WEIGHTS=/srv/weights/vgg.pt is not a file"
        )

    monkeypatch.setattr("faces.pipeline.analyse_images", unavailable)
    response = upload(user_client, "me.jpg", MIRANDA_PHOTO.read_bytes())
    assert response.status_code == 400
    content = response.content.decode()
    assert "Photo search is not available right now" in content
    assert "/srv/weights" not in content
    # The full reason is in the log, for the operator.
    assert "FACENET_WEIGHTS=/srv/weights/vgg.pt" in caplog.text


# --- Photo uploads: the real pipeline ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_group_photo_asks_which_face_then_searches(user_client, settings, library, monkeypatch):
    settings.FACEFINDER_EMBEDDER = EMBEDDER
    response = upload(user_client, "couple.jpg", GROUP_PHOTO.read_bytes())
    photo = QueryPhoto.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("search:photo-faces", args=[photo.pk])
    assert photo.face_count == 2
    assert photo.embedder == EMBEDDER
    # Stored faces are numbered left to right, with their vectors.
    assert photo.box(0)[0] < photo.box(1)[0]
    assert np.linalg.norm(photo.vector(1)) == pytest.approx(1.0, abs=1e-4)

    page = user_client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('class="face-box"') == 2
    assert reverse("search:photo-image", args=[photo.pk]) in html
    for index in (0, 1):
        assert reverse("search:photo-results", args=[photo.pk, index]) in html

    # Choosing a face never runs the networks again: boxes and vectors were stored.
    def must_not_run(*args, **kwargs):
        raise AssertionError("the photo was analysed twice")

    monkeypatch.setattr("faces.pipeline.analyse_images", must_not_run)
    results = user_client.get(reverse("search:photo-results", args=[photo.pk, 1]))
    assert results.status_code == 200
    body = results.content.decode()
    assert "Your photo" in body and "face 2 of 2" in body
    assert len(result_face_ids(body)) >= 1
    assert user_client.get(reverse("search:photo-results", args=[photo.pk, 2])).status_code == 404

    image = user_client.get(reverse("search:photo-image", args=[photo.pk]))
    assert image.status_code == 200
    assert image["Content-Type"] == "image/jpeg"
    assert "private" in image["Cache-Control"]


def test_photo_pages_are_private_to_their_uploader(client, user, other_user, library):
    photo = make_query_photo(user, library.first("anna"))
    client.force_login(other_user)
    for url in (
        reverse("search:photo-faces", args=[photo.pk]),
        reverse("search:photo-image", args=[photo.pk]),
        reverse("search:photo-results", args=[photo.pk, 0]),
    ):
        assert client.get(url).status_code == 404, url
    client.force_login(user)
    response = client.get(reverse("search:photo-results", args=[photo.pk, 0]))
    assert response.status_code == 200
    # The photo's face is Anna's first face exactly: it comes first with score 1.
    assert result_face_ids(response.content.decode())[0] == library.faces["anna"][0]


def test_photo_file_is_not_reachable_through_the_generic_media_url(
    client, user, other_user, library
):
    photo = make_query_photo(user, library.first("anna"))
    client.force_login(other_user)
    assert client.get(photo.image.url).status_code == 404


def test_expired_unsaved_photos_are_deleted_but_saved_ones_kept(user, library, settings):
    from django.utils import timezone

    old = timezone.now() - timedelta(seconds=settings.FACEFINDER_PHOTO_TTL_SECONDS + 60)
    unsaved = make_query_photo(user, library.first("anna"))
    saved = make_query_photo(user, library.first("ben"))
    fresh = make_query_photo(user, library.first("anna"))
    QueryPhoto.objects.filter(pk__in=[unsaved.pk, saved.pk]).update(created_at=old)
    SavedSearch.objects.create(owner=user, name="kept", photo=saved, photo_face_index=0)
    unsaved_file = unsaved.image.name

    call_command("cleanup_photos", stdout=io.StringIO())

    assert set(QueryPhoto.objects.values_list("pk", flat=True)) == {saved.pk, fresh.pk}
    assert not default_storage.exists(unsaved_file)
    assert default_storage.exists(saved.image.name)


@pytest.mark.django_db
def test_each_upload_cleans_up_expired_photos(user_client, user, settings, library):
    from django.utils import timezone

    stale = make_query_photo(user, library.first("anna"))
    QueryPhoto.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=1))
    upload(user_client, "notes.jpg", b"not an image")  # even a refused upload cleans up
    assert not QueryPhoto.objects.filter(pk=stale.pk).exists()
    assert not default_storage.exists(stale.image.name)


# --- The real clip ----------------------------------------------------------------------------
# shots.csv: Miranda is in a wide stage shot and a close-up.


def shown_frame_indexes(html: str) -> tuple[list[int], list[int]]:
    """Frame indexes of the group leaders and of all faces shown, in page order."""
    leaders = result_face_ids(html)
    shown = leaders + duplicate_face_ids(html)
    index_of = dict(Face.objects.filter(pk__in=shown).values_list("pk", "frame_index"))
    return [index_of[i] for i in leaders], [index_of[i] for i in shown]


@pytest.mark.slow
def test_real_clip_miranda_face_ranks_both_his_shots_first(user_client, hamilton_movie, settings):
    settings.FACEFINDER_GROUPS_PER_PAGE = 50
    wide, close_up = shots_of(MIRANDA)
    faces = Face.objects.filter(
        movie=hamilton_movie, frame_index__range=(close_up.first_frame, close_up.last_frame)
    )
    query = max(faces, key=lambda f: f.x2 - f.x1)  # Miranda fills his close-up shot
    response = user_client.get(face_url(query.pk, k=25))
    assert response.status_code == 200
    html = response.content.decode()
    leaders, shown = shown_frame_indexes(html)
    assert len(shown) == 25
    # All 25 best faces are Miranda's, from both of his shots.
    assert all(in_shot_of(MIRANDA, i) for i in shown), shown
    assert any(i in wide for i in shown) and any(i in close_up for i in shown)
    # Near-duplicates are grouped: the close-up shot's frames sit beside their leader.
    assert len(leaders) < len(shown) / 2
    assert f"hamilton_whitehouse_clip.mp4_{query.frame_index}" in html


@pytest.mark.slow
def test_real_photo_of_miranda_finds_both_his_shots(user_client, hamilton_movie, settings):
    settings.FACEFINDER_EMBEDDER = EMBEDDER
    settings.FACEFINDER_GROUPS_PER_PAGE = 50
    response = upload(user_client, "miranda.jpg", MIRANDA_PHOTO.read_bytes())
    photo = QueryPhoto.objects.get()
    assert photo.face_count == 1
    assert response["Location"] == reverse("search:photo-results", args=[photo.pk, 0])
    page = user_client.get(response["Location"] + "?k=25")
    assert page.status_code == 200
    leaders, shown = shown_frame_indexes(page.content.decode())
    assert len(shown) == 25
    wide, close_up = shots_of(MIRANDA)
    assert all(in_shot_of(MIRANDA, i) for i in shown), shown
    assert any(i in wide for i in shown) and any(i in close_up for i in shown)
    assert leaders[0] in close_up  # the best match is a close-up frame
