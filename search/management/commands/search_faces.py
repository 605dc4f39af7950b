"""``python manage.py search_faces``: the ranked results of a face, appearance or photo search,
by appearance (the default) or by near-duplicate group.

    manage.py search_faces --face ID [--k N] [--movie ID] [--min-score X] [--group G] [--json]
    manage.py search_faces --appearance ID [...]
    manage.py search_faces --image PATH [--face-index N] [--embedder NAME] [...]

Runs the search the way the results pages and the JSON API do (``search.queries``); a photo
goes through the same checks and face pipeline as a photo uploaded on the site
(``search.photos``). ``--json`` prints the API's hit shape (README, "JSON API"), with site
paths where the API has absolute URLs: a command has no request to take a host from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from faces.models import unpack_vector
from movies.models import Movie
from search import services
from search.appearance_cards import AppearanceCard
from search.photos import PhotoRejected, analyse_photo, read_photo
from search.presentation import GroupCard
from search.queries import (
    Answer,
    ImageFileQuery,
    QueryNotFound,
    appearance_query,
    face_query,
    run,
)
from search.services import DEFAULT_K, GROUPINGS, SearchError, check_filters


class Command(BaseCommand):
    help = (
        "Search for the faces most similar to a stored face (--face) or to a face in a photo "
        "(--image) and print the ranked duplicate groups."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        query = parser.add_mutually_exclusive_group(required=True)
        query.add_argument("--face", type=int, metavar="ID", help="id of a stored face")
        query.add_argument("--image", type=Path, metavar="PATH", help="a photo with a face")
        query.add_argument(
            "--appearance", type=int, metavar="ID", help="a stored appearance (its mean vector)"
        )
        parser.add_argument(
            "--face-index",
            type=int,
            metavar="N",
            help="which face of the photo, numbered from 1 left to right (default: the largest)",
        )
        parser.add_argument(
            "--embedder",
            default=None,
            help="embedder for --image (default: FACEFINDER_EMBEDDER)",
        )
        parser.add_argument("--k", type=int, default=DEFAULT_K, help="number of results")
        parser.add_argument("--movie", type=int, metavar="ID", help="only faces of this movie")
        parser.add_argument("--min-score", type=float, metavar="X", help="lowest similarity")
        parser.add_argument("--exact", action="store_true", help="force an exact scan")
        parser.add_argument(
            "--group",
            choices=GROUPINGS,
            default=None,
            help=f"by appearance or near-duplicate group (default {services.DEFAULT_GROUP})",
        )
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **options) -> None:
        try:  # the arguments first, before any face or photo is looked at
            check_filters(options["k"], options["min_score"])
        except SearchError as error:
            raise CommandError(str(error)) from error
        if options["movie"] is not None and not Movie.objects.filter(pk=options["movie"]).exists():
            raise CommandError(f"There is no movie {options['movie']}.")
        filters = {
            "k": options["k"],
            "movie_id": options["movie"],
            "min_score": options["min_score"],
            "exact": options["exact"],
            "group": options["group"] or services.DEFAULT_GROUP,
        }
        if options["appearance"] is not None:
            try:
                query = appearance_query(options["appearance"])
            except QueryNotFound as error:
                raise CommandError(str(error)) from error
        elif options["face"] is not None:
            try:
                query = face_query(options["face"])
            except QueryNotFound as error:
                raise CommandError(str(error)) from error
        else:
            embedder = options["embedder"] or settings.FACEFINDER_EMBEDDER
            query = self._photo_face(options["image"], embedder, options["face_index"])
        answer = run(query, filters)
        if answer.result is None:
            raise CommandError(answer.error)
        groups = answer.cards(answer.result.entries)
        if options["json"]:
            # No request, so no host: URLs are site paths (/media/..., /frames/<id>/).
            document = {**answer.summary_json(), "results": [group.as_json() for group in groups]}
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self._print(answer, groups)

    def _photo_face(self, path: Path, embedder: str, face_number: int | None) -> ImageFileQuery:
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            with path.open("rb") as handle:
                image_rgb = read_photo(File(handle, name=path.name))
            faces, packed, _detected = analyse_photo(image_rgb, embedder)
        except PhotoRejected as error:
            raise CommandError(f"{path}: {error.reason}") from error
        vectors = unpack_vector(packed).reshape(len(faces), -1)
        if face_number is None:
            areas = [(f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]) for f in faces]
            chosen = int(np.argmax(areas))
        elif 1 <= face_number <= len(faces):
            chosen = face_number - 1
        else:
            raise CommandError(
                f"{path} has {len(faces)} face(s); --face-index must be between 1 and {len(faces)}."
            )
        boxes = [list(face["box"]) for face in faces]
        return ImageFileQuery(path, embedder, boxes, chosen, vectors[chosen])

    def _print(self, answer: Answer, groups: list[GroupCard] | list[AppearanceCard]) -> None:
        query, result = answer.query, answer.result
        if isinstance(query, ImageFileQuery):
            self.stdout.write(
                f"Query: face {query.face_index + 1} of {len(query.boxes)} in {query.path} "
                f"(box {query.boxes[query.face_index]}), {result.embedder}"
            )
        else:
            self.stdout.write(f"Query: face {result.query_face_id}, {result.embedder}")
        if answer.empty_reason:
            self.stdout.write(answer.empty_reason)
            return
        if result.group == "appearance":
            self._print_appearances(answer, groups)
            return
        self.stdout.write(f"{len(result.hits)} results in {len(result.groups)} groups\n")
        self.stdout.write(
            f"{'#':>3}  {'face':>8}  {'score':>7}  {'movie':<24} {'frame':>7}  "
            f"{'time':>8}  duplicates"
        )
        for rank, group in enumerate(groups, start=1):
            card = group.leader
            duplicates = ", ".join(str(d.face_id) for d in group.duplicates) or "-"
            self.stdout.write(
                f"{rank:>3}  {card.face_id:>8}  {card.score:>7.4f}  "
                f"{card.movie_title[:24]:<24} {card.frame_index:>7}  "
                f"{card.timestamp_display:>8}  {duplicates}"
            )

    def _print_appearances(self, answer: Answer, cards: list[AppearanceCard]) -> None:
        result = answer.result
        self.stdout.write(f"{len(result.hits)} faces in {len(cards)} appearances\n")
        self.stdout.write(
            f"{'#':>3}  {'appear.':>7}  {'score':>7}  {'movie':<24} {'shot':>4}  "
            f"{'on screen':<23}  faces  best face"
        )
        for rank, card in enumerate(cards, start=1):
            item = card.item
            self.stdout.write(
                f"{rank:>3}  {item['id'] if item['id'] is not None else '-':>7}  "
                f"{card.best.score:>7.4f}  {card.best.movie_title[:24]:<24} "
                f"{item['shot_index'] if item['shot_index'] is not None else '-':>4}  "
                f"{card.span_display:<23}  {item['face_count']:>5}  {card.best.face_id}"
            )
