"""``python manage.py bench_search``: search latency, recall and page time at 10k-1M faces.

Measures the embedded default the way the site uses it. Synthetic face-like vectors
(``search.synthetic``) are written as real Movie/Frame/Face rows into a scratch SQLite database
under ``var/bench/`` (never the dev database), so loading from the table and the per-query
fingerprint check are part of what is timed. For each size:

- build: a fresh process state's first search with no index files (load every vector from
  SQLite, train and fill the IVF index, write the files under ``var/bench/search-index``; the
  writing alone is "write s");
- search p50/p95: ``search_by_face(id, k=20)`` for random stored faces, the service call that
  the results page makes (fingerprint check, query vector, top 20, exact re-scoring, duplicate
  grouping);
- recall@20 against ``exact=True`` (a full exact scan) for the same queries, and a check that
  every shown score equals the exact one;
- page p50/p95: the logged-in results page ``/search/face/<id>/`` through the test client;
- the next search after a movie of 10k faces was added, and after one was deleted (both in a
  transaction that is rolled back, so the scratch database keeps its faces).

Then restarts, each in fresh child processes started by this command (``--restarts`` rounds):

- from files: a web process started after the files exist: its first search (the call, and the
  wall time from spawning the process to the answer), p50/p95 of its next searches, and its
  memory after them from ``/proc/<pid>/smaps_rollup``: RSS, PSS, the anonymous (private) part
  and the file-backed part, which lives once in the page cache for every process; a second such
  process is measured while the first still runs;
- in memory (unless ``--no-in-memory``): the same with ``FACEFINDER_SEARCH_INDEX_DIR`` empty,
  i.e. a process that loads the table itself, once per size.

Sizes grow in one database (10k, then 90k more, ...); ``--reuse`` keeps a database built
earlier with the same profile and seed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from faces.models import Face, pack_vector
from movies.models import Frame, Movie
from movies.storage import frame_image_path
from search.backends import forget_cached_vectors, get_backend
from search.backends.embedded import EmbeddedBackend
from search.services import search_by_face
from search.synthetic import PROFILES, movie_chunks

BENCH_DIR = Path(settings.VAR_DIR) / "bench"
INDEX_DIR = BENCH_DIR / "search-index"
FACES_PER_MOVIE = 10_000
MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


class Command(BaseCommand):
    help = "Benchmark the embedded search backend on synthetic face-like vectors."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes",
            default="10000,100000,1000000",
            help="comma-separated face counts (ascending)",
        )
        parser.add_argument("--profile", choices=sorted(PROFILES), default="facenet-vggface2")
        parser.add_argument("--queries", type=int, default=200, help="searches per size")
        parser.add_argument("--page-queries", type=int, default=40, help="pages per size")
        parser.add_argument("--restarts", type=int, default=3, help="restart rounds per size")
        parser.add_argument(
            "--no-in-memory",
            action="store_true",
            help="skip the process that loads the table without index files",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--database",
            type=Path,
            default=None,
            help="scratch SQLite file (default var/bench/search-<profile>.sqlite3)",
        )
        parser.add_argument(
            "--reuse", action="store_true", help="keep faces already in the scratch database"
        )
        # A child process of this command: one restarted web process (see ``_restart_probe``).
        parser.add_argument("--restart-probe", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--spawned-at", type=float, default=0.0, help=argparse.SUPPRESS)
        parser.add_argument("--query-ids", default="", help=argparse.SUPPRESS)

    def handle(self, *args, **options) -> None:
        profile_name = options["profile"]
        path = options["database"] or BENCH_DIR / f"search-{profile_name}.sqlite3"
        if options["restart_probe"]:
            self._restart_probe(path, profile_name, options)
            return
        sizes = sorted({int(size) for size in options["sizes"].split(",")})
        self._use_scratch_database(path, fresh=not options["reuse"])
        settings.FACEFINDER_SEARCH_INDEX_DIR = str(INDEX_DIR)
        self.stdout.write(
            f"bench_search: {profile_name} ({PROFILES[profile_name].dimension}-d), "
            f"database {path}, exact scan up to {settings.FACEFINDER_SEARCH_EXACT_MAX_FACES} "
            f"faces, index files in {INDEX_DIR}"
        )
        rng = random.Random(options["seed"])
        for size in sizes:
            stored = Face.objects.filter(embedder=profile_name).count()
            if stored > size:
                self.stdout.write(f"{size:>9} skipped: the database already holds {stored} faces")
                continue
            self._fill(size, profile_name, options["seed"])
            row = self._measure(size, profile_name, options, rng)
            self.stdout.write(
                f"{'faces':>9} {'build s':>8} {'write s':>8} {'p50 ms':>7} {'p95 ms':>7} "
                f"{'recall@20':>9} {'exact p50':>9} {'page p50':>8} {'page p95':>8}"
            )
            self.stdout.write(
                f"{size:>9} {row['build']:>8.2f} {row['write']:>8.2f} {row['p50']:>7.2f} "
                f"{row['p95']:>7.2f} {row['recall']:>9.4f} {row['exact_p50']:>9.1f} "
                f"{row['page_p50']:>8} {row['page_p95']:>8}"
            )
            self.stdout.write(self._measure_changes(profile_name, options["seed"]))
            self.stdout.flush()
            self._report_restarts(path, profile_name, options)

    # --- database ------------------------------------------------------------------------------

    def _use_scratch_database(self, path: Path, *, fresh: bool) -> None:
        """Point the default connection at a scratch SQLite file and migrate it."""
        if connection.vendor != "sqlite":
            raise CommandError(
                "bench_search measures the embedded default on SQLite; "
                "run it without a DATABASE_URL for another database."
            )
        dev_database = Path(connection.settings_dict["NAME"]).resolve()
        path = path.resolve()
        if path == dev_database:
            raise CommandError(f"{path} is the configured database; choose a scratch file.")
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        connection.close()
        connection.settings_dict["NAME"] = str(path)
        call_command("migrate", verbosity=0, interactive=False)
        forget_cached_vectors()

    def _fill(self, size: int, profile_name: str, seed: int) -> None:
        """Insert faces until the database holds ``size`` (movie by movie, deterministic)."""
        have = Face.objects.filter(embedder=profile_name).count()
        if have >= size:
            return
        started = time.perf_counter()
        chunks = movie_chunks(
            size, PROFILES[profile_name], faces_per_movie=FACES_PER_MOVIE, seed=seed
        )
        made = 0
        for number, (frames, vectors) in enumerate(chunks):
            if made + len(vectors) > have:
                skip = max(0, have - made)
                self._insert_movie(number, frames[skip:], vectors[skip:], profile_name)
            made += len(vectors)
        self.stderr.write(
            f"  inserted {size - have} faces in {time.perf_counter() - started:.0f} s"
        )

    @transaction.atomic
    def _insert_movie(
        self, number: int, frames: np.ndarray, vectors: np.ndarray, profile_name: str
    ) -> None:
        movie, _ = Movie.objects.get_or_create(
            title=f"Synthetic {number:04d}",
            defaults={
                "file_name": f"synthetic_{number:04d}.mp4",
                "fps": 25.0,
                "width": 1280,
                "height": 720,
                "embedder": profile_name,
                "status": Movie.Status.DONE,
            },
        )
        frame_numbers = sorted(set(frames.tolist()))
        existing = set(Frame.objects.filter(movie=movie).values_list("index", flat=True))
        frame_table = connection.ops.quote_name(Frame._meta.db_table)
        face_table = connection.ops.quote_name(Face._meta.db_table)
        # Raw executemany with bound parameters: the ORM's bulk_create spends minutes building
        # a million model instances, which is set-up, not what this command measures.
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {frame_table} (movie_id, {connection.ops.quote_name('index')},"  # noqa: S608
                " timestamp, width, height, image, thumbnail) VALUES (%s, %s, %s, %s, %s, %s, '')",
                [
                    (movie.pk, n * 25, float(n), 1280, 720, frame_image_path(movie.pk, n * 25))
                    for n in frame_numbers
                    if n * 25 not in existing
                ],
            )
            frame_ids = dict(Frame.objects.filter(movie=movie).values_list("index", "id"))
            # A movie filled part-way by an earlier, smaller size continues its numbering.
            face_number = {
                index // 25: count
                for index, count in Face.objects.filter(movie=movie)
                .values_list("frame_index")
                .annotate(count=Count("id"))
                .order_by()
            }
            rows = []
            for frame, vector in zip(frames.tolist(), vectors, strict=True):
                face_index = face_number.get(frame, 0)
                face_number[frame] = face_index + 1
                rows.append(
                    (
                        movie.pk,
                        frame_ids[frame * 25],
                        frame * 25,
                        face_index,
                        profile_name,
                        pack_vector(vector),
                    )
                )
            cursor.executemany(
                f"INSERT INTO {face_table} (movie_id, frame_id, frame_index, face_index, x1, y1,"  # noqa: S608
                " x2, y2, probability, landmarks, embedder, embedding, thumbnail)"
                " VALUES (%s, %s, %s, %s, 100, 80, 260, 280, 0.999, '[]', %s, %s, '')",
                rows,
            )

    # --- measuring -----------------------------------------------------------------------------

    def _measure(self, size: int, profile_name: str, options: dict, rng: random.Random) -> dict:
        forget_cached_vectors()
        shutil.rmtree(INDEX_DIR, ignore_errors=True)  # the build starts from the table
        gc.collect()
        face_ids = list(
            Face.objects.filter(embedder=profile_name).values_list("id", flat=True)[:size]
        )
        queries = rng.sample(face_ids, min(options["queries"], len(face_ids)))
        started = time.perf_counter()
        search_by_face(queries[0])
        build = time.perf_counter() - started
        backend = get_backend()
        assert isinstance(backend, EmbeddedBackend)
        write = backend.collection(profile_name).last_write_seconds

        # The searches first, then the exact scans: interleaved, every 2 GB scan (at 1M) would
        # flush the caches the next search runs in, which no web process sees.
        results, latencies, recalls, exact_latencies = [], [], [], []
        for face_id in queries:
            started = time.perf_counter()
            results.append(search_by_face(face_id, k=20))
            latencies.append(time.perf_counter() - started)
        for face_id, result in zip(queries, results, strict=True):
            started = time.perf_counter()
            exact = search_by_face(face_id, k=20, exact=True)
            exact_latencies.append(time.perf_counter() - started)
            exact_scores = {hit.face_id: hit.score for hit in exact.hits}
            shown = {hit.face_id: hit.score for hit in result.hits}
            recalls.append(len(shown.keys() & exact_scores.keys()) / len(exact_scores))
            for face, score in shown.items():
                if face in exact_scores and exact_scores[face] != score:
                    raise CommandError(f"face {face}: score {score} != exact {exact_scores[face]}")
        page = self._page_times(queries[: options["page_queries"]])
        return {
            "build": build,
            "write": write,
            "p50": np.percentile(latencies, 50) * 1000,
            "p95": np.percentile(latencies, 95) * 1000,
            "recall": float(np.mean(recalls)),
            "exact_p50": np.percentile(exact_latencies, 50) * 1000,
            "page_p50": page[0],
            "page_p95": page[1],
        }

    def _measure_changes(self, profile_name: str, seed: int) -> str:
        """The next search after an ingest and after a movie's deletion, both rolled back.

        Inside a transaction nothing is written to the index files, so this times the work every
        process does by itself: load the new rows into its tail; find the deleted rows by
        per-movie counts and mark them as tombstones.
        """
        times = []
        with transaction.atomic():
            frames, vectors = next(
                movie_chunks(FACES_PER_MOVIE, PROFILES[profile_name], seed=seed + 7)
            )
            self._insert_movie(99_999, frames, vectors, profile_name)
            face = Face.objects.filter(movie__title="Synthetic 99999").order_by("id").first()
            times.append(_timed(search_by_face, face.pk))
            Movie.objects.filter(title="Synthetic 0000").delete()
            times.append(_timed(search_by_face, face.pk))
            transaction.set_rollback(True)
        forget_cached_vectors()  # the rolled-back rows are gone again: start from the files
        return (
            f"  next search after {FACES_PER_MOVIE} faces were added: {times[0]:.2f} s; "
            f"after a movie of {FACES_PER_MOVIE} faces was deleted: {times[1]:.2f} s"
        )

    def _page_times(self, face_ids: list[int]) -> tuple[str, str]:
        """p50/p95 of the logged-in results page."""
        from django.contrib.auth import get_user_model

        user, _ = get_user_model().objects.get_or_create(username="bench")
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        times = []
        for face_id in face_ids:
            started = time.perf_counter()
            response = client.get(reverse("search:face", args=[face_id]))
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise CommandError(f"results page for face {face_id}: {response.status_code}")
        return (
            f"{np.percentile(times, 50) * 1000:.1f}",
            f"{np.percentile(times, 95) * 1000:.1f}",
        )

    # --- restarts ------------------------------------------------------------------------------

    def _report_restarts(self, path: Path, profile_name: str, options: dict) -> None:
        """Fresh processes after the files exist (two at a time), and one without files."""
        face_ids = Face.objects.filter(embedder=profile_name).values_list("id", flat=True)
        queries = random.Random(options["seed"] + 1).sample(list(face_ids), options["queries"] + 1)
        options = {**options, "query_ids": ",".join(map(str, queries))}
        rounds: dict[str, list[dict]] = {"first": [], "second": []}
        for _ in range(options["restarts"]):
            first = self._spawn_probe(path, profile_name, options, index_dir=INDEX_DIR)
            second = self._spawn_probe(path, profile_name, options, index_dir=INDEX_DIR)
            for name, child in (("first", first), ("second", second)):
                rounds[name].append(child["report"])
            for child in (first, second):
                child["process"].communicate("exit\n", timeout=60)
        lines = [
            ("from files, first process", rounds["first"]),
            ("from files, second process", rounds["second"]),
        ]
        if not options["no_in_memory"]:
            child = self._spawn_probe(path, profile_name, options, index_dir="")
            child["process"].communicate("exit\n", timeout=60)
            lines.append(("in memory (no index files)", [child["report"]]))
        self.stdout.write(
            f"  {'restarted process':<30} {'first s':>16} {'spawn-answer s':>16} "
            f"{'p50 ms':>6} {'p95 ms':>6} {'RSS MB':>7} {'PSS MB':>7} {'anon MB':>7} "
            f"{'file MB':>7}"
        )
        for label, reports in lines:
            self.stdout.write(
                f"  {label:<30} {_spread(reports, 'first_search'):>16} "
                f"{_spread(reports, 'spawn_to_answer'):>16} "
                f"{np.median([r['p50'] for r in reports]):>6.2f} "
                f"{np.median([r['p95'] for r in reports]):>6.2f} "
                + " ".join(
                    f"{np.median([r['memory'][field] for r in reports]):>7.0f}"
                    for field in ("rss", "pss", "anonymous", "file")
                )
            )
        self.stdout.write(
            f"  ({options['restarts']} rounds: median [min-max]; memory after "
            f"{options['queries']} searches, the second process measured while the first runs)"
        )
        self.stdout.flush()

    def _spawn_probe(self, path: Path, profile_name: str, options: dict, *, index_dir) -> dict:
        """Start one restarted process; returns once it reported (it then waits for "exit")."""
        environment = {**os.environ, "FACEFINDER_SEARCH_INDEX_DIR": str(index_dir)}
        command = [
            sys.executable, str(MANAGE_PY), "bench_search", "--restart-probe",
            "--database", str(path), "--profile", profile_name,
            "--query-ids", options["query_ids"], "--spawned-at", str(time.time()),
        ]  # fmt: skip
        process = subprocess.Popen(  # noqa: S603 (this command itself, no shell)
            command, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=60)
            raise CommandError(f"the restarted process failed (exit {process.returncode})")
        return {"process": process, "report": json.loads(line)}

    def _restart_probe(self, path: Path, profile_name: str, options: dict) -> None:
        """In the child: first search, more searches, memory; report, then wait to be told."""
        ready = time.time()
        connection.settings_dict["NAME"] = str(path.resolve())
        queries = [int(face_id) for face_id in options["query_ids"].split(",")]
        started = time.perf_counter()
        search_by_face(queries[0])
        first_search = time.perf_counter() - started
        answered = time.time()
        latencies = []
        for face_id in queries[1:]:
            started = time.perf_counter()
            search_by_face(face_id, k=20)
            latencies.append(time.perf_counter() - started)
        report = {
            "first_search": first_search,
            "spawn_to_answer": answered - options["spawned_at"],
            "setup": ready - options["spawned_at"],
            "p50": float(np.percentile(latencies, 50) * 1000),
            "p95": float(np.percentile(latencies, 95) * 1000),
            "memory": _memory(),
        }
        self.stdout.write(json.dumps(report))
        self.stdout.flush()
        sys.stdin.readline()


def _timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def _memory() -> dict[str, float]:
    """This process's memory in MB: RSS, PSS, its anonymous (private) part, the file-backed rest."""
    fields = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return {
        "rss": fields["Rss"],
        "pss": fields["Pss"],
        "anonymous": fields["Anonymous"],
        "file": fields["Rss"] - fields["Anonymous"],
    }


def _spread(reports: list[dict], field: str) -> str:
    values = [report[field] for report in reports]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"
