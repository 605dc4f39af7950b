"""Stored work is never lost or doubled, whatever fails (issue 8), in this process: a file that
vanishes or changes, a command started beside a queued or running ingest, an admin add that
must not hold SQLite's write lock, two adds of the same file at once, an admin save under a
running ingest. The scenarios with real rq workers are in ``test_ingest_workers.py``."""

from __future__ import annotations

import hashlib
import io
import shutil
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.urls import reverse

from faces.models import Face
from movies.frames import delete_past_checkpoint
from movies.ingest import ingest_movie
from movies.models import Frame, Movie, MovieChecksum
from movies.registration import register_movie
from search.models import SavedSearch
from tests.ingest_helpers import (
    faceless_clip,
    media_files,
    stored_appearances,
    stored_shots,
)
from tests.shared_data import HAMILTON_CLIP

DLIB_EVERY_4 = {"sample_every": 4, "embedder": "dlib-resnet"}
# A batch boundary of the default FACEFINDER_FRAME_BATCH (16 sampled frames of every 5th):
# frames 0-155 stored, as a run killed after its second batch leaves them.
CHECKPOINT = 156


def run_command(*args: str) -> tuple[str, str, bool]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ingest", *args, "--no-progress", stdout=out, stderr=err)
        failed = False
    except CommandError:
        failed = True
    return out.getvalue(), err.getvalue(), failed


def stored(movie: Movie) -> dict[str, list]:
    """A movie's stored work by natural keys: frames, faces, shots, appearances (with their
    faces), saved searches."""
    faces = Face.objects.filter(movie=movie).order_by("frame_index", "face_index")
    return {
        "frames": list(
            Frame.objects.filter(movie=movie).order_by("index").values_list("index", "image")
        ),
        "faces": [
            (f.frame_index, f.face_index, bytes(f.embedding), f.x1, f.y1) for f in faces.all()
        ],
        "shots": stored_shots(movie),
        "appearances": stored_appearances(movie),
        "saved": list(SavedSearch.objects.filter(face__movie=movie).values_list("name", "face")),
    }


@pytest.fixture
def partial_hamilton(hamilton_movie, tmp_path, user):
    """The Hamilton movie with frames 0-155 stored (faces, shots and appearances of what they
    cover), a saved search on one of its faces, cancelled: the state a run stopped after two
    batches leaves. Its file is a copy of its own, which tests may remove."""
    copy = tmp_path / "films" / "hamilton.mp4"
    copy.parent.mkdir()
    shutil.copy(HAMILTON_CLIP, copy)
    Movie.objects.filter(pk=hamilton_movie.pk).update(
        source_path=str(copy), status=Movie.Status.CANCELLED, next_frame_index=CHECKPOINT
    )
    hamilton_movie.refresh_from_db()
    delete_past_checkpoint(hamilton_movie)
    face = Face.objects.filter(movie=hamilton_movie).order_by("frame_index").first()
    SavedSearch.objects.create(owner=user, name="Miranda", face=face)
    return hamilton_movie, copy


@pytest.mark.slow
@pytest.mark.django_db
def test_a_vanished_file_keeps_the_movie_and_it_resumes_when_the_file_is_back(
    partial_hamilton, hamilton_ingest, settings
):
    movie, path = partial_hamilton
    before = stored(movie)
    assert before["frames"] and before["faces"] and before["shots"] and before["appearances"]
    assert before["saved"]
    files = media_files(settings.MEDIA_ROOT, movie.pk)
    hidden = path.with_suffix(".away")
    path.rename(hidden)  # a network share that is not mounted

    # The command names the movie's path: it says the file is gone and changes nothing.
    _, err, failed = run_command(str(path))
    movie.refresh_from_db()
    assert stored(movie) == before
    assert (movie.status, movie.next_frame_index) == (Movie.Status.CANCELLED, CHECKPOINT)
    assert failed
    assert f"FAILED {path}: file not found; “{movie.title}” (movie {movie.pk}" in err
    assert "is left as it was" in err

    # A run of the movie itself (the rq job's way) fails with the reason and keeps it all.
    report = ingest_movie(movie.pk)
    movie.refresh_from_db()
    assert report.status == Movie.Status.FAILED
    assert movie.last_error.startswith(f"file not found: {path}")
    assert "the stored frames and faces are kept" in movie.last_error
    assert movie.next_frame_index == CHECKPOINT
    assert stored(movie) == before
    assert media_files(settings.MEDIA_ROOT, movie.pk) == files

    # Not even "from scratch" clears it while the file is gone.
    report = ingest_movie(movie.pk, from_scratch=True)
    assert report.status == Movie.Status.FAILED
    assert "the stored frames and faces are kept" in report.error
    assert stored(movie) == before

    # The file is back: the next run resumes and ends with an uninterrupted run's result.
    hidden.rename(path)
    report = ingest_movie(movie.pk)
    assert report.status == Movie.Status.DONE, report.message
    assert report.resumed_from == CHECKPOINT
    movie.refresh_from_db()
    expected_shots = [
        (s["index"], s["first_frame"], s["last_frame"]) for s in hamilton_ingest["shots"]
    ]
    after = stored(movie)
    assert after["shots"] == expected_shots
    assert [f[:3] for f in after["faces"]] == [
        (f["frame_index"], f["face_index"], bytes(f["embedding"]))
        for f in sorted(hamilton_ingest["faces"], key=lambda f: (f["frame_index"], f["face_index"]))
    ]
    assert len(after["appearances"]) == len(hamilton_ingest["appearances"])
    assert after["saved"] == before["saved"]


@pytest.mark.django_db
def test_a_changed_file_clears_the_stored_work_and_an_unchanged_one_is_not_hashed(
    tmp_path, settings, monkeypatch
):
    settings.FACEFINDER_FRAME_BATCH = 1
    path = faceless_clip(tmp_path / "a.mp4", frames=12)
    movie, _ = register_movie(path=path, **DLIB_EVERY_4)

    def cancel_after_first_batch(step):
        if step.frames_sampled == 1:
            Movie.objects.filter(pk=movie.pk).update(status=Movie.Status.CANCELLED)

    assert ingest_movie(movie.pk, progress=cancel_after_first_batch).status == "cancelled"
    # Same size and time as recorded: the file is not read again to be hashed.
    hashed = []
    real_sha256 = hashlib.sha256
    monkeypatch.setattr("movies.checksums.sha256", lambda: hashed.append(1) or real_sha256())
    report = ingest_movie(movie.pk, progress=cancel_after_first_batch)
    assert hashed == [] and report.resumed_from == 1

    # Other bytes under the same name: what was stored belongs to the old file and goes.
    Movie.objects.filter(pk=movie.pk).update(status=Movie.Status.CANCELLED)
    old_checksum = movie.checksum
    faceless_clip(path, frames=8)
    report = ingest_movie(movie.pk)
    movie.refresh_from_db()
    assert report.status == "done" and report.resumed_from == 0
    assert hashed == [1]
    assert movie.checksum != old_checksum
    assert movie.checksum == real_sha256(path.read_bytes()).hexdigest()
    assert list(movie.frames.values_list("index", flat=True)) == [0, 4]
    # The library finds the movie by its new bytes; the old ones are no movie's any more.
    assert register_movie(path=path)[0].pk == movie.pk
    assert list(MovieChecksum.objects.filter(movie=movie).values_list("checksum", flat=True)) == [
        movie.checksum
    ]


@pytest.mark.django_db
def test_the_command_beside_a_queued_or_running_ingest_is_refused_and_writes_nothing(
    tmp_path, settings
):
    from movies.runs import IngestRun

    path = faceless_clip(tmp_path / "a.mp4")
    movie, _ = register_movie(path=path, **DLIB_EVERY_4)

    # Queued for a worker: the worker will ingest it.
    Movie.objects.filter(pk=movie.pk).update(status=Movie.Status.QUEUED, job_id="ingest-x")
    _, err, failed = run_command(str(path), "--every", "2")
    movie.refresh_from_db()
    assert failed and "queued for a worker (job ingest-x)" in err
    assert (movie.status, movie.sample_every, movie.frames.count()) == ("queued", 4, 0)

    # Held by a live run (a worker's, its heartbeat fresh).
    Movie.objects.filter(pk=movie.pk).update(status=Movie.Status.NEW)
    run = IngestRun.claim(movie.pk, Movie.objects.filter(pk=movie.pk))
    assert run is not None
    _, err, failed = run_command(str(path), "--every", "2")
    movie.refresh_from_db()
    assert failed and "being ingested by another run (its last heartbeat" in err
    assert (movie.status, movie.sample_every, movie.frames.count()) == ("running", 4, 0)
    assert movie.run_token == run.token

    # Once that run counts as dead (no heartbeat for the stale limit), a run takes over.
    settings.FACEFINDER_INGEST_STALE_SECONDS = 0
    out, _, failed = run_command(str(path))
    movie.refresh_from_db()
    assert not failed and "done: 3 frames sampled" in out
    assert movie.run_token == "" and movie.status == Movie.Status.DONE
    assert not run.owned()


@pytest.mark.django_db
def test_a_run_that_lost_its_movie_takes_its_batch_back_and_stops(tmp_path, settings):
    """A run whose token was taken over between two writes of a batch removes what that
    batch wrote and writes nothing more; the new owner's work stands."""
    settings.FACEFINDER_FRAME_BATCH = 1
    movie, _ = register_movie(path=faceless_clip(tmp_path / "a.mp4"), **DLIB_EVERY_4)

    def taken_over_after_first_batch(step):
        if step.frames_sampled == 1:
            Movie.objects.filter(pk=movie.pk).update(run_token="another-run")

    report = ingest_movie(movie.pk, progress=taken_over_after_first_batch)
    movie.refresh_from_db()
    assert report.not_started == "another ingest run took the movie over; this run stopped"
    assert not report.ok
    # The first batch was complete (checkpointed) before the take-over and stays; nothing after.
    assert (movie.run_token, movie.next_frame_index) == ("another-run", 1)
    assert list(movie.frames.values_list("index", flat=True)) == [0]


def test_the_heartbeat_thread_keeps_a_live_run_fresh(transactional_db, tmp_path, settings):
    from movies.runs import IngestRun, holder_is_live

    settings.FACEFINDER_INGEST_HEARTBEAT_SECONDS = 0.05
    settings.FACEFINDER_INGEST_STALE_SECONDS = 0.5
    movie, _ = register_movie(path=faceless_clip(tmp_path / "a.mp4"), **DLIB_EVERY_4)
    run = IngestRun.claim(movie.pk, Movie.objects.filter(pk=movie.pk))
    first = Movie.objects.get(pk=movie.pk).heartbeat_at
    run.start_beating()
    try:
        beats = threading.Event()
        for _ in range(200):
            if Movie.objects.get(pk=movie.pk).heartbeat_at > first:
                beats.set()
                break
            beats.wait(0.05)
        assert beats.is_set(), "the heartbeat thread never wrote"
    finally:
        run.stop_beating()
    assert holder_is_live(Movie.objects.get(pk=movie.pk))


def test_an_admin_add_leaves_sqlite_writable_while_it_hashes(
    transactional_db, staff_client, tmp_path, settings, monkeypatch
):
    """A worker's batch write during a (long) add succeeds: the add hashes and moves the file
    outside any transaction, whose write lock would stop every other writer."""
    folder = tmp_path / "import"
    folder.mkdir()
    settings.FACEFINDER_IMPORT_DIRS = [str(folder)]
    busy, _ = register_movie(path=faceless_clip(tmp_path / "busy.mp4"), **DLIB_EVERY_4)
    clip = faceless_clip(folder / "big.mp4", frames=24)
    outcome: list[str] = []
    real_sha256 = hashlib.sha256

    class HashThatLetsAWorkerWrite:
        """sha256 itself; on its first block another connection writes, as a worker does."""

        def __init__(self) -> None:
            self._digest = real_sha256()

        def update(self, data: bytes) -> None:
            if not outcome:
                worker = threading.Thread(target=worker_write)
                worker.start()
                worker.join()
            self._digest.update(data)

        def hexdigest(self) -> str:
            return self._digest.hexdigest()

    def worker_write() -> None:
        try:
            Movie.objects.filter(pk=busy.pk).update(next_frame_index=4, frames_sampled=1)
            outcome.append("written")
        except Exception as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    monkeypatch.setattr("movies.checksums.sha256", HashThatLetsAWorkerWrite)
    response = staff_client.post(
        reverse("admin:movies_movie_add"),
        {"server_path": str(clip), "title": "", "sample_every": 4, "embedder": "dlib-resnet",
         "min_face": 0.06},
    )  # fmt: skip
    assert response.status_code == 302
    assert outcome == ["written"]
    assert Movie.objects.get(pk=busy.pk).next_frame_index == 4
    added = Movie.objects.get(file_name="big.mp4")
    assert added.checksum == real_sha256(clip.read_bytes()).hexdigest()


def test_two_adds_of_the_same_file_at_once_give_one_movie(transactional_db, tmp_path, monkeypatch):
    """The second add looked for the checksum before the first saved its movie (the race):
    its own row is refused by the unique checksum and it answers with the first one's movie."""
    import movies.registration as registration

    path = faceless_clip(tmp_path / "a.mp4")
    real_lookup = registration.movie_with_checksum
    second_looked, first_saved = threading.Event(), threading.Event()
    results: dict[str, tuple[Movie, bool]] = {}

    def lookup(checksum: str):
        found = real_lookup(checksum)
        if threading.current_thread().name == "second" and not second_looked.is_set():
            second_looked.set()
            assert first_saved.wait(30)
        return found

    def second_add() -> None:
        try:
            results["second"] = register_movie(path=path, **DLIB_EVERY_4)
        finally:
            connections.close_all()

    monkeypatch.setattr(registration, "movie_with_checksum", lookup)
    second = threading.Thread(target=second_add, name="second")
    second.start()
    assert second_looked.wait(30)
    results["first"] = register_movie(path=path, **DLIB_EVERY_4)
    first_saved.set()
    second.join(60)

    (first, first_created), (other, other_created) = results["first"], results["second"]
    assert first_created and not other_created
    assert other.pk == first.pk
    assert Movie.objects.count() == 1


@pytest.mark.django_db
def test_saving_the_change_form_keeps_a_running_ingests_progress(staff_client, tmp_path):
    movie, _ = register_movie(path=faceless_clip(tmp_path / "a.mp4"), **DLIB_EVERY_4)
    url = reverse("admin:movies_movie_change", args=[movie.pk])
    assert staff_client.get(url).status_code == 200
    # The ingest moves on after the page was loaded.
    Movie.objects.filter(pk=movie.pk).update(
        status=Movie.Status.RUNNING, next_frame_index=8, frames_sampled=2, faces_found=1,
        progress=0.5,
    )  # fmt: skip
    response = staff_client.post(
        url, {"title": "Renamed", "sample_every": 4, "embedder": "dlib-resnet", "min_face": 0.06}
    )
    assert response.status_code == 302
    movie.refresh_from_db()
    assert movie.title == "Renamed"
    assert (movie.status, movie.next_frame_index, movie.frames_sampled, movie.faces_found) == (
        "running", 8, 2, 1,
    )  # fmt: skip
    assert movie.progress == 0.5
