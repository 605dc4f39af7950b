"""Bad input to ``manage.py ingest``: each file gets one clear line and is marked failed with
the reason; a file refused before its first batch leaves no rows or images, one that fails
later keeps what was stored; the other files of the run are still ingested."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from django.core.management import CommandError, call_command

from faces.models import Face
from movies.models import Frame, Movie
from tests.ingest_helpers import faceless_clip, media_files, needs_ffmpeg
from tests.shared_data import FACES

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def run_ingest(*args: str) -> tuple[str, str, bool]:
    """(stdout, stderr, failed) of one ingest run."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ingest", *args, "--no-progress", stdout=out, stderr=err)
        failed = False
    except CommandError as exc:
        err.write(f"CommandError: {exc}\n")
        failed = True
    return out.getvalue(), err.getvalue(), failed


@needs_ffmpeg
def test_each_bad_file_fails_alone_with_its_reason_and_leaves_nothing(tmp_path, settings, clips):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "zero.mp4").write_bytes(b"")
    (bad / "notes.mkv").write_text("These are my notes, not a film.\n")
    shutil.copy(FACES / "barack_obama" / "1.jpg", bad / "photo.mp4")
    (bad / "garbage.mp4").write_bytes(os.urandom(50_000))
    shutil.move(clips.truncated(tmp_path), bad / "truncated.mp4")
    shutil.move(clips.audio_only(tmp_path), bad / "audio_only.mp4")
    good = clips.miranda(tmp_path)
    missing = tmp_path / "missing.mp4"

    out, err, failed = run_ingest(
        str(bad), str(missing), str(good), "--every", "10", "--embedder", "dlib-resnet"
    )

    assert failed
    expected = {
        "zero.mp4": "empty file (0 bytes)",
        "notes.mkv": "not a video FFmpeg can read",
        "photo.mp4": "a still image (mjpeg), not a video",
        "garbage.mp4": "not a video FFmpeg can read",
        "truncated.mp4": "truncated or damaged: only",
        "audio_only.mp4": "no video stream (streams found: audio)",
    }
    for name, reason in expected.items():
        movie = Movie.objects.get(file_name=name)
        assert movie.status == Movie.Status.FAILED, name
        assert reason in movie.last_error, (name, movie.last_error)
        assert "\n" not in movie.last_error
        line = next(line for line in err.splitlines() if f"/{name})" in line)
        assert line.startswith("FAILED") and reason in line
        assert not Frame.objects.filter(movie=movie).exists()
        assert not Face.objects.filter(movie=movie).exists()
        assert media_files(settings.MEDIA_ROOT, movie.pk) == set()
    assert f"FAILED {missing}: file not found" in err
    assert "7 of 8 failed" in err

    ok = Movie.objects.get(file_name="miranda.mp4")
    assert ok.status == Movie.Status.DONE
    assert list(ok.frames.values_list("index", flat=True)) == [0, 10]
    assert "8 files: 1 done, 7 failed" in out


@needs_ffmpeg
def test_a_truncated_video_is_failed_and_keeps_its_good_part(tmp_path, settings, clips):
    """A short tail is a fault of the file as it is now (a copy still being written, a share
    gone mid-read): the movie fails with the reason and keeps the batches stored before it."""
    settings.FACEFINDER_FRAME_BATCH = 2
    clip = clips.truncated(tmp_path)
    _, _, failed = run_ingest(str(clip), "--every", "2", "--embedder", "dlib-resnet")
    movie = Movie.objects.get()
    assert failed
    assert movie.status == Movie.Status.FAILED
    assert "truncated or damaged: only" in movie.last_error and "of 60 frames" in movie.last_error
    stored = movie.frames.count()
    assert stored > 0 and movie.next_frame_index == 2 * (stored - 1) + 1
    assert len(media_files(settings.MEDIA_ROOT, movie.pk)) == 2 * stored  # image + thumbnail


def test_a_video_without_faces_finishes_with_zero_faces_and_says_so(tmp_path):
    clip = faceless_clip(tmp_path / "gradients.mp4")
    out, _, failed = run_ingest(str(clip), "--every", "4", "--embedder", "dlib-resnet")
    movie = Movie.objects.get()
    assert not failed
    assert movie.status == Movie.Status.DONE
    assert movie.frames_sampled == 3 and movie.faces_found == 0
    assert "done: 3 frames sampled, no faces found" in out
    assert "1 file: 1 done, 0 failed; 3 frames sampled, 0 faces stored" in out


def test_an_unknown_embedder_fails_the_movie_with_the_known_names(tmp_path):
    clip = faceless_clip(tmp_path / "gradients.mp4")
    _, err, failed = run_ingest(str(clip), "--embedder", "no-such-net")
    movie = Movie.objects.get()
    assert failed
    assert movie.status == Movie.Status.FAILED
    assert movie.last_error == (
        "unknown embedder 'no-such-net'; known embedders: facenet-vggface2, dlib-resnet, "
        "dlib-resnet-mtcnn"
    )
    assert "FAILED" in err and "unknown embedder 'no-such-net'" in err


def test_missing_facenet_weights_fail_the_movie_in_one_line(tmp_path, settings):
    settings.FACENET_WEIGHTS = str(tmp_path / "nowhere" / "vggface2.pt")
    clip = faceless_clip(tmp_path / "gradients.mp4")
    _, _, failed = run_ingest(str(clip), "--embedder", "facenet-vggface2")
    movie = Movie.objects.get()
    assert failed
    assert movie.status == Movie.Status.FAILED
    assert movie.last_error.startswith("facenet-vggface2 weights not found")
    assert movie.frames.count() == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_reported(tmp_path):
    clip = faceless_clip(tmp_path / "locked.mp4")
    clip.chmod(0)
    _, err, failed = run_ingest(str(clip))
    assert failed
    assert "cannot read" in err


@needs_ffmpeg
def test_matroska_without_a_frame_count_is_ingested_to_the_end(tmp_path, clips):
    clip = clips.miranda(tmp_path, ".mkv")
    out, _, failed = run_ingest(str(clip), "--every", "10", "--embedder", "dlib-resnet")
    movie = Movie.objects.get()
    assert not failed, out
    assert movie.status == Movie.Status.DONE
    assert movie.progress == 1.0
    assert movie.frame_count == 20
    assert list(movie.frames.values_list("index", flat=True)) == [0, 10]
    assert movie.faces_found >= 2


def test_the_same_file_twice_is_one_movie(tmp_path):
    clip = faceless_clip(tmp_path / "gradients.mp4")
    shutil.copy(clip, tmp_path / "copy.mp4")
    _, _, failed = run_ingest(str(clip), "--every", "4", "--embedder", "dlib-resnet")
    out2, _, failed2 = run_ingest(str(tmp_path / "copy.mp4"))
    assert not failed and not failed2
    assert Movie.objects.count() == 1
    assert "already ingested (3 frames, 0 faces)" in out2


def test_changing_settings_of_a_stored_movie_needs_from_scratch(tmp_path):
    clip = faceless_clip(tmp_path / "gradients.mp4")
    run_ingest(str(clip), "--every", "4", "--embedder", "dlib-resnet")
    _, err, failed = run_ingest(str(clip), "--every", "2")
    assert failed
    assert "already stored with other settings (sample_every 4 → 2)" in err
    _, _, failed = run_ingest(str(clip), "--every", "2", "--from-scratch")
    assert not failed
    movie = Movie.objects.get()
    assert list(movie.frames.values_list("index", flat=True)) == [0, 2, 4, 6, 8, 10]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--every", "0", "The sampling interval must be 1 or more"),
        ("--every", "1.5", "not a whole number: '1.5'"),
        ("--min-face", "0", "The smallest face must be above 0"),
        ("--min-face", "nan", "The smallest face must be above 0"),
    ],
)
def test_bad_sampling_options_are_refused_up_front(tmp_path, option, value, message):
    clip = faceless_clip(tmp_path / "gradients.mp4")
    with pytest.raises(CommandError, match=message):
        call_command("ingest", str(clip), option, value, stdout=io.StringIO())
    assert not Movie.objects.exists()


def test_a_stored_movie_with_bad_sampling_settings_fails_with_the_same_message(tmp_path):
    from movies.ingest import ingest_movie
    from movies.registration import register_movie

    movie, _ = register_movie(path=faceless_clip(tmp_path / "gradients.mp4"))
    Movie.objects.filter(pk=movie.pk).update(min_face=0.0)
    report = ingest_movie(movie.pk)
    assert report.status == "failed"
    assert report.error.startswith("The smallest face must be above 0")
