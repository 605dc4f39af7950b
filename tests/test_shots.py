"""Cuts found in the video itself while it is decoded for sampling, and the same cuts again
when a run resumes part way (movies.shots, movies.video.FrameSampler)."""

from __future__ import annotations

import numpy as np
import pytest

from movies.shots import MIN_SHOT_FRAMES, detector_size, shot_spans, warmup_start
from movies.video import FrameSampler, probe_video
from tests.shared_data import HAMILTON_CLIP, VIDEOS, shots

CROWD_CLIP = VIDEOS / "crowd_walking_opera_house.mp4"


def sample(path, *, every=5, start=0, warmup_from=None):
    sampler = FrameSampler(
        path, probe_video(path), every=every, start=start, cuts=True, warmup_from=warmup_from
    )
    frames = list(sampler)
    cuts = [cut for frame in frames for cut in frame.cuts] + sampler.trailing_cuts
    return sampler, frames, cuts


@pytest.fixture(scope="module")
def hamilton():
    return sample(HAMILTON_CLIP)


def test_the_hamilton_cuts_are_found_within_two_frames_of_the_truth(hamilton):
    _sampler, _frames, cuts = hamilton
    truth = [shot.first_frame for shot in shots()[1:]]
    assert len(cuts) == len(truth)
    assert all(abs(found - true) <= 2 for found, true in zip(cuts, truth, strict=True)), cuts
    # Two of the cuts fall between sampled frames (every 5th): only the full decode sees them.
    assert any(cut % 5 for cut in cuts)


def test_each_cut_travels_with_the_first_sampled_frame_at_or_after_it(hamilton):
    _, frames, _cuts = hamilton
    previous = -1
    for frame in frames:
        assert all(previous < cut <= frame.index for cut in frame.cuts)
        previous = frame.index
    assert [frame.index for frame in frames] == list(range(0, 275, 5))


def test_the_one_shot_crowd_clip_has_no_cut():
    sampler, _frames, cuts = sample(CROWD_CLIP)
    assert cuts == []
    assert sampler.frames_read == 105


@pytest.mark.parametrize("start", [30, 85, 150, 215, 270])
def test_a_resumed_sampler_finds_the_same_frames_and_cuts(hamilton, start):
    _, frames, cuts = hamilton
    before = [cut for cut in cuts if cut < start]
    warmup = warmup_start(start, before[-1] if before else 0)
    sampler, resumed, resumed_cuts = sample(HAMILTON_CLIP, start=start, warmup_from=warmup)
    expected = [frame for frame in frames if frame.index >= start]
    assert [frame.index for frame in resumed] == [frame.index for frame in expected]
    assert all(
        np.array_equal(a.image_bgr, b.image_bgr) for a, b in zip(resumed, expected, strict=True)
    )
    assert resumed_cuts == [cut for cut in cuts if cut >= start]
    assert sampler.frames_read == 275


def test_without_warmup_a_resumed_detector_could_miss_a_cut_just_after_the_checkpoint(hamilton):
    """Why resuming re-reads frames: a detector started at frame 211 itself has nothing to
    compare frame 211 with, and the cut there is lost."""
    _, _, resumed_cuts = sample(HAMILTON_CLIP, start=211, warmup_from=211)
    assert 211 not in resumed_cuts
    _, _, warmed = sample(HAMILTON_CLIP, start=211, warmup_from=warmup_start(211, 82))
    assert warmed == [211]


def test_warmup_starts_at_the_last_cut_or_just_past_the_minimum_shot_length():
    assert warmup_start(100, 90) == 90
    assert warmup_start(100, 0) == 100 - MIN_SHOT_FRAMES - 1
    assert warmup_start(5, 0) == 0


def test_shot_spans_cover_the_video_without_gaps():
    spans = shot_spans([20, 82, 211, 0, 400], 275)
    assert [(s.index, s.first_frame, s.last_frame) for s in spans] == [
        (0, 0, 19),
        (1, 20, 81),
        (2, 82, 210),
        (3, 211, 274),
    ]
    assert spans[1].seconds(25.0) == (20 / 25, 82 / 25)


def test_the_detector_sees_small_copies_of_the_frames():
    assert detector_size(1920, 1080) == (256, 144)
    assert detector_size(640, 360) == (256, 144)
    assert detector_size(160, 121) == (160, 120)
