"""Progress of long ingests without a terminal: one line format (``movies.reports``), written at
an interval by ``manage.py ingest`` when stdout is not a TTY, and logged by the rq job.

No timing is asserted: the clock is injected, or the interval is 0 (a line per batch).
"""

from __future__ import annotations

import io
import logging
import re

import pytest
from django.core.management import CommandError, call_command

from movies.jobs import enqueue_ingest
from movies.models import Movie
from movies.registration import register_movie
from movies.reports import IngestProgress, ProgressLog, progress_line
from tests.ingest_helpers import faceless_clip, needs_ffmpeg, run_worker


def step(next_frame_index: int, total: int | None = 3000, sampled: int = 0, faces: int = 0):
    return IngestProgress(
        movie_id=7,
        title="Crowd",
        next_frame_index=next_frame_index,
        total_frames=total,
        frames_sampled=sampled,
        faces_found=faces,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_tells_frames_sampled_frames_faces_rate_and_time_left():
    line = progress_line(
        step(1200, sampled=48, faces=1234), frames_per_second=20.0, elapsed_seconds=60
    )
    assert line == (
        "“Crowd” (movie 7): frame 1,200 of 3,000 (40%); 48 sampled frames, 1,234 faces; "
        "20.0 frames/s, 0:01:00 elapsed, 0:01:30 left"
    )


def test_without_a_rate_or_a_frame_count_the_line_says_what_it_cannot_know():
    first = progress_line(step(0), frames_per_second=None, elapsed_seconds=0)
    assert first == (
        "“Crowd” (movie 7): frame 0 of 3,000 (0%); 0 sampled frames, 0 faces; "
        "0:00:00 elapsed, time left unknown yet"
    )
    uncounted = progress_line(step(500, total=None), frames_per_second=10.0, elapsed_seconds=50)
    assert uncounted.startswith("“Crowd” (movie 7): frame 500; ")
    assert uncounted.endswith("10.0 frames/s, 0:00:50 elapsed, time left unknown (no frame count)")


def test_lines_come_once_per_interval_and_the_rate_counts_this_runs_frames_only():
    lines: list[str] = []
    clock = FakeClock()
    log = ProgressLog(lines.append, interval=30, clock=clock)
    log(step(1000))  # a resumed run: its checkpoint was frame 1000
    assert len(lines) == 1 and "frame 1,000 of 3,000" in lines[0]
    clock.now += 10
    log(step(1200, sampled=8))
    clock.now += 19.5
    log(step(1400, sampled=16))
    assert len(lines) == 1  # 29.5 s since the last line
    clock.now += 0.5
    log(step(1600, sampled=24, faces=90))
    assert len(lines) == 2
    # 600 frames of this run in 30 s; 1400 frames left at 20 frames/s.
    assert lines[1].endswith("90 faces; 20.0 frames/s, 0:00:30 elapsed, 0:01:10 left")
    clock.now += 29
    log(step(1800))
    assert len(lines) == 2  # the interval counts from the last line


def test_interval_zero_writes_a_line_on_every_call_and_a_negative_one_is_refused():
    lines: list[str] = []
    log = ProgressLog(lines.append, interval=0, clock=FakeClock())
    for index in (0, 100, 200):
        log(step(index))
    assert len(lines) == 3
    with pytest.raises(ValueError, match="0 or more seconds"):
        ProgressLog(lines.append, interval=-1)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


PROGRESS = re.compile(r"^“Gradients” \(movie \d+\): frame [\d,]+ of 12 \(\d+%\); ", re.MULTILINE)


@pytest.mark.django_db
def test_the_command_without_a_terminal_writes_progress_lines_on_stdout(tmp_path, settings):
    settings.FACEFINDER_FRAME_BATCH = 1
    clip = faceless_clip(tmp_path / "gradients.mp4")
    out = io.StringIO()
    call_command(
        "ingest", str(clip), "--every", "4", "--embedder", "dlib-resnet",
        "--progress-every", "0", stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    lines = PROGRESS.findall(out.getvalue())
    # Before the first batch, after each of the three (frames 0, 4, 8), and at the end.
    assert len(lines) == 5
    text = out.getvalue()
    assert "frame 0 of 12 (0%); 0 sampled frames, 0 faces; 0:00:00 elapsed" in text
    assert "frame 12 of 12 (100%); 3 sampled frames, 0 faces;" in text
    assert text.rstrip().splitlines()[-2].startswith("ok     “Gradients”")


@pytest.mark.django_db
def test_the_default_interval_comes_from_the_setting(tmp_path, settings):
    settings.FACEFINDER_FRAME_BATCH = 1
    settings.FACEFINDER_PROGRESS_SECONDS = 3600
    clip = faceless_clip(tmp_path / "gradients.mp4")
    out = io.StringIO()
    call_command("ingest", str(clip), "--every", "4", "--embedder", "dlib-resnet", stdout=out)
    assert len(PROGRESS.findall(out.getvalue())) == 1  # only the first, at the start


@pytest.mark.django_db
@pytest.mark.parametrize("terminal", [True, False])
def test_on_a_terminal_or_with_no_progress_no_lines_are_written(tmp_path, settings, terminal):
    settings.FACEFINDER_FRAME_BATCH = 1
    clip = faceless_clip(tmp_path / "gradients.mp4")
    out = Terminal() if terminal else io.StringIO()
    flags = ["--progress-every", "0"] if terminal else ["--no-progress"]
    call_command(
        "ingest", str(clip), "--every", "4", "--embedder", "dlib-resnet", *flags,
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    assert "ok     “Gradients”" in out.getvalue()
    assert PROGRESS.findall(out.getvalue()) == []


def test_a_negative_interval_is_refused_by_the_command():
    with pytest.raises(CommandError, match="--progress-every: must be 0 or more seconds"):
        call_command("ingest", "x.mp4", "--progress-every", "-5")


@pytest.mark.django_db
def test_the_rq_job_logs_the_same_lines_to_the_workers_log(
    tmp_path, settings, caplog, ingest_queue
):
    settings.FACEFINDER_FRAME_BATCH = 1
    settings.FACEFINDER_PROGRESS_SECONDS = 0
    movie, _ = register_movie(
        path=faceless_clip(tmp_path / "gradients.mp4"), sample_every=4, embedder="dlib-resnet"
    )
    job_id = enqueue_ingest(movie)
    with caplog.at_level(logging.INFO, logger="movies.jobs"):
        run_worker()
    assert ingest_queue.fetch_job(job_id).return_value()["status"] == "done"
    lines = [r.getMessage() for r in caplog.records if r.name == "movies.jobs"]
    assert len(lines) == 5
    assert all(PROGRESS.match(line) for line in lines)
    assert lines[-1].startswith(f"“Gradients” (movie {movie.pk}): frame 12 of 12 (100%); 3 sampled")


@needs_ffmpeg
@pytest.mark.django_db
def test_the_counts_in_the_last_line_are_the_movies(tmp_path, settings, clips):
    settings.FACEFINDER_FRAME_BATCH = 2
    clip = clips.miranda(tmp_path)
    out = io.StringIO()
    call_command(
        "ingest", str(clip), "--every", "5", "--embedder", "dlib-resnet",
        "--progress-every", "0", stdout=out,
    )  # fmt: skip
    movie = Movie.objects.get()
    assert movie.faces_found > 0
    last = [line for line in out.getvalue().splitlines() if " elapsed" in line][-1]
    assert f"frame 20 of 20 (100%); 4 sampled frames, {movie.faces_found} faces;" in last
