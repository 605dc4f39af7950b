"""Appearances by what outlives their rows: the natural key of ``faces.models.AppearanceKey``
(movie, time span, and the representative face's time and box in fractions of the frame).

A re-ingest from scratch, a rebuild of a movie's appearances and a re-embedding with another
embedder all delete a movie's appearances and write new ones with new ids. Before they go,
``remember_members`` writes a ``PendingMember`` for each one that belongs to someone; when the
movie's new appearances are all written, ``restore_movie`` (called first thing by
``faces.people.assign_movie``) finds each one's successor — an appearance of the same movie
overlapping it in time whose face, at the key's moment, overlaps the key's box — and puts it
back with its person, and links each ``Rejection`` to its successor. Keys with no successor
are appearances that no longer exist: their pending members go, and the person (kept when
named or corrected) is left without them. When most keys find none, the movie's timeline may
have moved (a re-encode that pads a late start, a new transfer with leader): keys are matched
with the shift that lines up most of them (``Rebuilt.shift_for``).
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from faces.models import (
    UPDATE_CHUNK,
    Appearance,
    Face,
    PendingMember,
    PersonCentroid,
    Rejection,
)
from movies.models import Movie

logger = logging.getLogger(__name__)

# A successor must share this much of the key's box (intersection over union) at the key's
# moment, and have a face within MAX_SECONDS of it.
MIN_BOX_OVERLAP = 0.3
MAX_SECONDS = 2.0
# A moved timeline (``Rebuilt.shift_for``): shifts up to a minute either way, told apart to
# the millisecond, voted for by up to SHIFT_VOTERS keys; the few most voted are tried.
MAX_SHIFT_SECONDS = 60.0
SHIFT_DECIMALS = 3
SHIFT_VOTERS = 200
SHIFTS_TRIED = 3
# A shift is tried once this many keys point to it: one key alone (an undo of one appearance
# since gone) never borrows someone in the same place a few seconds off.
SHIFT_MIN_VOTES = 2
KEY_FIELDS = (
    "movie_id",
    "start_seconds",
    "end_seconds",
    "at_seconds",
    "box_left",
    "box_top",
    "box_right",
    "box_bottom",
)


@dataclass(frozen=True)
class _Sample:
    seconds: float
    box: tuple[float, float, float, float]


def _samples(appearance_ids: list[int]) -> dict[int, list[_Sample]]:
    """Each appearance's faces as (time, box in fractions of the frame), in one query."""
    rows = Face.objects.filter(appearance_id__in=appearance_ids).values_list(
        "appearance_id", "frame__timestamp", "frame__width", "frame__height", "x1", "y1", "x2", "y2"
    )
    found: dict[int, list[_Sample]] = defaultdict(list)
    for appearance, seconds, width, height, x1, y1, x2, y2 in rows:
        found[appearance].append(
            _Sample(seconds, (x1 / width, y1 / height, x2 / width, y2 / height))
        )
    return found


def keys_of(appearances: list[Appearance]) -> dict[int, dict]:
    """Appearance id → its key fields, from its representative face (else its first)."""
    samples = _samples([a.pk for a in appearances])
    keys = {}
    for appearance in appearances:
        faces = samples.get(appearance.pk)
        if not faces:
            continue
        middle = (appearance.start_seconds + appearance.end_seconds) / 2
        face = min(faces, key=lambda sample: abs(sample.seconds - middle))
        keys[appearance.pk] = {
            "movie_id": appearance.movie_id,
            "start_seconds": appearance.start_seconds,
            "end_seconds": appearance.end_seconds,
            "at_seconds": face.seconds,
            "box_left": face.box[0],
            "box_top": face.box[1],
            "box_right": face.box[2],
            "box_bottom": face.box[3],
        }
    return keys


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _score(key: dict, appearance: Appearance, samples: list[_Sample]) -> float:
    """How well ``appearance`` takes the key's place: 0 when it does not (no overlap in time,
    no face near the key's moment, or too little box overlap)."""
    overlap = min(key["end_seconds"], appearance.end_seconds) - max(
        key["start_seconds"], appearance.start_seconds
    )
    if overlap <= 0 or not samples:
        return 0.0
    nearest = min(samples, key=lambda sample: abs(sample.seconds - key["at_seconds"]))
    if abs(nearest.seconds - key["at_seconds"]) > MAX_SECONDS:
        return 0.0
    box = (key["box_left"], key["box_top"], key["box_right"], key["box_bottom"])
    iou = _iou(box, nearest.box)
    if iou < MIN_BOX_OVERLAP:
        return 0.0
    union = max(key["end_seconds"], appearance.end_seconds) - min(
        key["start_seconds"], appearance.start_seconds
    )
    return iou + overlap / union


class Rebuilt:
    """A movie's appearances as they are now, with their faces' times and boxes: what keys are
    matched against."""

    def __init__(self, movie_id: int) -> None:
        self.appearances = list(Appearance.objects.without_embeddings().filter(movie_id=movie_id))
        self.samples = _samples([a.pk for a in self.appearances])

    def successors(self, keys: list[dict], shift: float = 0.0) -> list[list[int]]:
        """For each key (its times moved by ``shift`` seconds), the ids of the appearances
        that take its place: every appearance whose best key it is (a track the new build cut
        in two has two successors)."""
        return self._match(keys, shift)[0]

    def _match(self, keys: list[dict], shift: float) -> tuple[list[list[int]], float]:
        """``successors`` and the sum of their scores."""
        if not keys:  # a movie with no rejections, say: no pass over its appearances
            return [], 0.0
        if shift:
            keys = [_shifted(key, shift) for key in keys]
        found: list[list[int]] = [[] for _ in keys]
        total = 0.0
        # Only keys overlapping an appearance in time can score: keys by start, and a window
        # as long as the longest key before the appearance's end.
        order = sorted(range(len(keys)), key=lambda k: keys[k]["start_seconds"])
        starts = [keys[k]["start_seconds"] for k in order]
        longest = max((key["end_seconds"] - key["start_seconds"] for key in keys), default=0.0)
        for appearance in self.appearances:
            low = bisect_left(starts, appearance.start_seconds - longest)
            high = bisect_left(starts, appearance.end_seconds)
            best, best_score = None, 0.0
            for k in order[low:high]:
                score = _score(keys[k], appearance, self.samples.get(appearance.pk, []))
                if score > best_score or (score == best_score and best is not None and k < best):
                    best, best_score = k, score
            if best is not None and best_score > 0:
                found[best].append(appearance.pk)
                total += best_score
        return found, total

    def shift_for(self, keys: list[dict], found: list[list[int]] | None = None) -> float:
        """How far the movie's timeline moved since the keys were taken: 0 while (nearly)
        every key has a successor in place, else the likeliest other shift when it lines up
        most keys and strictly more than none does (of shifts lining up as many, the best
        fitting): a moved timeline moves every moment, not a few.

        A re-encode may move every moment: ffmpeg's defaults pad a video that starts late
        with copies of its first frame, a new transfer adds leader. The shifts tried are those
        from a key's start to the start of a new appearance with a face where the key's was
        (up to MAX_SHIFT_SECONDS either way; the keys found in place vote too, since their
        successors moved as well), the most often seen first, when seen from SHIFT_MIN_VOTES
        keys at least.
        ``found``: the keys' successors without a shift, when known already.
        """
        found = self.successors(keys) if found is None else found
        lost = [key for key, ids in zip(keys, found, strict=True) if not ids]
        if not lost or len(lost) <= len(keys) // 10:
            return 0.0  # a few appearances gone, as any rebuild may lose some
        in_place = len(keys) - len(lost)
        best, best_fit = 0.0, (in_place, 0.0)
        for shift in self._likely_shifts(keys):
            matched, total = self._match(keys, shift)
            fit = (_matched(matched), total)
            if fit[0] > in_place and 2 * fit[0] > len(keys) and fit > best_fit:
                best, best_fit = shift, fit
        return best

    def _likely_shifts(self, keys: list[dict]) -> list[float]:
        by_start = sorted(self.appearances, key=lambda a: a.start_seconds)
        starts = [a.start_seconds for a in by_start]
        votes: Counter[float] = Counter()
        for key in keys[:: max(1, len(keys) // SHIFT_VOTERS)]:
            box = (key["box_left"], key["box_top"], key["box_right"], key["box_bottom"])
            low = bisect_left(starts, key["start_seconds"] - MAX_SHIFT_SECONDS)
            high = bisect_left(starts, key["start_seconds"] + MAX_SHIFT_SECONDS)
            votes.update(
                {
                    round(appearance.start_seconds - key["start_seconds"], SHIFT_DECIMALS)
                    for appearance in by_start[low:high]
                    if any(
                        _iou(box, face.box) >= MIN_BOX_OVERLAP
                        for face in self.samples.get(appearance.pk, [])
                    )
                }
                - {0.0}
            )
        likely = votes.most_common(SHIFTS_TRIED)
        return [shift for shift, count in likely if count >= SHIFT_MIN_VOTES]


def _shifted(key: dict, shift: float) -> dict:
    return {
        **key,
        "start_seconds": key["start_seconds"] + shift,
        "end_seconds": key["end_seconds"] + shift,
        "at_seconds": key["at_seconds"] + shift,
    }


def _matched(found: list[list[int]]) -> int:
    return sum(1 for ids in found if ids)


def successors(movie_id: int, keys: list[dict]) -> list[list[int]]:
    """``Rebuilt.successors`` of the movie's appearances now, its timeline's shift found."""
    rebuilt = Rebuilt(movie_id)
    return rebuilt.successors(keys, rebuilt.shift_for(keys))


def remember_members(appearances: QuerySet) -> int:
    """A ``PendingMember`` for each of these appearances that belongs to someone, before they
    are deleted; returns how many."""
    rows = list(appearances.without_embeddings().exclude(person=None))
    movies = set(
        Movie.objects.filter(pk__in={a.movie_id for a in rows}).values_list("pk", flat=True)
    )
    rows = [a for a in rows if a.movie_id in movies]  # a deleted movie's are gone for good
    keys = keys_of(rows)
    PendingMember.objects.bulk_create(
        [PendingMember(person_id=a.person_id, **keys[a.pk]) for a in rows if a.pk in keys],
        batch_size=1000,
    )
    return len(keys)


@dataclass
class RestoreReport:
    restored: int = 0
    gone: int = 0
    rejections_linked: int = 0


def restore_movie(movie_id: int) -> RestoreReport:
    """Put the movie's rebuilt appearances back with their people and link its rejections to
    their successors (see the module's docstring). A person merged since follows the merge."""
    report = RestoreReport()
    pending = list(
        PendingMember.objects.filter(movie_id=movie_id).select_related("person").order_by("pk")
    )
    rejections = list(Rejection.objects.filter(movie_id=movie_id, appearance=None).order_by("pk"))
    if not pending and not rejections:
        return report
    member_keys, rejection_keys = [_key(row) for row in pending], [_key(row) for row in rejections]
    rebuilt = Rebuilt(movie_id)
    # Matched apart: an appearance may be both someone's member and rejected by another.
    members, rejected = rebuilt.successors(member_keys), rebuilt.successors(rejection_keys)
    shift = rebuilt.shift_for(member_keys + rejection_keys, found=members + rejected)
    if shift:
        logger.info(
            "movie %s: its timeline moved by %+.3f s since its keys were taken", movie_id, shift
        )
        members = rebuilt.successors(member_keys, shift)
        rejected = rebuilt.successors(rejection_keys, shift)
    back: dict[int, list[int]] = defaultdict(list)  # person (after merges) → appearances
    survivors: dict[int, int] = {}
    for row, ids in zip(pending, members, strict=True):
        if ids:
            if row.person_id not in survivors:
                survivors[row.person_id] = row.person.survivor().pk
            back[survivors[row.person_id]] += ids
        else:
            report.gone += 1
    report.restored = sum(len(ids) for ids in back.values())
    with transaction.atomic():
        for person_id, ids in back.items():
            Appearance.objects.set_person(ids, person_id)
        done = [row.pk for row in pending]
        for start in range(0, len(done), UPDATE_CHUNK):
            PendingMember.objects.filter(pk__in=done[start : start + UPDATE_CHUNK]).delete()
        # Their sums were of the old rows' vectors (a count alone may not show it).
        touched = {row.person_id for row in pending} | set(back)
        PersonCentroid.objects.filter(person_id__in=touched).delete()
        for row, ids in zip(rejections, rejected, strict=True):
            if not ids:
                continue
            Rejection.objects.filter(pk=row.pk).update(appearance_id=ids[0])
            Rejection.objects.bulk_create(
                [Rejection(person_id=row.person_id, appearance_id=i, **_key(row)) for i in ids[1:]]
            )
            Appearance.objects.filter(pk__in=ids, person_id=row.person_id).update(person=None)
            report.rejections_linked += len(ids)
    return report


def _key(row: PendingMember | Rejection) -> dict:
    return {name: getattr(row, name) for name in KEY_FIELDS}
