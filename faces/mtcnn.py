"""MTCNN's three stages on one image, with the image pyramid built from one integral image.

The networks run on channels_last tensors (``faces.detection`` loads them so): oneDNN's
kernels for that layout run P-, R- and O-net about 1.8x faster on the CPU than the default
layout, with the same detections (boxes within 2e-4 px on the shared clips).

facenet-pytorch's ``detect_face`` builds every pyramid scale by area interpolation of the whole
frame (torch's ``interpolate(mode="area")``, an adaptive average pooling), so its cost grows
with the frame size times the number of scales: on a 1080p frame searched from 65 px up, 9
full-frame passes. Here one integral image of the frame (``cv2.integral``: exact int32 sums of
uint8 pixels, one pass) gives each scale's pixels as the same pooling windows' sums from four
corners, in time proportional to the scale's own size. Window bounds are the ones adaptive
pooling uses, so the levels equal facenet-pytorch's to float rounding (the division differs in
the last bit). ``manage.py bench_faces --only pyramid`` times both ways; ``--only detections``
compares their faces.

The stages after the pyramid are facenet-pytorch's, called through its own helpers, with the
same thresholds, scale factor, NMS overlaps and order: P-net on every scale (NMS 0.5 per
scale, 0.7 over all), then R-net on 24x24 and O-net on 48x48 area-resized crops of the
original pixels. The crops come from the same integral image, all boxes of a stage at once
(four gathers of window corners), where facenet-pytorch area-resizes each crop by itself:
the same windows, the same values to float rounding, and no per-box calls (on the crowd clip
the per-box crops were about a seventh of the detector's time). The frame is never converted
to float as a whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from facenet_pytorch.models.utils.detect_face import (
    batched_nms_numpy,
    bbreg,
    fixed_batch_process,
    generateBoundingBox,
    pad,
    rerec,
)
from torchvision.ops import nms

if TYPE_CHECKING:
    from collections.abc import Iterator

    from torch import nn

PNET_CELL = 12  # P-net's window, in pixels of the scale it runs on


def pyramid_scales(height: int, width: int, min_face_px: float, factor: float) -> list[float]:
    """The scales MTCNN searches: from 12 / min_face_px down by ``factor`` while the shorter
    side still holds one P-net window (facenet-pytorch's rule)."""
    scale = PNET_CELL / min_face_px
    shorter = min(height, width) * scale
    scales = []
    while shorter >= PNET_CELL:
        scales.append(scale)
        scale *= factor
        shorter *= factor
    return scales


def _window_bounds(source: int, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive average pooling's windows: [floor(i*s/t), ceil((i+1)*s/t)) for each output i."""
    i = np.arange(target, dtype=np.int64)
    return (i * source) // target, -((-(i + 1) * source) // target)


def pyramid_levels(integral: np.ndarray, sizes: list[tuple[int, int]]) -> Iterator[torch.Tensor]:
    """Each (1, 3, rows, columns) float32 level from the (h+1, w+1, 3) int32 integral image."""
    height, width = integral.shape[0] - 1, integral.shape[1] - 1
    for rows, columns in sizes:
        top, bottom = _window_bounds(height, rows)
        left, right = _window_bounds(width, columns)
        band = integral[bottom] - integral[top]  # (rows, w+1, 3): column prefix sums
        sums = band[:, right] - band[:, left]  # (rows, columns, 3)
        counts = ((bottom - top)[:, None] * (right - left)[None, :]).astype(np.float32)
        level = sums.astype(np.float32) / counts[:, :, None]
        # (rows, columns, 3) seen as (1, 3, rows, columns): channels_last, with no copy.
        yield torch.from_numpy(level).permute(2, 0, 1).unsqueeze(0)


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    """MTCNN's input scaling, in channels_last (the layout the networks run fastest on)."""
    return ((pixels - 127.5) * 0.0078125).contiguous(memory_format=torch.channels_last)


def detect(
    image: np.ndarray,
    min_face_px: float,
    nets: tuple[nn.Module, nn.Module, nn.Module],
    thresholds: tuple[float, float, float],
    factor: float,
    on: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 5) boxes with probability and (n, 5, 2) landmarks for an (h, w, 3) uint8 image.

    Call under ``torch.inference_mode()``.
    """
    import cv2

    pnet, rnet, onet = nets
    height, width = image.shape[:2]
    scales = pyramid_scales(height, width, min_face_px, factor)
    sizes = [(int(height * scale + 1), int(width * scale + 1)) for scale in scales]
    integral = cv2.integral(image)
    found = []
    for scale, level in zip(scales, pyramid_levels(integral, sizes), strict=True):
        reg, probs = pnet(_normalise(level.to(on)))
        boxes, _ = generateBoundingBox(reg, probs[:, 1], scale, thresholds[0])
        found.append(boxes[nms(boxes[:, :4], boxes[:, 4], 0.5)])
    empty = (np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32))
    if not found:
        return empty
    boxes = torch.cat(found)
    boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
    size = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, dim=1)
    boxes = torch.cat([boxes[:, :4] + boxes[:, 5:9] * size, boxes[:, 4:5]], dim=1)
    boxes = rerec(boxes)

    boxes, crops = _crops(integral, boxes, 24, on)
    if not len(boxes):
        return empty
    regression, scores = fixed_batch_process(crops, rnet)
    keep = scores[:, 1] > thresholds[1]
    boxes = torch.cat([boxes[keep, :4], scores[keep, 1:2]], dim=1)
    regression = regression[keep]
    pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
    boxes = rerec(bbreg(boxes[pick], regression[pick]))

    boxes, crops = _crops(integral, boxes, 48, on)
    if not len(boxes):
        return empty
    regression, landmarks, scores = fixed_batch_process(crops, onet)
    keep = scores[:, 1] > thresholds[2]
    boxes = torch.cat([boxes[keep, :4], scores[keep, 1:2]], dim=1)
    landmarks, regression = landmarks[keep], regression[keep]
    box_width = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    box_height = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    points = torch.stack(
        [
            box_width * landmarks[:, :5] + boxes[:, 0:1] - 1,
            box_height * landmarks[:, 5:] + boxes[:, 1:2] - 1,
        ],
        dim=2,
    )
    boxes = bbreg(boxes, regression)
    zeros = torch.zeros(len(boxes), dtype=torch.long, device=boxes.device)
    pick = batched_nms_numpy(boxes[:, :4], boxes[:, 4], zeros, 0.7, "Min")
    return boxes[pick].cpu().numpy(), points[pick].cpu().numpy()


def _crops(
    integral: np.ndarray, boxes: torch.Tensor, side: int, on: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The boxes that overlap the image and their (n, 3, side, side) normalised crops: the
    region facenet-pytorch cuts (box corners truncated, clamped to the image) area-resized to
    ``side`` x ``side`` as ``interpolate(mode="area")`` does, from the (h+1, w+1, 3) integral
    image."""
    height, width = integral.shape[0] - 1, integral.shape[1] - 1
    top, bottom, left, right = pad(boxes, width, height)
    usable = np.flatnonzero((bottom > top - 1) & (right > left - 1))
    if not len(usable):
        return boxes[:0], torch.zeros((0, 3, side, side), dtype=torch.float32, device=on)
    first_row, first_column = top[usable] - 1, left[usable] - 1
    row_0, row_1 = _crop_windows(first_row, bottom[usable] - first_row, side)
    column_0, column_1 = _crop_windows(first_column, right[usable] - first_column, side)
    # (n, side, side, 3) window sums from four corners each.
    r0, r1 = row_0[:, :, None], row_1[:, :, None]
    c0, c1 = column_0[:, None, :], column_1[:, None, :]
    sums = integral[r1, c1] - integral[r0, c1] - integral[r1, c0] + integral[r0, c0]
    counts = ((r1 - r0) * (c1 - c0)).astype(np.float32)
    pixels = sums.astype(np.float32) / counts[..., None]
    crops = torch.from_numpy(pixels).permute(0, 3, 1, 2).to(on)  # channels_last, no copy
    keep = torch.as_tensor(usable, device=boxes.device)
    return boxes[keep], _normalise(crops)


def _crop_windows(start: np.ndarray, size: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Per crop (rows of the result), ``_window_bounds`` of a region of ``size`` pixels from
    ``start`` onto ``side`` pixels, in image coordinates: (n, side) first and past-last."""
    i = np.arange(side, dtype=np.int64)[None, :]
    size = size.astype(np.int64)[:, None]
    start = start.astype(np.int64)[:, None]
    return start + (i * size) // side, start - ((-(i + 1) * size) // side)
