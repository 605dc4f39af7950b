"""Corrections of people by hand — name, hide, merge, split, "not this person" — each recorded
as a ``Correction`` (who, when, what, and what was there before) that can be undone while it is
the latest of the people it touched (``faces.correction_history``). The one code path of the
person and appearance pages' forms, the JSON API (``faces.corrections_api``), the admin and
``manage.py people``.

A corrected person is kept (``Person.corrected``): re-clustering adds to them but never
rebuilds or deletes them; a rejection is a cannot-link every clustering honours; and a rebuilt
movie's appearances come back to their people by their natural keys (``faces.keys``). Moves
take the people lock of the embedders involved, so that no re-cluster running meanwhile
writes over them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from django.db import transaction
from django.utils import timezone

from faces.keys import keys_of, successors
from faces.locks import PeopleBusy, people_lock
from faces.models import (
    Appearance,
    Correction,
    Person,
    PersonCentroid,
    Rejection,
)

# Who may correct people (everyone else reads): the pages, the API and the admin check it.
PERMISSION = "faces.change_person"

# Waiting this long for a re-cluster to finish is better than refusing at once.
LOCK_WAIT_SECONDS = 5.0


class CorrectionRefused(Exception):
    """The correction cannot be made; the message is one line for a person."""


def _record(action: str, person: Person, summary: str, *, by, via: str, **fields) -> Correction:
    return Correction.objects.create(
        action=action, person=person, summary=summary, user=by, via=via, **fields
    )


@contextmanager
def people_locked(appearance_ids: list[int]) -> Iterator[None]:
    """Hold the people locks of these appearances' embedders, drop the touched people's
    centroids when done (``faces.centroids`` sums them again)."""
    embedders = sorted(
        set(Appearance.objects.filter(pk__in=appearance_ids).values_list("embedder", flat=True))
    )
    try:
        with ExitStack() as stack:
            for embedder in embedders:
                stack.enter_context(people_lock(embedder, wait=LOCK_WAIT_SECONDS))
            with transaction.atomic():
                yield
    except PeopleBusy as busy:
        raise CorrectionRefused(
            f"People are being re-clustered ({busy}); try again soon."
        ) from busy


def _mark_corrected(person: Person, **fields) -> None:
    """Write ``fields`` and mark the person corrected (kept by every re-cluster)."""
    Person.objects.filter(pk=person.pk).update(corrected=True, updated_at=timezone.now(), **fields)


def drop_centroids(*people: Person | None) -> None:
    PersonCentroid.objects.filter(person_id__in=[p.pk for p in people if p is not None]).delete()


def _entries(appearance_ids: list[int]) -> list[dict]:
    """What a history row keeps of moved appearances: their ids and natural keys, so that an
    undo finds them again after a rebuild gave them new ids."""
    rows = list(Appearance.objects.without_embeddings().filter(pk__in=appearance_ids))
    keys = keys_of(rows)
    return [{"id": a.pk, "key": keys.get(a.pk)} for a in rows]


def find_again(entries: list[dict]) -> list[int]:
    """The appearances these entries are now: the same id, else the key's successors."""
    ids = [entry["id"] for entry in entries]
    found = set(Appearance.objects.filter(pk__in=ids).values_list("pk", flat=True))
    lost = [entry["key"] for entry in entries if entry["id"] not in found and entry["key"]]
    by_movie: dict[int, list[dict]] = {}
    for key in lost:
        by_movie.setdefault(key["movie_id"], []).append(key)
    for movie_id, keys in by_movie.items():
        for successor in successors(movie_id, keys):
            found.update(successor)
    return sorted(found)


def _check_together(appearance_ids: list[int], person: Person) -> None:
    """Refuse when one of these appearances is on screen with one of ``person``'s."""
    moving = list(
        Appearance.objects.filter(pk__in=appearance_ids).values_list(
            "shot_id", "start_seconds", "end_seconds"
        )
    )
    members = (
        person.appearances.exclude(pk__in=appearance_ids)
        .filter(shot_id__in={shot for shot, _s, _e in moving})
        .values_list("pk", "shot_id", "start_seconds", "end_seconds")
    )
    for pk, shot, start, end in members:
        if any(s == shot and a < end and start < b for s, a, b in moving):
            raise CorrectionRefused(
                f"{person} is on screen at the same time in that shot "
                f"(appearance {pk}): one person cannot be there twice."
            )


def _current(person: Person) -> Person:
    person.refresh_from_db()
    if person.merged_into_id is not None:
        raise CorrectionRefused(
            f"{person} was merged into {person.survivor()}; correct them there."
        )
    return person


def rename(person: Person, name: str, *, by=None, via: str = "web") -> Correction:
    """Name, rename or (with an empty name) unname someone."""
    person, name = _current(person), name.strip()
    if len(name) > Person._meta.get_field("name").max_length:
        raise CorrectionRefused("That name is too long (200 characters at most).")
    if name == person.name:
        raise CorrectionRefused(f"{person} is already called that.")
    old = person.name
    with transaction.atomic():
        _mark_corrected(person, name=name)
        what = f"named “{name}”" if name else "left unnamed"
        return _record(
            Correction.Action.NAME,
            person,
            f"Person {person.pk} {what}" + (f" (was “{old}”)" if old else ""),
            by=by,
            via=via,
            before={"name": old},
            after={"name": name},
        )


def set_hidden(person: Person, hidden: bool, *, by=None, via: str = "web") -> Correction:
    person = _current(person)
    if person.hidden == hidden:
        raise CorrectionRefused(f"{person} is already {'hidden' if hidden else 'shown'}.")
    with transaction.atomic():
        _mark_corrected(person, hidden=hidden)
        action = Correction.Action.HIDE if hidden else Correction.Action.UNHIDE
        return _record(
            action,
            person,
            f"{person} {'hidden' if hidden else 'shown again'}",
            by=by,
            via=via,
            before={"hidden": not hidden},
            after={"hidden": hidden},
        )


def merge(
    survivor: Person, other: Person, *, name: str | None = None, by=None, via: str = "web"
) -> Correction:
    """``other``'s appearances and rejections join ``survivor``; ``other`` stays as a row
    merged into the survivor (its links lead there). When both are named, ``name`` (one of
    theirs or a new one) must say which name the survivor keeps."""
    survivor, other = _current(survivor), _current(other)
    if survivor.pk == other.pk:
        raise CorrectionRefused("A person cannot be merged with themselves.")
    chosen = (name or "").strip()
    if survivor.name and other.name and survivor.name != other.name and not chosen:
        raise CorrectionRefused(
            f"Both are named (“{survivor.name}” and “{other.name}”): choose the name to keep."
        )
    chosen = chosen or survivor.name or other.name
    moving = list(other.appearances.values_list("pk", flat=True))
    _check_together(moving, survivor)
    before = {
        "survivor_name": survivor.name,
        "other_name": other.name,
        "other_hidden": other.hidden,
        "appearances": _entries(moving),
        "rejections": list(other.rejections.values_list("pk", flat=True)),
        "pending": list(other.pending.values_list("pk", flat=True)),
    }
    with people_locked(moving):
        Appearance.objects.filter(pk__in=moving).update(person=survivor)
        other.rejections.update(person=survivor)
        other.pending.update(person=survivor)
        Person.objects.filter(pk=other.pk).update(merged_into=survivor, corrected=True)
        _mark_corrected(survivor, name=chosen)
        drop_centroids(survivor, other)
        return _record(
            Correction.Action.MERGE,
            survivor,
            f"{other} merged into {survivor}" + (f", named “{chosen}”" if chosen else ""),
            by=by,
            via=via,
            other_person=other,
            before=before,
            after={"name": chosen, "appearances": len(moving)},
        )


def split(
    person: Person,
    appearance_ids: list[int],
    *,
    to: Person | None = None,
    by=None,
    via: str = "web",
) -> Correction:
    """Move some of ``person``'s appearances to ``to`` (another person) or to a new person."""
    person = _current(person)
    ids = sorted(set(appearance_ids))
    if not ids:
        raise CorrectionRefused("Choose the appearances to move.")
    theirs = set(person.appearances.filter(pk__in=ids).values_list("pk", flat=True))
    if theirs != set(ids):
        strangers = ", ".join(str(pk) for pk in ids if pk not in theirs)
        raise CorrectionRefused(f"Appearances {strangers} are not {person}'s.")
    created = to is None
    if to is not None:
        to = _current(to)
        if to.pk == person.pk:
            raise CorrectionRefused("Choose another person to move them to.")
        _check_together(ids, to)
    before = {"appearances": _entries(ids)}
    with people_locked(ids):
        if to is None:
            to = Person.objects.create(corrected=True)
        else:
            Person.objects.filter(pk=to.pk).update(corrected=True)
        cleared = list(Rejection.objects.filter(person=to, appearance_id__in=ids).values())
        Rejection.objects.filter(pk__in=[row["id"] for row in cleared]).delete()
        Appearance.objects.filter(pk__in=ids).update(person=to)
        _mark_corrected(person)
        drop_centroids(person, to)
        before["rejections"] = [_plain(row) for row in cleared]
        noun = "appearance" if len(ids) == 1 else "appearances"
        return _record(
            Correction.Action.SPLIT,
            person,
            f"{len(ids)} {noun} of {person} moved to {'a new person, ' if created else ''}{to}",
            by=by,
            via=via,
            other_person=to,
            before=before,
            after={"to": to.pk, "created": created},
        )


def _plain(row: dict) -> dict:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}


def reject(appearance: Appearance, *, by=None, via: str = "web") -> Correction:
    """Not this person: the appearance leaves its person and never joins them again
    automatically (it waits for the next clustering, which may place it with someone else)."""
    appearance = Appearance.objects.without_embeddings().filter(pk=appearance.pk).first()
    if appearance is None or appearance.person_id is None:
        raise CorrectionRefused(
            "That appearance belongs to no one: there is no one to take it from."
        )
    person = _current(appearance.person)
    key = keys_of([appearance]).get(appearance.pk)
    if key is None:
        raise CorrectionRefused(f"Appearance {appearance.pk} has no faces left to recognise it by.")
    with people_locked([appearance.pk]):
        rejection = Rejection.objects.create(person=person, appearance=appearance, **key)
        Appearance.objects.filter(pk=appearance.pk).update(person=None)
        _mark_corrected(person)
        drop_centroids(person)
        return _record(
            Correction.Action.REJECT,
            person,
            f"Appearance {appearance.pk} is not {person}",
            by=by,
            via=via,
            before={"appearance": {"id": appearance.pk, "key": key}},
            after={"rejection": rejection.pk},
        )
