"""``manage.py appearances rebuild [--movie ID]`` and ``appearances list --movie ID [--json]``.

``rebuild`` gives movies stored before appearances existed (or all done movies) their shots and
appearances from their stored faces and their video (``faces.rebuild``); ``list`` prints a
movie's appearances, the items of ``GET /api/movies/<id>/appearances/`` (``--json``: one array,
not paged).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from faces.listing import appearance_item, appearances_of
from faces.rebuild import RebuildError, rebuild_appearances
from movies.display import hms
from movies.models import Movie


class Command(BaseCommand):
    help = "Rebuild or list the appearances of movies."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        rebuild = actions.add_parser("rebuild", help="shots and appearances from stored faces")
        rebuild.add_argument("--movie", type=int, help="one movie (default: every done movie)")
        listing = actions.add_parser("list", help="a movie's appearances in time order")
        listing.add_argument("--movie", type=int, required=True)
        listing.add_argument("--json", action="store_true", help="one JSON array")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "rebuild":
            self.rebuild(options["movie"])
        else:
            self.list(options["movie"], as_json=options["json"])

    def rebuild(self, movie_id: int | None) -> None:
        if movie_id is not None:
            movies = list(Movie.objects.filter(pk=movie_id))
            if not movies:
                raise CommandError(f"There is no movie {movie_id}.")
        else:
            movies = list(Movie.objects.filter(status=Movie.Status.DONE).order_by("pk"))
        failed = 0
        for movie in movies:
            try:
                report = rebuild_appearances(movie.pk)
            except RebuildError as error:
                failed += 1
                self.stderr.write(f"movie {movie.pk}: {error}")
                continue
            self.stdout.write(f"movie {movie.pk}: {report.message}")
        if failed:
            raise CommandError(f"{failed} of {len(movies)} movies were not rebuilt")

    def list(self, movie_id: int, *, as_json: bool) -> None:
        if not Movie.objects.filter(pk=movie_id).exists():
            raise CommandError(f"There is no movie {movie_id}.")
        items = [appearance_item(appearance) for appearance in appearances_of(movie_id)]
        if as_json:
            self.stdout.write(json.dumps(items, indent=2))
            return
        if not items:
            self.stdout.write(f"movie {movie_id} has no appearances (appearances rebuild?)")
        for item in items:
            self.stdout.write(
                f"{item['id']:>6}  shot {item['shot_index']:>3}  "
                f"{hms(item['start_seconds'], 1)}-{hms(item['end_seconds'], 1)}  "
                f"frames {item['first_frame_index']}-{item['last_frame_index']}  "
                f"{item['face_count']} faces  representative face {item['representative_face_id']}"
            )
