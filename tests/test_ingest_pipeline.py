"""Ingest of real clips through the real pipeline (MTCNN + dlib), via the shared fixture."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from faces.models import Face, unpack_vector
from movies.models import Frame, Movie

pytestmark = pytest.mark.slow


def test_hamilton_clip_is_stored_frame_by_frame_with_embedded_faces(hamilton_movie):
    movie = Movie.objects.get(pk=hamilton_movie.pk)
    assert movie.status == Movie.Status.DONE
    assert movie.progress == 1.0
    assert (movie.fps, movie.frame_count, movie.width, movie.height) == (
        pytest.approx(29.97, abs=0.01),
        275,
        640,
        360,
    )
    # What the player needs to know about the file (movies.playback).
    assert (movie.container, movie.video_codec, movie.audio_codec) == ("mp4", "h264", "aac")
    assert movie.video_start_seconds == pytest.approx(0.852, abs=0.001)
    indexes = list(Frame.objects.filter(movie=movie).values_list("index", flat=True))
    assert indexes == list(range(0, 275, 5))
    assert movie.frames_sampled == 55
    faces = Face.objects.filter(movie=movie)
    assert movie.faces_found == faces.count() > 0
    for face in faces:
        vector = unpack_vector(face.embedding)
        assert face.embedder == "dlib-resnet"
        assert vector.shape == (128,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
        assert face.probability > 0.99
        assert len(face.landmarks) == 5
        assert default_storage.exists(face.thumbnail.name)
    for frame in Frame.objects.filter(movie=movie):
        assert default_storage.exists(frame.image.name)
        assert default_storage.exists(frame.thumbnail.name)
