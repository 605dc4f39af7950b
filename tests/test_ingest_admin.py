"""The movie admin: add by path or upload, queue / cancel ingests on a real Redis with a burst
worker, live progress, failures shown on the movie, deletes that leave nothing behind."""

from __future__ import annotations

import django_rq
import django_rq.settings
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from faces.models import Face
from movies.ingest import ingest_movie
from movies.models import Frame, Movie
from movies.registration import register_movie
from tests.ingest_helpers import faceless_clip, media_files, needs_ffmpeg, run_worker

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:movies_movie_changelist"
ADD = "admin:movies_movie_add"
DLIB_EVERY_4 = {"sample_every": 4, "embedder": "dlib-resnet"}


def act(client, action: str, *movies: Movie):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [m.pk for m in movies]},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def import_dir(tmp_path, settings):
    folder = tmp_path / "import"
    folder.mkdir()
    settings.FACEFINDER_IMPORT_DIRS = [str(folder)]
    return folder


@needs_ffmpeg
@pytest.mark.slow
def test_add_by_server_path_then_ingest_action_runs_on_the_worker(
    staff_client, import_dir, ingest_queue, clips
):
    clip = clips.miranda(import_dir)
    response = staff_client.post(
        reverse(ADD),
        {"server_path": str(clip), "title": "", "sample_every": 10, "embedder": "dlib-resnet",
         "min_face": 0.06},
    )  # fmt: skip
    assert response.status_code == 302
    movie = Movie.objects.get()
    assert (movie.title, movie.status, movie.source_path) == ("Miranda", "new", str(clip))

    response = act(staff_client, "ingest", movie)
    assert messages_of(response)[-1] == "Queued 1 movie for ingest (queue “ingest”): Miranda."
    movie.refresh_from_db()
    assert movie.status == Movie.Status.QUEUED
    assert ingest_queue.count == 1

    run_worker()
    movie.refresh_from_db()
    assert movie.status == Movie.Status.DONE
    assert movie.frames_sampled == 2 and movie.faces_found >= 2
    page = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert 'data-ingest-status="done"' in page and 'value="100"' in page


def test_a_server_path_outside_the_import_folders_is_refused(staff_client, import_dir, tmp_path):
    outside = faceless_clip(tmp_path / "outside.mp4")
    (import_dir / "link.mp4").symlink_to(outside)
    for raw in (str(outside), str(import_dir / "link.mp4"), "../outside.mp4"):
        response = staff_client.post(
            reverse(ADD), {"server_path": raw, "sample_every": 25, "embedder": "dlib-resnet"}
        )
        assert response.status_code == 200
        assert "only files below the import folders may be added" in response.content.decode()
    assert not Movie.objects.exists()


def test_uploads_have_a_size_limit_and_the_same_file_twice_is_one_movie(
    staff_client, tmp_path, settings
):
    clip = faceless_clip(tmp_path / "gradients.mp4")
    settings.FACEFINDER_MAX_UPLOAD_BYTES = 1000

    def upload():
        with clip.open("rb") as handle:
            return staff_client.post(
                reverse(ADD),
                {"upload": handle, "sample_every": 25, "embedder": "dlib-resnet"},
                follow=True,
            )

    response = upload()
    assert "uploads may be at most 1000" in response.content.decode()
    assert not Movie.objects.exists()

    settings.FACEFINDER_MAX_UPLOAD_BYTES = 10**6
    upload()
    movie = Movie.objects.get()
    assert movie.upload.name.endswith("/gradients.mp4") and movie.path.is_file()
    response = upload()
    assert Movie.objects.count() == 1
    assert "This file is already in the library as" in messages_of(response)[0]


def test_with_redis_down_the_action_says_so_and_queues_nothing(staff_client, tmp_path, monkeypatch):
    monkeypatch.setitem(django_rq.settings.QUEUES["ingest"], "URL", "redis://127.0.0.1:1/0")
    movie, _ = register_movie(path=faceless_clip(tmp_path / "gradients.mp4"))
    response = act(staff_client, "ingest", movie)
    (message,) = messages_of(response)
    assert message.startswith("Nothing more was queued: the job queue (Redis) is not reachable")
    movie.refresh_from_db()
    assert (movie.status, movie.job_id) == (Movie.Status.NEW, "")


def test_cancel_takes_a_queued_job_off_the_queue(staff_client, tmp_path, ingest_queue):
    movie, _ = register_movie(path=faceless_clip(tmp_path / "gradients.mp4"))
    act(staff_client, "ingest", movie)
    job = ingest_queue.fetch_job(Movie.objects.get().job_id)
    response = act(staff_client, "cancel", movie)
    assert messages_of(response)[0].startswith("Cancelled: Gradients.")
    assert job.get_status(refresh=True) == "canceled"
    assert ingest_queue.count == 0
    run_worker()
    movie.refresh_from_db()
    assert movie.status == Movie.Status.CANCELLED
    assert not movie.frames.exists()


def test_a_failed_job_shows_its_error_on_the_movie(staff_client, tmp_path, ingest_queue):
    text = tmp_path / "notes.mp4"
    text.write_text("not a film")
    movie, _ = register_movie(path=text)
    act(staff_client, "ingest", movie)
    run_worker()
    movie.refresh_from_db()
    assert movie.status == Movie.Status.FAILED
    assert movie.last_error.startswith("not a video FFmpeg can read")
    assert ingest_queue.failed_job_registry.count == 1
    page = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert "not a video FFmpeg can read" in page


def test_progress_json_is_for_staff_only(staff_client, client, user, tmp_path):
    movie, _ = register_movie(path=faceless_clip(tmp_path / "gradients.mp4"))
    url = reverse("admin:movies_movie_progress") + f"?ids={movie.pk},x,999"
    data = staff_client.get(url).json()
    assert data == {
        "movies": [
            {"id": movie.pk, "status": "new", "status_display": "New", "progress": 0.0,
             "frames_sampled": 0, "faces_found": 0, "last_error": "", "active": False}
        ]
    }  # fmt: skip
    # Digits that int() refuses are ignored like any other junk.
    odd = staff_client.get(reverse("admin:movies_movie_progress") + f"?ids=²,{movie.pk}, ³ ")
    assert [row["id"] for row in odd.json()["movies"]] == [movie.pk]
    client.logout()
    assert client.get(url).status_code == 302
    client.force_login(user)
    assert client.get(url).status_code == 302


def test_deleting_movies_removes_frames_faces_and_files(
    staff_client, tmp_path, settings, django_capture_on_commit_callbacks
):
    first, _ = register_movie(path=faceless_clip(tmp_path / "a.mp4"), **DLIB_EVERY_4)
    second, _ = register_movie(path=faceless_clip(tmp_path / "b.mp4", frames=8), **DLIB_EVERY_4)
    for movie in (first, second):
        assert ingest_movie(movie.pk).status == "done"
        assert media_files(settings.MEDIA_ROOT, movie.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse(CHANGELIST),
            {"action": "delete_selected", "_selected_action": [first.pk, second.pk],
             "post": "yes"},
        )  # fmt: skip
    assert response.status_code == 302
    assert not Movie.objects.exists() and not Frame.objects.exists()
    for movie in (first, second):
        assert media_files(settings.MEDIA_ROOT, movie.pk) == set()


def test_an_uploaded_movie_deleted_in_the_orm_takes_its_video_along(
    tmp_path, settings, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = faceless_clip(tmp_path / "up.mp4").read_bytes()
    movie, _ = register_movie(upload=SimpleUploadedFile("up.mp4", data), **DLIB_EVERY_4)
    assert ingest_movie(movie.pk).status == "done"
    movie_id = movie.pk
    video = movie.path
    assert video.is_file()
    with django_capture_on_commit_callbacks(execute=True):
        movie.delete()
    assert not video.exists()
    assert media_files(settings.MEDIA_ROOT, movie_id) == set()
    assert not Frame.objects.filter(movie_id=movie_id).exists()


@needs_ffmpeg
@pytest.mark.slow
def test_a_cancelled_ingest_stops_between_batches_and_resumes_later(tmp_path, settings, clips):
    settings.FACEFINDER_FRAME_BATCH = 1
    movie, _ = register_movie(
        path=clips.miranda(tmp_path), sample_every=5, embedder="dlib-resnet", min_face=0.06
    )

    def cancel_after_first_batch(step):
        if step.frames_sampled == 1:
            Movie.objects.filter(pk=movie.pk).update(status=Movie.Status.CANCELLED)

    report = ingest_movie(movie.pk, progress=cancel_after_first_batch)
    movie.refresh_from_db()
    assert report.status == "cancelled"
    assert (movie.status, movie.next_frame_index, movie.frames.count()) == ("cancelled", 1, 1)

    report = ingest_movie(movie.pk)
    movie.refresh_from_db()
    assert report.message.endswith("(resumed at frame 1)")
    assert movie.status == Movie.Status.DONE
    assert list(movie.frames.values_list("index", flat=True)) == [0, 5, 10, 15]
    assert movie.faces_found == Face.objects.filter(movie=movie).count() >= 4


@pytest.mark.slow
def test_frame_admin_lists_thumbnails_without_loading_embeddings(staff_client, hamilton_movie):
    with CaptureQueriesContext(connection) as queries:
        page = staff_client.get(reverse("admin:movies_frame_changelist")).content.decode()
    assert page.count('<img src="/media/movies/') >= 50
    assert not any("embedding" in q["sql"] for q in queries.captured_queries)


def test_a_movie_deleted_while_it_is_ingested_leaves_nothing_behind(tmp_path, settings):
    settings.FACEFINDER_FRAME_BATCH = 1
    movie, _ = register_movie(path=faceless_clip(tmp_path / "a.mp4"), **DLIB_EVERY_4)
    movie_id = movie.pk

    def delete_after_first_batch(step):
        if step.frames_sampled == 1:
            Movie.objects.filter(pk=movie_id).delete()

    report = ingest_movie(movie_id, progress=delete_after_first_batch)
    assert report.status == "cancelled"
    assert not Frame.objects.filter(movie_id=movie_id).exists()
    assert media_files(settings.MEDIA_ROOT, movie_id) == set()


def test_the_command_queues_jobs_and_says_so_when_redis_is_down(
    tmp_path, ingest_queue, monkeypatch
):
    import io

    from django.core.management import CommandError, call_command

    clip = faceless_clip(tmp_path / "gradients.mp4")
    out = io.StringIO()
    call_command("ingest", str(clip), "--queue", "--embedder", "dlib-resnet", stdout=out)
    movie = Movie.objects.get()
    assert movie.status == Movie.Status.QUEUED and ingest_queue.count == 1
    assert f"queued {clip}: “Gradients” (movie {movie.pk}, job {movie.job_id})" in out.getvalue()
    run_worker()
    movie.refresh_from_db()
    assert movie.status == Movie.Status.DONE

    other = faceless_clip(tmp_path / "other.mp4", frames=6)
    monkeypatch.setitem(django_rq.settings.QUEUES["ingest"], "URL", "redis://127.0.0.1:1/0")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 1 failed"):
        call_command("ingest", str(other), "--queue", stdout=io.StringIO(), stderr=err)
    assert "the job queue (Redis) is not reachable, nothing was queued" in err.getvalue()
    assert Movie.objects.get(file_name="other.mp4").status == Movie.Status.NEW


def test_the_add_form_refuses_bad_sampling_settings(staff_client, import_dir):
    clip = faceless_clip(import_dir / "gradients.mp4")
    response = staff_client.post(
        reverse(ADD),
        {"server_path": str(clip), "sample_every": 0, "embedder": "dlib-resnet", "min_face": 0},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The sampling interval must be 1 or more" in page
    assert "The smallest face must be above 0" in page
    assert not Movie.objects.exists()


def change(client, movie: Movie, **fields):
    data = {"title": movie.title, "sample_every": movie.sample_every,
            "embedder": movie.embedder, "min_face": movie.min_face, **fields}  # fmt: skip
    return client.post(reverse("admin:movies_movie_change", args=[movie.pk]), data)


def test_the_change_form_refuses_new_settings_under_stored_frames(staff_client, tmp_path):
    movie, _ = register_movie(path=faceless_clip(tmp_path / "gradients.mp4"), **DLIB_EVERY_4)
    assert ingest_movie(movie.pk).status == "done"

    response = change(staff_client, movie, sample_every=2)
    assert response.status_code == 200
    assert (
        "“Gradients” is already stored with other settings (sample_every 4 → 2); ingest it "
        "again from scratch to use the new ones (tick “Re-ingest from scratch”)."
    ) in response.content.decode()
    movie.refresh_from_db()
    assert movie.sample_every == 4

    # Other fields still change freely.
    assert change(staff_client, movie, title="Colours").status_code == 302
    movie.refresh_from_db()
    assert (movie.title, movie.sample_every, movie.status) == ("Colours", 4, Movie.Status.DONE)


def test_new_settings_with_from_scratch_queue_a_fresh_ingest(
    staff_client, tmp_path, ingest_queue, django_capture_on_commit_callbacks
):
    movie, _ = register_movie(path=faceless_clip(tmp_path / "gradients.mp4"), **DLIB_EVERY_4)
    assert ingest_movie(movie.pk).status == "done"

    # The job is queued once the change is committed (a fast worker must find it).
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = change(staff_client, movie, sample_every=2, from_scratch="on")
    assert response.status_code == 302
    assert ingest_queue.count == 0 and len(callbacks) == 1
    callbacks[0]()
    movie.refresh_from_db()
    assert (movie.sample_every, movie.status, ingest_queue.count) == (2, Movie.Status.QUEUED, 1)
    run_worker()
    movie.refresh_from_db()
    assert movie.status == Movie.Status.DONE
    assert list(movie.frames.values_list("index", flat=True)) == [0, 2, 4, 6, 8, 10]
    assert movie.ingest_settings["sample_every"] == 2


def test_the_ingest_refuses_settings_changed_behind_its_back(tmp_path):
    movie, _ = register_movie(path=faceless_clip(tmp_path / "gradients.mp4"), **DLIB_EVERY_4)
    assert ingest_movie(movie.pk).status == "done"
    Movie.objects.filter(pk=movie.pk).update(sample_every=3, status=Movie.Status.CANCELLED)
    report = ingest_movie(movie.pk)
    assert report.status == "failed"
    assert "already stored with other settings (sample_every 4 → 3)" in report.error
    assert list(movie.frames.values_list("index", flat=True)) == [0, 4, 8]
