"""How times and face boxes are shown, wherever they are shown: pages, JSON, commands, admin.

Plain functions; ``movies.templatetags.movies_extras`` wraps them for templates.
"""

from __future__ import annotations

import math
from typing import Any

Box = tuple[float, float, float, float]


def hms(seconds: Any, digits: int = 0) -> str:
    """Seconds as h:mm:ss, hours always shown (``""`` for a missing or non-numeric value).

    Whole seconds are truncated, as video players count them (10.6 s is 0:00:10); ``digits``
    adds that many decimals of the second (``hms(62.345, 2)`` is ``"0:01:02.34"``).
    """
    if seconds is None or seconds == "" or isinstance(seconds, bool):
        return ""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(value):
        return ""
    value = max(0.0, value)
    scale = 10**digits
    ticks = math.floor(value * scale + 1e-9)
    whole, fraction = divmod(ticks, scale)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{text}.{fraction:0{digits}d}" if digits else text


def _percent(value: float, whole: float) -> float:
    return min(100.0, max(0.0, 100.0 * value / whole))


def box_percentages(box: Box, frame_width: float, frame_height: float) -> dict[str, float]:
    """A box (x1, y1, x2, y2) in frame pixels as left/top/width/height percentages, clipped
    to the frame (MTCNN boxes can reach slightly past the edges)."""
    x1, y1, x2, y2 = box
    left, top = _percent(x1, frame_width), _percent(y1, frame_height)
    right, bottom = _percent(x2, frame_width), _percent(y2, frame_height)
    return {
        "left": left,
        "top": top,
        "width": max(0.0, right - left),
        "height": max(0.0, bottom - top),
    }


def box_style(box: Box, width: float, height: float) -> str:
    """Inline CSS placing a box over an image of any displayed size (percentages), so that the
    stored image is never re-encoded to draw on it."""
    if not width or not height:
        return "display:none"
    percentages = box_percentages(box, width, height)
    return ";".join(f"{key}:{value:.3f}%" for key, value in percentages.items())
