"""People on the real Hamilton clip, as its ingest (MTCNN + dlib, the real pipeline) made them,
and photo searches that say who is likely the same person and when nobody is."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from faces.models import Appearance, Face
from faces.recluster import recluster
from search.models import QueryPhoto
from tests.shared_data import FACES, LACAMOIRE, MIRANDA, shot_at, shots_of

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

EMBEDDER = "dlib-resnet"


def labelled_people(movie) -> dict[int, set[tuple[str, int]]]:
    """Person → the (labelled person, shot) pairs of their appearances, where the appearance's
    shot shows a single labelled person (shots.csv) or, in the shot of two, the larger face is
    Miranda's (Lacamoire sits small, far left, at the piano)."""
    found: dict[int, set[tuple[str, int]]] = {}
    for appearance in Appearance.objects.filter(movie=movie).exclude(person=None):
        shot = shot_at(appearance.first_frame_index)
        labelled = [p for p in shot.people if p in (MIRANDA, LACAMOIRE)]
        if len(labelled) == 1:
            label = labelled[0]
        elif len(labelled) == 2:
            face = Face.objects.get(pk=appearance.representative_face_id)
            label = MIRANDA if face.x1 > movie.width / 3 else LACAMOIRE
        else:
            label = "other"
        found.setdefault(appearance.person_id, set()).add((label, appearance.shot.index))
    return found


def check_people(movie) -> None:
    people = labelled_people(movie)
    miranda = [p for p, seen in people.items() if any(label == MIRANDA for label, _ in seen)]
    lacamoire = [p for p, seen in people.items() if any(label == LACAMOIRE for label, _ in seen)]
    assert len(miranda) == 1, people
    assert len(lacamoire) == 1, people
    assert miranda != lacamoire
    assert {shot for _label, shot in people[miranda[0]]} == {0, 2}
    assert {shot for _label, shot in people[lacamoire[0]]} == {0, 1}
    for seen in people.values():
        assert len({label for label, _ in seen}) == 1, people  # nobody mixes two people


def test_the_ingest_makes_one_person_of_each_of_mirandas_and_lacamoires_two_shots(
    hamilton_movie,
):
    assert [len(shots_of(MIRANDA)), len(shots_of(LACAMOIRE))] == [2, 2]
    check_people(hamilton_movie)


def test_a_full_recluster_ends_with_the_same_people(hamilton_movie):
    before = labelled_people(hamilton_movie)
    report = recluster(EMBEDDER)
    assert report.people_created == 0 and report.people_removed == 0
    assert labelled_people(hamilton_movie) == before


def upload(client, path):
    response = client.post(
        reverse("search:photo"),
        {"photo": SimpleUploadedFile(path.name, path.read_bytes(), "image/jpeg")},
    )
    photo = QueryPhoto.objects.latest("pk")
    assert response["Location"] == reverse("search:photo-results", args=[photo.pk, 0])
    return photo


def test_a_photo_of_miranda_finds_his_person_marked_likely_the_same(
    user_client, hamilton_movie, settings
):
    settings.FACEFINDER_EMBEDDER = EMBEDDER
    photo = upload(user_client, FACES / MIRANDA / "1.jpg")
    body = user_client.get(f"/api/search/photo/{photo.pk}/face/0/").json()
    assert body["nobody_matches"] is None
    best = body["results"][0]
    assert best["likely_same_person"] is True
    miranda = {
        appearance.person_id
        for appearance in Appearance.objects.filter(movie=hamilton_movie, shot__index=2)
    }
    assert best["person_id"] in miranda
    page = user_client.get(reverse("search:photo-results", args=[photo.pk, 0])).content.decode()
    assert "likely the same person" in page
    assert "No one in the library looks like this person" not in page


def test_a_photo_of_someone_not_in_the_clip_says_nobody_matches(
    user_client, hamilton_movie, settings
):
    settings.FACEFINDER_EMBEDDER = EMBEDDER
    photo = upload(user_client, FACES / "george_clooney" / "1.jpg")
    body = user_client.get(f"/api/search/photo/{photo.pk}/face/0/").json()
    assert body["nobody_matches"].startswith("No one in the library looks like this person")
    assert body["results"]  # the nearest faces are still shown
    assert not any(item["likely_same_person"] for item in body["results"])
    page = user_client.get(reverse("search:photo-results", args=[photo.pk, 0])).content.decode()
    notice = page.index("No one in the library looks like this person")
    assert notice < page.index('class="result-list')


def test_rebuilding_the_appearances_finds_the_same_people_again(hamilton_movie):
    from faces.rebuild import rebuild_appearances

    rebuild_appearances(hamilton_movie.pk)
    check_people(hamilton_movie)
