"""The measures behind ``manage.py bench_appearances``: cuts against the truth, linking
precision and fragmentation, and what searching with an appearance's mean vector does to recall.

Runs the product's own pieces (``FrameSampler`` with cuts, ``analyse_images``, ``Tracker`` with
the embedder's ``LINKING_RULES``) on the clips and on videos made here from labelled photos, so
that who is where is known by construction. Nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from faces.pipeline import analyse_images
from faces.tracking import TrackedFace, Tracker, linking_rules
from movies.video import FrameSampler, probe_video

FRAMES_PER_PHOTO_SHOT = 40
PHOTO_VIDEO_SIZE = (640, 360)
ZOOM = 0.15  # the picture grows by this much over a shot


@dataclass
class Face:
    frame_index: int
    box: tuple[float, float, float, float]
    vector: np.ndarray
    person: str = ""  # the truth, where known


@dataclass
class Run:
    cuts: list[int]
    frames: list[int]
    faces: list[Face] = field(default_factory=list)
    tracks: list[list[Face]] = field(default_factory=list)  # per track, its faces
    track_shot: list[int] = field(default_factory=list)


def track_video(path: Path, embedder: str, every: int, min_face: float) -> Run:
    """Decode, detect, embed and link as the ingest does; tracks and faces in memory."""
    sampler = FrameSampler(path, probe_video(path), every=every, cuts=True)
    sampled = list(sampler)
    images = [cv2.cvtColor(frame.image_bgr, cv2.COLOR_BGR2RGB) for frame in sampled]
    results = analyse_images(images, embedder=embedder, min_face=min_face)
    run = Run(cuts=[c for f in sampled for c in f.cuts], frames=[f.index for f in sampled])
    tracker, shot = Tracker(linking_rules(embedder)), 0
    tracked: dict[int, Face] = {}

    def close() -> None:
        for track in tracker.close_all():
            run.tracks.append([tracked[face.face_id] for face in track.faces])
            run.track_shot.append(shot)

    for frame, faces in zip(sampled, results, strict=True):
        for _ in frame.cuts:
            close()
            shot += 1
        observations = []
        for index, detected in enumerate(faces):
            face = Face(frame.index, tuple(map(float, detected.detection.box)), detected.vector)
            run.faces.append(face)
            tracked[len(tracked)] = face
            observations.append(
                TrackedFace(len(tracked) - 1, frame.index, index, face.box, face.vector)
            )
        tracker.add_frame(observations)
    close()
    return run


def photo_video(path: Path, shots: list[tuple[Path, tuple[str, ...]]], fps: float = 25.0) -> Path:
    """A video of one shot per photo, each a slow zoom into the photo, cut to the next."""
    width, height = PHOTO_VIDEO_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for photo, _people in shots:
        image = cv2.imread(str(photo))
        scale = min(width / image.shape[1], height / image.shape[0])
        fitted = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
        canvas = np.zeros((height, width, 3), np.uint8)
        top, left = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
        canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
        for step in range(FRAMES_PER_PHOTO_SHOT):
            zoom = 1 + ZOOM * step / FRAMES_PER_PHOTO_SHOT
            crop_w, crop_h = round(width / zoom), round(height / zoom)
            x, y = (width - crop_w) // 2, (height - crop_h) // 2
            frame = cv2.resize(canvas[y : y + crop_h, x : x + crop_w], (width, height))
            writer.write(frame)
    writer.release()
    return path


def label_photo_faces(run: Run, shots: list[tuple[Path, tuple[str, ...]]]) -> None:
    """The truth of each face: its shot's person, or in a photo of several people (named left
    to right) the person at its place; faces beyond the named people stay unlabelled."""
    by_frame: dict[int, list[Face]] = {}
    for face in run.faces:
        by_frame.setdefault(face.frame_index, []).append(face)
    for frame_index, faces in by_frame.items():
        people = shots[frame_index // FRAMES_PER_PHOTO_SHOT][1]
        if len(faces) == len(people):
            for face, person in zip(sorted(faces, key=lambda f: f.box[0]), people, strict=True):
                face.person = person


def linking_quality(run: Run) -> dict[str, float]:
    """Tracks holding two labelled people (impure), and tracks per labelled person-shot."""
    impure = sum(len({f.person for f in track if f.person}) > 1 for track in run.tracks)
    person_shots: dict[tuple[int, str], int] = {}
    for track, shot in zip(run.tracks, run.track_shot, strict=True):
        people = {f.person for f in track if f.person}
        for person in people:
            person_shots[(shot, person)] = person_shots.get((shot, person), 0) + 1
    labelled = sum(1 for track in run.tracks if any(f.person for f in track))
    return {
        "tracks": len(run.tracks),
        "labelled_tracks": labelled,
        "impure_tracks": impure,
        "precision": 1 - impure / labelled if labelled else 1.0,
        "person_shots": len(person_shots),
        "fragmentation": (sum(person_shots.values()) / len(person_shots)) if person_shots else 0,
    }


def recall_face_vs_mean(run: Run) -> dict[str, float]:
    """Recall@R (R = that person's faces) of a query with one face of a track, averaged over
    its faces, against a query with the track's unit mean vector; over every labelled track."""
    labelled = [face for face in run.faces if face.person]
    matrix = np.stack([face.vector for face in labelled]).astype(np.float64)
    people = np.array([face.person for face in labelled])
    single, mean = [], []

    def recall(query: np.ndarray, person: str) -> float:
        relevant = int((people == person).sum())
        top = np.argsort(-(matrix @ query))[:relevant]
        return float((people[top] == person).sum() / relevant)

    for track in run.tracks:
        persons = {f.person for f in track if f.person}
        if len(persons) != 1:
            continue
        (person,) = persons
        single.append(np.mean([recall(f.vector.astype(np.float64), person) for f in track]))
        centre = np.mean([f.vector for f in track], axis=0)
        mean.append(recall(centre / np.linalg.norm(centre), person))
    return {
        "tracks": len(single),
        "one_face": float(np.mean(single)) if single else 0.0,
        "mean_vector": float(np.mean(mean)) if mean else 0.0,
    }
