"""People from appearances, per embedder: the incremental assignment after a movie's
appearances are built, and the full re-cluster (``manage.py people cluster``, the admin action,
the rq job in ``faces.jobs``). The grouping itself is ``faces.clustering``.

- ``assign_movie`` (called by ``movies.ingest`` when a movie's appearances are written, and by
  ``faces.rebuild``): every waiting appearance (no person yet) of the movie's embedders, in the
  whole library, either joins a person within the embedder's threshold or, with other waiting
  appearances close to it, founds a new unnamed person once they hold ``min_faces`` faces.
- ``recluster``: the embedder's unnamed people are built again from all its appearances; named
  people keep every member (and may gain more). A new cluster keeps the id of the old unnamed
  person it shares the most members with (one to one), so a person's page stays where it was;
  ``from_scratch`` gives every cluster a new person.

Only vectors of one embedder are ever compared; a person may hold appearances of several.
Unnamed people left without any appearance are deleted.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from faces.calibration import same_person_threshold
from faces.clustering import Nodes, cluster
from faces.models import Appearance, Person

logger = logging.getLogger(__name__)

UPDATE_CHUNK = 2000


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
class _Rows:
    """One embedder's appearances as arrays."""

    ids: np.ndarray
    person: np.ndarray  # person id, 0 for none
    shot: np.ndarray
    start: np.ndarray
    end: np.ndarray
    faces: np.ndarray
    vectors: np.ndarray
    by_person: dict[int, np.ndarray] = field(default_factory=dict)


def _load(embedder: str) -> _Rows:
    rows = list(
        Appearance.objects.filter(embedder=embedder)
        .order_by("pk")
        .values_list(
            "pk", "person_id", "shot_id", "start_seconds", "end_seconds", "face_count", "embedding"
        )
    )
    if rows:
        vectors = np.vstack([np.frombuffer(bytes(row[6]), dtype="<f4") for row in rows])
    else:
        vectors = np.empty((0, 0), dtype=np.float32)
    loaded = _Rows(
        ids=np.array([row[0] for row in rows], dtype=np.int64),
        person=np.array([row[1] or 0 for row in rows], dtype=np.int64),
        shot=np.array([row[2] for row in rows], dtype=np.int64),
        start=np.array([row[3] for row in rows], dtype=np.float64),
        end=np.array([row[4] for row in rows], dtype=np.float64),
        faces=np.array([row[5] for row in rows], dtype=np.int64),
        vectors=vectors.astype(np.float64),
    )
    groups: dict[int, list[int]] = defaultdict(list)
    for index, person in enumerate(loaded.person.tolist()):
        if person:
            groups[person].append(index)
    loaded.by_person = {person: np.array(rows_) for person, rows_ in groups.items()}
    return loaded


def _nodes(rows: _Rows, seeds: list[np.ndarray], singles: np.ndarray) -> Nodes:
    """Nodes for the seed groups (row indexes of each existing person) then single rows."""
    groups = [*seeds, *([index] for index in singles.tolist())]
    spans = [
        (node, int(rows.shot[index]), float(rows.start[index]), float(rows.end[index]))
        for node, group in enumerate(groups)
        for index in np.asarray(group).tolist()
    ]
    return Nodes(
        sums=np.vstack([rows.vectors[np.asarray(group)].sum(axis=0) for group in groups]),
        counts=np.array([len(group) for group in groups], dtype=np.float64),
        faces=np.array([int(rows.faces[np.asarray(group)].sum()) for group in groups]),
        seed=np.array([node < len(seeds) for node in range(len(groups))], dtype=bool),
        spans=spans,
    )


def _update(ids: list[int], person_id: int | None) -> None:
    for start in range(0, len(ids), UPDATE_CHUNK):
        Appearance.objects.filter(pk__in=ids[start : start + UPDATE_CHUNK]).update(
            person_id=person_id
        )


def _reachable_people(rows: _Rows, waiting: np.ndarray, threshold: float) -> list[int]:
    """People with an average-link similarity above the threshold to some waiting row."""
    if not len(waiting) or not rows.by_person:
        return []
    people = sorted(rows.by_person)
    means = np.vstack([rows.vectors[rows.by_person[p]].mean(axis=0) for p in people])
    best = (means @ rows.vectors[waiting].T).max(axis=1)
    return [person for person, score in zip(people, best, strict=True) if score >= threshold]


def assign(embedder: str) -> ClusterReport:
    """Waiting appearances of ``embedder`` join people or found new ones."""
    report = ClusterReport(embedder)
    params = params_for(embedder)
    if params is None:
        report.skipped = "not calibrated (manage.py calibrate_embedder): appearances wait"
        return report
    rows = _load(embedder)
    waiting = np.flatnonzero(rows.person == 0)
    if not len(waiting):
        return report
    people = _reachable_people(rows, waiting, params.threshold)
    nodes = _nodes(rows, [rows.by_person[p] for p in people], waiting)
    grouped: set[int] = set()
    for group in cluster(nodes, params.threshold):
        grouped.update(group)
        singles = [rows.ids[waiting[node - len(people)]] for node in group if node >= len(people)]
        seeds = [people[node] for node in group if node < len(people)]
        if seeds:
            person_id = seeds[0]
        elif nodes.faces[group].sum() >= params.min_faces:
            person_id = Person.objects.create().pk
            report.people_created += 1
        else:
            continue
        _update([int(i) for i in singles], person_id)
        report.assigned += len(singles)
    # A long appearance alone is evidence enough.
    for node in range(len(people), len(nodes)):
        index = waiting[node - len(people)]
        if node not in grouped and nodes.faces[node] >= params.min_faces:
            _update([int(rows.ids[index])], Person.objects.create().pk)
            report.people_created += 1
            report.assigned += 1
    report.assigned += join_waiting(embedder, params.join_threshold)
    report.waiting = Appearance.objects.filter(embedder=embedder, person=None).count()
    return report


def join_waiting(embedder: str, threshold: float) -> int:
    """Waiting appearances join the person they are closest to (average link) at or above
    ``threshold``, unless that person is on screen with them; best pairs first. Returns how
    many joined."""
    rows = _load(embedder)
    waiting = np.flatnonzero(rows.person == 0)
    if not len(waiting) or not rows.by_person:
        return 0
    people = sorted(rows.by_person)
    sums = np.vstack([rows.vectors[rows.by_person[p]].sum(axis=0) for p in people])
    counts = np.array([len(rows.by_person[p]) for p in people], dtype=np.float64)
    scores = (rows.vectors[waiting] @ sums.T) / counts
    spans: dict[int, list[tuple[int, float, float]]] = {
        person: [(int(rows.shot[i]), rows.start[i], rows.end[i]) for i in rows.by_person[person]]
        for person in people
    }
    candidates = np.argwhere(scores >= threshold)
    order = np.argsort(-scores[candidates[:, 0], candidates[:, 1]], kind="stable")
    joined: dict[int, int] = {}
    for row, column in candidates[order].tolist():
        index, person = int(waiting[row]), people[column]
        if index in joined:
            continue
        span = (int(rows.shot[index]), rows.start[index], rows.end[index])
        if any(s == span[0] and a < span[2] and span[1] < b for s, a, b in spans[person]):
            continue
        joined[index] = person
        spans[person].append(span)
    by_person: dict[int, list[int]] = defaultdict(list)
    for index, person in joined.items():
        by_person[person].append(int(rows.ids[index]))
    for person, ids in by_person.items():
        _update(ids, person)
    return len(joined)


def assign_movie(movie_id: int) -> list[ClusterReport]:
    """People for a movie whose appearances were just built, one report per embedder."""
    embedders = (
        Appearance.objects.filter(movie_id=movie_id, person=None)
        .values_list("embedder", flat=True)
        .distinct()
    )
    reports = [assign(embedder) for embedder in sorted(set(embedders))]
    prune_empty()
    for report in reports:
        logger.info("people after movie %s: %s", movie_id, report.message)
    return reports


def prune_empty() -> int:
    """Delete unnamed people without appearances (named ones are kept); returns how many."""
    deleted, _ = Person.objects.filter(name="", note="", appearances=None).delete()
    return deleted


def recluster(embedder: str, *, from_scratch: bool = False) -> ClusterReport:
    """Build the embedder's unnamed people again from all its appearances."""
    report = ClusterReport(embedder)
    params = params_for(embedder)
    if params is None:
        report.skipped = "not calibrated (manage.py calibrate_embedder): nothing to cluster"
        return report
    rows = _load(embedder)
    if not len(rows.ids):
        report.skipped = "no appearances"
        return report
    named = set(
        Person.objects.filter(pk__in=list(rows.by_person))
        .exclude(name="")
        .values_list("pk", flat=True)
    )
    seeds = sorted(named)
    in_named = np.isin(rows.person, seeds)
    singles = np.flatnonzero(~in_named)
    nodes = _nodes(rows, [rows.by_person[p] for p in seeds], singles)
    clustered: set[int] = set()
    new_groups: list[list[int]] = []  # row indexes
    for group in cluster(nodes, params.threshold):
        members = [int(singles[node - len(seeds)]) for node in group if node >= len(seeds)]
        clustered.update(node for node in group if node >= len(seeds))
        anchor = [seeds[node] for node in group if node < len(seeds)]
        if anchor:
            _update([int(rows.ids[i]) for i in members], anchor[0])
            report.assigned += len(members)
        elif nodes.faces[group].sum() >= params.min_faces:
            new_groups.append(members)
    for node in range(len(seeds), len(nodes)):
        if node not in clustered and nodes.faces[node] >= params.min_faces:
            new_groups.append([int(singles[node - len(seeds)])])
    old = {int(p) for p in rows.person[singles].tolist() if p}
    matched = {} if from_scratch else _match(new_groups, rows, old)
    grouped: set[int] = set()
    for number, members in enumerate(new_groups):
        person_id = matched.get(number)
        if person_id is None:
            person_id = Person.objects.create().pk
            report.people_created += 1
        else:
            report.people_kept += 1
        changed = [int(rows.ids[i]) for i in members if rows.person[i] != person_id]
        _update(changed, person_id)
        grouped.update(members)
        report.assigned += len(members)
    left = [int(rows.ids[i]) for i in singles.tolist() if i not in grouped and rows.person[i]]
    _update(left, None)
    report.assigned += join_waiting(embedder, params.join_threshold)
    report.people_removed = prune_empty()
    report.assigned += int(in_named.sum())
    report.waiting = Appearance.objects.filter(embedder=embedder, person=None).count()
    return report


def _match(groups: list[list[int]], rows: _Rows, old: set[int]) -> dict[int, int]:
    """New group number → the old unnamed person sharing most of its members (one to one,
    largest overlaps first)."""
    overlaps = []
    for number, members in enumerate(groups):
        counts: dict[int, int] = defaultdict(int)
        for index in members:
            person = int(rows.person[index])
            if person in old:
                counts[person] += 1
        overlaps += [(count, number, person) for person, count in counts.items()]
    matched: dict[int, int] = {}
    used: set[int] = set()
    for _count, number, person in sorted(overlaps, key=lambda o: (-o[0], o[1], o[2])):
        if number not in matched and person not in used:
            matched[number] = person
            used.add(person)
    return matched


def embedders_with_appearances() -> list[str]:
    return sorted(set(Appearance.objects.values_list("embedder", flat=True).distinct()))
