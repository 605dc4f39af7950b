"""Linking faces of neighbouring sampled frames into tracks (faces.tracking), on boxes and
vectors made up for each case."""

from __future__ import annotations

import numpy as np
import pytest

from faces.tracking import LinkingRules, TrackedFace, Tracker
from tests.factories import random_unit, unit

RULES = LinkingRules(max_distance=0.5)


class Faces:
    """Numbered faces at a box and vector of one's choosing."""

    def __init__(self) -> None:
        self.next_id = 1

    def __call__(self, frame: int, x: float, vector: np.ndarray, size: float = 40, index=0):
        face = TrackedFace(self.next_id, frame, index, (x, 50, x + size, 50 + size), vector)
        self.next_id += 1
        return face


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def near(vector, rng, amount=0.15):
    return unit(vector + amount * random_unit(rng, len(vector)) * np.sqrt(len(vector)) / 11)


def spans(tracks):
    return [(t.faces[0].frame_index, t.faces[-1].frame_index, len(t.faces)) for t in tracks]


def test_a_face_that_moves_a_little_and_looks_alike_stays_one_track(rng):
    make, tracker, anna = Faces(), Tracker(RULES), random_unit(rng)
    for step in range(10):
        tracker.add_frame([make(step * 5, 100 + 8 * step, near(anna, rng))])
    assert spans(tracker.close_all()) == [(0, 45, 10)]


def test_two_faces_of_one_frame_never_join_one_track(rng):
    make, tracker, anna = Faces(), Tracker(RULES), random_unit(rng)
    # The same person twice in one frame (a mirror): one track each, whatever the costs.
    for step in range(3):
        tracker.add_frame(
            [make(step, 100, anna, index=0), make(step, 160, near(anna, rng), index=1)]
        )
    tracks = tracker.close_all()
    assert spans(tracks) == [(0, 2, 3), (0, 2, 3)]
    for track in tracks:
        assert len({face.frame_index for face in track.faces}) == len(track.faces)


def test_two_people_passing_each_other_keep_their_own_tracks(rng):
    make, tracker = Faces(), Tracker(RULES)
    anna, ben = random_unit(rng), random_unit(rng)
    for step in range(8):
        tracker.add_frame(
            [make(step, 100 + 15 * step, near(anna, rng)), make(step, 205 - 15 * step, ben)]
        )
    tracks = tracker.close_all()
    assert len(tracks) == 2
    for track in tracks:
        first = track.faces[0].vector
        assert all(np.linalg.norm(face.vector - first) < 0.6 for face in track.faces)


def test_a_face_missed_for_one_or_two_sampled_frames_does_not_end_its_track(rng):
    make, tracker, anna = Faces(), Tracker(RULES), random_unit(rng)
    seen = {0: True, 5: True, 10: False, 15: False, 20: True, 25: True, 30: False, 35: True}
    for frame, present in seen.items():
        tracker.add_frame([make(frame, 100, near(anna, rng))] if present else [])
    assert spans(tracker.close_all()) == [(0, 35, 5)]


def test_a_face_missed_for_three_sampled_frames_starts_a_new_track(rng):
    make, tracker, anna = Faces(), Tracker(RULES), random_unit(rng)
    for frame, present in [(0, True), (5, False), (10, False), (15, False), (20, True)]:
        tracker.add_frame([make(frame, 100, near(anna, rng))] if present else [])
    assert spans(tracker.close_all()) == [(0, 0, 1), (20, 20, 1)]


def test_the_gates_refuse_a_different_look_a_jump_and_a_change_of_size(rng):
    anna = random_unit(rng)
    cases = {
        "someone else": dict(x=100, vector=random_unit(rng)),
        "a jump": dict(x=100 + 40 * 3, vector=anna),
        "four times the size": dict(x=100, vector=anna, size=160),
    }
    for name, later in cases.items():
        make, tracker = Faces(), Tracker(RULES)
        tracker.add_frame([make(0, 100, anna)])
        tracker.add_frame([make(5, **later)])
        assert len(tracker.close_all()) == 2, name


def test_a_missing_track_lets_a_present_one_win_the_face(rng):
    """Two tracks of one look: the face goes to the one seen in the frame before."""
    make, tracker, anna = Faces(), Tracker(RULES), random_unit(rng)
    tracker.add_frame([make(0, 100, anna, index=0), make(0, 140, anna, index=1)])
    tracker.add_frame([make(5, 140, anna)])
    tracker.add_frame([make(10, 120, anna)])
    tracks = tracker.close_all()
    assert spans(tracks) == [(0, 0, 1), (0, 10, 3)]
