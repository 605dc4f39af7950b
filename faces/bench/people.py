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
from faces.clustering import Nodes
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


def synthetic_nodes(count: int, *, seed: int = 0) -> tuple[Nodes, np.ndarray]:
    """``count`` appearances shaped like dlib-resnet's (``search.synthetic``'s profile: one
    common direction, the person, the shot, noise averaged over the appearance's faces), in
    movies of 1000 appearances with a Zipf-like cast of 60 (6 recurring stars), as clustering
    nodes; and each appearance's true person."""
    from search.synthetic import CAST_PER_MOVIE, PROFILES, RECURRING_STARS, STARS_PER_MOVIE

    profile = PROFILES["dlib-resnet"]
    rng = np.random.default_rng(seed)
    dim = profile.dimension

    def rows(n: int) -> np.ndarray:
        values = rng.standard_normal((n, dim))
        return values / np.linalg.norm(values, axis=1, keepdims=True)

    common, stars = rows(1)[0], rows(RECURRING_STARS)
    shares = 1.0 / np.arange(1, CAST_PER_MOVIE + 1) ** 1.1
    shares /= shares.sum()
    faces = rng.integers(2, 26, count)
    noise = 1.0 - profile.common - profile.identity - profile.shot
    vectors, labels, shots = [], [], []
    for movie, start in enumerate(range(0, count, 1000)):
        size = min(1000, count - start)
        chosen = rng.choice(RECURRING_STARS, STARS_PER_MOVIE, replace=False)
        cast = np.concatenate([stars[chosen], rows(CAST_PER_MOVIE - STARS_PER_MOVIE)])
        names = np.concatenate([chosen, RECURRING_STARS + movie * 100 + np.arange(54)])
        people = rng.choice(CAST_PER_MOVIE, size, p=shares)
        k = faces[start : start + size, None]
        mean = (
            np.sqrt(profile.common) * common
            + np.sqrt(profile.identity) * cast[people]
            + np.sqrt(profile.shot) * rows(size)
            + np.sqrt(noise) * rows(size) / np.sqrt(k)
        )
        vectors.append(mean / np.linalg.norm(mean, axis=1, keepdims=True))
        labels.append(names[people])
        shots.append(movie * 1000 + np.arange(size))  # one appearance per shot: no overlaps
    vectors_ = np.vstack(vectors)
    shot_ids = np.concatenate(shots)
    nodes = Nodes(
        sums=vectors_,
        counts=np.ones(count),
        faces=faces.astype(np.int64),
        seed=np.zeros(count, dtype=bool),
        spans=[(i, int(shot_ids[i]), 0.0, 1.0) for i in range(count)],
    )
    return nodes, np.concatenate(labels)
