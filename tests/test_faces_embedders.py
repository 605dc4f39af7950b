"""Embedders and the analyse_images pipeline with real networks.

Quality checks use dlib-resnet (its weights ship with face_recognition_models). The vggface2
weights cannot be had here, so facenet-vggface2 is tested for its mechanics only, with a weights
file of random values that the test writes itself; that network's vectors mean nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command

from faces import embedders
from faces.detection import detect_faces
from faces.embedders import (
    DIMENSIONS,
    EMBEDDER_NAMES,
    EmbedderUnavailable,
    UnknownEmbedder,
    get_embedder,
)
from faces.pipeline import DetectedFace, analyse_images
from tests.shared_data import FACES, GROUP_PHOTOS

REPO = Path(__file__).resolve().parents[1]


def load_rgb(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def portrait(person: str, n: int) -> np.ndarray:
    return load_rgb(FACES / person / f"{n}.jpg")


def only_face(image: np.ndarray):
    faces = detect_faces(image, min_face_px=40, min_probability=0.99)
    assert len(faces) == 1
    return faces


@pytest.fixture(scope="module")
def dlib_vectors() -> dict[str, np.ndarray]:
    """One dlib vector per portrait, computed once for the module."""
    dlib = get_embedder("dlib-resnet")
    vectors = {}
    for person, n in [("barack_obama", 1), ("barack_obama", 2), ("joe_biden", 1)]:
        image = portrait(person, n)
        vectors[f"{person}/{n}"] = dlib.embed_many([(image, only_face(image))])[0]
    return vectors


@pytest.fixture(scope="session")
def random_facenet_weights(tmp_path_factory) -> Path:
    """A state dict shaped exactly like facenet-pytorch's vggface2 file (its 8631-class logits
    layer included), with random values."""
    from facenet_pytorch import InceptionResnetV1

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random-vggface2.pt"
    torch.save(InceptionResnetV1(classify=True, num_classes=8631).state_dict(), path)
    return path


@pytest.fixture
def facenet_with(settings):
    """Point FACENET_WEIGHTS at a file; the loaded models are dropped afterwards."""

    def use(path) -> None:
        settings.FACENET_WEIGHTS = str(path)

    yield use
    embedders.clear_cache("facenet-vggface2")


def test_known_names_and_dimensions():
    assert EMBEDDER_NAMES == ("facenet-vggface2", "dlib-resnet", "dlib-resnet-mtcnn")
    assert DIMENSIONS == {"facenet-vggface2": 512, "dlib-resnet": 128, "dlib-resnet-mtcnn": 128}


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownEmbedder) as error:
        get_embedder("arcface")
    message = str(error.value)
    assert "arcface" in message
    assert all(name in message for name in EMBEDDER_NAMES)


# --- dlib-resnet: real quality -------------------------------------------------------------


def test_dlib_vectors_are_unit_128_float32(dlib_vectors):
    for vector in dlib_vectors.values():
        assert vector.shape == (128,)
        assert vector.dtype == np.float32
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_dlib_same_person_scores_higher_than_another(dlib_vectors):
    obama_1, obama_2 = dlib_vectors["barack_obama/1"], dlib_vectors["barack_obama/2"]
    biden = dlib_vectors["joe_biden/1"]

    same = float(obama_1 @ obama_2)
    assert same > float(obama_1 @ biden) + 0.05
    assert same > float(obama_2 @ biden) + 0.05


def test_dlib_tells_the_people_in_a_group_photo_apart(dlib_vectors):
    group = load_rgb(GROUP_PHOTOS / "obama_and_biden_1.jpg")
    faces = detect_faces(group, min_face_px=40, min_probability=0.99)
    largest = sorted(faces, key=lambda f: f.width * f.height, reverse=True)[:2]
    left, right = sorted(largest, key=lambda f: f.box[0])  # labels.csv: Biden, then Obama

    vectors = get_embedder("dlib-resnet").embed_many([(group, [left, right])])
    biden, obama = dlib_vectors["joe_biden/1"], dlib_vectors["barack_obama/1"]
    assert vectors[0] @ biden > vectors[0] @ obama
    assert vectors[1] @ obama > vectors[1] @ biden


def test_dlib_batch_equals_one_by_one():
    dlib = get_embedder("dlib-resnet")
    items = []
    for person, n in [("barack_obama", 1), ("joe_biden", 1)]:
        image = portrait(person, n)
        items.append((image, only_face(image)))

    batch = dlib.embed_many(items)
    single = np.concatenate([dlib.embed_many([item]) for item in items])
    assert batch.shape == (2, 128)
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_no_faces_give_an_empty_matrix():
    for name in ("dlib-resnet", "dlib-resnet-mtcnn"):
        vectors = get_embedder(name).embed_many([(np.zeros((100, 100, 3), np.uint8), [])])
        assert vectors.shape == (0, DIMENSIONS[name])


# --- facenet-vggface2: loading mechanics -----------------------------------------------------


def test_facenet_loads_a_weights_file_and_embeds_in_batches(
    facenet_with, random_facenet_weights, settings
):
    facenet_with(random_facenet_weights)
    settings.FACEFINDER_EMBED_BATCH = 2  # three faces -> two chunks
    facenet = get_embedder("facenet-vggface2")
    assert (facenet.name, facenet.dimension) == ("facenet-vggface2", 512)
    assert get_embedder("facenet-vggface2") is facenet, "loaded once per process"

    group = load_rgb(GROUP_PHOTOS / "obama_and_biden_1.jpg")
    miranda = portrait("lin_manuel_miranda", 1)
    items = [
        (group, detect_faces(group, min_face_px=40, min_probability=0.99)[:2]),
        (miranda, only_face(miranda)),
    ]
    batch = facenet.embed_many(items)
    single = np.concatenate(
        [facenet.embed_many([(image, [face])]) for image, faces in items for face in faces]
    )

    assert batch.shape == (3, 512)
    assert batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_facenet_uses_the_torch_cache_file_when_no_path_is_set(
    facenet_with, random_facenet_weights, settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "checkpoints" / "20180402-114759-vggface2.pt"
    cached.parent.mkdir()
    cached.symlink_to(random_facenet_weights)
    facenet_with("")
    # Nothing may be downloaded when the file is already there.
    monkeypatch.setattr(embedders, "FACENET_WEIGHTS_URL", "http://127.0.0.1:9/vggface2.pt")

    assert get_embedder("facenet-vggface2").dimension == 512


def test_facenet_download_failure_says_how_to_provide_the_weights(
    facenet_with, settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    # A port where nothing listens: fails at once, offline or not.
    monkeypatch.setattr(embedders, "FACENET_WEIGHTS_URL", "http://127.0.0.1:9/vggface2.pt")
    facenet_with("")

    with pytest.raises(EmbedderUnavailable) as error:
        get_embedder("facenet-vggface2")
    message = str(error.value)
    assert "\n" not in message
    assert "FACENET_WEIGHTS" in message
    assert str(tmp_path / "checkpoints") in message
    assert not (tmp_path / "checkpoints" / "20180402-114759-vggface2.pt").exists()


def test_facenet_missing_weights_file(facenet_with, tmp_path):
    missing = tmp_path / "nowhere.pt"
    facenet_with(missing)

    with pytest.raises(EmbedderUnavailable, match=r"not found.*FACENET_WEIGHTS") as error:
        get_embedder("facenet-vggface2")
    assert str(missing) in str(error.value)


@pytest.mark.parametrize(
    ("make_file", "reason"),
    [
        (lambda path: path.write_text("not a model"), "cannot be read"),
        (lambda path: path.write_bytes(b""), "cannot be read"),
        (lambda path: torch.save(torch.zeros(3), path), "not a state dict"),
        (lambda path: torch.save({"conv.weight": torch.zeros(3)}, path), "do not fit"),
    ],
    ids=["text", "empty", "tensor", "other-network"],
)
def test_facenet_wrong_weights_file(facenet_with, tmp_path, make_file, reason):
    path = tmp_path / "weights.pt"
    make_file(path)
    facenet_with(path)

    with pytest.raises(EmbedderUnavailable, match=reason) as error:
        get_embedder("facenet-vggface2")
    assert "\n" not in str(error.value)


def test_facenet_without_its_classifier_layer_loads(facenet_with, tmp_path):
    from facenet_pytorch import InceptionResnetV1

    path = tmp_path / "embedding-only.pt"
    torch.save(InceptionResnetV1().state_dict(), path)
    facenet_with(path)

    assert get_embedder("facenet-vggface2").dimension == 512


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda state: state.pop("last_bn.weight"), "1 missing keys"),
        (lambda state: state.update(extra=torch.zeros(1)), "1 unexpected keys"),
        (
            lambda state: state.update({"last_linear.weight": torch.zeros(128, 1792)}),
            "1 keys of the wrong shape",
        ),
        # casia-webface weights: the same network trained on another set (10575 classes).
        (lambda state: state.update({"logits.weight": torch.zeros(10575, 512)}), "another"),
    ],
    ids=["missing", "unexpected", "wrong-shape", "other-training-set"],
)
def test_facenet_weights_of_the_wrong_shape(
    facenet_with, random_facenet_weights, tmp_path, change, reason
):
    state = torch.load(random_facenet_weights, weights_only=True)
    change(state)
    path = tmp_path / "changed.pt"
    torch.save(state, path)
    facenet_with(path)

    with pytest.raises(EmbedderUnavailable, match=reason) as error:
        get_embedder("facenet-vggface2")
    assert "\n" not in str(error.value)


# --- analyse_images ----------------------------------------------------------------------------


def test_analyse_images_one_list_per_image_in_order():
    miranda = portrait("lin_manuel_miranda", 1)
    blank = np.zeros((360, 640, 3), np.uint8)
    group = load_rgb(GROUP_PHOTOS / "obama_and_biden_1.jpg")

    results = analyse_images(
        [miranda, blank, group], embedder="dlib-resnet", min_face=0.05, min_probability=0.99
    )

    assert [len(faces) for faces in results[:2]] == [1, 0]
    assert len(results[2]) >= 2
    for faces in results:
        for face in faces:
            assert isinstance(face, DetectedFace)
            assert face.vector.shape == (128,)
            assert np.linalg.norm(face.vector) == pytest.approx(1.0, abs=1e-5)
    # The same vectors as embedding each image on its own.
    dlib = get_embedder("dlib-resnet")
    for image, faces in zip([miranda, group], [results[0], results[2]], strict=True):
        alone = dlib.embed_many([(image, [face.detection for face in faces])])
        np.testing.assert_allclose(np.stack([f.vector for f in faces]), alone, atol=1e-5)


def test_analyse_images_reports_detection_and_embedding_to_a_timer():
    from movies.timing import StageTimer

    timer = StageTimer()
    group = load_rgb(GROUP_PHOTOS / "obama_and_biden_1.jpg")
    analyse_images([group, group], embedder="dlib-resnet", min_face=0.05, timer=timer)
    assert set(timer.seconds) == {"detect", "embed"}
    assert all(seconds > 0 for seconds in timer.seconds.values())


def test_analyse_images_min_face_is_a_fraction_of_each_image_height():
    group = load_rgb(GROUP_PHOTOS / "obama_and_biden_1.jpg")  # faces ~16% high
    assert len(analyse_images([group], embedder="dlib-resnet", min_face=0.05)[0]) >= 2
    assert analyse_images([group], embedder="dlib-resnet", min_face=0.5) == [[]]


def test_analyse_images_fails_fast_on_a_bad_embedder(facenet_with, tmp_path):
    with pytest.raises(UnknownEmbedder):
        analyse_images([np.zeros((10, 10, 3), np.uint8)], embedder="nope", min_face=20)
    facenet_with(tmp_path / "missing.pt")
    with pytest.raises(EmbedderUnavailable):
        analyse_images([], embedder="facenet-vggface2", min_face=20)


# --- check_embedder ------------------------------------------------------------------------


def test_check_embedder_ok(capsys):
    call_command("check_embedder", "dlib-resnet")
    output = capsys.readouterr().out.strip()
    assert re.fullmatch(r"ok: dlib-resnet \(128-d\) on (cpu|cuda.*)", output)


def test_check_embedder_defaults_to_the_setting(settings, capsys):
    settings.FACEFINDER_EMBEDDER = "dlib-resnet"
    call_command("check_embedder")
    assert capsys.readouterr().out.startswith("ok: dlib-resnet (128-d)")


def test_check_embedder_reports_missing_weights(facenet_with, tmp_path):
    facenet_with(tmp_path / "missing.pt")
    with pytest.raises(CommandError, match="FACENET_WEIGHTS") as error:
        call_command("check_embedder", "facenet-vggface2")
    assert error.value.returncode == 1


def test_check_embedder_exit_status(tmp_path):
    """The real process: exit 1 and one line on stderr (scripts/demo relies on this)."""
    run = subprocess.run(
        [sys.executable, "manage.py", "check_embedder", "no-such-embedder"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown embedder 'no-such-embedder'" in lines[0]


@pytest.mark.parametrize("embedder", ["facenet-vggface2", "dlib-resnet", "dlib-resnet-mtcnn"])
def test_images_side_by_side_give_what_one_at_a_time_gives(
    embedder, facenet_with, random_facenet_weights, settings
):
    """The CPU pipeline analyses several images at once; results and their order must not
    depend on it (facenet's random weights check mechanics only)."""
    facenet_with(random_facenet_weights)
    images = [
        load_rgb(GROUP_PHOTOS / "obama_and_biden_1.jpg"),
        portrait("lin_manuel_miranda", 1),
        np.zeros((200, 300, 3), np.uint8),
        portrait("barack_obama", 2),
    ]

    def analyse(parallel: int) -> list[list[DetectedFace]]:
        settings.FACEFINDER_PARALLEL_IMAGES = parallel
        return analyse_images(images, embedder=embedder, min_face=40)

    side_by_side, one_at_a_time = analyse(3), analyse(1)
    assert [len(faces) for faces in side_by_side] == [len(f) for f in one_at_a_time]
    assert [len(faces) for faces in side_by_side][2] == 0
    for got, want in zip(side_by_side, one_at_a_time, strict=True):
        for a, b in zip(got, want, strict=True):
            assert a.detection == b.detection
            np.testing.assert_allclose(a.vector, b.vector, atol=1e-4)
