"""The real media the suite reads from ``../shared/data`` (see its MANIFEST.md), named once, and
the shots of its clips as ``videos/shots.csv`` records them."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VIDEOS = SHARED_DATA / "videos"
FACES = SHARED_DATA / "faces"
GROUP_PHOTOS = SHARED_DATA / "group_photos"

HAMILTON_CLIP = VIDEOS / "hamilton_whitehouse_clip.mp4"
# How the session's ``hamilton_ingest`` fixture ingests the clip (the kill-and-resume test runs
# the command with the same settings and compares the results).
HAMILTON_INGEST = {"sample_every": 5, "embedder": "dlib-resnet", "min_face": 0.06}

# People of the Hamilton clip, as shots.csv and faces/ name them.
MIRANDA = "lin_manuel_miranda"
LACAMOIRE = "alex_lacamoire"


@dataclass(frozen=True)
class Shot:
    """One row of shots.csv: a shot's frames (first and last included) and who is in it."""

    first_frame: int
    last_frame: int
    people: tuple[str, ...]

    def __contains__(self, frame_index: int) -> bool:
        return self.first_frame <= frame_index <= self.last_frame


@functools.cache
def shots(video: Path = HAMILTON_CLIP) -> tuple[Shot, ...]:
    """The shots of ``video`` in frame order."""
    with (VIDEOS / "shots.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["video"] == video.name]
    assert rows, f"shots.csv has no shots of {video.name}"
    return tuple(
        Shot(
            int(row["first_frame"]),
            int(row["last_frame"]),
            tuple(person for person in row["people"].split(";") if person),
        )
        for row in rows
    )


def shot_at(frame_index: int, video: Path = HAMILTON_CLIP) -> Shot:
    (shot,) = [shot for shot in shots(video) if frame_index in shot]
    return shot


def shots_of(person: str, video: Path = HAMILTON_CLIP) -> tuple[Shot, ...]:
    """The shots ``person`` appears in, in frame order."""
    return tuple(shot for shot in shots(video) if person in shot.people)


def in_shot_of(person: str, frame_index: int, video: Path = HAMILTON_CLIP) -> bool:
    return any(frame_index in shot for shot in shots_of(person, video))
