"""``manage.py people cluster [--embedder NAME] [--from-scratch] [--queue]``, ``people list
[--json] [--q NAME] [--named true|false] [--hidden false|true|any]`` and ``people show ID
[--json]``.

``cluster`` re-clusters unnamed people (``faces.recluster.recluster``; ``--queue`` runs it on a
worker, ``faces.jobs``); ``list`` and ``show`` print the items of ``GET /api/people/`` and
``GET /api/people/<id>/`` (``--json``: the same JSON, the list as one array, not paged).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from faces.embedders import EMBEDDER_NAMES
from faces.jobs import enqueue_cluster
from faces.locks import PeopleBusy
from faces.people import embedders_with_appearances
from faces.people_listing import PeopleFilters, people, person_detail, person_items, with_counts
from faces.recluster import recluster
from movies.display import hms
from movies.errors import QueueUnavailable


class Command(BaseCommand):
    help = "Re-cluster, list or show people."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        clustering = actions.add_parser("cluster", help="rebuild unnamed people")
        clustering.add_argument("--embedder", choices=EMBEDDER_NAMES)
        clustering.add_argument(
            "--from-scratch", action="store_true", help="new ids for every unnamed person"
        )
        clustering.add_argument("--queue", action="store_true", help="run it on a worker")
        listing = actions.add_parser("list", help="people, most screen time first")
        listing.add_argument("--json", action="store_true")
        listing.add_argument("--q", default="", help="part of a name")
        listing.add_argument("--named", default="", help="true, false or empty (both)")
        listing.add_argument("--hidden", default="false", help="false (default), true or any")
        show = actions.add_parser("show", help="one person and their appearances by movie")
        show.add_argument("id", type=int)
        show.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, options["action"])(options)

    def cluster(self, options: dict) -> None:
        embedder = options["embedder"]
        if options["queue"]:
            try:
                job_id = enqueue_cluster(embedder, from_scratch=options["from_scratch"])
            except QueueUnavailable as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"queued {job_id} (run: manage.py rqworker ingest)")
            return
        names = [embedder] if embedder else embedders_with_appearances()
        if not names:
            self.stdout.write("no appearances yet: nothing to cluster")
        for name in names:
            try:
                self.stdout.write(recluster(name, from_scratch=options["from_scratch"]).message)
            except PeopleBusy as busy:
                raise CommandError(f"{busy}: try again when it is done") from busy

    def list(self, options: dict) -> None:
        form = PeopleFilters(
            {"q": options["q"], "named": options["named"], "hidden": options["hidden"]}
        )
        if not form.is_valid():
            problems = "; ".join(f"--{name}: {' '.join(m)}" for name, m in form.errors.items())
            raise CommandError(problems)
        items = person_items(list(people(**form.values())))
        if options["json"]:
            self.stdout.write(json.dumps(items, indent=2))
            return
        if not items:
            self.stdout.write("no people")
        for item in items:
            self.stdout.write(
                f"{item['id']:>6}  {item['name'] or '(unnamed)':<30}  "
                f"{hms(item['screen_seconds'])} on screen  {item['movie_count']} movies  "
                f"{item['appearance_count']} appearances{'  hidden' if item['hidden'] else ''}"
            )

    def show(self, options: dict) -> None:
        person = with_counts(options["id"])
        if person is None:
            raise CommandError(f"There is no person {options['id']}.")
        detail = person_detail(person)
        if options["json"]:
            self.stdout.write(json.dumps(detail, indent=2))
            return
        self.stdout.write(
            f"{detail['id']}: {detail['name'] or '(unnamed)'}, {hms(detail['screen_seconds'])} "
            f"on screen, {detail['appearance_count']} appearances "
            f"({', '.join(detail['embedders'])})"
        )
        for movie in detail["movies"]:
            self.stdout.write(f"  {movie['title']} (movie {movie['movie_id']})")
            for item in movie["appearances"]:
                self.stdout.write(
                    f"    {item['id']:>6}  {hms(item['start_seconds'], 1)}-"
                    f"{hms(item['end_seconds'], 1)}  shot {item['shot_index']}  "
                    f"{item['face_count']} faces"
                )
