"""``python manage.py bench_ingest``: sampled frames per second of the real ingest, end to end,
beside the seed's loop (``shared/bench/seed_loop.py``) on the same clip and settings.

The ingest runs in a child process timed from its start to its exit, so interpreter start,
imports, Django set-up and model loading are all counted. Inside the child, the ingest's own
stage timer gives the time in detection and in embedding, and torch forward hooks on the
networks (MTCNN's P/R/O-nets, facenet's InceptionResnetV1) the time in their forward passes
alone. Never a test: speed is measured here only.

``--defaults`` takes the sampling, minimum face and embedder from the settings (what an
operator's ``manage.py ingest`` uses) instead of the seed's. ``--plain-loop`` adds the
comparison with the plain loop a user would write (``movies.bench``): the product's own
``manage.py ingest`` and that loop, each in its own process timed from start to exit, back to
back, the faces of both matched box by box, and the clip's decode floor.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from faces.embedders import EMBEDDER_NAMES, FACENET
from movies.bench.comparison import timed_run

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
        parser.add_argument("--every", type=int, default=None, help="default 5 (the seed's)")
        parser.add_argument("--min-face", type=float, default=None, help="default 120 (px)")
        parser.add_argument(
            "--embedder", default=None, choices=EMBEDDER_NAMES, help=f"default {FACENET}"
        )
        parser.add_argument(
            "--defaults",
            action="store_true",
            help="sampling, minimum face and embedder from the settings (FACEFINDER_SAMPLE_EVERY, "
            "FACEFINDER_MIN_FACE, FACEFINDER_EMBEDDER) unless given",
        )
        parser.add_argument(
            "--plain-loop",
            action="store_true",
            help="also time manage.py ingest against the plain loop (OpenCV, MTCNN.detect, "
            "dlib's descriptor) and the clip's decode floor",
        )
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
        parser.add_argument(
            "--rounds",
            type=int,
            default=1,
            help="with --appearances both: this many rounds, alternating which arm goes first",
        )
        parser.add_argument("--child-report", default="", help=argparse_hidden())

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = {
            "every": settings.FACEFINDER_SAMPLE_EVERY if options["defaults"] else 5,
            "min_face": settings.FACEFINDER_MIN_FACE if options["defaults"] else 120.0,
            "embedder": settings.FACEFINDER_EMBEDDER if options["defaults"] else FACENET,
        }
        for name, value in chosen.items():
            if options[name] is None:
                options[name] = value
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
        costs = []
        for round_number in range(options["rounds"]):
            # Rounds alternate which arm goes first, so that neither always meets a cold cache
            # or the same moment of a shared machine's load.
            order = modes if round_number % 2 == 0 else modes[::-1]
            walls = {}
            for with_appearances in order:
                ours, wall = self.run_ours(options, video, env, manage, work, with_appearances)
                walls[with_appearances] = (wall, ours["ingest_seconds"], ours["cpu_seconds"])
                label = "with" if with_appearances else "without"
                self.stdout.write(
                    f"-- round {round_number + 1}, {label} shots and appearances: "
                    f"{ours['shots']} shots, {ours['appearances']} appearances"
                )
                self.print_ours(ours, wall)
            if len(walls) == 2:
                costs.append(self.print_cost(walls[True], walls[False]))
        if len(costs) > 1:
            wall_costs, cpu_costs = zip(*costs, strict=True)
            self.stdout.write(
                f"shots and appearances cost over {len(costs)} rounds: median "
                f"{np.median(wall_costs):+.1f}% end to end, {np.median(cpu_costs):+.1f}% CPU time"
            )
        if not options["no_seed"]:
            self.run_seed(options, video, weights or "random", ours["frames"] / wall)
        if options["plain_loop"]:
            self.run_plain_comparison(options, video, env, manage, work)

    def print_cost(self, with_: tuple, without: tuple) -> tuple[float, float]:
        """One round's cost of shots and appearances, in % end to end and of CPU time."""
        (with_wall, with_run, with_cpu), (without_wall, without_run, without_cpu) = with_, without
        wall_cost, cpu_cost = (
            100 * (with_wall / without_wall - 1),
            100 * (with_cpu / without_cpu - 1),
        )
        self.stdout.write(
            f"shots and appearances cost: {wall_cost:+.1f}% end to end ({with_wall:.1f} s "
            f"against {without_wall:.1f} s), {100 * (with_run / without_run - 1):+.1f}% of the "
            f"ingest run, {cpu_cost:+.1f}% CPU time ({with_cpu:.1f} s against {without_cpu:.1f} s)"
        )
        return wall_cost, cpu_cost

    def run_plain_comparison(self, options, video, env, manage, work) -> None:
        """The product's ``manage.py ingest`` on a database of its own, then the plain loop,
        then the decode floor; one after the other, in this run."""
        from faces.detection import resolve_min_face
        from movies.bench import comparison
        from movies.video import probe_video

        info = probe_video(video)
        min_face_px = resolve_min_face(options["min_face"], info.height)
        env = {
            **env,
            "DATABASE_URL": f"sqlite:///{work / 'ingest.sqlite3'}",
            "MEDIA_ROOT": str(work / "ingest-media"),
        }
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True)  # noqa: S603
        self.stdout.write(
            f"-- plain loop comparison: {info.width}x{info.height}, {info.estimated_frames} "
            f"frames ({info.duration_seconds or 0:.1f} s), every {options['every']}th frame, "
            f"min face {options['min_face']:g} = {min_face_px} px, embedder {options['embedder']}"
        )
        try:
            product = comparison.run_product_ingest(
                manage, env, video, every=options["every"], min_face=options["min_face"],
                embedder=options["embedder"],
            )  # fmt: skip
            faces_file = work / "plain-faces.npz"
            plain = comparison.run_plain_loop(
                video, faces_file, every=options["every"], min_face_px=min_face_px
            )
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"product (manage.py ingest): {product.frames_sampled} sampled frames, "
            f"{product.faces} faces in {product.wall:.1f} s from process start to exit"
        )
        self.stdout.write(
            f"plain loop: {plain.frames_sampled} sampled frames, {plain.faces} faces in "
            f"{plain.wall:.1f} s from process start to exit (its loop "
            f"{plain.detail['loop_seconds']} s, imports and models "
            f"{plain.detail['load_seconds']} s)"
        )
        self.stdout.write(
            f"ratio: {plain.wall / product.wall:.2f}x the plain loop, start-up included "
            f"(CPU time: product {product.cpu:.1f} s, plain loop {plain.cpu:.1f} s)"
        )
        match = comparison.match_faces(
            env["DATABASE_URL"].removeprefix("sqlite:///"), video, faces_file
        )
        cosines = match.cosines
        similarity = (
            f"; cosine of their vectors min {cosines.min():.6f}, median {np.median(cosines):.6f}"
            if len(cosines)
            else ""
        )
        self.stdout.write(
            f"faces: product {match.product}, plain loop {match.plain}; {match.matched} of the "
            f"plain loop's matched a product face of the same frame (IoU > "
            f"{comparison.MATCH_IOU}, median {match.median_iou:.3f}){similarity}"
        )
        floor = comparison.decode_floor(video)
        pyav, opencv = floor["pyav_seconds"], floor["opencv_seconds"]
        self.stdout.write(
            f"decode floor ({floor['frames']} frames, nothing converted): PyAV {pyav:.1f} s = "
            f"{floor['frames'] / pyav:.0f} frames/s; OpenCV grab {opencv:.1f} s = "
            f"{floor['opencv_frames'] / opencv:.0f} frames/s; the product took "
            f"{product.wall:.1f} s = {info.estimated_frames / product.wall:.0f} frames/s end to end"
        )

    def run_ours(self, options, video, env, manage, work, with_appearances: bool):
        """One ingest in a child process, timed from its start to its exit."""
        report_path = work / f"child-{with_appearances}.json"
        child = [
            *manage, "bench_ingest", str(video), "--child-report", str(report_path),
            "--every", str(options["every"]), "--min-face", str(options["min_face"]),
            "--embedder", options["embedder"],
            "--appearances", "with" if with_appearances else "without",
        ]  # fmt: skip
        result, wall, cpu = timed_run(child, env)
        if result.returncode != 0 or not report_path.exists():
            raise CommandError(f"ingest failed: {(result.stderr or result.stdout).strip()[-500:]}")
        return {**json.loads(report_path.read_text()), "cpu_seconds": cpu}, wall

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
            f"(process start to exit) = {frames / wall:.2f} sampled frames/s; "
            f"{ours['cpu_seconds']:.1f} s of CPU"
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
        from movies.bench.forward_clocks import ForwardPassClocks

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
