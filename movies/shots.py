"""Cuts found in the video itself, frame by frame, and the shots between them.

PySceneDetect's ``ContentDetector`` compares each frame with the one before in HSV; a frame
whose change passes ``CUT_THRESHOLD`` starts a new shot, unless it comes less than
``MIN_SHOT_FRAMES`` after the last cut (a flash or a fast pan, not a cut). The detector runs in
"suppress" mode, which decides on every frame at once, so the cuts known after frame ``n`` are
final: a batch of sampled frames never waits for later frames to know its shots.

The detector sees small copies of the frames (``DETECTOR_WIDTH`` pixels wide, what
PySceneDetect itself scales to by default), made by the decoder in one scaling step
(``movies.video``). Its whole state is the previous frame and the last cut, so a resumed ingest
finds the same cuts as an uninterrupted run when it feeds the detector again from
``warmup_start`` on (``movies.video.FrameSampler``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scenedetect.common import FrameTimecode
from scenedetect.detector import FlashFilter
from scenedetect.detectors import ContentDetector

# PySceneDetect's defaults for ContentDetector. On the shared clips they find the Hamilton
# clip's three cuts on the very frame shots.csv names and none in the one-shot crowd clip
# (``manage.py bench_appearances``).
CUT_THRESHOLD = 27.0
MIN_SHOT_FRAMES = 15
DETECTOR_WIDTH = 256


def detector_size(width: int, height: int) -> tuple[int, int]:
    """The size of the detector's copies: ``DETECTOR_WIDTH`` wide (never wider than the video),
    the video's aspect ratio, even dimensions (what the scaler handles best)."""
    small_width = min(width, DETECTOR_WIDTH)
    small_height = max(2, round(height * small_width / width / 2) * 2)
    return max(2, small_width - small_width % 2), small_height


def warmup_start(resume_at: int, open_shot_start: int) -> int:
    """The first frame to feed a fresh detector so that from ``resume_at`` on it finds exactly
    the cuts of a run that never stopped.

    The running detector held the frame before ``resume_at`` and the last cut,
    ``open_shot_start`` (0 before the first). A fresh detector counts its minimum shot length
    from the first frame it sees, so starting at the last cut reproduces it exactly, and
    starting more than ``MIN_SHOT_FRAMES`` frames before ``resume_at`` makes the minimum length
    met there in both runs.
    """
    return max(open_shot_start, resume_at - MIN_SHOT_FRAMES - 1, 0)


class CutDetector:
    """Feed every frame in order (``process``); it answers with the frame where a shot starts."""

    def __init__(self, fps: float) -> None:
        self._fps = Fraction(fps).limit_denominator(100_000)
        self._detector = ContentDetector(
            threshold=CUT_THRESHOLD,
            min_scene_len=MIN_SHOT_FRAMES,
            filter_mode=FlashFilter.Mode.SUPPRESS,
        )

    def process(self, index: int, small_bgr: np.ndarray) -> int | None:
        """Frame ``index`` (a small BGR copy); returns ``index`` when a new shot starts there."""
        cuts = self._detector.process_frame(FrameTimecode(index, self._fps), small_bgr)
        if not cuts:
            return None
        (cut,) = cuts  # suppress mode reports the current frame or nothing
        return int(cut.frame_num)


@dataclass(frozen=True)
class ShotSpan:
    """Shot ``index``: frames ``first_frame`` to ``last_frame``, both included."""

    index: int
    first_frame: int
    last_frame: int

    def seconds(self, fps: float) -> tuple[float, float]:
        """Start of the first frame and end of the last one."""
        return self.first_frame / fps, (self.last_frame + 1) / fps


def shot_spans(cuts: Iterable[int], frame_count: int) -> list[ShotSpan]:
    """The shots of a video of ``frame_count`` frames with these cuts (frames that start a
    shot; 0 and cuts outside the video are ignored)."""
    starts = [0, *sorted({cut for cut in cuts if 0 < cut < frame_count})]
    ends = [*(start - 1 for start in starts[1:]), frame_count - 1]
    return [
        ShotSpan(index=index, first_frame=first, last_frame=last)
        for index, (first, last) in enumerate(zip(starts, ends, strict=True))
    ]
