"""People from appearances, per embedder: the incremental assignment after a movie's
appearances are built, and the full re-cluster (``manage.py people cluster``, the admin action,
the rq job in ``faces.jobs``). The grouping itself is ``faces.clustering``.

- ``assign_movie`` (called by ``movies.ingest`` when a movie's appearances are written, and by
  ``faces.rebuild``): every waiting appearance (no person yet) of the movie's embedders, in the
  whole library, either joins a person within the embedder's threshold or, with other waiting
  appearances close to it, founds a new unnamed person once they hold ``min_faces`` faces.
- ``faces.recluster.recluster``: the embedder's unnamed people built again from all its
  appearances.

Only vectors of one embedder are ever compared; a person may hold appearances of several.
Unnamed people left without any appearance are deleted.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from faces import centroids
from faces.calibration import same_person_threshold
from faces.centroids import Centroid
from faces.clustering import Nodes, cluster
from faces.keys import restore_movie
from faces.locks import PeopleBusy, people_lock
from faces.models import UPDATE_CHUNK, Appearance, Person, Rejection

logger = logging.getLogger(__name__)

# float32 prefilters keep candidates a hair below a threshold; float64 decides.
SLACK = 1e-5


@dataclass(frozen=True)
class PeopleParams:
    """``threshold``: the average-link cosine similarity at which waiting appearances group
    into a new person (and join one); ``min_faces``: the faces a new person needs; ``join``
    (at most ``threshold``, None: the same): the average-link similarity at which an
    appearance left waiting after grouping joins an existing person, whose several
    appearances are steadier evidence than a group being founded."""

    threshold: float
    min_faces: int = 3
    join: float | None = None
    measured: str = ""

    @property
    def join_threshold(self) -> float:
        return self.threshold if self.join is None else min(self.join, self.threshold)


# Measured on lfw_dev made into a video (``manage.py bench_people``; README, "People"): the
# threshold and join with the best BCubed F whose precision stays >= 0.98, join as low as that
# allows (an established person is steadier evidence). dlib-resnet: P 0.9808, R 0.9374,
# F 0.9586 (at the calibrated threshold alone: P 0.9796, R 0.9400, F 0.9594);
# dlib-resnet-mtcnn: P 0.9813, R 0.9406, F 0.9605 (calibrated alone: P 0.9746, F 0.9599).
MEASURED: dict[str, PeopleParams] = {
    "dlib-resnet": PeopleParams(
        threshold=0.9275, min_faces=3, join=0.922, measured="bench_people on lfw_dev"
    ),
    "dlib-resnet-mtcnn": PeopleParams(
        threshold=0.9275, min_faces=3, join=0.925, measured="bench_people on lfw_dev"
    ),
}


def params_for(embedder: str) -> PeopleParams | None:
    """The embedder's clustering parameters: measured ones, else its calibrated threshold;
    None for an uncalibrated embedder (its appearances wait)."""
    if embedder in MEASURED:
        return MEASURED[embedder]
    threshold = same_person_threshold(embedder)
    return PeopleParams(threshold, measured="the calibrated threshold") if threshold else None


@dataclass
class ClusterReport:
    embedder: str
    people_created: int = 0
    people_kept: int = 0
    people_removed: int = 0
    assigned: int = 0
    waiting: int = 0
    skipped: str = ""  # why nothing was done

    @property
    def message(self) -> str:
        if self.skipped:
            return f"{self.embedder}: {self.skipped}"
        return (
            f"{self.embedder}: {self.assigned} appearances in people, {self.waiting} waiting; "
            f"{self.people_created} new people, {self.people_kept} kept, "
            f"{self.people_removed} removed"
        )


@dataclass
class _Waiting:
    """The embedder's waiting appearances, and the spans of people's members in their shots
    (the only members that can be on screen with them)."""

    ids: np.ndarray
    shot: np.ndarray
    start: np.ndarray
    end: np.ndarray
    faces: np.ndarray
    vectors: np.ndarray
    spans: dict[int, list[tuple[int, float, float]]]

    def span(self, index: int) -> tuple[int, float, float]:
        return int(self.shot[index]), float(self.start[index]), float(self.end[index])


def _load_waiting(embedder: str) -> _Waiting:
    rows = list(
        Appearance.objects.filter(embedder=embedder, person=None)
        .order_by("pk")
        .values_list("pk", "shot_id", "start_seconds", "end_seconds", "face_count", "embedding")
    )
    shots = sorted({row[1] for row in rows})
    spans: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for start in range(0, len(shots), UPDATE_CHUNK):
        members = Appearance.objects.filter(
            embedder=embedder, person__isnull=False, shot_id__in=shots[start : start + UPDATE_CHUNK]
        ).values_list("person_id", "shot_id", "start_seconds", "end_seconds")
        for person, shot, begin, end in members:
            spans[person].append((shot, begin, end))
    vectors = [np.frombuffer(bytes(row[5]), dtype="<f4") for row in rows]
    return _Waiting(
        ids=np.array([row[0] for row in rows], dtype=np.int64),
        shot=np.array([row[1] for row in rows], dtype=np.int64),
        start=np.array([row[2] for row in rows], dtype=np.float64),
        end=np.array([row[3] for row in rows], dtype=np.float64),
        faces=np.array([row[4] for row in rows], dtype=np.int64),
        vectors=np.vstack(vectors).astype(np.float64) if vectors else np.empty((0, 0)),
        spans=spans,
    )


def _waiting_nodes(waiting: _Waiting, cents: dict[int, Centroid], people: list[int]) -> Nodes:
    """Nodes for the people ``people`` (seeds, from their centroids) then the waiting rows."""
    spans = [(node, *span) for node, p in enumerate(people) for span in waiting.spans.get(p, [])]
    spans += [(len(people) + i, *waiting.span(i)) for i in range(len(waiting.ids))]
    seeds = [cents[p] for p in people]
    sums = [c.vector_sum for c in seeds]
    return Nodes(
        sums=np.vstack([*sums, waiting.vectors]) if sums else waiting.vectors,
        counts=np.array([c.count for c in seeds] + [1] * len(waiting.ids), dtype=np.float64),
        faces=np.array([c.faces for c in seeds] + waiting.faces.tolist(), dtype=np.int64),
        seed=np.array([True] * len(people) + [False] * len(waiting.ids), dtype=bool),
        spans=spans,
    )


def _cannot_links(waiting: _Waiting, people: list[int]) -> list[tuple[int, int]]:
    """The seed/waiting node pairs of ``_waiting_nodes`` that a rejection forbids."""
    seed = {person: node for node, person in enumerate(people)}
    row = {int(pk): len(people) + i for i, pk in enumerate(waiting.ids.tolist())}
    return [
        (seed[person], row[appearance])
        for appearance, person in rejected_pairs_of(list(row))
        if person in seed
    ]


def rejected_pairs_of(appearance_ids: list[int]) -> list[tuple[int, int]]:
    """(appearance, person) pairs among these appearances that someone said are not one
    person (``Rejection``): never joined automatically."""
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(appearance_ids), UPDATE_CHUNK):
        pairs += Rejection.objects.filter(
            appearance_id__in=appearance_ids[start : start + UPDATE_CHUNK]
        ).values_list("appearance_id", "person_id")
    return pairs


def _means32(cents: dict[int, Centroid], people: list[int]) -> np.ndarray:
    return np.vstack([cents[p].vector_sum / cents[p].count for p in people]).astype(np.float32)


def _reachable_people(waiting: _Waiting, cents: dict[int, Centroid], threshold: float) -> list:
    """People with an average-link similarity above the threshold to some waiting row. In
    float32 with a hair of slack (a few more people never change the grouping: a person
    below the threshold in float64 joins nothing), which halves the time at a million."""
    if not len(waiting.ids) or not cents:
        return []
    people = sorted(cents)
    best = (_means32(cents, people) @ waiting.vectors.astype(np.float32).T).max(axis=1)
    return [p for p, score in zip(people, best.tolist(), strict=True) if score >= threshold - SLACK]


def assign(embedder: str) -> ClusterReport:
    """Waiting appearances of ``embedder`` join people or found new ones, against the people's
    stored centroids (``faces.centroids``) and the waiting appearances only, under the
    embedder's people lock (``faces.locks``: two ingests finishing at once found no person
    twice)."""
    report = ClusterReport(embedder)
    params = params_for(embedder)
    if params is None:
        report.skipped = "not calibrated (manage.py calibrate_embedder): appearances wait"
        return report
    with people_lock(embedder):
        waiting = _load_waiting(embedder)
        if not len(waiting.ids):
            return report
        cents = centroids.load(embedder)
        people = _reachable_people(waiting, cents, params.threshold)
        nodes = _waiting_nodes(waiting, cents, people)
        nodes.cannot = _cannot_links(waiting, people)
        joined: dict[int, list[int]] = defaultdict(list)  # person → waiting row indexes
        grouped: set[int] = set()
        for group in cluster(nodes, params.threshold):
            grouped.update(group)
            singles = [node - len(people) for node in group if node >= len(people)]
            seeds = [people[node] for node in group if node < len(people)]
            if seeds:
                joined[seeds[0]] += singles
            elif nodes.faces[group].sum() >= params.min_faces:
                joined[_found(waiting, singles)] += singles
                report.people_created += 1
        # A long appearance alone is evidence enough.
        for node in range(len(people), len(nodes)):
            if node not in grouped and nodes.faces[node] >= params.min_faces:
                joined[_found(waiting, [node - len(people)])].append(node - len(people))
                report.people_created += 1
        for person, rows in joined.items():
            if person in cents:  # new people were written by _found
                Appearance.objects.set_person([int(waiting.ids[i]) for i in rows], person)
            report.assigned += len(rows)
        centroids.save(embedder, centroids.add_members(cents, _members(waiting, joined)))
        report.assigned += join_waiting(embedder, params.join_threshold, cents)
    report.waiting = Appearance.objects.filter(embedder=embedder, person=None).count()
    return report


def _found(waiting: _Waiting, rows: list[int]) -> int:
    """A new person for these waiting rows, created with its members in one transaction so
    that ``prune_empty`` elsewhere never sees it empty."""
    with transaction.atomic():
        person_id = Person.objects.create().pk
        Appearance.objects.set_person([int(waiting.ids[i]) for i in rows], person_id)
    return person_id


def _members(
    waiting: _Waiting, joined: dict[int, list[int]]
) -> dict[int, list[tuple[np.ndarray, int]]]:
    return {
        person: [(waiting.vectors[i], int(waiting.faces[i])) for i in rows]
        for person, rows in joined.items()
        if rows
    }


def join_waiting(embedder: str, threshold: float, cents: dict[int, Centroid] | None = None) -> int:
    """Waiting appearances join the person they are closest to (average link, from the
    centroids: ``cents`` when the caller holds them up to date, else the stored ones) at or
    above ``threshold``, unless that person is on screen with them; best pairs first.
    Returns how many joined. Runs under the caller's people lock."""
    waiting = _load_waiting(embedder)
    cents = centroids.load(embedder) if cents is None else cents
    if not len(waiting.ids) or not cents:
        return 0
    people = sorted(cents)
    # Candidates in float32 (with slack), then their exact float64 scores.
    rough = waiting.vectors.astype(np.float32) @ _means32(cents, people).T
    candidates = np.argwhere(rough >= threshold - SLACK)
    if not len(candidates):
        return 0
    sums = np.vstack([cents[people[c]].vector_sum for c in candidates[:, 1].tolist()])
    counts = np.array([cents[people[c]].count for c in candidates[:, 1].tolist()], dtype=float)
    exact = np.einsum("ij,ij->i", waiting.vectors[candidates[:, 0]], sums) / counts
    candidates, exact = candidates[exact >= threshold], exact[exact >= threshold]
    spans = waiting.spans
    rejected = set(rejected_pairs_of(waiting.ids.tolist()))
    order = np.argsort(-exact, kind="stable")
    joined: dict[int, int] = {}
    for row, column in candidates[order].tolist():
        person = people[column]
        if row in joined or (int(waiting.ids[row]), person) in rejected:
            continue
        shot, begin, end = waiting.span(row)
        if any(s == shot and a < end and begin < b for s, a, b in spans[person]):
            continue
        joined[row] = person
        spans[person].append((shot, begin, end))
    by_person: dict[int, list[int]] = defaultdict(list)
    for row, person in joined.items():
        by_person[person].append(row)
    for person, rows in by_person.items():
        Appearance.objects.set_person([int(waiting.ids[i]) for i in rows], person)
    centroids.save(embedder, centroids.add_members(cents, _members(waiting, by_person)))
    return len(joined)


def assign_movie(movie_id: int) -> list[ClusterReport]:
    """People for a movie whose appearances were just built, one report per embedder: first
    its rebuilt appearances go back to whom they belonged (``faces.keys.restore_movie``)."""
    restored = restore_movie(movie_id)
    if restored.restored or restored.gone:
        logger.info(
            "movie %s: %s appearances back with their people, %s gone",
            movie_id,
            restored.restored,
            restored.gone,
        )
    embedders = (
        Appearance.objects.filter(movie_id=movie_id, person=None)
        .values_list("embedder", flat=True)
        .distinct()
    )
    reports = []
    for embedder in sorted(set(embedders)):
        try:
            reports.append(assign(embedder))
        except PeopleBusy as busy:
            # Nothing is lost: the appearances wait, and the next assignment or re-cluster of
            # the embedder (which takes every waiting appearance) places them.
            reports.append(ClusterReport(embedder, skipped=f"{busy}; the appearances wait"))
    prune_empty()
    for report in reports:
        logger.info("people after movie %s: %s", movie_id, report.message)
    return reports


def prune_empty() -> int:
    """Delete unnamed people without appearances (named and corrected ones, and people with
    members waiting to come back after a rebuild, are kept); returns how many."""
    deleted, _ = Person.objects.filter(
        name="", note="", corrected=False, appearances=None, pending=None
    ).delete()
    return deleted


def embedders_with_appearances() -> list[str]:
    return sorted(set(Appearance.objects.values_list("embedder", flat=True).distinct()))
