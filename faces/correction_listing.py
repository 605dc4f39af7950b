"""The one JSON shape of a correction (``faces.models.Correction``), for the API
(``faces.corrections_api``) and ``manage.py people history --json``, and the item of the
person a correction leaves behind."""

from __future__ import annotations

from faces.correction_history import undo_refusal, undoable
from faces.models import Correction, Person
from faces.people_listing import counted, extras, person_item


def correction_item(correction: Correction, *, can_undo: bool | None = None) -> dict:
    """id, action, summary, person_id, other_person_id, user and undone_by (usernames or
    null), via and undone_via (web, api, admin or command; empty while not undone), created_at
    and undone_at (ISO 8601 or null), can_undo (``undo_refusal`` asked unless given)."""
    if can_undo is None:
        can_undo = not undo_refusal(correction)
    return {
        "id": correction.pk,
        "action": correction.action,
        "summary": correction.summary,
        "person_id": correction.person_id,
        "other_person_id": correction.other_person_id,
        "user": correction.user.get_username() if correction.user else None,
        "via": correction.via,
        "created_at": correction.created_at.isoformat(),
        "undone_at": correction.undone_at.isoformat() if correction.undone_at else None,
        "undone_by": correction.undone_by.get_username() if correction.undone_by else None,
        "undone_via": correction.undone_via,
        "can_undo": can_undo,
    }


def correction_items(page: list[Correction]) -> list[dict]:
    """Items of a page of corrections, ``can_undo`` for all of them in one query."""
    can_undo = undoable(page)
    return [correction_item(c, can_undo=c.pk in can_undo) for c in page]


def person_after(person_id: int | None) -> dict | None:
    """The people item (``faces.people_listing``) of ``person_id`` as it is now, even when left
    without appearances; None when the person no longer exists."""
    person = counted(Person.objects.filter(pk=person_id)).first() if person_id else None
    return person_item(person, extras([person.pk])) if person else None
