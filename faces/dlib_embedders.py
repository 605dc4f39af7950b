"""Embedders of dlib's face recognition ResNet (128-d), which differ in how faces are aligned.

- ``dlib-resnet``: dlib's 5-point shape predictor finds the eye corners and nose inside the
  detector's box, and dlib cuts the 150x150 chip from them (``dlib.get_face_chips``, 25%
  padding, as ``compute_face_descriptor`` does).
- ``dlib-resnet-mtcnn``: the chip comes from MTCNN's own five landmarks, mapped by a similarity
  transform onto where those landmarks sit in dlib's chips (``MTCNN_CHIP_LANDMARKS``). The
  shape predictor was trained on boxes of dlib's own detector; on MTCNN's boxes its chips are
  less consistent, and this alignment retrieves people better (``bench_faces --only retrieval``).

The model files come with the ``face_recognition_models`` package (works offline); the network
runs in torch (``faces.dlib_network``), batched, on CUDA when present. Their vectors live in
different spaces (same network, other chips), so they are two embedders.
``reference_descriptors`` keeps dlib's own network call, to check that torch's agrees.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings

from faces.detection import Detection
from faces.embedders import (
    DLIB,
    DLIB_MTCNN,
    EmbedderUnavailable,
    ImageFaces,
    l2_normalise,
)

if TYPE_CHECKING:
    import torch

DLIB_RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_SHAPE_PREDICTOR = "shape_predictor_5_face_landmarks.dat"
CHIP_PADDING = 0.25  # dlib's default for compute_face_descriptor and get_face_chip
CHIP_SIZE = 150
# Where MTCNN's landmarks (eye centres, nose tip, mouth corners) sit in dlib's 150x150 chips:
# their mean over the 80 photos of shared/data/faces, each chip cut by dlib's own path (HOG
# detector, shape predictor, get_face_chip_details); per-point spread 1.1-1.6 px for the eyes,
# 3-5 px for nose and mouth. Reproduce with ``manage.py bench_faces --only template``.
MTCNN_CHIP_LANDMARKS = (
    (46.5, 44.9),
    (101.3, 45.1),
    (73.8, 77.3),
    (48.7, 101.5),
    (99.6, 101.3),
)


def dlib_model_dir() -> Path:
    """face_recognition_models' data folder, found without importing the package (its
    ``__init__`` needs ``pkg_resources``, which recent setuptools no longer ship)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            f"{DLIB} needs the face_recognition_models package (pip install "
            "face_recognition_models)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise EmbedderUnavailable(f"{DLIB} needs dlib (pip install dlib-bin)") from exc
    return dlib


def load_network(path: Path, on: torch.device, name: str = DLIB) -> torch.nn.Module:
    """dlib's ResNet from its model file, in torch on ``on``; EmbedderUnavailable (naming the
    embedder ``name``) if the file is missing or is not that network."""
    import torch

    from faces.dlib_format import DlibFormatError, read_resnet
    from faces.dlib_network import DlibResnet

    if not path.is_file():
        raise EmbedderUnavailable(f"{name} model file missing: {path}")
    try:
        weights = read_resnet(path)
    except (DlibFormatError, OSError) as exc:
        raise EmbedderUnavailable(f"{name} model file {path} cannot be read: {exc}") from exc
    network = DlibResnet(weights).to(on).eval()
    # channels_last lets oneDNN and cuDNN pick their faster convolution kernels.
    return network.to(memory_format=torch.channels_last)


class _DlibNetworkEmbedder:
    dimension = 128
    # The torch network in inference mode may run on several threads at once; dlib's shape
    # predictor and chip cutting keep no state between calls.
    thread_safe = True

    def __init__(self, on: torch.device) -> None:
        self._dlib = _import_dlib()
        self.recognition_model_path = dlib_model_dir() / DLIB_RECOGNITION_MODEL
        self.model = load_network(self.recognition_model_path, on, self.name)
        self.batch_size = max(1, settings.FACEFINDER_EMBED_BATCH)
        self._reference = None

    def chips(self, items: Iterable[ImageFaces]) -> list[np.ndarray]:
        """One 150x150 RGB uint8 chip per face, in input order."""
        raise NotImplementedError

    def embed_many(self, items: Iterable[ImageFaces]) -> np.ndarray:
        from faces.dlib_network import descriptors

        rows = descriptors(self.model, self.chips(items), batch_size=self.batch_size)
        return l2_normalise(rows)

    def reference_descriptors(self, chips: list[np.ndarray]) -> np.ndarray:
        """dlib's own network on the same chips (raw descriptors, no BLAS: slow)."""
        if self._reference is None:
            self._reference = self._dlib.face_recognition_model_v1(str(self.recognition_model_path))
        rows = [self._reference.compute_face_descriptor(chip) for chip in chips]
        return np.asarray(rows, dtype=np.float32).reshape(-1, self.dimension)


class DlibEmbedder(_DlibNetworkEmbedder):
    name = DLIB

    def __init__(self, on: torch.device) -> None:
        super().__init__(on)
        predictor_path = dlib_model_dir() / DLIB_SHAPE_PREDICTOR
        if not predictor_path.is_file():
            raise EmbedderUnavailable(f"{DLIB} model file missing: {predictor_path}")
        try:
            self.shape_predictor = self._dlib.shape_predictor(str(predictor_path))
        except RuntimeError as exc:
            raise EmbedderUnavailable(
                f"{DLIB} model file {predictor_path} cannot be read: {exc}"
            ) from exc

    def shapes(self, image: np.ndarray, faces: Iterable[Detection]) -> Any:
        """dlib's five landmarks of each face, found inside the detector's box."""
        dlib = self._dlib
        found = dlib.full_object_detections()
        for face in faces:
            x1, y1, x2, y2 = (round(v) for v in face.box)
            found.append(self.shape_predictor(image, dlib.rectangle(x1, y1, x2, y2)))
        return found

    def chips(self, items: Iterable[ImageFaces]) -> list[np.ndarray]:
        chips: list[np.ndarray] = []
        for image, faces in items:
            if faces:
                image = np.ascontiguousarray(image, dtype=np.uint8)
                shapes = self.shapes(image, faces)
                chips += self._dlib.get_face_chips(image, shapes, CHIP_SIZE, CHIP_PADDING)
        return chips


class DlibMtcnnEmbedder(_DlibNetworkEmbedder):
    name = DLIB_MTCNN

    def chip_details(self, face: Detection) -> Any:
        """Where dlib cuts the chip: the similarity transform that best maps the chip's
        template points onto the face's five MTCNN landmarks (least squares)."""
        dlib = self._dlib
        template = dlib.dpoints([dlib.dpoint(x, y) for x, y in MTCNN_CHIP_LANDMARKS])
        landmarks = dlib.dpoints([dlib.dpoint(x, y) for x, y in face.landmarks])
        return dlib.chip_details(template, landmarks, dlib.chip_dims(CHIP_SIZE, CHIP_SIZE))

    def chips(self, items: Iterable[ImageFaces]) -> list[np.ndarray]:
        chips: list[np.ndarray] = []
        for image, faces in items:
            if faces:
                image = np.ascontiguousarray(image, dtype=np.uint8)
                details = [self.chip_details(face) for face in faces]
                chips += self._dlib.extract_image_chips(image, details)
        return chips
