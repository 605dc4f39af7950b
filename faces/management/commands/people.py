"""``manage.py people cluster [--embedder NAME] [--from-scratch] [--queue]``, ``people list
[--json] [--q NAME] [--named true|false] [--hidden false|true|any]`` and ``people show ID
[--json]``; corrections: ``people name ID NAME``, ``people merge ID OTHER_ID [--name NAME]``,
``people hidden ID true|false``, ``people undo CORRECTION_ID`` and ``people history ID
[--json]``.

``cluster`` re-clusters unnamed people (``faces.recluster.recluster``; ``--queue`` runs it on a
worker, ``faces.jobs``); ``list`` and ``show`` print the items of ``GET /api/people/`` and
``GET /api/people/<id>/`` (``--json``: the same JSON, the list as one array, not paged).

The corrections go through ``faces.corrections`` (recorded ``via="command"``, by no user); a
refusal is a CommandError with its message, and ``history --json`` prints the
items of ``GET /api/people/<id>/corrections/`` as one array.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from faces import correction_history, corrections
from faces.correction_listing import correction_items
from faces.embedders import EMBEDDER_NAMES
from faces.jobs import enqueue_cluster
from faces.locks import PeopleBusy
from faces.models import Correction, Person
from faces.people import embedders_with_appearances
from faces.people_listing import PeopleFilters, people, person_detail, person_items, with_counts
from faces.recluster import recluster
from movies.display import hms
from movies.errors import QueueUnavailable


class Command(BaseCommand):
    help = "Re-cluster, list, show or correct people."

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
        naming = actions.add_parser("name", help="name or rename someone ('' leaves unnamed)")
        naming.add_argument("id", type=int)
        naming.add_argument("name")
        merging = actions.add_parser("merge", help="the second person joins the first")
        merging.add_argument("id", type=int)
        merging.add_argument("other", type=int)
        merging.add_argument("--name", help="the name to keep when both are named")
        hiding = actions.add_parser("hidden", help="hide someone (true) or show them (false)")
        hiding.add_argument("id", type=int)
        hiding.add_argument("hidden", choices=["true", "false"])
        undoing = actions.add_parser("undo", help="undo a correction (the latest of its people)")
        undoing.add_argument("correction", type=int)
        past = actions.add_parser("history", help="a person's corrections, newest first")
        past.add_argument("id", type=int)
        past.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, options["action"])(options)
        except corrections.CorrectionRefused as refused:
            raise CommandError(str(refused)) from refused

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
        asked = Person.objects.filter(pk=options["id"]).first()
        person = with_counts(asked.survivor().pk) if asked else None  # a merged person: survivor
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

    # --- corrections ---------------------------------------------------------------------------

    def name(self, options: dict) -> None:
        self._done(corrections.rename(_person(options["id"]), options["name"], via="command"))

    def merge(self, options: dict) -> None:
        survivor, other = _person(options["id"]), _person(options["other"])
        self._done(corrections.merge(survivor, other, name=options["name"], via="command"))

    def hidden(self, options: dict) -> None:
        hidden = options["hidden"] == "true"
        self._done(corrections.set_hidden(_person(options["id"]), hidden, via="command"))

    def undo(self, options: dict) -> None:
        correction = Correction.objects.filter(pk=options["correction"]).first()
        if correction is None:
            raise CommandError(f"There is no correction {options['correction']}.")
        correction_history.undo(correction, via="command")
        self.stdout.write(f"undone {correction.pk}: {correction.summary}")

    def history(self, options: dict) -> None:
        items = correction_items(
            list(correction_history.history(_person(options["id"]).survivor()))
        )
        if options["json"]:
            self.stdout.write(json.dumps(items, indent=2))
            return
        if not items:
            self.stdout.write("no corrections")
        for item in items:
            who = item["user"] or f"({item['via']})"
            undone = f"  undone {item['undone_at'][:19]}" if item["undone_at"] else ""
            self.stdout.write(
                f"{item['id']:>6}  {item['created_at'][:19]}  {who:<12}  {item['summary']}{undone}"
            )

    def _done(self, correction: Correction) -> None:
        self.stdout.write(f"correction {correction.pk}: {correction.summary}")


def _person(person_id: int) -> Person:
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise CommandError(f"There is no person {person_id}.")
    return person
