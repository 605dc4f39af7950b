"""A movie's timeline: its shots and appearances placed over its duration, for the strip that
``faces/_timeline.html`` draws (styles in ``static/css/timeline.css``).

Positions are percentages of the duration, so the strip is plain HTML and CSS at any width:
nothing is drawn into an image. Appearances that overlap in time (two people in one shot) go
into separate lanes, each into the first lane free at its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faces.models import Appearance
from movies.display import hms
from movies.models import Movie, Shot

# Where the axis is labelled (fractions of the duration), and how (Tick.position).
TICKS = ((0.0, "start"), (0.25, "quarter"), (0.5, "middle"), (0.75, "quarter"), (1.0, "end"))


def span_label(start: float, end: float) -> str:
    """A time span as the pages show it: two times to the tenth of a second (appearances
    last a few seconds) joined by an en dash, 0:01:02.4-0:01:09.0."""
    return f"{hms(start, 1)}\u2013{hms(end, 1)}"


@dataclass(frozen=True)
class Mark:
    """One thing on the strip: ``left`` and ``width`` are percentages of the duration."""

    left: float
    width: float
    label: str

    @property
    def style(self) -> str:
        return f"left:{self.left:.3f}%;width:{self.width:.3f}%"


@dataclass(frozen=True)
class AppearanceMark(Mark):
    appearance_id: int = 0
    url: str = ""
    marked: bool = False


@dataclass(frozen=True)
class Tick:
    left: float
    label: str
    # How the label sits on its tick: "start" and "end" inside the strip, "middle" and
    # "quarter" centred (quarter labels are left out on narrow screens).
    position: str

    @property
    def style_left(self) -> str:
        return f"{self.left:.3f}%"


@dataclass
class Timeline:
    duration: float
    shots: list[Mark] = field(default_factory=list)
    lanes: list[list[AppearanceMark]] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    marked: AppearanceMark | None = None

    @property
    def appearance_count(self) -> int:
        return sum(len(lane) for lane in self.lanes)

    @property
    def marked_style(self) -> str:
        """Where the cursor of the marked appearance stands, across every lane."""
        return f"left:{self.marked.left:.3f}%" if self.marked else ""


def movie_timeline(movie: Movie, *, marked: int | None = None) -> Timeline | None:
    """The timeline of ``movie`` with appearance ``marked`` (an id) singled out; None when the
    movie has neither shots nor appearances, or no known length."""
    shots = list(
        Shot.objects.filter(movie=movie)
        .order_by("index")
        .only("index", "start_seconds", "end_seconds")
    )
    appearances = list(
        Appearance.objects.filter(movie=movie)
        .order_by("start_seconds", "pk")
        .only("pk", "start_seconds", "end_seconds", "face_count")
    )
    if not shots and not appearances:
        return None
    duration = _duration(movie, shots, appearances)
    if duration <= 0:
        return None
    timeline = Timeline(duration=duration)
    timeline.shots = [
        Mark(*_place(shot.start_seconds, shot.end_seconds, duration), label=_shot_label(shot))
        for shot in shots
    ]
    lane_ends: list[float] = []
    for appearance in appearances:
        mark = _appearance_mark(appearance, duration, marked=appearance.pk == marked)
        lane = _free_lane(lane_ends, appearance.start_seconds)
        if lane == len(lane_ends):
            lane_ends.append(appearance.end_seconds)
            timeline.lanes.append([mark])
        else:
            lane_ends[lane] = appearance.end_seconds
            timeline.lanes[lane].append(mark)
        if mark.marked:
            timeline.marked = mark
    timeline.ticks = [
        Tick(left=100.0 * fraction, label=hms(duration * fraction), position=position)
        for fraction, position in TICKS
    ]
    return timeline


def _duration(movie: Movie, shots: list[Shot], appearances: list[Appearance]) -> float:
    """The movie's length, never shorter than what is placed on it."""
    known = movie.duration_seconds or 0.0
    if not known and movie.frame_count and movie.fps:
        known = movie.frame_count / movie.fps
    ends = [shot.end_seconds for shot in shots] + [a.end_seconds for a in appearances]
    return max([known, *ends])


def _place(start: float, end: float, duration: float) -> tuple[float, float]:
    left = min(100.0, max(0.0, 100.0 * start / duration))
    right = min(100.0, max(left, 100.0 * end / duration))
    return left, right - left


def _free_lane(lane_ends: list[float], start: float) -> int:
    """The first lane whose last appearance has ended by ``start`` (a new one if none has)."""
    for lane, end in enumerate(lane_ends):
        if end <= start + 1e-6:
            return lane
    return len(lane_ends)


def _shot_label(shot: Shot) -> str:
    return f"Shot {shot.index + 1}: {span_label(shot.start_seconds, shot.end_seconds)}"


def _appearance_mark(appearance: Appearance, duration: float, *, marked: bool) -> AppearanceMark:
    faces = f"{appearance.face_count} face{'s' if appearance.face_count != 1 else ''}"
    left, width = _place(appearance.start_seconds, appearance.end_seconds, duration)
    return AppearanceMark(
        left=left,
        width=width,
        label=f"Appearance {span_label(appearance.start_seconds, appearance.end_seconds)}, {faces}",
        appearance_id=appearance.pk,
        url=appearance.get_absolute_url(),
        marked=marked,
    )
