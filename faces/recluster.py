"""The full re-cluster of an embedder's people (``manage.py people cluster``, the admin
action, the rq job in ``faces.jobs``): the embedder's unnamed people are built again from all
its appearances; named and corrected people (``Person.objects.kept``) keep every member
(and may gain more, never one someone said is not them). A new cluster keeps the
id of the old unnamed person it shares the most members with (one to one), so a person's page
stays where it was; ``from_scratch`` gives every cluster a new person. Unlike the assignment
after an ingest (``faces.people.assign``) it reads every appearance of the embedder, and
writes every centroid again (``faces.centroids.rebuild``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from faces import centroids
from faces.clustering import Nodes, cluster
from faces.locks import Claim, people_lock
from faces.models import Appearance, Person
from faces.people import (
    ClusterReport,
    PeopleParams,
    join_waiting,
    params_for,
    prune_empty,
    rejected_pairs_of,
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


def recluster(embedder: str, *, from_scratch: bool = False) -> ClusterReport:
    """Build the embedder's unnamed people again from all its appearances (under the
    embedder's people lock: no assignment runs meanwhile)."""
    report = ClusterReport(embedder)
    params = params_for(embedder)
    if params is None:
        report.skipped = "not calibrated (manage.py calibrate_embedder): nothing to cluster"
        return report
    with people_lock(embedder) as claim:
        return _recluster(embedder, params, report, claim, from_scratch)


def _recluster(
    embedder: str, params: PeopleParams, report: ClusterReport, claim: Claim, from_scratch: bool
) -> ClusterReport:
    rows = _load(embedder)
    if not len(rows.ids):
        report.skipped = "no appearances"
        return report
    kept = set(
        Person.objects.filter(pk__in=list(rows.by_person)).kept().values_list("pk", flat=True)
    )
    seeds = sorted(kept)
    in_named = np.isin(rows.person, seeds)
    singles = np.flatnonzero(~in_named)
    nodes = _nodes(rows, [rows.by_person[p] for p in seeds], singles)
    nodes.cannot = _cannot_links(rows, seeds, singles)
    groups = cluster(nodes, params.threshold)
    claim.renew()  # clustering a million appearances takes minutes
    clustered: set[int] = set()
    new_groups: list[list[int]] = []  # row indexes
    for group in groups:
        members = [int(singles[node - len(seeds)]) for node in group if node >= len(seeds)]
        clustered.update(node for node in group if node >= len(seeds))
        anchor = [seeds[node] for node in group if node < len(seeds)]
        if anchor:
            Appearance.objects.set_person([int(rows.ids[i]) for i in members], anchor[0])
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
        Appearance.objects.set_person(changed, person_id)
        grouped.update(members)
        report.assigned += len(members)
    left = [int(rows.ids[i]) for i in singles.tolist() if i not in grouped and rows.person[i]]
    Appearance.objects.set_person(left, None)
    claim.renew()
    centroids.rebuild(embedder)
    claim.renew()
    report.assigned += join_waiting(embedder, params.join_threshold)
    report.people_removed = prune_empty()
    report.assigned += int(in_named.sum())
    report.waiting = Appearance.objects.filter(embedder=embedder, person=None).count()
    return report


def _cannot_links(rows: _Rows, seeds: list[int], singles: np.ndarray) -> list[tuple[int, int]]:
    """Seed/single node pairs a rejection forbids (seeds are the kept people: a rejection
    makes its person kept)."""
    seed = {person: node for node, person in enumerate(seeds)}
    single = {int(rows.ids[i]): len(seeds) + n for n, i in enumerate(singles.tolist())}
    return [
        (seed[person], single[appearance])
        for appearance, person in rejected_pairs_of(list(single))
        if person in seed
    ]


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
