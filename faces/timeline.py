"""A movie's timeline: its shots and appearances placed over its duration, for the strip that
``faces/_timeline.html`` draws (styles in ``static/css/timeline.css``).

Positions are percentages of the duration, so the strip is plain HTML and CSS at any width:
nothing is drawn into an image. Appearances that overlap in time (two people in one shot) go
into separate lanes, each into the first lane free at its start.

``movie_timeline`` draws all of a movie's shots and appearances (movie and appearance pages);
``placed_timeline`` draws any marks over a movie's length with the same strip, for the search
results (``search.result_timelines``: where the matches fall).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from faces.models import Appearance
from movies.display import hms
from movies.models import Movie, Shot

# Where the axis is labelled (fractions of the duration), and how (Tick.position).
TICKS = ((0.0, "start"), (0.25, "quarter"), (0.5, "middle"), (0.75, "quarter"), (1.0, "end"))


def span_label(start: float, end: float) -> str:
    """A time span as the pages show it: two times to the tenth of a second (appearances
    last a few seconds) joined by an en dash, 0:01:02.4-0:01:09.0."""
    return f"{hms(start, 1)}\u2013{hms(end, 1)}"


# Marks closer than this (percent of the movie) take separate lanes in a placed_timeline: at a
# phone's width a mark's minimum width covers about this much of the strip.
MIN_GAP_PERCENT = 1.5


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
    """A mark that is a link: an appearance (``appearance_id``), or on a results page a match
    (``appearance_id`` None for a face of a movie whose appearances are not built)."""

    appearance_id: int | None = 0
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
    # What the marks are, for the strip's caption: "appearance" on a movie's own timeline.
    noun: str = "appearance"

    @property
    def appearance_count(self) -> int:
        return sum(len(lane) for lane in self.lanes)

    @property
    def summary(self) -> str:
        """The caption's count: "12 appearances in 4 shots", "3 matches"."""
        count = self.appearance_count
        plural = "es" if self.noun.endswith("h") else "s"
        text = f"{count} {self.noun}{plural if count != 1 else ''}"
        if self.shots:
            text += f" in {len(self.shots)} shot{'s' if len(self.shots) != 1 else ''}"
        return text

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
    marks = [
        _appearance_mark(appearance, duration, marked=appearance.pk == marked)
        for appearance in appearances
    ]
    shot_marks = [
        Mark(*_place(shot.start_seconds, shot.end_seconds, duration), label=_shot_label(shot))
        for shot in shots
    ]
    return _lay_out(duration, marks, shots=shot_marks)


def placed_timeline(
    movie: Movie,
    marks: list[tuple[float, float, AppearanceMark]],
    *,
    noun: str,
    min_gap: float = 0.0,
) -> Timeline | None:
    """A strip over ``movie``'s length with these marks, given as (start, end, mark) in
    seconds; each mark's ``left`` and ``width`` are set here. No shots are drawn.

    ``min_gap`` (percent of the duration) keeps marks closer than that in separate lanes, so
    that short marks drawn at their minimum width do not hide each other. None when nothing
    has a place (no marks, or no length).
    """
    if not marks:
        return None
    duration = _duration(movie, [], [], extra_ends=[end for _start, end, _mark in marks])
    if duration <= 0:
        return None
    placed = [
        replace(mark, **dict(zip(("left", "width"), _place(start, end, duration), strict=True)))
        for start, end, mark in sorted(marks, key=lambda item: item[0])
    ]
    return _lay_out(duration, placed, noun=noun, min_gap=min_gap)


def _lay_out(
    duration: float,
    marks: list[AppearanceMark],
    *,
    shots: list[Mark] | None = None,
    noun: str = "appearance",
    min_gap: float = 0.0,
) -> Timeline:
    """Marks (in time order) into lanes, each into the first lane free at its start."""
    timeline = Timeline(duration=duration, shots=shots or [], noun=noun)
    lane_ends: list[float] = []
    for mark in marks:
        lane = _free_lane(lane_ends, mark.left)
        end = max(mark.left + mark.width, mark.left + min_gap)
        if lane == len(lane_ends):
            lane_ends.append(end)
            timeline.lanes.append([mark])
        else:
            lane_ends[lane] = end
            timeline.lanes[lane].append(mark)
        if mark.marked and timeline.marked is None:
            timeline.marked = mark
    timeline.ticks = [
        Tick(left=100.0 * fraction, label=hms(duration * fraction), position=position)
        for fraction, position in TICKS
    ]
    return timeline


def _duration(
    movie: Movie,
    shots: list[Shot],
    appearances: list[Appearance],
    extra_ends: Iterable[float] = (),
) -> float:
    """The movie's length, never shorter than what is placed on it."""
    known = movie.duration_seconds or 0.0
    if not known and movie.frame_count and movie.fps:
        known = movie.frame_count / movie.fps
    ends = [shot.end_seconds for shot in shots] + [a.end_seconds for a in appearances]
    return max([known, *ends, *extra_ends])


def _place(start: float, end: float, duration: float) -> tuple[float, float]:
    left = min(100.0, max(0.0, 100.0 * start / duration))
    right = min(100.0, max(left, 100.0 * end / duration))
    return left, right - left


def _free_lane(lane_ends: list[float], start: float) -> int:
    """The first lane whose last mark has ended by ``start`` (a new one if none has); both in
    percent of the duration."""
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
