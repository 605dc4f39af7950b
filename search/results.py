"""The shapes the search service returns; views, the JSON API and commands all read these."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hit:
    """One face and its similarity (dot product of unit vectors) to the query."""

    face_id: int
    score: float


@dataclass
class Group:
    """A result shown as its own entry, with the near-duplicates that joined it."""

    leader: Hit
    duplicates: list[Hit] = field(default_factory=list)


@dataclass
class SearchResult:
    embedder: str
    hits: list[Hit]  # ranked by falling score, the query face itself first when it is stored
    groups: list[Group]
    query_face_id: int | None = None
