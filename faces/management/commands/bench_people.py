"""``manage.py bench_people [--embedder dlib-resnet] [--hold 15] [--limit N] [--thresholds
0.85,0.88] [--keep]``: BCubed precision, recall and F of people on lfw_dev made into a video.
``--scale 100000,1000000`` times clustering synthetic appearances (no database); ``--assign
100000`` times assigning a new movie against a synthetic library (``faces.bench.assign``);
``--restore 10000`` times putting a rebuilt movie back with its people (``faces.bench.restore``;
``--restore-shift 25``: its timeline moved by 25 frames).

The video is ingested through ``movies.ingest.ingest_movie`` (appearances, then people by
``faces.people.assign_movie``) and then, for each of ``--thresholds``, re-clustered from
scratch with that threshold. It writes to the configured database: run it on a scratch one
(``DATABASE_URL=sqlite:////tmp/bench.sqlite3``, migrated), since the embedder's other
appearances would join the clustering. The movie is deleted afterwards unless ``--keep``.
Never a test: it runs the real networks and only reports.
"""

from __future__ import annotations

import dataclasses
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from faces import linking, people
from faces.bench import assign as bench_assign
from faces.bench import restore as bench_restore
from faces.bench import shared_data
from faces.bench.people import (
    bcubed,
    interleave,
    people_mixing,
    photo_video,
    predicted_people,
    synthetic_nodes,
)
from faces.calibration import labelled_photos
from faces.clustering import cluster
from faces.models import Appearance
from faces.recluster import recluster
from movies.ingest import ingest_movie
from movies.models import Movie
from movies.registration import register_movie
from movies.shots import MIN_SHOT_FRAMES


class Command(BaseCommand):
    help = "Measure people (BCubed P/R/F) on lfw_dev made into a video."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--embedder", default="dlib-resnet")
        parser.add_argument(
            "--hold",
            type=int,
            default=MIN_SHOT_FRAMES,
            help="frames each photo is shown (a shot's least length: each photo is a shot)",
        )
        parser.add_argument("--limit", type=int, help="first N photos only")
        parser.add_argument("--thresholds", default="", help="comma-separated, re-clustered")
        parser.add_argument("--min-faces", default="", help="comma-separated, with each threshold")
        parser.add_argument("--joins", default="", help="comma-separated join thresholds")
        parser.add_argument("--keep", action="store_true", help="keep the movie and people")
        parser.add_argument(
            "--movie", type=int, help="measure the video movie a --keep run left (no ingest)"
        )
        parser.add_argument(
            "--assign",
            default="",
            help="comma-separated library sizes: time assigning a new movie's 1,000 synthetic "
            "appearances against a library in people (writes to the database: a scratch one)",
        )
        parser.add_argument(
            "--restore",
            default="",
            help="comma-separated movie sizes (appearances): time putting a rebuilt movie's "
            "appearances back with their people (writes to the database: a scratch one)",
        )
        parser.add_argument(
            "--restore-shift",
            type=int,
            default=0,
            help="with --restore: the rebuilt movie's timeline moved by this many frames (at "
            "25 fps), as a re-encode that pads the start does",
        )
        parser.add_argument(
            "--scale",
            default="",
            help="comma-separated sizes: time clustering synthetic appearances (no database)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        embedder, hold = options["embedder"], options["hold"]
        if options["assign"]:
            for size in [int(n) for n in options["assign"].split(",") if n]:
                self.assign(size, embedder)
            return
        if options["restore"]:
            for size in [int(n) for n in options["restore"].split(",") if n]:
                try:
                    result = bench_restore.run(size, shift_frames=options["restore_shift"])
                except ValueError as error:
                    raise CommandError(f"--restore-shift: {error}") from error
                moved = (
                    f", timeline moved {result.shift_seconds:+.2f} s"
                    if result.shift_seconds
                    else ""
                )
                self.stdout.write(
                    f"restore{moved}: {result.appearances} appearances remembered in "
                    f"{result.remember_seconds:.2f} s, put back in {result.restore_seconds:.2f} s "
                    f"({result.restored} restored, {result.right} with their own person)"
                )
            return
        if options["scale"]:
            self.scale([int(n) for n in options["scale"].split(",") if n], embedder)
            return
        photos = interleave(labelled_photos(shared_data() / "lfw_dev"))
        if options["limit"]:
            photos = interleave(photos[: options["limit"]])
        truth = [person for person, _ in photos]
        with tempfile.TemporaryDirectory(prefix="bench_people_") as work:
            if options["movie"]:
                movie = Movie.objects.get(pk=options["movie"])
            else:
                movie = self.ingest(Path(work), photos, embedder, hold)
            params = people.params_for(embedder)
            self.report(f"as stored ({params})", movie.pk, photos, hold, truth)
            minima = [int(n) for n in options["min_faces"].split(",") if n] or [params.min_faces]
            joins = [float(n) for n in options["joins"].split(",") if n] or [params.join]
            sweep = [
                (float(text), least, join)
                for text in options["thresholds"].split(",")
                if text
                for least in minima
                for join in joins
            ]
            for threshold, least, join in sweep:
                chosen = dataclasses.replace(
                    params, threshold=threshold, min_faces=least, join=join, measured="sweep"
                )
                saved = people.MEASURED.get(embedder)
                people.MEASURED[embedder] = chosen
                try:
                    recluster(embedder, from_scratch=True)
                finally:
                    if saved is None:
                        people.MEASURED.pop(embedder)
                    else:
                        people.MEASURED[embedder] = saved
                label = f"threshold {threshold:.4f}, min faces {least}, join {join}"
                self.report(label, movie.pk, photos, hold, truth)
            if not options["keep"]:
                movie.delete()
                people.prune_empty()

    def assign(self, library: int, embedder: str) -> None:
        if Appearance.objects.filter(embedder=embedder).exists():
            raise CommandError(
                f"the database already holds {embedder} appearances: run this on a scratch "
                "database (DATABASE_URL=sqlite:////tmp/bench.sqlite3, migrated)"
            )
        result = bench_assign.run(library, embedder)
        self.stdout.write(
            f"library of {result.library} appearances in people (built in "
            f"{result.build_seconds:.0f} s): a new movie's 1000 appearances assigned in "
            f"{result.assign_seconds:.2f} s ({result.assigned} in people, {result.created} new "
            f"people; {result.stars_right} of {result.stars_seen} appearances of recurring "
            "stars joined their star)"
        )

    def scale(self, sizes: list[int], embedder: str) -> None:
        params = people.params_for(embedder)
        for size in sizes:
            nodes, labels = synthetic_nodes(size)
            started = time.monotonic()
            groups = cluster(nodes, params.threshold)
            seconds = time.monotonic() - started
            predicted: list[int | None] = [None] * size
            for number, group in enumerate(groups):
                if nodes.faces[group].sum() >= params.min_faces:
                    for node in group:
                        predicted[node] = number
            precision, recall, f = bcubed(predicted, [str(label) for label in labels])
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
            self.stdout.write(
                f"{size} synthetic appearances: clustered in {seconds:.1f} s "
                f"({len(groups)} groups); BCubed P {precision:.4f} R {recall:.4f} F {f:.4f}; "
                f"peak memory {peak:.1f} GB"
            )
            if size > linking.EXACT_LIMIT:
                means = nodes.sums / nodes.counts[:, None]
                self.stdout.write(
                    f"  links from the IVF index: recall "
                    f"{linking.recall(means, params.threshold):.4f} "
                    "of the exact search's links on 2000 sampled appearances"
                )

    def ingest(self, work: Path, photos: list, embedder: str, hold: int) -> Movie:
        if Appearance.objects.filter(embedder=embedder).exists():
            raise CommandError(
                f"the database already holds {embedder} appearances: run this on a scratch "
                "database (DATABASE_URL=sqlite:////tmp/bench.sqlite3, migrated)"
            )
        video = photo_video(work / "lfw_dev.mp4", photos, hold)
        movie, _ = register_movie(
            path=video, title="lfw_dev video", sample_every=hold, embedder=embedder
        )
        started = time.monotonic()
        report = ingest_movie(movie.pk)
        if report.status != "done":
            raise CommandError(f"ingest failed: {report.message}")
        self.stdout.write(
            f"{len(photos)} photos of {len({p for p, _ in photos})} people, each held {hold} "
            f"frames; ingested every {hold}th frame in {time.monotonic() - started:.0f} s: "
            f"{report.message} (movie {movie.pk})"
        )
        return movie

    def report(self, label: str, movie_id: int, photos: list, hold: int, truth: list) -> None:
        predicted = predicted_people(movie_id, len(photos), hold)
        precision, recall, f = bcubed(predicted, truth)
        assigned = sum(p is not None for p in predicted)
        self.stdout.write(
            f"  {label}: BCubed P {precision:.4f} R {recall:.4f} F {f:.4f}; "
            f"{len({p for p in predicted if p is not None})} people, {assigned} of "
            f"{len(photos)} photos assigned, {people_mixing(predicted, truth)} people mixing "
            "two labels"
        )
