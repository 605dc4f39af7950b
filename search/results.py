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
class AppearanceHit:
    """One appearance found: its best hit (its score is the appearance's) and every hit of it.
    ``appearance_id`` is None for a face of a movie whose appearances are not built yet: such a
    face is a result of its own."""

    appearance_id: int | None
    best: Hit
    hits: list[Hit] = field(default_factory=list)


@dataclass
class SearchResult:
    embedder: str
    hits: list[Hit]  # ranked by falling score, the query face itself first when it is stored
    groups: list[Group]  # near-duplicate groups (group="duplicate")
    query_face_id: int | None = None
    group: str = "duplicate"
    appearances: list[AppearanceHit] = field(default_factory=list)  # group="appearance"

    @property
    def entries(self) -> list[Group] | list[AppearanceHit]:
        """The results as shown and paged: appearances, or near-duplicate groups."""
        return self.appearances if self.group == "appearance" else self.groups
