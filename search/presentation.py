"""What the results pages, the JSON API and ``search_faces`` show about each hit.

The search service answers with face ids and scores (``search.results``); this module joins
them with their Face, Frame and Movie rows — one query per page, embeddings never loaded — and
works out what a person sees: frame name, timestamp, image URLs, where to draw the box.
``FaceCard.as_json`` is the one JSON shape of a hit (documented in the README).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.urls import reverse

from faces.models import Face
from movies.display import box_style, hms
from search.results import Group, Hit


@dataclass
class FaceCard:
    """One result face as shown: its frame, movie, score and where the face is."""

    face_id: int
    score: float
    box: tuple[float, float, float, float]
    frame_id: int
    frame_index: int
    frame_name: str
    frame_width: int
    frame_height: int
    timestamp: float
    movie_id: int
    movie_title: str
    image_url: str
    thumbnail_url: str
    face_thumbnail_url: str

    @property
    def timestamp_display(self) -> str:
        return hms(self.timestamp)

    @property
    def box_style(self) -> str:
        return box_style(self.box, self.frame_width, self.frame_height)

    @property
    def frame_url(self) -> str:
        return reverse("movies:frame", args=[self.frame_id])

    @property
    def search_url(self) -> str:
        return reverse("search:face", args=[self.face_id])

    def as_json(self, absolute: Callable[[str], str] | None = None) -> dict:
        """The hit as JSON; ``absolute`` turns a site path into a URL (None leaves paths)."""
        if absolute is None:
            absolute = _as_path
        return {
            "face_id": self.face_id,
            "score": round(self.score, 6),
            "box": list(self.box),
            "movie": {"id": self.movie_id, "title": self.movie_title},
            "frame": {
                "id": self.frame_id,
                "index": self.frame_index,
                "name": self.frame_name,
                "width": self.frame_width,
                "height": self.frame_height,
                "url": absolute(self.frame_url),
            },
            "timestamp": round(self.timestamp, 3),
            "timestamp_display": self.timestamp_display,
            "image_url": absolute(self.image_url) if self.image_url else None,
            "thumbnail_url": absolute(self.thumbnail_url) if self.thumbnail_url else None,
            "face_thumbnail_url": (
                absolute(self.face_thumbnail_url) if self.face_thumbnail_url else None
            ),
            "search_url": absolute(self.search_url),
        }


@dataclass
class GroupCard:
    leader: FaceCard
    duplicates: list[FaceCard] = field(default_factory=list)

    def as_json(self, absolute: Callable[[str], str] | None = None) -> dict:
        """The leader's hit JSON plus ``duplicates``, a list of hits."""
        return {
            **self.leader.as_json(absolute),
            "duplicates": [card.as_json(absolute) for card in self.duplicates],
        }


def _as_path(path: str) -> str:
    return path


def _file_url(field_file) -> str:
    return field_file.url if field_file else ""


def load_faces(face_ids: list[int], known: dict[int, Face] | None = None) -> dict[int, Face]:
    """Face, Frame and Movie rows of these faces in one query, without embeddings.

    Rows in ``known`` (loaded with their frame and movie already) are used, not read again.
    """
    known = known or {}
    faces = {face_id: known[face_id] for face_id in face_ids if face_id in known}
    missing = [face_id for face_id in face_ids if face_id not in faces]
    if missing:
        rows = Face.objects.without_embeddings().select_related("frame__movie")
        faces |= {face.pk: face for face in rows.filter(pk__in=missing)}
    return faces


def face_card(face: Face, score: float) -> FaceCard:
    frame = face.frame
    movie = frame.movie
    image_url = _file_url(frame.image)
    return FaceCard(
        face_id=face.pk,
        score=float(score),
        box=face.box,
        frame_id=frame.pk,
        frame_index=frame.index,
        frame_name=frame.name,
        frame_width=frame.width,
        frame_height=frame.height,
        timestamp=frame.timestamp,
        movie_id=movie.pk,
        movie_title=movie.title,
        image_url=image_url,
        thumbnail_url=_file_url(frame.thumbnail) or image_url,
        face_thumbnail_url=_file_url(face.thumbnail),
    )


def group_cards(groups: list[Group], known: dict[int, Face] | None = None) -> list[GroupCard]:
    """Cards for these groups; faces deleted since the search are left out.

    ``known``: face rows the caller already holds (the query face), not read again.
    """
    ids = []
    for group in groups:
        ids.append(group.leader.face_id)
        ids.extend(hit.face_id for hit in group.duplicates)
    faces = load_faces(ids, known)

    def card(hit: Hit) -> FaceCard | None:
        face = faces.get(hit.face_id)
        return face_card(face, hit.score) if face is not None else None

    cards = []
    for group in groups:
        leader = card(group.leader)
        if leader is None:
            continue
        duplicates = [c for c in (card(hit) for hit in group.duplicates) if c is not None]
        cards.append(GroupCard(leader=leader, duplicates=duplicates))
    return cards
