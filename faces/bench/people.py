"""People measured on labelled photos made into a real video (``manage.py bench_people``).

Each lfw_dev photo is held for ``hold`` frames (so a sampling of every ``hold``-th frame keeps
each photo once), in an order where two photos of one person are never adjacent; the movie is
ingested through the one ingest path, which builds appearances and people. A photo's label
is its person; its prediction is the person of the appearance of the face nearest the image
centre (LFW's labelled face). BCubed precision and recall are averaged over photos; a photo
without a face, or whose face waits unassigned, is a cluster of its own.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

from faces.calibration import central_face
from faces.models import Appearance, Face

LFW_SIZE = 250


def interleave(photos: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """The photos reordered so that no two neighbours show one person (the person with the
    most photos left goes next, unless they were just shown)."""
    left: dict[str, list[Path]] = defaultdict(list)
    for person, path in photos:
        left[person].append(path)
    order: list[tuple[str, Path]] = []
    previous = None
    while left:
        ranked = sorted(left, key=lambda person: (-len(left[person]), person))
        person = next((p for p in ranked if p != previous), ranked[0])
        order.append((person, left[person].pop(0)))
        if not left[person]:
            del left[person]
        previous = person
    return order


def photo_video(path: Path, photos: list[tuple[str, Path]], hold: int, fps: float = 25.0) -> Path:
    """A 250x250 video showing each photo for ``hold`` frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (LFW_SIZE, LFW_SIZE))
    for _person, photo in photos:
        image = cv2.imread(str(photo))
        if image.shape[:2] != (LFW_SIZE, LFW_SIZE):
            image = cv2.resize(image, (LFW_SIZE, LFW_SIZE))
        for _ in range(hold):
            writer.write(image)
    writer.release()
    return path


def predicted_people(movie_id: int, count: int, hold: int) -> list[int | None]:
    """Per photo, the person of its centre face's appearance (None: no face, or waiting)."""
    faces: dict[int, list[tuple[tuple[float, ...], int | None]]] = defaultdict(list)
    rows = Face.objects.filter(movie_id=movie_id).values_list(
        "frame_index", "x1", "y1", "x2", "y2", "appearance_id"
    )
    for frame_index, x1, y1, x2, y2, appearance_id in rows:
        faces[frame_index // hold].append(((x1, y1, x2, y2), appearance_id))
    people = dict(Appearance.objects.filter(movie_id=movie_id).values_list("pk", "person_id"))
    predicted: list[int | None] = []
    for number in range(count):
        found = faces.get(number, [])
        if not found:
            predicted.append(None)
            continue
        chosen = central_face([box for box, _ in found], (LFW_SIZE, LFW_SIZE))
        predicted.append(people.get(found[chosen][1]))
    return predicted


def bcubed(predicted: list[int | None], truth: list[str]) -> tuple[float, float, float]:
    """BCubed precision, recall and F over items; None predictions are singletons."""
    keys = [
        ("person", value) if value is not None else ("alone", i)
        for i, value in enumerate(predicted)
    ]
    pairs = Counter(zip(keys, truth, strict=True))
    cluster_sizes = Counter(keys)
    label_sizes = Counter(truth)
    precision = np.mean(
        [pairs[(k, t)] / cluster_sizes[k] for k, t in zip(keys, truth, strict=True)]
    )
    recall = np.mean([pairs[(k, t)] / label_sizes[t] for k, t in zip(keys, truth, strict=True)])
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f)


def people_mixing(predicted: list[int | None], truth: list[str]) -> int:
    """People whose photos show more than one labelled person."""
    labels: dict[int, set[str]] = defaultdict(set)
    for person, label in zip(predicted, truth, strict=True):
        if person is not None:
            labels[person].add(label)
    return sum(len(found) > 1 for found in labels.values())
