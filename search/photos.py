"""Photos uploaded to search by: checked, analysed once with the ingest pipeline, kept briefly.

A photo is read with Pillow, which may only try the accepted formats' plugins (a PostScript
file named ``.jpg`` is refused before any decoder sees it); size, pixel count and integrity are
checked before it is decoded, and any decoding error is a refusal with a reason. It is turned
upright by its EXIF orientation, scaled down to at most ``PHOTO_MAX_SIDE`` pixels and stored as
a JPEG. Its faces are found and embedded by ``faces.pipeline.analyse_images`` — the same code
path as ingest — and their boxes and vectors are stored with the photo, so showing the faces
again or re-running a saved search never runs the networks again. A crowded photo has only its
``FACEFINDER_MAX_PHOTO_FACES`` largest faces embedded.
"""

from __future__ import annotations

import io
import logging
import struct
from datetime import timedelta
from typing import NamedTuple

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
# The only Pillow plugins a photo is opened with (the JPEG one also reads MPO, the JPEG with
# extra pictures that some cameras write).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# What Pillow raises on a file that is not what it claims, truncated or corrupt.
UNREADABLE = (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, struct.error)
UNREADABLE_MESSAGE = (
    "This file is not an image we can read; please upload a JPEG, PNG or WebP photo."
)


class PhotoRejected(Exception):
    """The photo cannot be searched with; the message says why, in words for the uploader.

    ``reason`` is the full story for the server's operator (it may name server files): the
    log has it, and ``manage.py search_faces`` prints it; pages show only the message.
    """

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


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
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as probe:
            width, height = probe.size
            _check_pixels(width, height)
            probe.verify()
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
    except PhotoRejected:
        raise
    except Image.DecompressionBombError as error:
        raise PhotoRejected(
            "This image has far too many pixels to process; please upload a smaller one."
        ) from error
    except UnidentifiedImageError as error:
        raise PhotoRejected(UNREADABLE_MESSAGE) from error
    except UNREADABLE as error:
        logger.info("unreadable photo upload: %s: %s", type(error).__name__, error)
        raise PhotoRejected(UNREADABLE_MESSAGE) from error
    image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.LANCZOS)
    return np.asarray(image)


def _check_pixels(width: int, height: int) -> None:
    limit = settings.FACEFINDER_MAX_PHOTO_PIXELS
    if width * height > limit:
        raise PhotoRejected(
            f"This image is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"photos may have at most {limit / 1e6:.0f} megapixels. Please upload a smaller one."
        )


class PhotoFaces(NamedTuple):
    faces: list[dict]  # {"box", "probability"} of each embedded face, left to right
    embeddings: bytes  # their vectors, packed row after row
    detected: int  # faces found; more than len(faces) when only the largest were embedded


class StoredPhoto(NamedTuple):
    photo: QueryPhoto
    faces_detected: int


def analyse_photo(image_rgb: np.ndarray, embedder: str) -> PhotoFaces:
    """Faces of the photo (numbered left to right, the ``FACEFINDER_MAX_PHOTO_FACES`` largest)
    and their vectors.

    Raises ``PhotoRejected`` when no face is found or the embedder cannot run here (the reason,
    which may name files on the server, goes to the log only).
    """
    from faces.embedders import EmbedderError
    from faces.pipeline import analyse_images, largest_faces

    found: list[int] = []

    def keep_largest(detections: list) -> list:
        found.append(len(detections))
        return largest_faces(detections, settings.FACEFINDER_MAX_PHOTO_FACES)

    try:
        (detected,) = analyse_images(
            [image_rgb],
            embedder=embedder,
            min_face=settings.FACEFINDER_MIN_FACE,
            select=keep_largest,
        )
    except EmbedderError as error:
        logger.error("photo search unavailable: %s", error)
        raise PhotoRejected(
            "Photo search is not available right now; please try again later or tell the "
            "site's staff.",
            reason=f"photo search unavailable: {error}",
        ) from error
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
    return PhotoFaces(faces, pack_vector(vectors), found[0] if found else len(faces))


def check_kept_photos(owner) -> None:
    """``PhotoRejected`` when the owner keeps as many photos as one account may."""
    limit = settings.FACEFINDER_MAX_KEPT_PHOTOS
    kept = QueryPhoto.objects.filter(owner=owner).count()
    if kept >= limit:
        raise PhotoRejected(
            f"You keep {kept} photos, the most one account may: those of your saved searches "
            "and your recent uploads. Delete saved photo searches you no longer need, or try "
            "again once your recent uploads have expired."
        )


def store_query_photo(owner, upload: UploadedFile) -> StoredPhoto:
    """Check, analyse and keep an uploaded photo; deletes expired unsaved photos first."""
    delete_expired_photos()
    check_kept_photos(owner)
    image_rgb = read_photo(upload)
    embedder = settings.FACEFINDER_EMBEDDER
    faces, embeddings, detected = analyse_photo(image_rgb, embedder)
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
    return StoredPhoto(photo, detected)


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
