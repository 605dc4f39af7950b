"""``python manage.py search_faces``: the ranked, grouped results of a face or photo search.

    manage.py search_faces --face ID [--k N] [--movie ID] [--min-score X] [--json]
    manage.py search_faces --image PATH [--face-index N] [--embedder NAME] [...]

Calls the same search service as the results pages; a photo goes through the same checks and
face pipeline as a photo uploaded on the site (``search.photos``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from faces.models import Face, unpack_vector
from movies.display import hms
from movies.models import Movie
from search.photos import PhotoRejected, analyse_photo, read_photo
from search.results import Hit, SearchResult
from search.services import DEFAULT_K, SearchError, search_by_face, search_by_vector


class Command(BaseCommand):
    help = (
        "Search for the faces most similar to a stored face (--face) or to a face in a photo "
        "(--image) and print the ranked duplicate groups."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        query = parser.add_mutually_exclusive_group(required=True)
        query.add_argument("--face", type=int, metavar="ID", help="id of a stored face")
        query.add_argument("--image", type=Path, metavar="PATH", help="a photo with a face")
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
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **options) -> None:
        if options["movie"] is not None and not Movie.objects.filter(pk=options["movie"]).exists():
            raise CommandError(f"There is no movie {options['movie']}.")
        filters = {
            "k": options["k"],
            "movie_id": options["movie"],
            "min_score": options["min_score"],
            "exact": options["exact"],
        }
        query = None
        try:
            if options["face"] is not None:
                result = search_by_face(options["face"], **filters)
            else:
                embedder = options["embedder"] or settings.FACEFINDER_EMBEDDER
                vector, query = self._photo_face(options["image"], embedder, options["face_index"])
                result = search_by_vector(vector, embedder, **filters)
        except SearchError as error:
            raise CommandError(str(error)) from error
        rows = _describe(result)
        if options["json"]:
            self.stdout.write(json.dumps(_as_json(result, rows, query), indent=2))
        else:
            self._print(result, rows, query)

    def _photo_face(
        self, path: Path, embedder: str, face_index: int | None
    ) -> tuple[np.ndarray, dict]:
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            with path.open("rb") as handle:
                image_rgb = read_photo(File(handle, name=path.name))
            faces, packed = analyse_photo(image_rgb, embedder)
        except PhotoRejected as error:
            raise CommandError(f"{path}: {error}") from error
        vectors = unpack_vector(packed).reshape(len(faces), -1)
        if face_index is None:
            areas = [(f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]) for f in faces]
            chosen = int(np.argmax(areas))
        elif 1 <= face_index <= len(faces):
            chosen = face_index - 1
        else:
            raise CommandError(
                f"{path} has {len(faces)} face(s); --face-index must be between 1 and {len(faces)}."
            )
        query = {"image": str(path), "faces": len(faces), "face_index": chosen + 1}
        query["box"] = faces[chosen]["box"]
        return vectors[chosen], query

    def _print(self, result: SearchResult, rows: dict[int, dict], query: dict | None) -> None:
        if query is not None:
            self.stdout.write(
                f"Query: face {query['face_index']} of {query['faces']} in {query['image']} "
                f"(box {query['box']}), {result.embedder}"
            )
        else:
            self.stdout.write(f"Query: face {result.query_face_id}, {result.embedder}")
        others = [hit for hit in result.hits if hit.face_id != result.query_face_id]
        if not others:
            self.stdout.write(_empty_reason(result))
            return
        self.stdout.write(f"{len(result.hits)} results in {len(result.groups)} groups\n")
        self.stdout.write(
            f"{'#':>3}  {'face':>8}  {'score':>7}  {'movie':<24} {'frame':>7}  "
            f"{'time':>8}  duplicates"
        )
        for rank, group in enumerate(result.groups, start=1):
            row = {"frame_index": "", "time": "", **rows[group.leader.face_id]}
            duplicates = ", ".join(str(hit.face_id) for hit in group.duplicates) or "-"
            self.stdout.write(
                f"{rank:>3}  {row['face_id']:>8}  {row['score']:>7.4f}  "
                f"{row['movie'][:24]:<24} {row['frame_index']:>7}  {row['time']:>8}  {duplicates}"
            )


def _empty_reason(result: SearchResult) -> str:
    others = Face.objects.filter(embedder=result.embedder)
    if result.query_face_id is not None:
        others = others.exclude(pk=result.query_face_id)
    if not others.exists():
        return f"No other face has been stored with {result.embedder} yet: nothing to compare."
    return "No face matches these filters."


def _describe(result: SearchResult) -> dict[int, dict]:
    """Movie, frame and time of every hit, in one query (embeddings not loaded)."""
    scores = {hit.face_id: hit.score for hit in result.hits}
    faces = (
        Face.objects.without_embeddings()
        .select_related("frame", "movie")
        .filter(pk__in=list(scores))
    )
    rows = {
        face_id: {"face_id": face_id, "score": round(score, 6), "movie": "(deleted)"}
        for face_id, score in scores.items()
    }
    rows |= {
        face.pk: {
            "face_id": face.pk,
            "score": round(scores[face.pk], 6),
            "movie_id": face.movie_id,
            "movie": face.movie.title,
            "frame_index": face.frame_index,
            "frame_name": face.frame.name,
            "timestamp": round(face.frame.timestamp, 3),
            "time": hms(face.frame.timestamp),
            "box": [face.x1, face.y1, face.x2, face.y2],
        }
        for face in faces
    }
    return rows


def _as_json(result: SearchResult, rows: dict[int, dict], query: dict | None) -> dict:
    def entry(hit: Hit) -> dict:
        return rows[hit.face_id]

    return {
        "embedder": result.embedder,
        "query_face_id": result.query_face_id,
        "query_photo": query,
        "results": len(result.hits),
        "groups": [
            {**entry(group.leader), "duplicates": [entry(hit) for hit in group.duplicates]}
            for group in result.groups
        ],
    }
