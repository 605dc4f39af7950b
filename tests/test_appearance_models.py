"""Shots and appearances as rows: what a movie holds, and what goes when something is deleted."""

from __future__ import annotations

import numpy as np
import pytest

from faces.models import Appearance, Face, unpack_vector
from movies.models import Shot
from tests.factories import make_appearance, make_face, make_frame, make_movie, make_shot, unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_faces():
    movie = make_movie("Gala", sample_every=5)
    shot = make_shot(movie, 0, 0, 9)
    frames = [make_frame(movie, index, stored=False) for index in (0, 5)]
    faces = [
        make_face(frame, unit(np.eye(128)[0] + 0.1 * n * np.eye(128)[1]))
        for n, frame in enumerate(frames)
    ]
    return movie, shot, faces


def test_an_appearance_spans_its_faces_and_holds_their_unit_mean(two_faces):
    _movie, shot, faces = two_faces
    appearance = make_appearance(shot, faces)
    assert (appearance.first_frame_index, appearance.last_frame_index) == (0, 5)
    assert appearance.start_seconds == 0.0
    # The last face plus one sampling interval (5 frames), clipped to the shot's end (10/25 s).
    assert appearance.end_seconds == pytest.approx(10 / 25)
    assert appearance.face_count == 2
    mean = unpack_vector(appearance.embedding)
    assert np.linalg.norm(mean) == pytest.approx(1.0, abs=1e-6)
    assert list(appearance.faces.order_by("frame_index")) == faces
    assert shot.frame_count == 10
    assert shot.end_seconds == pytest.approx(10 / 25)


def test_deleting_a_face_leaves_its_appearance_without_a_representative(two_faces):
    _movie, shot, faces = two_faces
    appearance = make_appearance(shot, faces, representative=faces[1])
    faces[1].delete()
    appearance.refresh_from_db()
    assert appearance.representative_face is None
    assert list(appearance.faces.all()) == [faces[0]]


def test_deleting_an_appearance_unlinks_its_faces(two_faces):
    movie, shot, faces = two_faces
    make_appearance(shot, faces).delete()
    assert Face.objects.filter(movie=movie, appearance__isnull=True).count() == 2


def test_a_deleted_movie_takes_its_shots_and_appearances(two_faces):
    movie, shot, faces = two_faces
    make_appearance(shot, faces)
    movie.delete()
    assert not Shot.objects.exists()
    assert not Appearance.objects.exists()
