"""What was corrected, and undoing it: a correction can be undone while no later correction
of the people it touched is standing, so that undos unwind in order and never write over a
newer change. The history and undo of the person page, the JSON API, the admin and
``manage.py people``.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from faces.corrections import CorrectionRefused, drop_centroids, find_again, people_locked
from faces.models import Appearance, Correction, PendingMember, Person, Rejection

ALREADY_UNDONE = "It was undone already."


def history(person: Person) -> QuerySet[Correction]:
    """Every correction of ``person`` (and of the people merged into them), newest first."""
    people = [person.pk, *Person.objects.filter(merged_into=person).values_list("pk", flat=True)]
    return Correction.objects.filter(
        Q(person_id__in=people) | Q(other_person_id__in=people)
    ).select_related("user", "undone_by", "person", "other_person")


def undoable(rows: list[Correction]) -> set[int]:
    """The ids of ``rows`` that can be undone now: not undone, and no later correction of their
    people is standing (one query for all of them)."""
    people = {pk for c in rows for pk in (c.person_id, c.other_person_id) if pk}
    oldest = min((c.pk for c in rows), default=0)
    standing = list(
        Correction.objects.filter(
            Q(person_id__in=people) | Q(other_person_id__in=people),
            undone_at=None,
            pk__gt=oldest,
        ).values_list("pk", "person_id", "other_person_id")
    )
    found = set()
    for correction in rows:
        mine = {correction.person_id, correction.other_person_id} - {None}
        later = any(pk > correction.pk and mine & {a, b} for pk, a, b in standing)
        if not correction.undone and not later:
            found.add(correction.pk)
    return found


def undo_refusal(correction: Correction) -> str:
    """Why ``correction`` cannot be undone now; empty when it can."""
    if correction.undone:
        return ALREADY_UNDONE
    if correction.pk not in undoable([correction]):
        return "Later corrections of these people come first: undo them before this one."
    return ""


def undo(correction: Correction, *, by=None, via: str = "web") -> Correction:
    """Put back what ``correction`` changed and mark it undone (it stays in the history).

    The mark is claimed first by a conditional UPDATE, so that of two undos of the same
    correction at once (two tabs, two staff) only one puts anything back; it is taken back
    when putting back fails.
    """
    refusal = undo_refusal(correction)
    if refusal:
        raise CorrectionRefused(refusal)
    apply = {
        Correction.Action.NAME: _undo_name,
        Correction.Action.HIDE: _undo_hidden,
        Correction.Action.UNHIDE: _undo_hidden,
        Correction.Action.MERGE: _undo_merge,
        Correction.Action.SPLIT: _undo_split,
        Correction.Action.REJECT: _undo_reject,
    }[correction.action]
    mine = Correction.objects.filter(pk=correction.pk)
    claimed = mine.filter(undone_at=None).update(
        undone_at=timezone.now(), undone_by=by, undone_via=via
    )
    if not claimed:
        raise CorrectionRefused(ALREADY_UNDONE)
    try:
        apply(correction)
    except BaseException:
        mine.update(undone_at=None, undone_by=None, undone_via="")
        raise
    correction.refresh_from_db()
    return correction


def _undo_name(correction: Correction) -> None:
    Person.objects.filter(pk=correction.person_id).update(name=correction.before["name"])


def _undo_hidden(correction: Correction) -> None:
    Person.objects.filter(pk=correction.person_id).update(hidden=correction.before["hidden"])


def _undo_merge(correction: Correction) -> None:
    before, other = correction.before, correction.other_person
    if other is None:
        raise CorrectionRefused("The merged person no longer exists.")
    back = find_again(before["appearances"])
    with people_locked(back):
        Appearance.objects.filter(pk__in=back, person_id=correction.person_id).update(person=other)
        Rejection.objects.filter(pk__in=before["rejections"]).update(person=other)
        PendingMember.objects.filter(pk__in=before.get("pending", [])).update(person=other)
        Person.objects.filter(pk=other.pk).update(
            merged_into=None, name=before["other_name"], hidden=before["other_hidden"]
        )
        Person.objects.filter(pk=correction.person_id).update(name=before["survivor_name"])
        drop_centroids(correction.person, other)


def _undo_split(correction: Correction) -> None:
    back = find_again(correction.before["appearances"])
    to = correction.other_person
    with people_locked(back):
        Appearance.objects.filter(pk__in=back).update(person=correction.person)
        for row in correction.before.get("rejections", []):
            Rejection.objects.create(
                **{k: v for k, v in row.items() if k not in ("id", "created_at")}
            )
        drop_centroids(correction.person, to)
        if to is not None and correction.after.get("created") and not to.appearances.exists():
            Person.objects.filter(pk=to.pk, name="").delete()


def _undo_reject(correction: Correction) -> None:
    rejection = Rejection.objects.filter(pk=correction.after["rejection"]).first()
    back = find_again([correction.before["appearance"]])
    with people_locked(back):
        if rejection is not None:
            Rejection.objects.filter(
                person_id=rejection.person_id,
                movie_id=rejection.movie_id,
                start_seconds=rejection.start_seconds,
                end_seconds=rejection.end_seconds,
            ).delete()
        Appearance.objects.filter(pk__in=back).update(person=correction.person)
        drop_centroids(correction.person)
