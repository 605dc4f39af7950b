"""``python manage.py bench_ingest``: sampled frames per second of the real ingest, end to end,
beside the seed's loop (``shared/bench/seed_loop.py``) on the same clip and settings.

The ingest runs in a child process timed from its start to its exit, so interpreter start,
imports, Django set-up and model loading are all counted. Inside the child, the ingest's own
stage timer gives the time in detection and in embedding, and torch forward hooks on the
networks (MTCNN's P/R/O-nets, facenet's InceptionResnetV1) the time in their forward passes
alone. Never a test: speed is measured here only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from faces.embedders import EMBEDDER_NAMES, FACENET

DEFAULT_CLIP = "crowd_walking_opera_house.mp4"


def shared_dir() -> Path:
    return Path(settings.BASE_DIR).parent / "shared"


class Command(BaseCommand):
    help = "Measure ingest throughput (sampled frames/s, start-up included) against the seed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "clip", nargs="?", default=None, help=f"video (default: shared {DEFAULT_CLIP})"
        )
        parser.add_argument("--repeat", type=int, default=4, help="play the clip N times")
        parser.add_argument("--every", type=int, default=5)
        parser.add_argument("--min-face", type=float, default=120.0)
        parser.add_argument("--embedder", default=FACENET, choices=EMBEDDER_NAMES)
        parser.add_argument("--weights", default="", help="facenet state-dict file")
        parser.add_argument(
            "--random-weights-for-timing",
            action="store_true",
            help="facenet with random weights shaped like vggface2's (timing only)",
        )
        parser.add_argument("--seed-loop", default="", help="path to seed_loop.py")
        parser.add_argument("--no-seed", action="store_true", help="skip the seed's loop")
        parser.add_argument(
            "--appearances",
            choices=("with", "without", "both"),
            default="with",
            help="build shots and appearances (both: run with and without, one after the other)",
        )
        parser.add_argument("--child-report", default="", help=argparse_hidden())

    def handle(self, *args: Any, **options: Any) -> None:
        if options["child_report"]:
            self.run_child(options)
            return
        with tempfile.TemporaryDirectory(prefix="bench_ingest_") as work:
            self.run_parent(options, Path(work))

    # --- parent ----------------------------------------------------------------------------

    def run_parent(self, options: dict[str, Any], work: Path) -> None:
        clip = Path(options["clip"] or shared_dir() / "data" / "videos" / DEFAULT_CLIP)
        if not clip.is_file():
            raise CommandError(f"clip not found: {clip}")
        video = self.repeated(clip, options["repeat"], work)
        weights = self.weights(options)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "MEDIA_ROOT": str(work / "media"),
            "FACENET_WEIGHTS": weights,
        }
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True)  # noqa: S603

        self.stdout.write(
            f"clip: {clip.name} x{options['repeat']}, every {options['every']}th frame, "
            f"min face {options['min_face']:g}, p > {settings.FACEFINDER_MIN_PROBABILITY}, "
            f"embedder {options['embedder']}, {parallel_setup()}"
        )
        modes = {"with": [True], "without": [False], "both": [True, False]}[options["appearances"]]
        walls = {}
        for with_appearances in modes:
            ours, wall = self.run_ours(options, video, env, manage, work, with_appearances)
            walls[with_appearances] = (wall, ours["ingest_seconds"])
            label = "with" if with_appearances else "without"
            self.stdout.write(
                f"-- {label} shots and appearances: {ours['shots']} shots, "
                f"{ours['appearances']} appearances"
            )
            self.print_ours(ours, wall)
        if len(walls) == 2:
            (with_wall, with_run), (without_wall, without_run) = walls[True], walls[False]
            self.stdout.write(
                f"shots and appearances cost: {100 * (with_wall / without_wall - 1):+.1f}% end "
                f"to end ({with_wall:.1f} s against {without_wall:.1f} s), "
                f"{100 * (with_run / without_run - 1):+.1f}% of the ingest run"
            )
        if not options["no_seed"]:
            self.run_seed(options, video, weights or "random", ours["frames"] / wall)

    def run_ours(self, options, video, env, manage, work, with_appearances: bool):
        """One ingest in a child process, timed from its start to its exit."""
        report_path = work / f"child-{with_appearances}.json"
        child = [
            *manage, "bench_ingest", str(video), "--child-report", str(report_path),
            "--every", str(options["every"]), "--min-face", str(options["min_face"]),
            "--embedder", options["embedder"],
            "--appearances", "with" if with_appearances else "without",
        ]  # fmt: skip
        started = time.perf_counter()
        result = subprocess.run(child, env=env, capture_output=True, text=True)  # noqa: S603
        wall = time.perf_counter() - started
        if result.returncode != 0 or not report_path.exists():
            raise CommandError(f"ingest failed: {(result.stderr or result.stdout).strip()[-500:]}")
        return json.loads(report_path.read_text()), wall

    def repeated(self, clip: Path, times: int, work: Path) -> Path:
        """The clip played ``times`` times in a row (stream copy with ffmpeg, no re-encode)."""
        if times <= 1:
            return clip
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise CommandError("--repeat needs Debian's ffmpeg (apt-get install ffmpeg)")
        listing = work / "concat.txt"
        listing.write_text("".join(f"file '{clip}'\n" for _ in range(times)))
        target = work / f"{clip.stem}_x{times}{clip.suffix}"
        subprocess.run(  # noqa: S603 (argument list from the operator's own options, no shell)
            [ffmpeg, "-y", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i",
             str(listing), "-c", "copy", str(target)],
            check=True,
        )  # fmt: skip
        return target

    def weights(self, options: dict[str, Any]) -> str:
        if options["embedder"] != FACENET:
            return options["weights"] or settings.FACENET_WEIGHTS
        if options["random_weights_for_timing"]:
            path = Path(settings.BASE_DIR) / "var" / "bench" / "random-vggface2-shaped.pt"
            if not path.exists():
                import torch
                from facenet_pytorch import InceptionResnetV1

                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save(InceptionResnetV1(num_classes=8631).state_dict(), path)
            self.stderr.write(
                f"WARNING: random facenet weights ({path}): the timing is real, the faces "
                "found and their vectors mean nothing. Never use them for quality."
            )
            return str(path)
        return options["weights"] or settings.FACENET_WEIGHTS

    def print_ours(self, ours: dict[str, Any], wall: float) -> None:
        frames, timings, forward = ours["frames"], ours["timings"], ours["forward_seconds"]
        run = ours["ingest_seconds"]
        detect, embed = timings.get("detect", 0.0), timings.get("embed", 0.0)
        inside = detect + embed
        self.stdout.write(
            f"ours: {frames} sampled frames, {ours['faces']} faces in {wall:.1f} s end to end "
            f"(process start to exit) = {frames / wall:.2f} sampled frames/s"
        )
        self.stdout.write(
            f"  inside the two networks: detector {detect:.1f} s + embedder {embed:.1f} s = "
            f"{inside:.1f} s: {100 * inside / run:.0f}% of the ingest run ({run:.1f} s), "
            f"{100 * inside / wall:.0f}% end to end"
        )
        passes = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in forward.items())
        self.stdout.write(
            f"  of which forward passes alone: {passes} ({100 * sum(forward.values()) / run:.0f}% "
            "of the run; the rest is MTCNN's pyramid and box merging, and face crops)"
        )
        stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
        self.stdout.write(
            f"  stages: {stages}; start-up, imports, model loading {wall - run:.1f} s"
        )

    def run_seed(self, options: dict[str, Any], video: Path, weights: str, ours: float) -> None:
        seed = Path(options["seed_loop"] or shared_dir() / "bench" / "seed_loop.py")
        if not seed.is_file():
            self.stdout.write(f"seed loop not found at {seed}: no ratio")
            return
        command = [
            sys.executable, str(seed), str(video), "--interval", str(options["every"]),
            "--min-face", str(round(options["min_face"])), "--weights", weights,
        ]  # fmt: skip
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)  # noqa: S603
        wall = time.perf_counter() - started
        if result.returncode != 0:
            self.stdout.write(f"seed loop failed: {result.stderr.strip()[-300:]}")
            return
        seed_result = json.loads(result.stdout.strip().splitlines()[-1])
        loop_fps = seed_result["kept_fps"]
        wall_fps = seed_result["frames_kept"] / wall
        self.stdout.write(
            f"seed: {seed_result['frames_kept']} kept frames, {seed_result['faces']} faces; "
            f"its loop {seed_result['seconds']:.1f} s (model loading excluded) = "
            f"{loop_fps:.2f} frames/s; {wall:.1f} s end to end = {wall_fps:.2f} frames/s"
        )
        note = ""
        if options["embedder"] != FACENET:
            note = " (the seed always embeds with facenet: not the same settings)"
        self.stdout.write(
            f"ratio: {ours / loop_fps:.2f}x the seed's own loop figure, "
            f"{ours / wall_fps:.2f}x end to end{note}"
        )

    # --- child -----------------------------------------------------------------------------

    def run_child(self, options: dict[str, Any]) -> None:
        from movies.ingest import ingest_movie
        from movies.registration import register_movie
        from movies.timing import StageTimer

        clip = Path(options["clip"])
        forward = ForwardPassClocks(options["embedder"])
        movie, _ = register_movie(
            path=clip,
            sample_every=options["every"],
            embedder=options["embedder"],
            min_face=options["min_face"],
        )
        timer = StageTimer()
        started = time.perf_counter()
        report = ingest_movie(
            movie.pk,
            from_scratch=True,
            timer=timer,
            appearances=options["appearances"] != "without",
        )
        elapsed = time.perf_counter() - started
        if report.status != "done":
            raise CommandError(report.message)
        Path(options["child_report"]).write_text(
            json.dumps(
                {
                    "frames": report.frames_sampled,
                    "faces": report.faces_found,
                    "ingest_seconds": elapsed,
                    "timings": dict(timer.seconds),
                    "forward_seconds": forward.seconds(),
                    "shots": movie.shots.count(),
                    "appearances": movie.appearances.count(),
                }
            )
        )


class BusyClock:
    """Wall seconds during which at least one call is inside (calls on threads may overlap)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._active = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def enter(self, *_: Any) -> None:
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1

    def leave(self, *_: Any) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self.seconds += time.perf_counter() - self._since


class ForwardPassClocks:
    """Wall time inside the forward passes of the torch networks, from forward hooks.

    MTCNN's three nets always; the embedder's network when it is a torch module (facenet;
    dlib's descriptor has no hook, so its forward passes are not split out). Loads the models.
    """

    def __init__(self, embedder: str) -> None:
        from faces.detection import _mtcnn_nets
        from faces.embedders import get_embedder

        self.clocks = {"detector": BusyClock()}
        nets = _mtcnn_nets()
        for module in (nets.pnet, nets.rnet, nets.onet):
            self._hook(module, self.clocks["detector"])
        model = get_embedder(embedder)
        if hasattr(model, "model"):
            self.clocks["embedder"] = BusyClock()
            self._hook(model.model, self.clocks["embedder"])

    @staticmethod
    def _hook(module: Any, clock: BusyClock) -> None:
        module.register_forward_pre_hook(clock.enter)
        module.register_forward_hook(clock.leave)

    def seconds(self) -> dict[str, float]:
        return {name: clock.seconds for name, clock in self.clocks.items()}


def parallel_setup() -> str:
    from faces.detection import configure_threads, parallel_images

    configure_threads()
    import torch

    return (
        f"{parallel_images()} images side by side, {torch.get_num_threads()} torch thread(s) each"
    )


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS
