"""People's centroids per embedder (``PersonCentroid``): the sum of a person's members' unit
vectors and their count, which is all average link needs of an existing person (its similarity
to a node is ``sum · v / count``). Assigning a new movie reads these and the waiting
appearances, never every appearance of the embedder.

Stored rather than computed from an aggregate because SQL has no sum over packed vectors on
SQLite, and SingleStoreDB's ``VECTOR`` aggregates would tie the assignment to one backend.
They are kept exact: ``faces.people`` adds each new member's vector as it assigns, a re-cluster
writes them all again, and ``load`` compares each stored count with the members' count (one
aggregate query, no vectors read) and sums again the people whose members changed some other
way (a movie deleted, a rebuilt movie's appearances replaced)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import Count

from faces.models import Appearance, PersonCentroid

CHUNK = 2000


@dataclass
class Centroid:
    vector_sum: np.ndarray  # float64
    count: int
    faces: int


def _sum_members(embedder: str, people: list[int]) -> dict[int, Centroid]:
    """The centroids of ``people`` summed from their appearances (only theirs are read)."""
    found: dict[int, Centroid] = {}
    for start in range(0, len(people), CHUNK):
        rows = Appearance.objects.filter(
            embedder=embedder, person_id__in=people[start : start + CHUNK]
        ).values_list("person_id", "embedding", "face_count")
        for person, blob, faces in rows.iterator(chunk_size=CHUNK):
            vector = np.frombuffer(bytes(blob), dtype="<f4").astype(np.float64)
            if person in found:
                found[person].vector_sum += vector
                found[person].count += 1
                found[person].faces += faces
            else:
                found[person] = Centroid(vector, 1, faces)
    return found


def load(embedder: str) -> dict[int, Centroid]:
    """Every person's centroid of ``embedder``, stale ones summed again and stored."""
    members = dict(
        Appearance.objects.filter(embedder=embedder, person__isnull=False)
        .values("person_id")
        .annotate(n=Count("pk"))
        .values_list("person_id", "n")
    )
    stored: dict[int, Centroid] = {}
    for person, blob, count, faces in PersonCentroid.objects.filter(embedder=embedder).values_list(
        "person_id", "vector_sum", "count", "face_count"
    ):
        stored[person] = Centroid(np.frombuffer(bytes(blob), dtype="<f8").copy(), count, faces)
    stale = sorted(p for p, n in members.items() if p not in stored or stored[p].count != n)
    gone = [p for p in stored if p not in members]
    if stale or gone:
        fresh = _sum_members(embedder, stale)
        save(embedder, fresh, removed=gone + [p for p in stale if p not in fresh])
        stored.update(fresh)
        for person in gone:
            del stored[person]
    return stored


def save(embedder: str, centroids: dict[int, Centroid], removed: list[int] = ()) -> None:
    """Write these people's centroids (replacing any stored) and drop those of ``removed``."""
    people = [*centroids, *removed]
    for start in range(0, len(people), CHUNK):
        PersonCentroid.objects.filter(
            embedder=embedder, person_id__in=people[start : start + CHUNK]
        ).delete()
    PersonCentroid.objects.bulk_create(
        [
            PersonCentroid(
                person_id=person,
                embedder=embedder,
                vector_sum=np.asarray(c.vector_sum, dtype="<f8").tobytes(),
                count=c.count,
                face_count=c.faces,
            )
            for person, c in centroids.items()
        ],
        batch_size=CHUNK,
    )


def rebuild(embedder: str) -> dict[int, Centroid]:
    """Every centroid of ``embedder`` summed from the members (after a full re-cluster)."""
    PersonCentroid.objects.filter(embedder=embedder).delete()
    people = sorted(
        set(
            Appearance.objects.filter(embedder=embedder, person__isnull=False).values_list(
                "person_id", flat=True
            )
        )
    )
    found = _sum_members(embedder, people)
    save(embedder, found)
    return found


def add_members(
    centroids: dict[int, Centroid], joined: dict[int, list[tuple[np.ndarray, int]]]
) -> dict[int, Centroid]:
    """Add new members (vector, faces) to people's centroids in place; returns the changed."""
    changed: dict[int, Centroid] = {}
    for person, members in joined.items():
        current = centroids.get(person)
        vectors = np.vstack([v for v, _ in members]).astype(np.float64)
        total = sum(f for _, f in members)
        if current is None:
            current = Centroid(vectors.sum(axis=0), len(members), total)
        else:
            current = Centroid(
                current.vector_sum + vectors.sum(axis=0),
                current.count + len(members),
                current.faces + total,
            )
        centroids[person] = changed[person] = current
    return changed
