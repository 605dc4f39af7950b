"""MTCNN detection on real photos (real networks, nothing mocked)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from faces.detection import (
    MTCNN_MIN_FACE_PX,
    Detection,
    detect_faces,
    device,
    resolve_min_face,
)
from tests.shared_data import FACES, GROUP_PHOTOS

MIN_PROBABILITY = 0.99


def load_rgb(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def miranda() -> np.ndarray:
    return load_rgb(FACES / "lin_manuel_miranda" / "1.jpg")


@pytest.fixture(scope="module")
def obama_and_biden() -> np.ndarray:
    return load_rgb(GROUP_PHOTOS / "obama_and_biden_1.jpg")


def test_finds_the_one_face_in_a_portrait(miranda):
    faces = detect_faces(miranda, min_face_px=40, min_probability=MIN_PROBABILITY)

    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, Detection)
    assert face.probability > MIN_PROBABILITY
    x1, y1, x2, y2 = face.box
    height, width = miranda.shape[:2]
    assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
    # A portrait: the face is a large part of the photo.
    assert face.height > 0.3 * height
    # Five landmarks inside the box: eyes above the nose above the mouth corners.
    assert len(face.landmarks) == 5
    for x, y in face.landmarks:
        assert x1 <= x <= x2 and y1 <= y <= y2
    (lx, ly), (rx, ry), (_, ny), (_, ml), (_, mr) = face.landmarks
    assert lx < rx
    assert max(ly, ry) < ny < min(ml, mr)


def test_finds_both_people_in_a_group_photo(obama_and_biden):
    faces = detect_faces(obama_and_biden, min_face_px=40, min_probability=MIN_PROBABILITY)

    # labels.csv: Joe Biden (left) and Barack Obama; a child and a partly visible woman at the
    # right edge are unlabelled, so there may be more faces, but the two men are the largest.
    assert len(faces) >= 2
    largest = sorted(faces, key=lambda f: f.width * f.height, reverse=True)[:2]
    left, right = sorted(largest, key=lambda f: f.box[0])
    assert left.box[2] <= right.box[0], "the two faces do not overlap"
    assert all(f.probability > MIN_PROBABILITY for f in faces)
    # Faces come left to right.
    assert [f.box[0] for f in faces] == sorted(f.box[0] for f in faces)


def test_nothing_on_a_blank_image():
    for blank in (np.zeros((480, 640, 3), np.uint8), np.full((720, 1280, 3), 200, np.uint8)):
        assert detect_faces(blank, min_face_px=20, min_probability=MIN_PROBABILITY) == []


def test_minimum_face_size_drops_smaller_faces(obama_and_biden):
    faces = detect_faces(obama_and_biden, min_face_px=40, min_probability=MIN_PROBABILITY)
    largest = max(max(face.width, face.height) for face in faces)

    assert detect_faces(obama_and_biden, min_face_px=int(largest * 3), min_probability=0.99) == []
    # Larger than the whole image: no face can fit, and no error either.
    assert detect_faces(obama_and_biden, min_face_px=5000, min_probability=0.99) == []


def test_same_faces_as_facenet_pytorch_mtcnn(obama_and_biden):
    """Our faster call of MTCNN's stages gives what facenet-pytorch's own MTCNN gives."""
    from facenet_pytorch import MTCNN

    boxes, probs, points = MTCNN(keep_all=True, min_face_size=40).detect(
        obama_and_biden, landmarks=True
    )
    keep = [i for i, p in enumerate(probs) if p > MIN_PROBABILITY]
    expected = sorted(
        ((np.asarray(boxes[i], np.float32), np.asarray(points[i], np.float32)) for i in keep),
        key=lambda pair: (round(float(pair[0][0])), round(float(pair[0][1]))),
    )
    ours = detect_faces(obama_and_biden, min_face_px=40, min_probability=MIN_PROBABILITY)

    assert len(ours) == len(expected) >= 2
    for face, (box, marks) in zip(ours, expected, strict=True):
        np.testing.assert_allclose(face.box, box, atol=0.01)
        np.testing.assert_allclose(face.landmarks, marks, atol=0.01)


def test_a_higher_probability_threshold_keeps_fewer_faces(obama_and_biden):
    all_faces = detect_faces(obama_and_biden, min_face_px=40, min_probability=0.0)
    confident = detect_faces(obama_and_biden, min_face_px=40, min_probability=0.99)

    assert len(all_faces) >= len(confident) >= 2
    assert all(f.probability > 0.99 for f in confident)


def test_fraction_and_pixel_sizes_agree(obama_and_biden):
    height = obama_and_biden.shape[0]
    by_fraction = detect_faces(
        obama_and_biden, min_face_px=resolve_min_face(0.05, height), min_probability=0.99
    )
    by_pixels = detect_faces(
        obama_and_biden, min_face_px=round(0.05 * height), min_probability=0.99
    )
    assert by_fraction == by_pixels


@pytest.mark.parametrize(
    ("min_face", "height", "expected"),
    [
        (0.1, 1080, 108),  # a fraction of the frame height
        (0.1, 360, 36),
        (120, 1080, 120),  # pixels
        (120.0, 360, 120),
        (1, 1080, MTCNN_MIN_FACE_PX),  # 1 means one pixel, floored at MTCNN's minimum
        (0.01, 360, MTCNN_MIN_FACE_PX),
    ],
)
def test_resolve_min_face(min_face, height, expected):
    assert resolve_min_face(min_face, height) == expected


@pytest.mark.parametrize("bad", [0, -0.1, -5, float("nan")])
def test_resolve_min_face_rejects_nonsense(bad):
    with pytest.raises(ValueError, match="positive"):
        resolve_min_face(bad, 1080)


@pytest.mark.parametrize(
    "image",
    [np.zeros((100, 100), np.uint8), np.zeros((100, 100, 4), np.uint8), np.zeros((9, 9, 3))],
)
def test_rejects_images_that_are_not_rgb_uint8(image):
    with pytest.raises(ValueError, match="expected"):
        detect_faces(image, min_face_px=20, min_probability=0.99)


def test_device_setting(settings):
    settings.FACEFINDER_DEVICE = "cpu"
    assert device().type == "cpu"
    settings.FACEFINDER_DEVICE = "auto"
    assert device().type in {"cpu", "cuda"}
    settings.FACEFINDER_DEVICE = "no-such-device"
    with pytest.raises(ImproperlyConfigured, match="FACEFINDER_DEVICE"):
        device()


def test_thread_setting(settings):
    import torch

    from faces.detection import configure_threads

    before = torch.get_num_threads()
    try:
        settings.FACEFINDER_TORCH_THREADS = 1
        configure_threads()
        assert torch.get_num_threads() == 1
        settings.FACEFINDER_TORCH_THREADS = 0  # leaves whatever is set
        configure_threads()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
