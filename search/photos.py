"""Photos uploaded to search by: checked, analysed once with the ingest pipeline, kept briefly.

A photo is read with Pillow (size, pixel count and integrity checked before it is decoded),
turned upright by its EXIF orientation, scaled down to at most ``PHOTO_MAX_SIDE`` pixels and
stored as a JPEG. Its faces are found and embedded by ``faces.pipeline.analyse_images`` — the
same code path as ingest — and their boxes and vectors are stored with the photo, so showing the
faces again or re-running a saved search never runs the networks again.
"""

from __future__ import annotations

import io
import logging
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from faces.models import pack_vector
from search.models import QueryPhoto

logger = logging.getLogger(__name__)

# Faces in a photo are large; detection on a longer side than this only costs time.
PHOTO_MAX_SIDE = 1600
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}


class PhotoRejected(Exception):
    """The photo cannot be searched with; the message says why, in words for the uploader."""


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:.1f} MB"


def read_photo(upload: UploadedFile) -> np.ndarray:
    """The upload as an upright RGB array, or ``PhotoRejected`` with a clear reason."""
    limit = settings.FACEFINDER_MAX_PHOTO_BYTES
    if upload.size is not None and upload.size > limit:
        raise PhotoRejected(
            f"This file is {_megabytes(upload.size)}; photos may be at most {_megabytes(limit)}."
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise PhotoRejected(f"This file is larger than {_megabytes(limit)}, the limit for photos.")
    try:
        # Opening reads only the header: the pixel count is checked before anything is decoded.
        with Image.open(io.BytesIO(data)) as probe:
            image_format = probe.format
            width, height = probe.size
            _check_pixels(width, height)
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
    except PhotoRejected:
        raise
    except Image.DecompressionBombError as error:
        raise PhotoRejected(
            "This image has far too many pixels to process; please upload a smaller one."
        ) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise PhotoRejected(
            "This file is not an image we can read; please upload a JPEG, PNG or WebP photo."
        ) from error
    if image_format not in ACCEPTED_FORMATS:
        raise PhotoRejected(
            f"{image_format} images are not accepted; please upload a JPEG, PNG or WebP photo."
        )
    image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(image)


def _check_pixels(width: int, height: int) -> None:
    limit = settings.FACEFINDER_MAX_PHOTO_PIXELS
    if width * height > limit:
        raise PhotoRejected(
            f"This image is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"photos may have at most {limit / 1e6:.0f} megapixels. Please upload a smaller one."
        )


def analyse_photo(image_rgb: np.ndarray, embedder: str) -> tuple[list[dict], bytes]:
    """Faces of the photo (numbered left to right) and their vectors, packed row after row.

    Raises ``PhotoRejected`` when no face is found or the embedder cannot run here.
    """
    from faces.embedders import EmbedderError
    from faces.pipeline import analyse_images

    try:
        (detected,) = analyse_images(
            [image_rgb], embedder=embedder, min_face=settings.FACEFINDER_MIN_FACE
        )
    except EmbedderError as error:
        logger.warning("photo search unavailable: %s", error)
        raise PhotoRejected(f"Photo search is not available right now: {error}") from error
    if not detected:
        raise PhotoRejected(
            "No face was found in this photo. Try a photo where the face is larger, "
            "in focus and seen from the front."
        )
    detected = sorted(detected, key=lambda face: face.detection.box[0])
    faces = [
        {
            "box": [round(float(value), 1) for value in face.detection.box],
            "probability": round(float(face.detection.probability), 4),
        }
        for face in detected
    ]
    vectors = np.stack([np.asarray(face.vector, dtype=np.float32) for face in detected])
    return faces, pack_vector(vectors)


def store_query_photo(owner, upload: UploadedFile) -> QueryPhoto:
    """Check, analyse and keep an uploaded photo; deletes expired unsaved photos first."""
    delete_expired_photos()
    image_rgb = read_photo(upload)
    embedder = settings.FACEFINDER_EMBEDDER
    faces, embeddings = analyse_photo(image_rgb, embedder)
    buffer = io.BytesIO()
    Image.fromarray(image_rgb).save(buffer, format="JPEG", quality=90)
    photo = QueryPhoto(
        owner=owner,
        width=image_rgb.shape[1],
        height=image_rgb.shape[0],
        original_name=(upload.name or "")[:255],
        embedder=embedder,
        faces=faces,
        embeddings=embeddings,
    )
    with transaction.atomic():
        photo.image.save("photo.jpg", ContentFile(buffer.getvalue()), save=False)
        photo.save()
    return photo


def delete_expired_photos(now=None) -> int:
    """Delete photos older than the lifetime that no saved search uses; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.FACEFINDER_PHOTO_TTL_SECONDS)
    expired = QueryPhoto.objects.filter(created_at__lt=cutoff, saved_searches__isnull=True)
    deleted = 0
    # One by one so that each file goes with its row (the post_delete signal).
    for photo in expired.only("id", "image"):
        photo.delete()
        deleted += 1
    return deleted
