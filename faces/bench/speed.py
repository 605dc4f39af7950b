"""Speed: the dlib descriptor (dlib's own network against torch's) and MTCNN's image pyramid
(one full-frame interpolation per scale against one integral image)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from django.conf import settings

from faces.bench import interleaved, load_rgb, shared_data, spread, video_frames


def lfw_photos(limit: int | None = None) -> list[Any]:
    photos = sorted((shared_data() / "lfw_dev").glob("*/*.jpg"))
    return photos[:limit] if limit else photos


def descriptor_speed(repeat: int, faces: int = 64) -> Iterator[str]:
    """Per-face time of dlib's network and torch's on the same dlib-resnet chips."""
    import torch

    from faces.detection import detect_faces, device
    from faces.dlib_network import descriptors
    from faces.embedders import get_embedder

    dlib_resnet = get_embedder("dlib-resnet")
    mtcnn_aligned = get_embedder("dlib-resnet-mtcnn")
    items = []
    for path in lfw_photos():
        image = load_rgb(path)
        found = detect_faces(image, min_face_px=20, min_probability=0.99)[:1]
        if found:
            items.append((image, found))
        if len(items) == faces:
            break
    chips = dlib_resnet.chips(items)
    batch = max(1, settings.FACEFINDER_EMBED_BATCH)
    dlib_sample = chips[:8]
    torch_rows = descriptors(dlib_resnet.model, chips, batch_size=batch)
    dlib_rows = dlib_resnet.reference_descriptors(chips)
    cosine = np.sum(torch_rows * dlib_rows, axis=1) / (
        np.linalg.norm(torch_rows, axis=1) * np.linalg.norm(dlib_rows, axis=1)
    )
    yield (
        f"torch against dlib's compute_face_descriptor on {len(chips)} lfw_dev chips: cosine "
        f"min {cosine.min():.7f}, mean {cosine.mean():.7f}"
    )
    yield (
        f"on {device()}, {torch.get_num_threads()} torch thread(s), batch {batch}; "
        f"{repeat} interleaved repeats, median (min-max):"
    )
    seconds = interleaved(
        {
            "dlib": lambda: dlib_resnet.reference_descriptors(dlib_sample),
            "torch": lambda: descriptors(dlib_resnet.model, chips, batch_size=batch),
            "dlib-resnet": lambda: dlib_resnet.embed_many(items),
            "dlib-resnet-mtcnn": lambda: mtcnn_aligned.embed_many(items),
        },
        repeat,
    )
    yield f"  dlib's own network        {spread(seconds['dlib'], per=len(dlib_sample))} per face"
    yield f"  torch network             {spread(seconds['torch'], per=len(chips))} per face"
    for name in ("dlib-resnet", "dlib-resnet-mtcnn"):
        yield (
            f"  {name:<17} embed  {spread(seconds[name], per=len(chips))} per face "
            "(alignment, chips and network)"
        )


def _planar_frame(image: np.ndarray) -> Any:
    """The (1, 3, h, w) contiguous float frame that the pipeline handed facenet-pytorch (its
    area interpolation is fastest on this layout)."""
    import cv2
    import torch

    return torch.from_numpy(np.stack(cv2.split(image))).float().unsqueeze(0)


def _facenet_pyramid(image: np.ndarray, sizes: list[tuple[int, int]]) -> list[Any]:
    """facenet-pytorch's pyramid: the frame as one float tensor, area-resized per scale."""
    from facenet_pytorch.models.utils.detect_face import imresample

    frame = _planar_frame(image)
    return [imresample(frame, size) for size in sizes]


def _integral_pyramid(image: np.ndarray, sizes: list[tuple[int, int]]) -> list[Any]:
    import cv2

    from faces.mtcnn import pyramid_levels

    return list(pyramid_levels(cv2.integral(image), sizes))


def facenet_detect(image: np.ndarray, min_face_px: int) -> tuple[np.ndarray, np.ndarray]:
    """facenet-pytorch's own ``detect_face`` with the same networks and settings, called the
    way the pipeline called it before the integral pyramid."""
    import torch
    from facenet_pytorch.models.utils.detect_face import detect_face

    from faces.detection import MTCNN_PYRAMID_FACTOR, MTCNN_THRESHOLDS, _mtcnn_nets

    nets = _mtcnn_nets()
    with torch.inference_mode():
        boxes, points = detect_face(
            _planar_frame(image).to(nets.device).permute(0, 2, 3, 1),
            min_face_px,
            nets.pnet,
            nets.rnet,
            nets.onet,
            list(MTCNN_THRESHOLDS),
            MTCNN_PYRAMID_FACTOR,
            nets.device,
        )
    return (
        np.asarray(boxes[0], dtype=np.float32).reshape(-1, 5),
        np.asarray(points[0], dtype=np.float32).reshape(-1, 5, 2),
    )


def integral_detect(image: np.ndarray, min_face_px: int) -> tuple[np.ndarray, np.ndarray]:
    from faces.detection import _run_mtcnn

    return _run_mtcnn(image, min_face_px)


def pyramid_speed(repeat: int, min_face: float, frames: int = 4) -> Iterator[str]:
    """Pyramid and whole-MTCNN time per 1080p frame of the crowd clip, both ways."""
    import torch

    from faces.detection import MTCNN_PYRAMID_FACTOR, configure_threads, resolve_min_face
    from faces.mtcnn import pyramid_scales

    configure_threads()
    clip = shared_data() / "videos" / "crowd_walking_opera_house.mp4"
    images = [frame for _, frame in video_frames(clip, 25)][:frames]
    height, width = images[0].shape[:2]
    min_face_px = resolve_min_face(min_face, height)
    scales = pyramid_scales(height, width, min_face_px, MTCNN_PYRAMID_FACTOR)
    sizes = [(int(height * s + 1), int(width * s + 1)) for s in scales]

    def each(function: Any, *args: Any) -> Any:
        return lambda: [function(image, *args) for image in images]

    with torch.inference_mode():
        seconds = interleaved(
            {
                "facenet pyramid": each(_facenet_pyramid, sizes),
                "integral pyramid": each(_integral_pyramid, sizes),
                "facenet detect_face": each(facenet_detect, min_face_px),
                "integral detect": each(integral_detect, min_face_px),
            },
            repeat,
        )
    yield (
        f"{len(images)} frames {width}x{height} of {clip.name}, min face {min_face} = "
        f"{min_face_px} px, {len(scales)} scales, {torch.get_num_threads()} torch thread(s); "
        f"{repeat} interleaved repeats, per frame, median (min-max):"
    )
    for name, values in seconds.items():
        yield f"  {name:<20} {spread(values, per=len(images))}"
    old = np.median(seconds["facenet pyramid"]) / np.median(seconds["facenet detect_face"])
    new = np.median(seconds["integral pyramid"]) / np.median(seconds["facenet pyramid"])
    yield f"  pyramid share of facenet's MTCNN {old:.0%}; integral pyramid / facenet's {new:.0%}"
