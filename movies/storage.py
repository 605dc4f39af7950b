"""Where ingest keeps its images in media storage, and how they are written and deleted.

The one place that knows the media layout. Every image ingest writes for a movie lies below
``movies/<movie id>/``::

    movies/<id>/frames/<frame index:08d>.jpg                   the sampled frame
    movies/<id>/thumbnails/<frame index:08d>.jpg               its thumbnail
    movies/<id>/faces/<frame index:08d>_<face index:03d>.jpg   a face crop

Names are deterministic, so a resumed ingest overwrites instead of duplicating, and every
name starts with its frame index, so the images of the frames past a checkpoint can be found
and deleted. Uploaded videos live apart, in ``movies/uploads/``, and are never served.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

if TYPE_CHECKING:
    from movies.models import Movie

THUMBNAIL_WIDTH = 320
FACE_THUMBNAIL_SIZE = 160
FRAME_JPEG_QUALITY = 90
THUMBNAIL_JPEG_QUALITY = 82

_IMAGE_FOLDERS = ("frames", "thumbnails", "faces")
_INDEX_IN_NAME = re.compile(r"^(\d+)")
# The images above, which every logged-in user may see (movies.media serves only these).
SHARED_MEDIA = re.compile(r"movies/\d+/(frames|thumbnails|faces)/[^/]+\.jpg")


def movie_upload_to(movie: Movie, filename: str) -> str:
    """Uploads live in a folder named by their checksum: media storage overwrites files of the
    same name (frame images rely on it), so two different uploads must never share a name."""
    folder = (movie.checksum or "unhashed")[:16]
    return f"movies/uploads/{folder}/{filename}"


def movie_media_folder(movie_id: int) -> str:
    """Every image ingest writes for a movie lives below this storage folder."""
    return f"movies/{movie_id}"


def frame_image_path(movie_id: int, frame_index: int, kind: str = "frame") -> str:
    """Storage name of a frame image (``kind="frame"``) or of its thumbnail (``"thumbnail"``)."""
    return f"{movie_media_folder(movie_id)}/{kind}s/{frame_index:08d}.jpg"


def face_thumbnail_path(movie_id: int, frame_index: int, face_index: int) -> str:
    """Storage name of a face crop."""
    return f"{movie_media_folder(movie_id)}/faces/{frame_index:08d}_{face_index:03d}.jpg"


def write_frame_images(
    movie_id: int,
    frame_index: int,
    image_bgr: np.ndarray,
    face_boxes: list[tuple[float, float, float, float]],
) -> tuple[str, str]:
    """Store a sampled frame, its thumbnail and a crop per face box; returns the frame's and the
    thumbnail's storage names (face crops are named by face_thumbnail_path)."""
    image_name = frame_image_path(movie_id, frame_index)
    thumbnail_name = frame_image_path(movie_id, frame_index, "thumbnail")
    _save_jpeg(image_name, image_bgr, FRAME_JPEG_QUALITY)
    thumbnail = _resize_to_width(image_bgr, THUMBNAIL_WIDTH)
    _save_jpeg(thumbnail_name, thumbnail, THUMBNAIL_JPEG_QUALITY)
    for face_index, box in enumerate(face_boxes):
        crop = _face_crop(image_bgr, box)
        name = face_thumbnail_path(movie_id, frame_index, face_index)
        _save_jpeg(name, crop, THUMBNAIL_JPEG_QUALITY)
    return image_name, thumbnail_name


def delete_frame_images(movie_id: int, *, from_index: int = 0) -> None:
    """Delete the movie's frame, thumbnail and face images of frames ``from_index`` on.

    From 0 (all of them) the movie's emptied folders go too.
    """
    base = movie_media_folder(movie_id)
    for sub in _IMAGE_FOLDERS:
        folder = f"{base}/{sub}"
        try:
            _, files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        for name in files:
            match = _INDEX_IN_NAME.match(name)
            if match and int(match.group(1)) >= from_index:
                default_storage.delete(f"{folder}/{name}")
    if from_index == 0:
        _remove_empty_folders(base)


def delete_upload(name: str) -> None:
    """Delete an uploaded video and its emptied folder."""
    default_storage.delete(name)
    _remove_empty_folders(str(Path(name).parent))


def _save_jpeg(name: str, image_bgr: np.ndarray, quality: int) -> None:
    ok, encoded = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for {name}")
    saved = default_storage.save(name, ContentFile(encoded.tobytes()))
    if saved != name:
        # Resume relies on overwriting: a storage that renames would leave orphans.
        default_storage.delete(saved)
        raise RuntimeError(
            f"media storage renamed {name} to {saved}; enable overwriting "
            "(STORAGES['default']['OPTIONS']['allow_overwrite'] = True)"
        )


def _resize_to_width(image: np.ndarray, width: int) -> np.ndarray:
    height, current = image.shape[:2]
    if current <= width:
        return image
    new_height = max(1, round(height * width / current))
    return cv2.resize(image, (width, new_height), interpolation=cv2.INTER_AREA)


def _face_crop(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The face with a 20% margin, clipped to the frame, at most FACE_THUMBNAIL_SIZE px."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    margin_x, margin_y = 0.2 * (x2 - x1), 0.2 * (y2 - y1)
    left = int(max(0, np.floor(x1 - margin_x)))
    top = int(max(0, np.floor(y1 - margin_y)))
    right = int(min(width, np.ceil(x2 + margin_x)))
    bottom = int(min(height, np.ceil(y2 + margin_y)))
    if right <= left or bottom <= top:
        left, top, right, bottom = 0, 0, width, height
    crop = image[top:bottom, left:right]
    longest = max(crop.shape[:2])
    if longest > FACE_THUMBNAIL_SIZE:
        scale = FACE_THUMBNAIL_SIZE / longest
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return crop


def _remove_empty_folders(folder: str) -> None:
    """Tidy empty folders on local storage (other storages have no folders to remove)."""
    try:
        root = Path(default_storage.path(folder))
    except NotImplementedError:
        return
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if not any(root.iterdir()):
        root.rmdir()
