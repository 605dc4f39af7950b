"""Named face embedders: each turns detected faces into L2-normalised float32 rows.

- ``facenet-vggface2``: facenet-pytorch's InceptionResnetV1 trained on VGGFace2 (512-d). Weights
  come from the file named by ``settings.FACENET_WEIGHTS`` or from facenet-pytorch's own
  download cache; never random weights.
- ``dlib-resnet``: dlib's ResNet face descriptor (128-d) with its 5-point shape predictor, from
  the files that ``face_recognition_models`` ships (works offline); see ``faces.dlib_embedders``.
- ``dlib-resnet-mtcnn``: the same network on chips aligned by MTCNN's own five landmarks.

Vectors of different embedders are never comparable; every stored face records its embedder.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from django.conf import settings

from faces.detection import Detection, configure_threads, device

if TYPE_CHECKING:
    import torch

FACENET = "facenet-vggface2"
DLIB = "dlib-resnet"
DLIB_MTCNN = "dlib-resnet-mtcnn"
EMBEDDER_NAMES: tuple[str, ...] = (FACENET, DLIB, DLIB_MTCNN)
DIMENSIONS = {FACENET: 512, DLIB: 128, DLIB_MTCNN: 128}

FACENET_WEIGHTS_URL = (
    "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/"
    "20180402-114759-vggface2.pt"
)
# facenet-pytorch's own cache name for that file, under $TORCH_HOME/checkpoints/.
FACENET_CACHE_NAME = "20180402-114759-vggface2.pt"
FACENET_CLASSES = 8631  # the VGGFace2 state dict carries its classification layer
FACENET_IMAGE_SIZE = 160

# One image and the faces detected in it.
ImageFaces = tuple[np.ndarray, Sequence[Detection]]


class EmbedderError(Exception):
    """Base class: an embedder cannot be used."""


class UnknownEmbedder(EmbedderError):
    """The name is not one of EMBEDDER_NAMES."""


class EmbedderUnavailable(EmbedderError):
    """A known embedder cannot load (missing or broken weights, missing package)."""


class Embedder(Protocol):
    name: str
    dimension: int

    def embed_many(self, items: Iterable[ImageFaces]) -> np.ndarray:
        """All faces of all images in one batched pass: (faces, dimension) unit float32 rows,
        in input order."""
        ...


def get_embedder(name: str) -> Embedder:
    """The named embedder, loaded once per process (weights load on the first call)."""
    if name not in EMBEDDER_NAMES:
        known = ", ".join(EMBEDDER_NAMES)
        raise UnknownEmbedder(f"unknown embedder {name!r}; known embedders: {known}")
    configure_threads()
    on = device()
    key = (name, str(on), _weights_setting() if name == FACENET else "")
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _build(name, on)
        return _cache[key]


def _build(name: str, on: torch.device) -> Embedder:
    if name == FACENET:
        return FacenetEmbedder(on)
    # faces.dlib_embedders builds on the classes of this module.
    from faces.dlib_embedders import DlibEmbedder, DlibMtcnnEmbedder

    return DlibEmbedder(on) if name == DLIB else DlibMtcnnEmbedder(on)


_cache: dict[tuple[str, str, str], Embedder] = {}
_cache_lock = threading.Lock()


def clear_cache(name: str | None = None) -> None:
    """Forget loaded embedders, all or those of one name (frees a model's memory)."""
    with _cache_lock:
        for key in [key for key in _cache if name is None or key[0] == name]:
            del _cache[key]


def l2_normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


# --- facenet-vggface2 ------------------------------------------------------------------------


def _weights_setting() -> str:
    return settings.FACENET_WEIGHTS.strip()


def facenet_cache_path() -> Path:
    """Where facenet-pytorch keeps its downloaded vggface2 weights."""
    from facenet_pytorch.models.inception_resnet_v1 import get_torch_home

    return Path(get_torch_home()) / "checkpoints" / FACENET_CACHE_NAME


class FacenetEmbedder:
    name = FACENET
    dimension = DIMENSIONS[FACENET]
    # A torch module in inference mode may run on several threads at once.
    thread_safe = True

    def __init__(self, on: torch.device) -> None:
        import torch
        from facenet_pytorch import InceptionResnetV1

        self.device = on
        model = InceptionResnetV1(classify=False)
        model.load_state_dict(_fit_facenet_state_dict(_load_facenet_state_dict(), model))
        # channels_last lets oneDNN (CPU) and cuDNN pick faster convolution kernels; outputs
        # match the default layout to float rounding (about 1e-7).
        self.model = model.to(on).to(memory_format=torch.channels_last).eval()
        self.batch_size = max(1, settings.FACEFINDER_EMBED_BATCH)

    def crops(self, items: Iterable[ImageFaces]) -> torch.Tensor:
        """(n, 3, 160, 160) standardised face crops, as facenet-pytorch's MTCNN makes them."""
        import torch
        from facenet_pytorch.models.mtcnn import extract_face, fixed_image_standardization

        tensors = [
            extract_face(image, np.asarray(face.box, dtype=np.float32), FACENET_IMAGE_SIZE)
            for image, faces in items
            for face in faces
        ]
        if not tensors:
            return torch.empty((0, 3, FACENET_IMAGE_SIZE, FACENET_IMAGE_SIZE))
        return fixed_image_standardization(torch.stack(tensors))

    def embed_many(self, items: Iterable[ImageFaces]) -> np.ndarray:
        import torch

        batch = self.crops(items)
        if len(batch) == 0:
            return np.empty((0, self.dimension), dtype=np.float32)
        rows = []
        with torch.inference_mode():
            for start in range(0, len(batch), self.batch_size):
                chunk = batch[start : start + self.batch_size].to(self.device)
                chunk = chunk.contiguous(memory_format=torch.channels_last)
                rows.append(self.model(chunk).float().cpu().numpy())
        return l2_normalise(np.concatenate(rows))


def _fit_facenet_state_dict(state: dict, model: torch.nn.Module) -> dict:
    """The embedding part of a vggface2 state dict, checked against the network's shapes.

    facenet-pytorch's vggface2 file also holds the 8631-class ``logits`` layer of its training
    classifier; embeddings never use it, so it is checked (another class count means another
    training set, whose vectors live in another space) and then left out.
    """
    import torch

    logits = state.get("logits.weight")
    if logits is not None and tuple(logits.shape) != (FACENET_CLASSES, DIMENSIONS[FACENET]):
        raise EmbedderUnavailable(
            f"{FACENET} weights do not fit: their classifier has {tuple(logits.shape)} "
            f"weights, VGGFace2's has ({FACENET_CLASSES}, {DIMENSIONS[FACENET]}) (another "
            "training set?)"
        )
    wanted = model.state_dict()
    embedding = {key: value for key, value in state.items() if not key.startswith("logits.")}
    missing = sorted(set(wanted) - set(embedding))
    unexpected = sorted(set(embedding) - set(wanted))
    misshapen = sorted(
        key
        for key in set(wanted) & set(embedding)
        if not isinstance(embedding[key], torch.Tensor) or embedding[key].shape != wanted[key].shape
    )
    problems = [
        f"{len(keys)} {what} (e.g. {keys[0]})"
        for what, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("keys of the wrong shape", misshapen),
        )
        if keys
    ]
    if problems:
        raise EmbedderUnavailable(
            f"{FACENET} weights do not fit InceptionResnetV1: {'; '.join(problems)}"
        )
    return embedding


def _load_facenet_state_dict() -> dict:
    configured = _weights_setting()
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise EmbedderUnavailable(
                f"{FACENET} weights not found: FACENET_WEIGHTS={configured} is not a file"
            )
        return _read_state_dict(path, source="FACENET_WEIGHTS")
    path = facenet_cache_path()
    if not path.is_file():
        _download_facenet_weights(path)
    return _read_state_dict(path, source="the facenet-pytorch cache")


def _download_facenet_weights(path: Path) -> None:
    from facenet_pytorch.models.utils.download import download_url_to_file

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        download_url_to_file(FACENET_WEIGHTS_URL, str(path), progress=False)
    except Exception as exc:  # URLError offline, HTTP errors, a full or read-only disk
        reason = str(getattr(exc, "reason", "") or exc).strip() or type(exc).__name__
        raise EmbedderUnavailable(
            f"{FACENET} weights not found: set FACENET_WEIGHTS to a state-dict file or allow "
            f"the download to {path} ({reason})"
        ) from exc


def _read_state_dict(path: Path, *, source: str) -> dict:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated zip, not a torch file at all
        raise EmbedderUnavailable(
            f"{FACENET} weights in {source} ({path}) cannot be read as a state dict: "
            f"{type(exc).__name__}"
        ) from exc
    if not isinstance(state, dict):
        raise EmbedderUnavailable(
            f"{FACENET} weights in {source} ({path}) are not a state dict "
            f"(found {type(state).__name__})"
        )
    return state
