"""Shots and appearances written shot by shot from stored faces (faces.appearances), and the
same rows again after a run stopped at any checkpoint and resumed."""

from __future__ import annotations

import numpy as np
import pytest

from faces.appearances import AppearanceBuilder, feed
from faces.models import Appearance, Face, unpack_vector
from faces.quality import frontality, representative_score, sharpness
from movies.models import Shot
from tests.factories import make_face, make_frame, make_movie, random_unit, unit

pytestmark = pytest.mark.django_db

EVERY = 5
# Frames 0-99 every 5th; cuts at 32 and 46 (between sampled frames: they travel with frames 35
# and 50) and 70. Anna is in the first shot, missed at frames 15 and 20; Ben is in every frame
# of shots 0, 1 and 3; nobody in shot 2.
CUTS = {35: (32,), 50: (46,), 70: (70,)}
FRAME_COUNT = 100


def anna_here(index: int) -> bool:
    return index < 32 and index not in (15, 20)


def ben_here(index: int) -> bool:
    return index < 46 or index >= 70


@pytest.fixture
def film():
    rng = np.random.default_rng(3)
    movie = make_movie("Gala", sample_every=EVERY, fps=25.0, frame_count=FRAME_COUNT)
    anna, ben = random_unit(rng), random_unit(rng)
    for index in range(0, FRAME_COUNT, EVERY):
        frame = make_frame(movie, index, stored=False)
        face_index = 0
        if anna_here(index):
            make_face(
                frame,
                unit(anna + 0.05 * random_unit(rng)),
                face_index=face_index,
                box=(10 + index, 10, 50 + index, 50),
                sharpness=100.0 + index,  # the latest face of Anna's is the sharpest
                landmarks=[[20 + index, 20], [40 + index, 20], [30 + index, 30]],
            )
            face_index += 1
        if ben_here(index):
            make_face(
                frame,
                unit(ben + 0.05 * random_unit(rng)),
                face_index=face_index,
                box=(100, 10, 140, 50),
                sharpness=50.0,
                landmarks=[[110, 20], [130, 20], [120, 30]],
            )
    return movie


def sampled(first=0, end=FRAME_COUNT):
    """(index, cuts) of the sampled frames ``first`` <= index < ``end``."""
    return [(index, CUTS.get(index, ())) for index in range(0, end, EVERY) if index >= first]


def build(movie, checkpoint=0):
    builder = AppearanceBuilder.resume(
        movie, embedder="dlib-resnet", sample_every=EVERY, checkpoint=checkpoint
    )
    feed(builder, sampled(first=checkpoint))
    builder.finish(FRAME_COUNT)


def stored(movie):
    shots = list(Shot.objects.filter(movie=movie).values_list("index", "first_frame", "last_frame"))
    appearances = []
    for appearance in Appearance.objects.filter(movie=movie).order_by("first_frame_index"):
        faces = list(appearance.faces.order_by("frame_index").values_list("pk", flat=True))
        appearances.append(
            (
                appearance.shot.index,
                appearance.first_frame_index,
                appearance.last_frame_index,
                round(appearance.start_seconds, 6),
                round(appearance.end_seconds, 6),
                appearance.face_count,
                appearance.representative_face_id,
                bytes(appearance.embedding),
                tuple(faces),
            )
        )
    return shots, sorted(appearances, key=lambda a: (a[1], a[-1]))


def test_shots_and_appearances_of_an_uninterrupted_run(film):
    build(film)
    shots, appearances = stored(film)
    assert shots == [(0, 0, 31), (1, 32, 45), (2, 46, 69), (3, 70, 99)]
    spans = [(a[0], a[1], a[2], a[5]) for a in appearances]
    # Anna's two misses do not end her appearance; each cut ends Ben's.
    assert spans == [(0, 0, 30, 5), (0, 0, 30, 7), (1, 35, 45, 3), (3, 70, 95, 6)]
    anna = Appearance.objects.get(first_frame_index=0, face_count=5)
    # End: the last sampled frame plus the interval (35), clipped to the shot's end (32).
    assert anna.end_seconds == pytest.approx(32 / 25)
    last_ben = Appearance.objects.get(first_frame_index=70)
    assert last_ben.end_seconds == pytest.approx(100 / 25)
    assert last_ben.start_seconds == pytest.approx(70 / 25)
    # The representative is the best scored face: Anna's faces grow sharper frame by frame.
    assert anna.representative_face.frame_index == 30
    faces = Face.objects.filter(appearance=anna)
    mean = np.mean([unpack_vector(face.embedding) for face in faces], axis=0)
    assert np.allclose(unpack_vector(anna.embedding), mean / np.linalg.norm(mean), atol=1e-6)
    assert not Face.objects.filter(movie=film, appearance=None).exists()


# Every checkpoint a run can stop at: one past a sampled frame (a batch per sampled frame).
@pytest.mark.parametrize("checkpoint", [1, 6, 31, 36, 41, 46, 66, 71, 76, 96])
def test_a_run_resumed_at_any_checkpoint_stores_the_same_rows(film, checkpoint):
    build(film)
    expected = stored(film)
    Appearance.objects.all().delete()
    Shot.objects.all().delete()
    # The run that stopped: everything up to the checkpoint's batch...
    builder = AppearanceBuilder(film, embedder="dlib-resnet", sample_every=EVERY)
    feed(builder, sampled(end=checkpoint))
    # ...and the next batch's shot, written before the kill (or the last one, at the end).
    later = [(index, cuts) for index, cuts in sampled(first=checkpoint) if cuts]
    if later:
        feed(builder, sampled(first=checkpoint, end=later[0][0] + 1))
    else:
        feed(builder, sampled(first=checkpoint))
        builder.finish(FRAME_COUNT)
    # The kill came right after that shot's row: its appearances were never written.
    last_shot = Shot.objects.filter(movie=film).order_by("index").last()
    Face.objects.filter(appearance__shot=last_shot).update(appearance=None)
    Appearance.objects.filter(shot=last_shot).delete()
    build(film, checkpoint=checkpoint)
    assert stored(film) == expected


def test_quality_prefers_large_sharp_frontal_faces():
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 255, size=(100, 100, 3), dtype=np.uint8)
    blurred = np.full_like(sharp, 128)
    box = (10, 10, 90, 90)
    assert sharpness(sharp, box) > 10 * max(sharpness(blurred, box), 1.0)
    frontal = [[30, 40], [70, 40], [50, 60]]
    profile = [[30, 40], [70, 40], [68, 60]]
    assert frontality(frontal) == pytest.approx(1.0)
    assert frontality(profile) < 0.15
    assert representative_score(box, frontal, 10.0) > representative_score(box, profile, 10.0)
    assert representative_score(box, frontal, 10.0) > representative_score(
        (10, 10, 50, 50), frontal, 10.0
    )
