"""The chip template of dlib-resnet-mtcnn: where MTCNN's five landmarks fall in dlib's chips.

Measured on shared/data/faces (no lfw_dev photo, so that retrieval there is not tuned on its
own photos): each photo's largest face, cut by dlib's own path (HOG detector, 5-point shape
predictor, ``get_face_chip_details``), with MTCNN's landmarks of the same face carried into
the chip's pixels.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from faces.bench import load_rgb, shared_data
from faces.bench.retrieval import same_face
from faces.detection import Detection


def fit_template() -> Iterator[str]:
    """Where MTCNN's five landmarks fall inside dlib's own chips, over shared/data/faces."""
    import dlib

    from faces.detection import detect_faces
    from faces.dlib_embedders import CHIP_PADDING, CHIP_SIZE
    from faces.embedders import get_embedder

    embedder = get_embedder("dlib-resnet")
    hog = dlib.get_frontal_face_detector()
    placed = []
    for path in sorted((shared_data() / "faces").glob("*/*.jpg")):
        image = np.ascontiguousarray(load_rgb(path))
        hog_faces = sorted(hog(image, 0), key=lambda r: r.area(), reverse=True)
        mtcnn = detect_faces(image, min_face_px=20, min_probability=0.99)
        if not hog_faces or not mtcnn:
            continue
        face = max(mtcnn, key=lambda f: f.width * f.height)
        rect = hog_faces[0]
        if not same_face(
            face, Detection((rect.left(), rect.top(), rect.right(), rect.bottom()), 1, [])
        ):
            continue
        details = dlib.get_face_chip_details(
            embedder.shape_predictor(image, rect), CHIP_SIZE, CHIP_PADDING
        )
        placed.append(_image_to_chip(details, np.asarray(face.landmarks)))
    points = np.asarray(placed)
    yield (
        f"MTCNN landmarks in dlib's {CHIP_SIZE}x{CHIP_SIZE} chips over {len(points)} photos "
        "of shared/data/faces, mean and spread (standard deviation) in px:"
    )
    for name, mean, spread_ in zip(
        ("left eye", "right eye", "nose", "mouth left", "mouth right"),
        points.mean(axis=0),
        points.std(axis=0),
        strict=True,
    ):
        yield f"  {name:<12} ({mean[0]:.1f}, {mean[1]:.1f})  ({spread_[0]:.1f}, {spread_[1]:.1f})"


def _image_to_chip(details, points: np.ndarray) -> np.ndarray:
    """Image points in chip pixels: dlib maps the chip's corners (0, 0), (cols-1, 0) and
    (cols-1, rows-1) to the rotated corners of ``details.rect``."""
    import cv2

    rect, angle = details.rect, details.angle
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = np.array(
        [[rect.left(), rect.top()], [rect.right(), rect.top()], [rect.right(), rect.bottom()]]
    )
    image_corners = (corners - centre) @ rotation.T + centre
    chip_corners = np.array(
        [[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]], dtype=np.float64
    )
    affine = cv2.getAffineTransform(
        image_corners.astype(np.float32), chip_corners.astype(np.float32)
    )
    return points @ affine[:, :2].T + affine[:, 2]
