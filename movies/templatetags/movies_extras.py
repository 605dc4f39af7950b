"""Template helpers shared by the movie pages and the search results.

``{% load movies_extras %}`` then:

* ``{{ seconds|hms }}`` → ``"1:02:03"`` (h:mm:ss; hours always shown, never negative).
* ``{% face_box_style face frame %}`` → ``"left:12.5%;top:20%;width:10%;height:15%"``, the face's
  box as percentages of its frame, for a box element absolutely positioned over the frame
  image (``.frame-figure`` / ``.face-box`` in site.css). The image itself is never re-encoded.
  ``frame`` is optional (defaults to ``face.frame``); pass it to save a query per face.
* ``{% media_image_url frame %}`` → the frame's thumbnail URL, or its full image when no
  thumbnail was stored; ``{% media_image_url frame "full" %}`` → the full image.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def hms(seconds: Any) -> str:
    """Seconds as h:mm:ss (``""`` for a missing value)."""
    if seconds is None or seconds == "":
        return ""
    try:
        total = max(0, int(float(seconds)))
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _percent(value: float, whole: float) -> float:
    return min(100.0, max(0.0, 100.0 * value / whole))


def box_percentages(
    box: tuple[float, float, float, float], frame_width: float, frame_height: float
) -> dict[str, float]:
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


def box_style(box: tuple[float, float, float, float], width: float, height: float) -> str:
    """Inline CSS placing a box over an image of any displayed size (percentages)."""
    if not width or not height:
        return "display:none"
    percentages = box_percentages(box, width, height)
    return ";".join(f"{key}:{value:.3f}%" for key, value in percentages.items())


@register.simple_tag
def face_box_style(face: Any, frame: Any = None) -> str:
    """Inline CSS placing ``face``'s box over its frame image, in percentages."""
    frame = frame if frame is not None else face.frame
    return box_style((face.x1, face.y1, face.x2, face.y2), frame.width, frame.height)


@register.simple_tag
def media_image_url(frame: Any, size: str = "thumbnail") -> str:
    """URL of the frame's stored thumbnail (or full image); ``""`` if neither is stored."""
    if size != "full" and frame.thumbnail:
        return frame.thumbnail.url
    return frame.image.url if frame.image else ""


@register.simple_tag
def face_search_url(face_id: int) -> str:
    """URL of the similarity search for one face (``search:face``)."""
    return reverse("search:face", args=[face_id])
