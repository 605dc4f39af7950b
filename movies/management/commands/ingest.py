"""``python manage.py ingest PATH [PATH ...]``: add movies and ingest them (or queue them).

Folders are walked recursively for the usual video types. Each file gets one line (done,
failed with the reason, or queued) and the run ends with a summary line; the exit status is
non-zero when any file failed. A bad file never stops the others. A movie that is queued for
a worker, or that a live run is ingesting, is refused with the reason (the command does not
wait for it) and nothing of it is written.

Progress: on a terminal a progress bar (on stderr); without one (cron, a service: stdout is
not a TTY) a progress line on stdout every ``--progress-every`` seconds
(``FACEFINDER_PROGRESS_SECONDS``), in ``movies.reports.progress_line``'s format.
"""

from __future__ import annotations

import logging
import time
from argparse import ArgumentTypeError
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from movies.errors import IngestError
from movies.ingest import ProgressCallback, ingest_movie
from movies.jobs import enqueue_ingest
from movies.models import Movie, validate_min_face, validate_sample_every
from movies.registration import register_movie, update_movie
from movies.reports import IngestProgress, IngestReport, ProgressLog
from movies.runs import command_refusal
from movies.video import VIDEO_EXTENSIONS


def _option(convert: type[int | float], validate: Callable[[Any], None]) -> Callable:
    """An argparse type: ``convert`` the text, then check it with the model field's validator."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError as exc:
            kind = "a whole number" if convert is int else "a number"
            raise ArgumentTypeError(f"not {kind}: {text!r}") from exc
        try:
            validate(value)
        except ValidationError as exc:
            raise ArgumentTypeError(exc.messages[0]) from exc
        return value

    return parse


sample_interval = _option(int, validate_sample_every)
# 120 (pixels) or 0.1 (a fraction of the frame height)
min_face_size = _option(float, validate_min_face)


def _validate_interval(seconds: float) -> None:
    if not seconds >= 0:
        raise ValidationError("must be 0 or more seconds")


progress_interval = _option(float, _validate_interval)


class Command(BaseCommand):
    help = "Add movie files (or folders of them) to the library and ingest them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="video files or folders")
        parser.add_argument(
            "--every", type=sample_interval, default=None, help="keep every Nth frame"
        )
        parser.add_argument("--embedder", default=None, help="embedder name for new movies")
        parser.add_argument(
            "--min-face",
            type=min_face_size,
            default=None,
            help="smallest face: pixels (120) or a fraction of the frame height (0.1)",
        )
        parser.add_argument(
            "--queue", action="store_true", help="queue jobs for the workers instead"
        )
        parser.add_argument(
            "--from-scratch",
            action="store_true",
            help="drop what was stored for these movies and ingest them again",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar and no progress lines"
        )
        parser.add_argument(
            "--progress-every",
            type=progress_interval,
            default=None,
            metavar="SECONDS",
            help="without a terminal, a progress line this often (default "
            "FACEFINDER_PROGRESS_SECONDS; 0: after every batch)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        self.options = options
        if options["verbosity"] < 2:
            # Each file gets its own line below; the service's log line would repeat it.
            logging.getLogger("movies.ingest").setLevel(logging.ERROR)
        self.counts = {"done": 0, "failed": 0, "queued": 0, "cancelled": 0}
        self.frames = self.faces = 0
        for path in self.collect(options["paths"]):
            self.process(path)
        total = sum(self.counts.values())
        parts = [f"{n} {name}" for name, n in self.counts.items() if n or name == "failed"]
        self.stdout.write(
            f"{total} file{'s' if total != 1 else ''}: {', '.join(parts)}; "
            f"{self.frames} frames sampled, {self.faces} faces stored "
            f"in {time.monotonic() - started:.1f} s"
        )
        if self.counts["failed"]:
            raise CommandError(f"{self.counts['failed']} of {total} failed")

    def collect(self, raw_paths: list[str]) -> list[Path]:
        """Video files named or found below the folders; missing paths are reported here."""
        files: list[Path] = []
        for raw in raw_paths:
            path = Path(raw).expanduser()
            if path.is_dir():
                found = sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                )
                if not found:
                    self.stderr.write(f"warning: no video files in {path}")
                files.extend(found)
            elif path.exists():
                files.append(path)
            else:
                self.missing(path)
        return files

    def missing(self, path: Path) -> None:
        """A path that does not exist. A movie registered from it is left exactly as it is (a
        share that is not mounted must not cost its stored work): the line says so."""
        self.counts["failed"] += 1
        known = Movie.objects.filter(source_path=str(path.resolve())).first()
        if known is None:
            self.stderr.write(f"FAILED {path}: file not found")
            return
        self.stderr.write(
            f"FAILED {path}: file not found; “{known}” (movie {known.pk}, "
            f"{known.get_status_display().lower()}) is left as it was, with its "
            f"{known.frames_sampled} frames and {known.faces_found} faces: ingest it again "
            "once the file is back"
        )

    def process(self, path: Path) -> None:
        options = self.options
        try:
            movie, created = register_movie(
                path=path,
                sample_every=options["every"],
                embedder=options["embedder"],
                min_face=options["min_face"],
            )
            if not created:
                refusal = command_refusal(movie)
                if refusal:
                    self.counts["failed"] += 1
                    self.stderr.write(f"FAILED {path}: “{movie}” is not ingested: {refusal}")
                    return
                self.apply_settings(movie)
            if options["queue"]:
                job_id = enqueue_ingest(movie, from_scratch=options["from_scratch"])
                self.counts["queued"] += 1
                self.stdout.write(f"queued {path}: “{movie}” (movie {movie.pk}, job {job_id})")
                return
        except IngestError as exc:
            self.counts["failed"] += 1
            self.stderr.write(f"FAILED {path}: {exc}")
            return
        self.record(path, self.run_ingest(movie))

    def apply_settings(self, movie: Movie) -> None:
        """Options given for a movie that is already known."""
        options = self.options
        wanted = {
            "sample_every": options["every"],
            "embedder": options["embedder"],
            "min_face": options["min_face"],
        }
        update_movie(movie, wanted, from_scratch=options["from_scratch"])

    def run_ingest(self, movie: Movie) -> IngestReport:
        if self.options["no_progress"]:
            return self.ingest(movie, None)
        if not self.stdout.isatty():
            interval = self.options["progress_every"]
            if interval is None:
                interval = settings.FACEFINDER_PROGRESS_SECONDS
            return self.ingest(movie, ProgressLog(self.write_now, interval=interval))
        # disable=None: tqdm itself turns the bar off when stderr is not a terminal either.
        bar = tqdm(
            total=None,
            desc=str(movie)[:40],
            unit="frame",
            disable=None,
            file=self.stderr._out,
            leave=False,
        )

        def on_progress(step: IngestProgress) -> None:
            if step.total_frames and bar.total != step.total_frames:
                bar.total = step.total_frames
            bar.update(step.next_frame_index - bar.n)
            bar.set_postfix(frames=step.frames_sampled, faces=step.faces_found, refresh=False)

        try:
            return self.ingest(movie, on_progress)
        finally:
            bar.close()

    def write_now(self, line: str) -> None:
        """A line on stdout, flushed: a pipe (cron, a service's log) buffers it otherwise."""
        self.stdout.write(line)
        self.stdout.flush()

    def ingest(self, movie: Movie, progress: ProgressCallback | None) -> IngestReport:
        return ingest_movie(movie.pk, from_scratch=self.options["from_scratch"], progress=progress)

    def record(self, path: Path, report: IngestReport) -> None:
        self.counts[report.status if report.status in self.counts else "failed"] += 1
        self.frames += report.frames_sampled
        self.faces += report.faces_found
        text = f"“{report.title}” ({path}): {report.message} in {report.seconds:.1f} s"
        if report.ok:
            self.stdout.write(f"ok     {text}")
        else:
            self.stderr.write(f"FAILED {text}")
