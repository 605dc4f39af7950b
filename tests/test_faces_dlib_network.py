"""dlib's face recognition ResNet in torch: the reader of dlib's model file, the network's
vectors against dlib's own, and clear failures for missing or damaged model files."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from faces import dlib_embedders, embedders
from faces.detection import detect_faces
from faces.dlib_embedders import DLIB_RECOGNITION_MODEL, DLIB_SHAPE_PREDICTOR, dlib_model_dir
from faces.dlib_format import RESIDUAL_UNITS, DlibFormatError, read_resnet
from faces.embedders import EmbedderUnavailable, get_embedder
from tests.shared_data import FACES, GROUP_PHOTOS

DLIB_EMBEDDERS = ("dlib-resnet", "dlib-resnet-mtcnn")
PORTRAITS = [
    FACES / "barack_obama" / "1.jpg",
    FACES / "joe_biden" / "1.jpg",
    FACES / "lin_manuel_miranda" / "1.jpg",
    FACES / "kit_harington" / "1.jpg",
    GROUP_PHOTOS / "obama_and_biden_1.jpg",
]


def load_rgb(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def portrait_faces():
    """Real photos with the faces MTCNN finds in them (up to two per photo)."""
    items = []
    for path in PORTRAITS:
        image = load_rgb(path)
        items.append((image, detect_faces(image, min_face_px=40, min_probability=0.99)[:2]))
    assert sum(len(faces) for _, faces in items) >= 6
    return items


@pytest.fixture
def model_folder(tmp_path, monkeypatch):
    """A copy of face_recognition_models' folder that a test may damage; the embedders loaded
    from it are forgotten afterwards."""
    for name in (DLIB_RECOGNITION_MODEL, DLIB_SHAPE_PREDICTOR):
        shutil.copyfile(dlib_model_dir() / name, tmp_path / name)
    monkeypatch.setattr(dlib_embedders, "dlib_model_dir", lambda: tmp_path)
    for name in DLIB_EMBEDDERS:
        embedders.clear_cache(name)
    yield tmp_path
    for name in DLIB_EMBEDDERS:
        embedders.clear_cache(name)


def test_the_model_file_holds_dlibs_29_layer_resnet():
    weights = read_resnet(dlib_model_dir() / DLIB_RECOGNITION_MODEL)

    assert len(weights.units) == len(RESIDUAL_UNITS) == 14
    assert 1 + 2 * len(weights.units) == 29  # convolutions
    assert weights.stem[0].weight.shape == (32, 3, 7, 7)
    assert weights.fc.shape == (256, 128)
    # dlib's input layer subtracts the training set's mean colour.
    assert all(100 < mean < 130 for mean in weights.channel_means)


def test_torch_network_gives_dlibs_vectors_on_real_face_chips(portrait_faces):
    embedder = get_embedder("dlib-resnet")
    chips = embedder.chips(portrait_faces)

    ours = embedder.embed_many(portrait_faces)
    dlibs = embedder.reference_descriptors(chips)

    assert ours.shape == dlibs.shape == (len(chips), 128)
    assert cosines(ours, dlibs).min() >= 0.9999


def test_torch_network_matches_dlibs_whole_descriptor_call(portrait_faces):
    """Chips cut by dlib.get_face_chips, then torch, equal dlib's compute_face_descriptor(image,
    shape), which cuts its own chips."""
    embedder = get_embedder("dlib-resnet")
    image, faces = portrait_faces[-1]  # the group photo: two faces in one image
    recogniser = embedder._dlib.face_recognition_model_v1(str(embedder.recognition_model_path))
    shapes = embedder.shapes(image, faces)
    dlibs = np.asarray([recogniser.compute_face_descriptor(image, shape) for shape in shapes])

    assert cosines(embedder.embed_many([(image, faces)]), dlibs).min() >= 0.9999


def test_batches_of_any_size_give_the_same_vectors(portrait_faces, settings):
    embedder = get_embedder("dlib-resnet")
    whole = embedder.embed_many(portrait_faces)
    embedder.batch_size = 2
    try:
        np.testing.assert_allclose(embedder.embed_many(portrait_faces), whole, atol=1e-5)
    finally:
        embedder.batch_size = settings.FACEFINDER_EMBED_BATCH


@pytest.mark.parametrize("name", DLIB_EMBEDDERS)
def test_a_missing_model_file_is_a_clear_error(model_folder, name):
    (model_folder / DLIB_RECOGNITION_MODEL).unlink()

    with pytest.raises(EmbedderUnavailable, match=f"^{name} model file missing") as error:
        get_embedder(name)
    assert str(model_folder / DLIB_RECOGNITION_MODEL) in str(error.value)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: b"",
        lambda data: b"not a dlib network at all" * 100,
        lambda data: data + b"\x00",  # trailing bytes
        lambda data: data[:4] + b"loss_metric_9" + data[17:],  # another loss layer version
    ],
    ids=["truncated", "empty", "garbage", "trailing-bytes", "other-version"],
)
def test_a_damaged_model_file_is_a_clear_error(model_folder, damage):
    path = model_folder / DLIB_RECOGNITION_MODEL
    path.write_bytes(damage(path.read_bytes()))

    with pytest.raises(EmbedderUnavailable, match="cannot be read") as error:
        get_embedder("dlib-resnet")
    message = str(error.value)
    assert "\n" not in message
    assert "dlib-resnet" in message and str(path) in message


def test_another_dlib_file_is_refused(model_folder):
    """The shape predictor's file is a dlib file too, but not this network."""
    shutil.copyfile(model_folder / DLIB_SHAPE_PREDICTOR, model_folder / DLIB_RECOGNITION_MODEL)

    with pytest.raises(EmbedderUnavailable, match="cannot be read"):
        get_embedder("dlib-resnet")


def test_a_damaged_shape_predictor_is_a_clear_error(model_folder):
    (model_folder / DLIB_SHAPE_PREDICTOR).write_bytes(b"broken")

    with pytest.raises(EmbedderUnavailable, match="cannot be read") as error:
        get_embedder("dlib-resnet")
    assert DLIB_SHAPE_PREDICTOR in str(error.value)


def test_reader_names_what_it_expected(tmp_path):
    data = (dlib_model_dir() / DLIB_RECOGNITION_MODEL).read_bytes()
    path = tmp_path / "net.dat"
    path.write_bytes(b"\x01\x02" + data[2:])  # the file's first integer: the loss version

    with pytest.raises(DlibFormatError, match="loss layer version: expected 1, found 2"):
        read_resnet(path)
