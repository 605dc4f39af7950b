"""Template helpers shared by the movie pages and the search results (thin wrappers over
``movies.display``, which holds the formatting itself).

``{% load movies_extras %}`` then:

* ``{{ seconds|hms }}`` → ``"1:02:03"`` (h:mm:ss; hours always shown, never negative);
  ``{{ seconds|hms:1 }}`` → ``"1:02:03.4"`` (tenths: appearances last a few seconds).
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

from movies.display import box_style, hms

register = template.Library()


@register.filter(name="hms")
def hms_filter(seconds: Any, digits: Any = 0) -> str:
    """``{{ seconds|hms }}``, ``{{ seconds|hms:1 }}`` with tenths: see ``movies.display.hms``."""
    try:
        digits = max(0, min(3, int(digits)))
    except (TypeError, ValueError):
        digits = 0
    return hms(seconds, digits)


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
