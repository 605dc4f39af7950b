"""One ingest run per movie, with real rq workers on real Redis (issue 8).

Each test runs ``manage.py rqworker ingest`` processes on a SQLite file of its own and the
Redis database ``FACEFINDER_TEST_REDIS_DB`` (15 unless set), with a short heartbeat and stale
limit (``FACEFINDER_INGEST_HEARTBEAT_SECONDS`` / ``_STALE_SECONDS``) so that a dead run is
recognised in seconds, and compares the stored work with an uninterrupted run of the same clip
in this process.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from rq.job import Job

from faces.models import Face
from movies.ingest import ingest_movie
from movies.models import Frame
from movies.registration import register_movie
from tests.ingest_helpers import needs_ffmpeg, stored_appearances, stored_shots

pytestmark = [pytest.mark.slow, pytest.mark.django_db, needs_ffmpeg]

ROOT = Path(__file__).resolve().parents[1]
# Every sampled frame of the 20-frame Miranda clip, two per batch: ten batches.
SETTINGS = {"sample_every": 1, "embedder": "dlib-resnet", "min_face": 0.06}
BATCH = 2
STALE_SECONDS = 3


def redis_url() -> str:
    base = re.sub(r"/\d*$", "", django_settings.REDIS_URL)
    return f"{base}/{os.environ.get('FACEFINDER_TEST_REDIS_DB', '15')}"


@pytest.fixture
def site(tmp_path):
    """A migrated SQLite file, a media folder and the environment of the site's processes."""
    db = tmp_path / "db.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "REDIS_URL": redis_url(),
        "FACEFINDER_FRAME_BATCH": str(BATCH),
        "FACEFINDER_INGEST_HEARTBEAT_SECONDS": "0.5",
        "FACEFINDER_INGEST_STALE_SECONDS": str(STALE_SECONDS),
        "PYTHONUNBUFFERED": "1",
    }
    connection = redis.Redis.from_url(redis_url())
    connection.flushdb()
    migrate = manage(env, tmp_path, "migrate", "--no-input", "-v", "0")
    assert migrate.wait(timeout=300) == 0, log(tmp_path, "migrate")
    yield {"db": db, "env": env, "dir": tmp_path, "redis": connection}
    # Whatever a failed test left running, each process by its own id.
    for process in STARTED:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
    STARTED.clear()
    connection.flushdb()


STARTED: list[subprocess.Popen] = []


def manage(env: dict, folder: Path, *args: str, name: str = "", **kwargs) -> subprocess.Popen:
    """``manage.py ARGS`` in the background, its output in ``folder/<name>.log``."""
    out = (folder / f"{name or args[0]}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )
    STARTED.append(process)
    return process


def log(folder: Path, name: str) -> str:
    return (folder / f"{name}.log").read_text()


def worker(site: dict, name: str, *options: str) -> subprocess.Popen:
    """A real rq worker for one job."""
    return manage(
        site["env"], site["dir"], "rqworker", "ingest", "--max-jobs", "1", "--name", name,
        *options, name=name,
    )  # fmt: skip


def query(db: Path, sql: str, *params) -> list[tuple]:
    connection = sqlite3.connect(db, timeout=30)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def movie_row(db: Path) -> dict:
    rows = query(db, "select id, status, next_frame_index, job_id from movies_movie")
    if not rows:
        return {}
    return dict(zip(("id", "status", "checkpoint", "job_id"), rows[0], strict=True))


def wait_for(condition, what: str, timeout: float = 300, processes=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for process in processes:
            assert process.poll() is None, f"{what}: a process ended early ({process.args})"
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def queue_ingest(site: dict, clip: Path) -> subprocess.Popen:
    args = ["ingest", str(clip), "--queue", "--no-progress"]
    args += ["--every", str(SETTINGS["sample_every"]), "--embedder", SETTINGS["embedder"]]
    return manage(site["env"], site["dir"], *args, "--min-face", str(SETTINGS["min_face"]))


def stored_in_file(db: Path, movie_id: int) -> dict:
    """The stored work of the site's movie by natural keys (as ``stored_here``)."""
    faces = query(
        db,
        "select frame_index, face_index, embedding, x1, y1, x2, y2 from faces_face"
        " where movie_id = ? order by 1, 2",
        movie_id,
    )
    appearances = []
    for pk, *values in query(
        db,
        'select a.id, s."index", a.first_frame_index, a.first_face_index, a.last_frame_index,'
        " a.face_count, a.embedding from faces_appearance a join movies_shot s"
        " on s.id = a.shot_id where a.movie_id = ?",
        movie_id,
    ):
        members = query(
            db,
            "select frame_index, face_index from faces_face where appearance_id = ? order by 1, 2",
            pk,
        )
        appearances.append((*values, tuple(members)))
    return {
        "frames": [r[0] for r in query(db, 'select "index" from movies_frame order by 1')],
        "faces": [(*r[:2], bytes(r[2]), *r[3:]) for r in faces],
        "shots": query(db, 'select "index", first_frame, last_frame from movies_shot order by 1'),
        "appearances": sorted((*a[:5], bytes(a[5]), a[6]) for a in appearances),
    }


def stored_here(movie) -> dict:
    faces = Face.objects.filter(movie=movie).order_by("frame_index", "face_index")
    return {
        "frames": list(
            Frame.objects.filter(movie=movie).order_by("index").values_list("index", flat=True)
        ),
        "faces": [
            (f.frame_index, f.face_index, bytes(f.embedding), f.x1, f.y1, f.x2, f.y2) for f in faces
        ],
        "shots": stored_shots(movie),
        "appearances": stored_appearances(movie),
    }


@pytest.fixture
def uninterrupted(clips, tmp_path_factory, settings):
    """The Miranda clip ingested in one go in this process: what every scenario must end with
    (in batches of the same size: the networks' float sums depend on the batch)."""
    settings.FACEFINDER_FRAME_BATCH = BATCH
    clip = clips.miranda(tmp_path_factory.mktemp("reference"))
    movie, _ = register_movie(path=clip, **SETTINGS)
    report = ingest_movie(movie.pk)
    assert report.status == "done", report.message
    result = stored_here(movie)
    assert len(result["frames"]) == 20 and result["faces"] and result["appearances"]
    return result


def job_result(site: dict, job_id: str) -> dict:
    job = Job.fetch(job_id, connection=site["redis"])
    return {"status": job.get_status(refresh=True), "result": job.return_value(), "job": job}


def test_a_worker_killed_mid_ingest_is_taken_over_once_its_heartbeat_is_stale(
    site, clips, uninterrupted
):
    db, folder = site["db"], site["dir"]
    clip = clips.miranda(folder)
    # The job runs in the worker process itself (no work horse): SIGKILL ends the run with it.
    first = worker(site, "first", "--worker-class", "rq.worker.SimpleWorker")
    queued = queue_ingest(site, clip)
    assert queued.wait(timeout=300) == 0, log(folder, "ingest")
    wait_for(
        lambda: movie_row(db).get("checkpoint", 0) >= 2 * BATCH, "two batches", processes=[first]
    )
    first.send_signal(signal.SIGKILL)  # mid-ingest
    first.wait(timeout=60)
    killed = movie_row(db)
    assert killed["status"] == "running" and 0 < killed["checkpoint"] < 20

    # Queue it again until a run may take the movie over: at once for a dead run whose
    # heartbeat is older than the stale limit (seconds here, 90 s by default).
    deadline = time.monotonic() + 120
    while True:
        again = queue_ingest(site, clip)
        again.wait(timeout=300)
        if again.returncode == 0:
            break
        refusal = log(folder, "ingest")
        assert "being ingested" in refusal, refusal
        assert time.monotonic() < deadline, f"never taken over: {refusal}"
        time.sleep(1)
    second = worker(site, "second")
    assert second.wait(timeout=600) == 0, log(folder, "second")

    row = movie_row(db)
    done = job_result(site, row["job_id"])
    assert done["status"] == "finished", log(folder, "second")
    assert done["result"]["status"] == "done"
    assert done["result"]["resumed_from"] == killed["checkpoint"]
    assert stored_in_file(db, row["id"]) == uninterrupted
    assert query(db, "select run_token, status from movies_movie") == [("", "done")]


def test_cancel_and_ingest_while_a_batch_is_in_flight_never_has_two_runs_writing(
    site, clips, uninterrupted
):
    db, folder, env = site["db"], site["dir"], site["env"]
    clip = clips.miranda(folder)
    workers = [worker(site, "one"), worker(site, "two")]
    # The admin's Cancel then Ingest, from a shell that is ready before the moment comes.
    admin = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c",
         "import sys\n"
         "from movies.jobs import cancel_ingest, enqueue_ingest\n"
         "from movies.models import Movie\n"
         "print('ready', flush=True)\n"
         "if sys.stdin.readline() != 'go\\n':\n"
         "    sys.exit(1)\n"
         "movie = Movie.objects.get()\n"
         "assert cancel_ingest(movie)\n"
         "print(enqueue_ingest(movie), flush=True)\n"],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    STARTED.append(admin)
    assert admin.stdout.readline().strip() == "ready"
    wait_for(
        lambda: len(site["redis"].smembers("rq:workers:ingest")) == 2,
        "two workers",
        processes=workers,
    )
    queued = queue_ingest(site, clip)
    assert queued.wait(timeout=300) == 0, log(folder, "ingest")
    first_job = movie_row(db)["job_id"]
    wait_for(
        lambda: movie_row(db).get("checkpoint", 0) >= BATCH, "a first batch", processes=workers
    )
    admin.stdin.write("go\n")
    admin.stdin.flush()
    second_job = admin.stdout.readline().strip()
    assert admin.wait(timeout=60) == 0
    cancelled_at = movie_row(db)["checkpoint"]
    for process in workers:
        assert process.wait(timeout=600) == 0

    first, second = job_result(site, first_job), job_result(site, second_job)
    assert {first["job"].worker_name, second["job"].worker_name} == {"one", "two"}
    assert (first["status"], second["status"]) == ("finished", "finished")
    # The first run finished the batch it was in, then stopped; the second waited for it and
    # resumed exactly where it stopped: every frame was written once, by one of them.
    assert first["result"]["status"] == "cancelled"
    assert second["result"]["status"] == "done"
    stopped_at = second["result"]["resumed_from"]
    assert stopped_at >= cancelled_at
    assert first["result"]["frames_added"] == stopped_at
    assert first["result"]["frames_added"] + second["result"]["frames_added"] == 20
    row = movie_row(db)
    assert stored_in_file(db, row["id"]) == uninterrupted
    logs = log(folder, "one") + log(folder, "two")
    assert "ended: released" in logs and "lost it" not in logs
