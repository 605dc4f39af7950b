"""Detections of the integral-image pyramid against facenet-pytorch's ``detect_face``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from faces.bench import box_iou, load_rgb, shared_data, video_frames
from faces.bench.speed import facenet_detect, integral_detect, lfw_photos

CLIPS = (
    "hamilton_whitehouse_clip.mp4",
    "crowd_walking_opera_house.mp4",
    "tears_of_steel_excerpt.mp4",
)


@dataclass
class Agreement:
    """Faces (probability > threshold) found by each way, and how the matched ones compare."""

    old: int = 0
    new: int = 0
    matched: int = 0
    ious: list[float] = field(default_factory=list)
    landmark_shift: float = 0.0  # largest landmark difference of a matched face, px

    def add(self, old: tuple[np.ndarray, np.ndarray], new: tuple[np.ndarray, np.ndarray]) -> None:
        old_boxes, old_points = old
        new_boxes, new_points = new
        self.old += len(old_boxes)
        self.new += len(new_boxes)
        unused = list(range(len(new_boxes)))
        for i, box in enumerate(old_boxes):
            if not unused:
                break
            overlaps = [box_iou(box[:4], new_boxes[j][:4]) for j in unused]
            best = int(np.argmax(overlaps))
            if overlaps[best] > 0.5:
                j = unused.pop(best)
                self.matched += 1
                self.ious.append(overlaps[best])
                shift = float(np.abs(old_points[i] - new_points[j]).max())
                self.landmark_shift = max(self.landmark_shift, shift)

    def line(self, name: str) -> str:
        if not self.ious:
            return f"  {name:<32} faces {self.old} -> {self.new}, none matched"
        ious = np.asarray(self.ious)
        change = (self.new - self.old) / max(1, self.old)
        return (
            f"  {name:<32} faces {self.old} -> {self.new} ({change:+.1%}), matched "
            f"{self.matched}, box IoU min {ious.min():.4f} median {np.median(ious):.4f}, "
            f"landmarks within {self.landmark_shift:.3f} px"
        )


def _kept(found: tuple[np.ndarray, np.ndarray], min_probability: float):
    boxes, points = found
    keep = boxes[:, 4] > min_probability
    return boxes[keep], points[keep]


def compare(images: Iterable[np.ndarray], min_face: float, min_probability: float) -> Agreement:
    from faces.detection import resolve_min_face

    agreement = Agreement()
    for image in images:
        min_face_px = resolve_min_face(min_face, image.shape[0])
        if min_face_px > min(image.shape[:2]):
            continue
        agreement.add(
            _kept(facenet_detect(image, min_face_px), min_probability),
            _kept(integral_detect(image, min_face_px), min_probability),
        )
    return agreement


def detection_agreement(
    every: int, min_face: float, min_probability: float, lfw_limit: int | None
) -> Iterator[str]:
    yield (
        f"facenet-pytorch detect_face -> integral pyramid, min face {min_face}, probability > "
        f"{min_probability}, faces matched by IoU > 0.5:"
    )
    total = Agreement()
    for clip in CLIPS:
        frames = (frame for _, frame in video_frames(shared_data() / "videos" / clip, every))
        result = compare(frames, min_face, min_probability)
        yield result.line(f"{clip} (every {every}th frame)")
        _merge(total, result)
    photos = lfw_photos(lfw_limit)
    result = compare((load_rgb(path) for path in photos), min_face, min_probability)
    yield result.line(f"lfw_dev ({len(photos)} photos)")
    _merge(total, result)
    yield total.line("all")


def _merge(total: Agreement, part: Agreement) -> None:
    total.old += part.old
    total.new += part.new
    total.matched += part.matched
    total.ious += part.ious
    total.landmark_shift = max(total.landmark_shift, part.landmark_shift)
