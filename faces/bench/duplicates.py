"""The duplicate distance of a dlib embedder, measured on the Hamilton clip.

As for ``search.services.duplicate_distance``'s dlib-resnet value: the clip sampled every 5th
frame at the default minimum face, each face labelled by its shot and place (shots.csv), and
for each face its 20 nearest faces grouped by ``search.services.group_duplicates`` at rising
distances, to find where a group first holds two people or two shots.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from django.conf import settings

from faces.bench import shared_data, video_frames

CLIP = "hamilton_whitehouse_clip.mp4"
K = 20


def person_in_clip(frame_index: int, box: tuple[float, ...]) -> str:
    """Who a Hamilton face is, from shots.csv and where the face sits in its shot."""
    centre = (box[0] + box[2]) / 2
    if frame_index <= 19:  # wide stage shot: Lacamoire far left, Miranda right
        return "miranda-1" if centre > 320 else "lacamoire-1"
    if frame_index <= 81:
        return "lacamoire-2"
    if frame_index <= 210:
        return "miranda-2"
    return f"audience-{int(centre // 100)}"  # four people sitting still


def duplicate_distances(embedder: str, every: int = 5) -> Iterator[str]:
    from faces.pipeline import analyse_images
    from search.results import Hit
    from search.services import group_duplicates

    frames = list(video_frames(shared_data() / "videos" / CLIP, every))
    found = analyse_images(
        [frame for _, frame in frames], embedder=embedder, min_face=settings.FACEFINDER_MIN_FACE
    )
    labels, frame_of, rows = [], [], []
    for (index, _), faces in zip(frames, found, strict=True):
        for face in faces:
            labels.append(person_in_clip(index, face.detection.box))
            frame_of.append(index)
            rows.append(face.vector)
    vectors = np.stack(rows)
    distance = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * vectors @ vectors.T))
    person = [label.split("-")[0] for label in labels]
    n = len(labels)
    neighbours = [
        distance[i, j]
        for i in range(n)
        for j in range(n)
        if labels[i] == labels[j] and frame_of[j] == frame_of[i] + every
    ]
    other_shot = [
        distance[i, j]
        for i in range(n)
        for j in range(n)
        if person[i] == person[j] and labels[i] != labels[j] and not labels[i].startswith("aud")
    ]
    other_person = [distance[i, j] for i in range(n) for j in range(n) if person[i] != person[j]]
    yield (
        f"{embedder} on {CLIP}, every {every}th frame: {n} faces; the same face {every} frames "
        f"later {min(neighbours):.2f}-{max(neighbours):.2f} apart (median "
        f"{np.median(neighbours):.2f}); the same person in another shot at least "
        f"{min(other_shot):.2f}; another person at least {min(other_person):.2f}"
    )
    vector_of = dict(enumerate(vectors))
    first_mixed = None
    for step in range(10, 61):
        threshold = step / 100
        mixed, counts = False, []
        for i in range(n):
            nearest = np.argsort(-(vectors @ vectors[i]))[:K]
            hits = [Hit(face_id=int(j), score=float(vectors[i] @ vectors[j])) for j in nearest]
            groups = group_duplicates(hits, vector_of, threshold)
            counts.append(len(groups))
            mixed |= any(
                len({labels[h.face_id] for h in [g.leader, *g.duplicates]}) > 1 for g in groups
            )
        if step % 5 == 0 or mixed:
            yield f"  distance {threshold:.2f}: {np.mean(counts):.1f} groups per top {K}" + (
                ", a group mixes people or shots" if mixed else ", every group pure"
            )
        if mixed:
            first_mixed = threshold
            break
    if first_mixed is None:
        yield "  no group mixes people or shots up to 0.60"
