"""``python manage.py bench_appearances``: shots and appearances measured against known truth.

- cuts of the Hamilton clip against ``videos/shots.csv`` (within 2 frames), and none in the
  one-shot crowd clip;
- fragmentation on the Hamilton clip: tracks per person-shot a detector can see, people named by
  their labelled photos (nearest photo within the linking distance);
- a video made here from labelled photos (slow zooms, cut to the next photo, group photos among
  them): cuts, linking precision (no track with two people) and fragmentation, by construction;
- recall of a query with one face against one with its appearance's mean vector.

Never a test: it runs the real networks (dlib-resnet, offline) and only reports.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from django.core.files import File
from django.core.management.base import BaseCommand, CommandParser

from faces.bench.appearances import (
    FRAMES_PER_PHOTO_SHOT,
    label_photo_faces,
    linking_quality,
    photo_video,
    recall_face_vs_mean,
    track_video,
)
from faces.tracking import linking_rules
from movies.management.commands.bench_ingest import shared_dir

PHOTO_SHOTS = [
    ("faces/barack_obama/1.jpg", ("barack_obama",)),
    ("group_photos/obama_and_biden_1.jpg", ("barack_obama", "joe_biden")),
    ("group_photos/kit_harington_and_rose_leslie.jpg", ("rose_leslie", "kit_harington")),
    ("faces/joe_biden/1.jpg", ("joe_biden",)),
    ("faces/barack_obama/2.jpg", ("barack_obama",)),
    ("group_photos/obama_and_biden_2.jpg", ("barack_obama", "joe_biden")),
    ("faces/kit_harington/1.jpg", ("kit_harington",)),
    ("faces/rose_leslie/2.jpg", ("rose_leslie",)),
    ("faces/alex_lacamoire/2.jpg", ("alex_lacamoire",)),
    ("faces/barack_obama/4.jpg", ("barack_obama",)),
]
# Hamilton person-shots a detector can see (shots.csv; the Obamas' shot holds two more people).
HAMILTON_PEOPLE = {
    0: ("lin_manuel_miranda",),
    1: ("alex_lacamoire",),
    2: ("lin_manuel_miranda",),
    3: ("barack_obama",),
}
PHOTOS_OF = {
    "lin_manuel_miranda": ["1.jpg"],
    "alex_lacamoire": ["1.jpg", "2.jpg", "3.jpg"],
    "barack_obama": ["1.jpg", "2.jpg", "3.jpg", "4.jpg", "5.jpg"],
}


class Command(BaseCommand):
    help = "Measure cuts, linking precision, fragmentation and appearance-query recall."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=5)
        parser.add_argument("--embedder", default="dlib-resnet")
        parser.add_argument("--min-face", type=float, default=0.06)

    def handle(self, *args: Any, **options: Any) -> None:
        data = shared_dir() / "data"
        every, embedder, min_face = options["every"], options["embedder"], options["min_face"]
        rules = linking_rules(embedder)
        self.stdout.write(f"{embedder}, every {every}th frame, min face {min_face:g}; {rules}")
        hamilton = track_video(
            data / "videos/hamilton_whitehouse_clip.mp4", embedder, every, min_face
        )
        self.stdout.write(f"Hamilton cuts: {hamilton.cuts} (shots.csv: [20, 82, 211])")
        crowd = track_video(
            data / "videos/crowd_walking_opera_house.mp4", embedder, every, min_face
        )
        self.stdout.write(f"crowd clip cuts: {crowd.cuts} (one continuous shot)")
        self.stdout.write(f"crowd clip: {len(crowd.faces)} faces in {len(crowd.tracks)} tracks")
        self.hamilton_people(hamilton, data, embedder)
        with tempfile.TemporaryDirectory(prefix="bench_appearances_") as work:
            shots = [(data / photo, people) for photo, people in PHOTO_SHOTS]
            video = photo_video(Path(work) / "photos.mp4", shots)
            run = track_video(video, embedder, every, min_face)
        truth = [FRAMES_PER_PHOTO_SHOT * n for n in range(1, len(shots))]
        self.stdout.write(f"photo video cuts: {run.cuts} (by construction: {truth})")
        label_photo_faces(run, shots)
        quality = linking_quality(run)
        self.stdout.write(
            "photo video linking: {tracks} tracks ({labelled_tracks} with a labelled face), "
            "{impure_tracks} with two people: precision {precision:.3f}; "
            "{fragmentation:.2f} tracks per person-shot over {person_shots}".format(**quality)
        )
        recall = recall_face_vs_mean(run)
        self.stdout.write(
            "photo video recall@R over {tracks} tracks: one face {one_face:.3f}, "
            "the appearance's mean vector {mean_vector:.3f}".format(**recall)
        )

    def hamilton_people(self, run, data: Path, embedder: str) -> None:
        from search.photos import analyse_photo, read_photo

        photos: dict[str, list[np.ndarray]] = {}
        for person, names in PHOTOS_OF.items():
            for name in names:
                path = data / "faces" / person / name
                with path.open("rb") as handle:
                    image = read_photo(File(handle, name=path.name))
                faces, packed, _detected = analyse_photo(image, embedder)
                vectors = np.frombuffer(packed, "<f4").reshape(len(faces), -1)
                areas = [(f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]) for f in faces]
                photos.setdefault(person, []).append(vectors[int(np.argmax(areas))])
        limit = 0.6  # same-person distance to a photo (other places, other years)
        counts: dict[tuple[int, str], int] = {}
        for track, shot in zip(run.tracks, run.track_shot, strict=True):
            centre = np.mean([face.vector for face in track], axis=0)
            centre /= np.linalg.norm(centre)
            distances = {
                person: min(float(np.linalg.norm(centre - v)) for v in vectors)
                for person, vectors in photos.items()
            }
            person = min(distances, key=distances.get)
            if distances[person] <= limit:
                counts[(shot, person)] = counts.get((shot, person), 0) + 1
                for face in track:
                    face.person = person
        seen = [(shot, person) for shot, people in HAMILTON_PEOPLE.items() for person in people]
        lines = [f"shot {shot} {person}: {counts.get((shot, person), 0)}" for shot, person in seen]
        found = [counts[key] for key in seen if counts.get(key)]
        self.stdout.write(
            f"Hamilton tracks per person-shot ({len(run.tracks)} tracks in all): "
            + "; ".join(lines)
            + f"; mean over the person-shots found: {np.mean(found):.2f}"
        )
        spans = [
            (shot, track[0].frame_index, track[-1].frame_index, len(track))
            for track, shot in zip(run.tracks, run.track_shot, strict=True)
        ]
        self.stdout.write(f"Hamilton tracks (shot, first, last, faces): {spans}")
        recall = recall_face_vs_mean(run)
        self.stdout.write(
            "Hamilton recall@R over {tracks} named tracks: one face {one_face:.3f}, "
            "the appearance's mean vector {mean_vector:.3f}".format(**recall)
        )
