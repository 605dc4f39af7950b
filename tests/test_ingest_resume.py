"""An ingest killed with SIGKILL half way resumes on the next run and ends with exactly the
rows and files of an uninterrupted run (the shared ``hamilton_ingest`` fixture): frames, faces,
shots and appearances."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ingest_helpers import media_files
from tests.shared_data import HAMILTON_CLIP, HAMILTON_INGEST

# django_db: the shared fixture needs the test database (this test uses its own file DB).
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[1]
STALE_SECONDS = 2
FRAME_FIELDS = ("index", "timestamp", "width", "height", "image", "thumbnail")
FACE_FIELDS = (
    "frame_index", "face_index", "x1", "y1", "x2", "y2", "probability", "landmarks",
    "embedder", "embedding", "thumbnail", "sharpness",
)  # fmt: skip
SHOT_FIELDS = ("index", "first_frame", "last_frame", "start_seconds", "end_seconds")
APPEARANCE_FIELDS = (
    "embedder", "first_frame_index", "first_face_index", "last_frame_index", "start_seconds",
    "end_seconds", "face_count", "embedding",
)  # fmt: skip


def manage(env: dict[str, str], *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def ingest_args() -> list[str]:
    return [
        "ingest", str(HAMILTON_CLIP), "--no-progress",
        "--every", str(HAMILTON_INGEST["sample_every"]),
        "--embedder", HAMILTON_INGEST["embedder"],
        "--min-face", str(HAMILTON_INGEST["min_face"]),
    ]  # fmt: skip


def query(db: Path, sql: str, *params) -> list[tuple]:
    connection = sqlite3.connect(db, timeout=30)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def relative(name: str) -> str:
    """A storage name without its ``movies/<id>/`` prefix (ids differ between databases)."""
    return name.split("/", 2)[2]


def normalised(rows: list[dict]) -> list[tuple]:
    out = []
    for row in rows:
        values = []
        for key, value in row.items():
            if key in ("image", "thumbnail"):
                value = relative(value)
            elif key == "landmarks" and isinstance(value, str):
                value = json.loads(value)
            elif isinstance(value, memoryview):
                value = bytes(value)
            values.append(value)
        out.append(tuple(values))
    return sorted(out, key=lambda r: (r[0], r[1]))


def digests(media_root: Path, movie_id: int) -> dict[str, str]:
    base = media_root / "movies" / str(movie_id)
    return {
        name: hashlib.sha256((base / name).read_bytes()).hexdigest()
        for name in media_files(media_root, movie_id)
    }


def test_a_killed_ingest_resumes_to_exactly_the_uninterrupted_result(tmp_path, hamilton_ingest):
    db = tmp_path / "db.sqlite3"
    media = tmp_path / "media"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "MEDIA_ROOT": str(media),
        "PYTHONUNBUFFERED": "1",
        # A killed run counts as dead once its heartbeat is this old (90 s by default).
        "FACEFINDER_INGEST_HEARTBEAT_SECONDS": "0.5",
        "FACEFINDER_INGEST_STALE_SECONDS": str(STALE_SECONDS),
    }
    migrate = manage(env, "migrate", "--no-input", "-v", "0")
    assert migrate.wait(timeout=300) == 0, migrate.stderr.read()

    first = manage(env, *ingest_args())
    deadline = time.monotonic() + 600
    checkpoint = 0
    while time.monotonic() < deadline and first.poll() is None:
        rows = query(db, "select next_frame_index from movies_movie")
        checkpoint = rows[0][0] if rows else 0
        if checkpoint >= 16:  # two batches stored, the third on its way
            break
        time.sleep(0.2)
    assert first.poll() is None, f"ingest ended before it could be killed: {first.stderr.read()}"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL

    (movie_id, status, checkpoint) = query(
        db, "select id, status, next_frame_index from movies_movie"
    )[0]
    assert status == "running"
    assert 0 < checkpoint < 275
    # Whatever the kill cut short, plus a half-written batch made on purpose: a frame row, a
    # face row and files past the checkpoint, the kind a kill between two writes leaves.
    junk_index = checkpoint + (-checkpoint % 5)
    connection = sqlite3.connect(db)
    connection.execute(
        'insert or ignore into movies_frame (movie_id, "index", timestamp, width, height, image,'
        " thumbnail) values (?, ?, 0, 640, 360, ?, '')",
        (movie_id, junk_index, f"movies/{movie_id}/frames/{junk_index:08d}.jpg"),
    )
    columns = [c[1] for c in connection.execute("pragma table_info(faces_face)") if c[1] != "id"]
    copied = ", ".join(
        {
            "frame_index": "?",
            "face_index": "99",
            "frame_id": "(select max(id) from movies_frame)",
        }.get(c, f'"{c}"')
        for c in columns
    )
    quoted = ", ".join(f'"{c}"' for c in columns)
    connection.execute(
        f"insert into faces_face ({quoted}) select {copied} from faces_face limit 1",
        (junk_index,),
    )
    connection.commit()
    connection.close()
    for name in (f"frames/{junk_index:08d}.jpg", f"faces/{junk_index + 400:08d}_000.jpg"):
        path = media / "movies" / str(movie_id) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half-written")

    # Until the killed run's heartbeat is stale the command refuses the movie and writes
    # nothing; then it takes the movie over.
    time.sleep(STALE_SECONDS + 1)
    second = manage(env, *ingest_args())
    out, err = second.communicate(timeout=900)
    assert second.returncode == 0, err
    assert f"(resumed at frame {checkpoint})" in out

    frames = [
        dict(zip(FRAME_FIELDS, row, strict=True))
        for row in query(
            db, 'select "index", timestamp, width, height, image, thumbnail from movies_frame'
        )
    ]
    faces = [
        dict(zip(FACE_FIELDS, row, strict=True))
        for row in query(db, f"select {', '.join(FACE_FIELDS)} from faces_face")
    ]
    expected_frames = [{k: row[k] for k in FRAME_FIELDS} for row in hamilton_ingest["frames"]]
    expected_faces = [{k: row[k] for k in FACE_FIELDS} for row in hamilton_ingest["faces"]]
    assert normalised(frames) == normalised(expected_frames)
    assert normalised(faces) == normalised(expected_faces)
    (status, frames_sampled, faces_found, progress) = query(
        db, "select status, frames_sampled, faces_found, progress from movies_movie"
    )[0]
    assert (status, frames_sampled, faces_found, progress) == (
        "done",
        len(expected_frames),
        len(expected_faces),
        1.0,
    )

    columns = ", ".join(f'"{k}"' for k in SHOT_FIELDS)
    shots = query(db, f"select {columns} from movies_shot order by 1")
    assert shots == [tuple(row[k] for k in SHOT_FIELDS) for row in hamilton_ingest["shots"]]
    assert len(shots) == 4
    assert appearances_of_db(db) == appearances_of_fixture(hamilton_ingest)

    # Same image files, byte for byte, and none that no row names.
    expected_root = Path(hamilton_ingest["media_root"])
    expected_id = hamilton_ingest["movie"]["id"]
    assert digests(media, movie_id) == digests(expected_root, expected_id)
    named = {relative(f["image"]) for f in frames} | {relative(f["thumbnail"]) for f in frames}
    named |= {relative(f["thumbnail"]) for f in faces}
    assert media_files(media, movie_id) == named


def appearances_of_db(db: Path) -> list[tuple]:
    """Each appearance's fields, shot index, representative face and faces, by natural keys."""
    columns = ", ".join(f"a.{k}" for k in APPEARANCE_FIELDS)
    rows = query(
        db,
        f'select a.id, {columns}, s."index", r.frame_index, r.face_index from faces_appearance a'
        " join movies_shot s on s.id = a.shot_id"
        " join faces_face r on r.id = a.representative_face_id",
    )
    out = []
    for appearance_id, *values in rows:
        faces = query(
            db,
            "select frame_index, face_index from faces_face where appearance_id = ? order by 1, 2",
            appearance_id,
        )
        out.append((*values, tuple(faces)))
    return sorted(out, key=lambda r: (r[1], r[2]))


def appearances_of_fixture(rows: dict) -> list[tuple]:
    faces = {face["id"]: face for face in rows["faces"]}
    shots = {shot["id"]: shot["index"] for shot in rows["shots"]}
    out = []
    for appearance in rows["appearances"]:
        representative = faces[appearance["representative_face_id"]]
        members = sorted(
            (face["frame_index"], face["face_index"])
            for face in rows["faces"]
            if face["appearance_id"] == appearance["id"]
        )
        out.append(
            (
                *[
                    bytes(appearance[k]) if k == "embedding" else appearance[k]
                    for k in APPEARANCE_FIELDS
                ],
                shots[appearance["shot_id"]],
                representative["frame_index"],
                representative["face_index"],
                tuple(members),
            )
        )
    assert out, "the fixture has no appearances"
    return sorted(out, key=lambda r: (r[1], r[2]))
