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
from tests.shared_data import FACES, GROUP_PHOTOS, VIDEOS

MIN_PROBABILITY = 0.99


def load_rgb(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def miranda() -> np.ndarray:
    return load_rgb(FACES / "lin_manuel_miranda" / "1.jpg")


@pytest.fixture(scope="module")
def crowd_frame() -> np.ndarray:
    """A 1080p frame with several people walking towards the camera."""
    capture = cv2.VideoCapture(str(VIDEOS / "crowd_walking_opera_house.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 50)
    ok, frame = capture.read()
    capture.release()
    assert ok
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


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


def box_iou(a, b) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("min_face", [40, 65])
def test_same_faces_as_facenet_pytorch_mtcnn(obama_and_biden, crowd_frame, min_face):
    """Our MTCNN stages find the faces facenet-pytorch's own MTCNN finds.

    Not to the bit: our image pyramid comes from one integral image instead of one area
    interpolation of the whole frame per scale. The pooling windows are the same, but sums
    are exact integers here and float accumulations there, so pixels of a level differ in
    the last bit, and so may a box. The issue's tolerance: the same faces, box IoU >= 0.95.
    """
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(keep_all=True, min_face_size=min_face)
    for image in (obama_and_biden, crowd_frame):
        boxes, probs, points = mtcnn.detect(image, landmarks=True)
        keep = [i for i, p in enumerate(probs) if p > MIN_PROBABILITY]
        expected = sorted(
            ((np.asarray(boxes[i], np.float32), np.asarray(points[i], np.float32)) for i in keep),
            key=lambda pair: (round(float(pair[0][0])), round(float(pair[0][1]))),
        )
        ours = detect_faces(image, min_face_px=min_face, min_probability=MIN_PROBABILITY)

        assert len(ours) == len(expected) >= 2
        for face, (box, marks) in zip(ours, expected, strict=True):
            assert box_iou(face.box, box) >= 0.95
            np.testing.assert_allclose(face.landmarks, marks, atol=1.0)


def test_pyramid_levels_are_facenets_area_interpolation(crowd_frame):
    """Each level from the integral image equals torch's area interpolation of the frame."""
    import torch
    from facenet_pytorch.models.utils.detect_face import imresample

    from faces.mtcnn import pyramid_levels, pyramid_scales

    height, width = crowd_frame.shape[:2]
    scales = pyramid_scales(height, width, 65, 0.709)
    assert len(scales) == 9  # 1080 * 12/65 = 199 px, down by 0.709 while >= 12
    sizes = [(int(height * s + 1), int(width * s + 1)) for s in scales]
    frame = torch.from_numpy(crowd_frame).permute(2, 0, 1).unsqueeze(0).float()
    levels = list(pyramid_levels(cv2.integral(crowd_frame), sizes))

    for size, level in zip(sizes, levels, strict=True):
        assert level.shape == (1, 3, *size)
        torch.testing.assert_close(level, imresample(frame, size), rtol=0, atol=1e-3)


@pytest.mark.parametrize("side", [24, 48])
def test_crops_from_the_integral_image_are_facenets_per_box_area_resize(crowd_frame, side):
    """All boxes' crops at once equal facenet-pytorch's crop-then-``imresample`` of each box,
    for boxes inside the frame, over its edges (clamped), smaller and larger than the crop."""
    import torch
    from facenet_pytorch.models.utils.detect_face import imresample, pad

    from faces.mtcnn import _crops

    height, width = crowd_frame.shape[:2]
    boxes = torch.tensor(
        [
            [100.4, 200.7, 160.2, 260.9, 0.9],  # 60 px: shrunk
            [500.0, 300.0, 510.5, 310.5, 0.9],  # 10 px: enlarged
            [-20.3, -15.0, 40.0, 45.0, 0.9],  # over the top-left corner
            [width - 30.0, height - 50.0, width + 25.0, height + 5.0, 0.9],  # bottom-right
            [900.0, 100.0, 1300.0, 500.0, 0.9],  # 400 px
            [width + 10.0, 10.0, width + 50.0, 50.0, 0.9],  # outside: dropped
        ]
    )
    kept, crops = _crops(cv2.integral(crowd_frame), boxes.clone(), side, torch.device("cpu"))

    planes = torch.from_numpy(crowd_frame).permute(2, 0, 1)
    top, bottom, left, right = pad(boxes.clone(), width, height)
    expected = [
        imresample(planes[:, top[k] - 1 : bottom[k], left[k] - 1 : right[k]][None].float(), side)
        for k in range(5)
    ]
    torch.testing.assert_close(kept, boxes[:5])
    normalised = (torch.cat(expected) - 127.5) * 0.0078125
    torch.testing.assert_close(crops, normalised, rtol=0, atol=1e-5)


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
