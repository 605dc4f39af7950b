"""Finding an appearance again after its movie's appearances were rebuilt (faces.keys): by time
span and box overlap, whatever the new sampling or a shift of the whole timeline, and never a
face elsewhere in the frame."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from faces.keys import Rebuilt, keys_of, successors
from faces.models import Appearance
from tests.factories import make_appearance, make_face, make_frame, make_movie, make_shot, unit

pytestmark = pytest.mark.django_db

LEFT = (10, 10, 50, 60)
RIGHT = (100, 10, 140, 60)


def track(movie, shot, frames: range, box, face_index: int = 0) -> Appearance:
    vector = unit(np.ones(128))
    faces = []
    for index in frames:
        frame = movie.frames.filter(index=index).first() or make_frame(movie, index)
        faces.append(make_face(frame, vector, face_index=face_index, box=box))
    return make_appearance(shot, faces)


@pytest.fixture
def movie():
    movie = make_movie("Keys", sample_every=5)
    return movie


def rebuild(movie, build) -> list[int]:
    """Delete the movie's appearances and faces, ``build`` new ones; their ids."""
    Appearance.objects.filter(movie=movie).delete()
    movie.faces.all().delete()
    build()
    return list(Appearance.objects.filter(movie=movie).values_list("pk", flat=True))


def test_a_track_sampled_differently_is_found_again(movie):
    shot = make_shot(movie, 0, 0, 99)
    old = track(movie, shot, range(0, 60, 5), LEFT)
    keys = [keys_of([old])[old.pk]]
    new = rebuild(movie, lambda: track(movie, shot, range(0, 60, 10), (12, 11, 52, 62)))
    assert successors(movie.pk, keys) == [new]


def test_a_track_cut_in_two_has_two_successors(movie):
    shot = make_shot(movie, 0, 0, 99)
    old = track(movie, shot, range(0, 60, 5), LEFT)
    keys = [keys_of([old])[old.pk]]
    new = rebuild(
        movie,
        lambda: (
            track(movie, shot, range(0, 30, 5), LEFT),
            track(movie, shot, range(30, 60, 5), LEFT),
        ),
    )
    # Both halves overlap the key in time and hold a face near its moment in its box.
    assert sorted(successors(movie.pk, keys)[0]) == sorted(new)


def test_someone_elsewhere_in_the_frame_is_not_a_successor(movie):
    shot = make_shot(movie, 0, 0, 99)
    old = track(movie, shot, range(0, 60, 5), LEFT)
    keys = [keys_of([old])[old.pk]]
    rebuild(movie, lambda: track(movie, shot, range(0, 60, 5), RIGHT))
    assert successors(movie.pk, keys) == [[]]


def test_two_people_side_by_side_each_find_their_own(movie):
    shot = make_shot(movie, 0, 0, 99)
    left = track(movie, shot, range(0, 60, 5), LEFT, 0)
    right = track(movie, shot, range(0, 60, 5), RIGHT, 1)
    keys = keys_of([left, right])
    ordered = [keys[left.pk], keys[right.pk]]

    def build():
        track(movie, shot, range(0, 60, 10), RIGHT, 0)
        track(movie, shot, range(0, 60, 10), LEFT, 1)

    rebuild(movie, build)
    new_left = Appearance.objects.get(movie=movie, first_face_index=1).pk
    new_right = Appearance.objects.get(movie=movie, first_face_index=0).pk
    assert successors(movie.pk, ordered) == [[new_left], [new_right]]


SPOTS = [(10, 10, 50, 60), (100, 10, 140, 60), (55, 20, 95, 80)]


def short_tracks(movie, shot, offset: int = 0, spots=SPOTS) -> list[Appearance]:
    """A second-long track at each spot in turn, 2 s apart, moved by ``offset`` frames."""
    return [
        track(movie, shot, range(offset + 50 * n, offset + 50 * n + 25, 5), box)
        for n, box in enumerate(spots)
    ]


def test_a_timeline_moved_by_a_re_encode_finds_every_track_again(movie):
    """A copy whose every moment moved by a second (25 frames of padding at the start): no
    old track overlaps its successor in time any more, and the shift lines them all up."""
    shot = make_shot(movie, 0, 0, 999)
    old = short_tracks(movie, shot)
    keys = [keys_of(old)[a.pk] for a in old]
    new = rebuild(movie, lambda: short_tracks(movie, shot, offset=25))
    assert Rebuilt(movie.pk).shift_for(keys) == pytest.approx(1.0)
    assert successors(movie.pk, keys) == [[pk] for pk in new]


def test_a_few_tracks_gone_do_not_move_the_timeline(movie):
    shot = make_shot(movie, 0, 0, 999)
    old = short_tracks(movie, shot, spots=SPOTS * 4)  # twelve tracks, the last gone
    keys = [keys_of(old)[a.pk] for a in old]
    new = rebuild(movie, lambda: short_tracks(movie, shot, spots=(SPOTS * 4)[:-1]))
    assert Rebuilt(movie.pk).shift_for(keys) == 0.0
    assert successors(movie.pk, keys) == [*([pk] for pk in new), []]


def test_one_lost_track_borrows_no_one_in_its_place_a_second_off(movie):
    """An undo looks for one appearance: gone is gone, even with a face in its place later."""
    shot = make_shot(movie, 0, 0, 999)
    old = short_tracks(movie, shot, spots=SPOTS[:1])
    keys = [keys_of(old)[old[0].pk]]
    rebuild(movie, lambda: short_tracks(movie, shot, offset=25, spots=SPOTS[:1]))
    assert successors(movie.pk, keys) == [[]]


def test_faces_elsewhere_in_the_frame_move_no_timeline(movie):
    shot = make_shot(movie, 0, 0, 999)
    old = short_tracks(movie, shot)
    keys = [keys_of(old)[a.pk] for a in old]
    elsewhere = [(10, 70, 40, 88), (120, 70, 150, 88), (60, 0, 90, 15)]
    rebuild(movie, lambda: short_tracks(movie, shot, offset=25, spots=elsewhere))
    assert Rebuilt(movie.pk).shift_for(keys) == 0.0
    assert successors(movie.pk, keys) == [[], [], []]


@pytest.mark.parametrize("shift", ["0", "25"])
def test_the_restore_benchmark_puts_every_appearance_back_with_its_own_person(shift):
    out = io.StringIO()
    call_command("bench_people", "--restore", "40", "--restore-shift", shift, stdout=out)
    assert "(40 restored, 40 with their own person)" in out.getvalue()
