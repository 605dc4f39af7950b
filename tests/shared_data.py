"""The real media the suite reads from ``../shared/data`` (see its MANIFEST.md), named once."""

from __future__ import annotations

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VIDEOS = SHARED_DATA / "videos"
FACES = SHARED_DATA / "faces"
GROUP_PHOTOS = SHARED_DATA / "group_photos"

HAMILTON_CLIP = VIDEOS / "hamilton_whitehouse_clip.mp4"
# How the session's ``hamilton_ingest`` fixture ingests the clip (the kill-and-resume test runs
# the command with the same settings and compares the results).
HAMILTON_INGEST = {"sample_every": 5, "embedder": "dlib-resnet", "min_face": 0.06}
