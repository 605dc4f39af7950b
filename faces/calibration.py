"""Each embedder's same-person threshold: the cosine similarity at or above which two faces are
likely the same person, measured on labelled photos (one folder per person).

``calibrate`` embeds one face per photo (the face nearest the image centre among the photo's
largest faces, LFW's convention for which face is the labelled one), scores every pair of
photos, and puts the threshold where at most ``target_far`` of the cross-person pairs pass
(0.1% by default); the true-accept rate is the share of same-person pairs that pass.
``same_person_threshold`` is what search and clustering use: a measured row
(``EmbedderCalibration``, written by ``manage.py calibrate_embedder``) when there is one, else
the figure shipped in ``SHIPPED`` (measured on ``../shared/data/lfw_dev``, see the README),
else None: an uncalibrated embedder marks no result as likely the same person.

The result is kept in the database rather than in a file under ``var/``: every web server and
worker of a deployment then reads the same threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings

from faces.models import EmbedderCalibration

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
DEFAULT_TARGET_FAR = 0.001
# Faces of a photo considered for its labelled face (the largest few, then nearest the centre).
CANDIDATE_FACES = 5
IMAGES_PER_BATCH = 32


@dataclass(frozen=True)
class Shipped:
    threshold: float
    false_accept_rate: float
    true_accept_rate: float
    genuine_pairs: int
    impostor_pairs: int
    photos: int
    people: int
    source: str = "../shared/data/lfw_dev (300 people, 1391 photos)"


# Measured with ``manage.py calibrate_embedder NAME ../shared/data/lfw_dev --dry-run`` (1387 of
# the 1391 photos have a face; README, "People"). facenet-vggface2 has no weights here, so it
# ships uncalibrated.
SHIPPED: dict[str, Shipped] = {
    "dlib-resnet": Shipped(
        threshold=0.9246,
        false_accept_rate=0.000996,
        true_accept_rate=0.9341,
        genuine_pairs=3036,
        impostor_pairs=958155,
        photos=1387,
        people=300,
    ),
    "dlib-resnet-mtcnn": Shipped(
        threshold=0.9248,
        false_accept_rate=0.001000,
        true_accept_rate=0.9368,
        genuine_pairs=3036,
        impostor_pairs=958155,
        photos=1387,
        people=300,
    ),
}


class CalibrationError(Exception):
    """The folder cannot calibrate an embedder; the message is one line for a person."""


@dataclass
class Calibration:
    embedder: str
    threshold: float
    false_accept_rate: float
    true_accept_rate: float
    target_false_accept_rate: float
    genuine_pairs: int
    impostor_pairs: int
    photos: int
    people: int
    source: str
    r_precision: float | None = None
    skipped: list[str] = field(default_factory=list)  # photos without a face

    @property
    def message(self) -> str:
        lines = [
            f"{self.embedder}: threshold {self.threshold:.4f} (cosine similarity) at "
            f"FAR {self.false_accept_rate:.4%} (target {self.target_false_accept_rate:.2%}), "
            f"TAR {self.true_accept_rate:.4%}",
            f"  {self.photos} photos of {self.people} people from {self.source}; "
            f"{self.genuine_pairs} same-person pairs, {self.impostor_pairs} cross-person pairs",
        ]
        if self.r_precision is not None:
            lines.append(f"  same-person retrieval R-precision {self.r_precision:.4f}")
        if self.skipped:
            lines.append(f"  {len(self.skipped)} photos without a face left out")
        return "\n".join(lines)

    def save(self) -> EmbedderCalibration:
        values = {
            name: getattr(self, name)
            for name in (
                "threshold",
                "false_accept_rate",
                "true_accept_rate",
                "target_false_accept_rate",
                "genuine_pairs",
                "impostor_pairs",
                "photos",
                "people",
            )
        }
        row, _ = EmbedderCalibration.objects.update_or_create(
            embedder=self.embedder, defaults={**values, "source": self.source[:500]}
        )
        return row


def same_person_threshold(embedder: str) -> float | None:
    """The embedder's calibrated threshold (measured row, else shipped figure), or None."""
    row = EmbedderCalibration.objects.filter(embedder=embedder).values_list("threshold").first()
    if row is not None:
        return float(row[0])
    shipped = SHIPPED.get(embedder)
    return shipped.threshold if shipped is not None else None


def labelled_photos(folder: Path) -> list[tuple[str, Path]]:
    """(person, photo) for every image in the folder's subfolders, one subfolder per person."""
    if not folder.is_dir():
        raise CalibrationError(f"{folder} is not a folder")
    photos = [
        (person.name, path)
        for person in sorted(p for p in folder.iterdir() if p.is_dir())
        for path in sorted(person.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not photos:
        raise CalibrationError(f"{folder} holds no photos in per-person subfolders")
    return photos


def central_face(boxes: list[tuple[float, float, float, float]], shape: tuple[int, ...]) -> int:
    """Index of the box whose centre lies nearest the image centre."""
    height, width = shape[:2]
    return min(
        range(len(boxes)),
        key=lambda i: (
            (boxes[i][0] + boxes[i][2] - width) ** 2 + (boxes[i][1] + boxes[i][3] - height) ** 2
        ),
    )


def embed_labelled(
    embedder: str, photos: list[tuple[str, Path]]
) -> tuple[np.ndarray, list[str], list[str]]:
    """One unit vector per photo that has a face, the people of those rows, and the photos
    skipped (no face found, or not an image)."""
    from faces.bench import load_rgb
    from faces.pipeline import analyse_images, largest_faces

    vectors: list[np.ndarray] = []
    people: list[str] = []
    skipped: list[str] = []
    for chunk in _chunks(photos, IMAGES_PER_BATCH):
        images, kept = [], []
        for person, path in chunk:
            try:
                images.append(load_rgb(path))
                kept.append((person, path))
            except FileNotFoundError:
                skipped.append(str(path))
        found = analyse_images(
            images,
            embedder=embedder,
            min_face=settings.FACEFINDER_MIN_FACE,
            select=lambda faces: largest_faces(faces, CANDIDATE_FACES),
        )
        for (person, path), image, faces in zip(kept, images, found, strict=True):
            if not faces:
                skipped.append(str(path))
                continue
            chosen = central_face([face.detection.box for face in faces], image.shape)
            vectors.append(faces[chosen].vector)
            people.append(person)
    if not vectors:
        raise CalibrationError("no face was found in any photo")
    return np.vstack(vectors).astype(np.float32), people, skipped


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def pair_scores(vectors: np.ndarray, people: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of every same-person pair and every cross-person pair."""
    similarity = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    labels = np.asarray(people)
    upper = np.triu_indices(len(labels), k=1)
    same = labels[upper[0]] == labels[upper[1]]
    scores = similarity[upper]
    return scores[same], scores[~same]


def threshold_at(impostor: np.ndarray, target_far: float) -> float:
    """The lowest threshold (rounded up to 4 decimals) that at most ``target_far`` of the
    cross-person pairs reach."""
    if not 0 < target_far < 1:
        raise CalibrationError("the false-accept rate must lie between 0 and 1")
    if len(impostor) == 0:
        raise CalibrationError("the photos show one person only: no cross-person pair to measure")
    ranked = np.sort(impostor)[::-1]
    allowed = math.floor(target_far * len(ranked))
    if allowed >= len(ranked):
        return float(ranked[-1])
    threshold = math.ceil(float(np.nextafter(ranked[allowed], np.inf)) * 1e4) / 1e4
    return min(threshold, 1.0)


def calibrate(
    embedder: str, folder: Path, *, target_far: float = DEFAULT_TARGET_FAR
) -> Calibration:
    """Measure the embedder's same-person threshold on a labelled folder (nothing is saved)."""
    from faces.bench.retrieval import r_precisions
    from faces.embedders import get_embedder

    get_embedder(embedder)  # an unknown or unavailable embedder says so before any work
    photos = labelled_photos(folder)
    vectors, people, skipped = embed_labelled(embedder, photos)
    genuine, impostor = pair_scores(vectors, people)
    if len(genuine) == 0:
        raise CalibrationError("no person has two photos with a face: nothing to accept")
    threshold = threshold_at(impostor, target_far)
    precisions = r_precisions(vectors, people)
    return Calibration(
        embedder=embedder,
        threshold=threshold,
        false_accept_rate=float((impostor >= threshold).mean()),
        true_accept_rate=float((genuine >= threshold).mean()),
        target_false_accept_rate=target_far,
        genuine_pairs=len(genuine),
        impostor_pairs=len(impostor),
        photos=len(people),
        people=len(set(people)),
        source=str(folder),
        r_precision=float(precisions.mean()) if len(precisions) else None,
        skipped=skipped,
    )
