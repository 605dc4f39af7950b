"""Following faces from one sampled frame to the next within a shot: the linking behind
appearances. Pure computation on boxes and vectors; ``faces.appearances`` stores the result.

For each new sampled frame, every open track (its last face) is paired with the frame's faces
by one assignment (the Hungarian method, ``scipy.optimize.linear_sum_assignment``), so two faces
of one frame never join one track. A pair may link only inside three gates: the face moved at
most ``max_shift`` face sizes per sampled frame elapsed, its size changed at most
``max_size_ratio`` times, and the two vectors lie within the embedder's ``max_distance``
(Euclidean, unit vectors). Among the pairs that pass, the assignment minimises the sum of costs
(shift in face sizes)

    shift / max_shift + distance / max_distance + 0.1 x (sampled frames the track was missed)

so that position and looks both count, scaled by what the gates allow, and a track seen in
the frame before wins over one that has been missing. A track left without a face
``max_missed`` sampled frames in a row ends; a cut ends every track (``close_all``).
How the numbers were chosen: ``LINKING_RULES`` below and ``manage.py bench_appearances``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

# Cost given to a pair outside the gates, so the assignment never prefers it; such pairs are
# dropped after solving.
_FORBIDDEN = 1e6
_MISSED_COST = 0.1


@dataclass(frozen=True)
class LinkingRules:
    max_distance: float  # embedding distance between two faces of one appearance
    max_shift: float = 2.5  # centre movement per sampled frame, in face sizes
    max_size_ratio: float = 2.0  # larger face size / smaller, between linked faces
    max_missed: int = 2  # sampled frames in a row a face may go undetected


# Per embedder, since their vectors spread differently. The distances lie between what a face
# does from one sampled frame to the next (turning, talking, motion blur) and what separates
# two people of one shot; measured on the shared clips with dlib-resnet (bench_appearances).
# facenet-vggface2 could not be measured (no weights offline): its value is dlib's scaled by
# the ratio of the two embedders' duplicate distances (docs/duplicate-distance.md).
LINKING_RULES: dict[str, LinkingRules] = {
    "dlib-resnet": LinkingRules(max_distance=0.5),
    "dlib-resnet-mtcnn": LinkingRules(max_distance=0.5),
    "facenet-vggface2": LinkingRules(max_distance=0.6),
}


def linking_rules(embedder: str) -> LinkingRules:
    if embedder not in LINKING_RULES:
        raise KeyError(f"no linking rules for embedder {embedder!r} (faces.tracking)")
    return LINKING_RULES[embedder]


@dataclass(frozen=True)
class TrackedFace:
    """What linking needs of one face: where it is and what it looks like."""

    face_id: int
    frame_index: int
    face_index: int
    box: tuple[float, float, float, float]
    vector: np.ndarray  # unit float32

    @property
    def centre(self) -> np.ndarray:
        x1, y1, x2, y2 = self.box
        return np.array([(x1 + x2) / 2, (y1 + y2) / 2])

    @property
    def size(self) -> float:
        """Square root of the box area: a length that grows with the face."""
        x1, y1, x2, y2 = self.box
        return float(np.sqrt(max(x2 - x1, 1e-6) * max(y2 - y1, 1e-6)))


@dataclass
class Track:
    """Faces linked so far, in frame order, and how many sampled frames missed it since."""

    faces: list[TrackedFace] = field(default_factory=list)
    missed: int = 0

    @property
    def last(self) -> TrackedFace:
        return self.faces[-1]


class Tracker:
    """Tracks of one shot, fed one sampled frame at a time, in frame order.

    ``finished`` holds the tracks that ended (their face was missed too long), in the order
    they ended; ``close_all`` ends the rest, at a cut or at the end of the video.
    """

    def __init__(self, rules: LinkingRules) -> None:
        self.rules = rules
        self.open: list[Track] = []
        self.finished: list[Track] = []

    def add_frame(self, faces: Sequence[TrackedFace]) -> None:
        """The faces of the next sampled frame (none is fine: every open track misses it)."""
        links = self._assign(faces)
        linked_tracks = set(links)
        still_open: list[Track] = []
        for position, track in enumerate(self.open):
            if position in linked_tracks:
                track.faces.append(faces[links[position]])
                track.missed = 0
                still_open.append(track)
            elif track.missed + 1 > self.rules.max_missed:
                self.finished.append(track)
            else:
                track.missed += 1
                still_open.append(track)
        taken = set(links.values())
        for position, face in enumerate(faces):
            if position not in taken:
                still_open.append(Track(faces=[face]))
        self.open = still_open

    def close_all(self) -> list[Track]:
        """End every track; returns all tracks of the shot, ordered by their first face."""
        tracks = self.finished + self.open
        self.open, self.finished = [], []
        return sorted(tracks, key=lambda t: (t.faces[0].frame_index, t.faces[0].face_index))

    def _assign(self, faces: Sequence[TrackedFace]) -> dict[int, int]:
        """Open track position → face position, for the linked pairs."""
        if not self.open or not faces:
            return {}
        cost = np.array([[self._cost(track, face) for face in faces] for track in self.open])
        rows, columns = linear_sum_assignment(cost)
        return {
            int(row): int(column)
            for row, column in zip(rows, columns, strict=True)
            if cost[row, column] < _FORBIDDEN
        }

    def _cost(self, track: Track, face: TrackedFace) -> float:
        rules = self.rules
        last = track.last
        elapsed = track.missed + 1
        size = (last.size + face.size) / 2
        shift = float(np.linalg.norm(face.centre - last.centre)) / size
        ratio = max(last.size, face.size) / min(last.size, face.size)
        distance = float(np.linalg.norm(face.vector.astype(np.float64) - last.vector))
        if (
            shift > rules.max_shift * elapsed
            or ratio > rules.max_size_ratio
            or distance > rules.max_distance
        ):
            return _FORBIDDEN
        return shift / rules.max_shift + distance / rules.max_distance + _MISSED_COST * track.missed
