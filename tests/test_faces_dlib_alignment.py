"""dlib-resnet-mtcnn: dlib's network on chips aligned by MTCNN's own five landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faces.detection import detect_faces
from faces.dlib_embedders import MTCNN_CHIP_LANDMARKS
from faces.embedders import get_embedder
from tests.shared_data import FACES, GROUP_PHOTOS


def load_rgb(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def only_face(image: np.ndarray):
    faces = detect_faces(image, min_face_px=40, min_probability=0.99)
    assert len(faces) == 1
    return faces


@pytest.fixture(scope="module")
def portraits():
    """(image, [its face]) for two photos of Obama and one of Biden."""
    items = {}
    for person, n in [("barack_obama", 1), ("barack_obama", 2), ("joe_biden", 1)]:
        image = load_rgb(FACES / person / f"{n}.jpg")
        items[f"{person}/{n}"] = (image, only_face(image))
    return items


def test_chips_put_mtcnns_landmarks_where_the_template_says(portraits):
    """MTCNN run on a chip finds the eyes, nose and mouth at the template's points (on a
    black border: a face that fills the whole image is not what MTCNN was trained on)."""
    embedder = get_embedder("dlib-resnet-mtcnn")
    chips = embedder.chips(portraits.values())

    assert [chip.shape for chip in chips] == [(150, 150, 3)] * len(portraits)
    border = 75
    for chip in chips:
        framed = cv2.copyMakeBorder(chip, *[border] * 4, cv2.BORDER_CONSTANT)
        (face,) = detect_faces(framed, min_face_px=40, min_probability=0.9)
        landmarks = np.asarray(face.landmarks) - border
        shift = np.abs(landmarks - np.asarray(MTCNN_CHIP_LANDMARKS))
        assert shift[:2].max() < 5, "eyes"  # MTCNN finds eyes again within a few px
        assert shift.max() < 8


def test_vectors_are_unit_128_float32_and_tell_people_apart(portraits):
    embedder = get_embedder("dlib-resnet-mtcnn")
    vectors = {
        name: embedder.embed_many([(image, faces)])[0] for name, (image, faces) in portraits.items()
    }

    for vector in vectors.values():
        assert vector.shape == (128,) and vector.dtype == np.float32
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    obama_1, obama_2 = vectors["barack_obama/1"], vectors["barack_obama/2"]
    biden = vectors["joe_biden/1"]
    same = float(obama_1 @ obama_2)
    assert same > float(obama_1 @ biden) + 0.05
    assert same > float(obama_2 @ biden) + 0.05


def test_the_people_of_a_group_photo(portraits):
    embedder = get_embedder("dlib-resnet-mtcnn")
    group = load_rgb(GROUP_PHOTOS / "obama_and_biden_1.jpg")
    faces = detect_faces(group, min_face_px=40, min_probability=0.99)
    largest = sorted(faces, key=lambda f: f.width * f.height, reverse=True)[:2]
    left, right = sorted(largest, key=lambda f: f.box[0])  # labels.csv: Biden, then Obama

    in_group = embedder.embed_many([(group, [left, right])])
    biden = embedder.embed_many([portraits["joe_biden/1"]])[0]
    obama = embedder.embed_many([portraits["barack_obama/1"]])[0]
    assert in_group[0] @ biden > in_group[0] @ obama
    assert in_group[1] @ obama > in_group[1] @ biden


def test_torch_network_gives_dlibs_vectors_on_these_chips_too(portraits):
    embedder = get_embedder("dlib-resnet-mtcnn")
    chips = embedder.chips(portraits.values())
    ours, dlibs = embedder.embed_many(portraits.values()), embedder.reference_descriptors(chips)
    dlibs /= np.linalg.norm(dlibs, axis=1, keepdims=True)

    assert np.sum(ours * dlibs, axis=1).min() >= 0.9999


def test_an_embedder_of_its_own(portraits):
    """Another alignment gives other vectors of the same faces: close, never the same, so they
    are stored under their own name and never compared with dlib-resnet's."""
    image, faces = portraits["barack_obama/1"]
    theirs = get_embedder("dlib-resnet").embed_many([(image, faces)])[0]
    ours = get_embedder("dlib-resnet-mtcnn").embed_many([(image, faces)])[0]

    assert 0.8 < float(ours @ theirs) < 0.999
