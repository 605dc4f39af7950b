"""The correction endpoints of the JSON API (conventions in ``config.api``), one code path with
the pages and ``manage.py people``: ``faces.corrections``.

``POST /api/people/<id>/name/`` ``{"name"}``, ``.../hidden/`` ``{"hidden": true|false}``,
``.../merge/`` ``{"other": id, "name": optional}``, ``.../split/`` ``{"appearances": [ids],
"to": id or null}``, ``POST /api/appearances/<id>/not-this-person/`` and ``POST
/api/corrections/<id>/undo/`` answer 200 ``{"correction": item, "person": item}``: the
correction (``faces.correction_listing``) and its person after it (the survivor of a merge,
the source of a split; null when no longer there). ``GET /api/people/<id>/corrections/`` is
the person's history, newest first, in the paged envelope.

The body is JSON (``application/json``) or form-encoded. The session and its CSRF token are the
site's (no exemption: a cross-site form cannot correct anyone); correcting needs the
permission ``faces.change_person`` (else 403). A refusal of ``faces.corrections`` is a 409 with
its message, bad parameters a 400 with ``fields``, an unknown id a 404.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, JsonResponse

from config import api
from faces import correction_history, corrections
from faces.correction_listing import correction_item, correction_items, person_after
from faces.corrections import PERMISSION
from faces.models import Appearance, Correction, Person

CORRECTIONS_PER_PAGE = 50


class BadInput(Exception):
    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("Invalid parameters.")
        self.fields = fields


def _body(request: HttpRequest) -> dict[str, Any]:
    """The request's parameters: a JSON object, else the form's fields (one value each, lists
    for ``appearances``)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as bad:
            raise BadInput({"body": [f"Not JSON: {bad}"]}) from bad
        if not isinstance(data, dict):
            raise BadInput({"body": ["Send a JSON object."]})
        return data
    data: dict[str, Any] = {key: request.POST.get(key) for key in request.POST}
    if "appearances" in request.POST:
        data["appearances"] = request.POST.getlist("appearances")
    return data


def _whole(value: Any, field: str, *, required: bool = True) -> int | None:
    if value in (None, "") and not required:
        return None
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.isdecimal())
    ):
        raise BadInput({field: ["Give a person's id (a whole number)."]})
    return int(value)


def _text(data: dict, field: str, *, required: bool) -> str | None:
    value = data.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadInput({field: ["Give a name (text; empty to leave someone unnamed)."]})
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise BadInput({"hidden": ["Give true or false."]})


def _person(person_id: int) -> Person:
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise Http404(f"There is no person {person_id}.")
    return person


class CorrectionApiView(api.ApiView):
    """A POST that makes (or undoes) a correction: permission, parameters, refusal, answer."""

    def post(self, request: HttpRequest, **kwargs: Any) -> JsonResponse:
        if not request.user.has_perm(PERMISSION):
            return api.error(403, "You may not correct people (permission faces.change_person).")
        try:
            correction = self.correct(request, _body(request), **kwargs)
        except BadInput as bad:
            return api.error(400, "Invalid parameters.", fields=bad.fields)
        except corrections.CorrectionRefused as refused:
            return api.error(409, str(refused))
        return JsonResponse(
            {
                "correction": correction_item(correction),
                "person": person_after(correction.person_id),
            }
        )

    def correct(self, request: HttpRequest, data: dict, **kwargs: Any) -> Correction:
        raise NotImplementedError


class NameApiView(CorrectionApiView):
    def correct(self, request: HttpRequest, data: dict, person_id: int) -> Correction:
        name = _text(data, "name", required=True)
        return corrections.rename(_person(person_id), name, by=request.user, via="api")


class HiddenApiView(CorrectionApiView):
    def correct(self, request: HttpRequest, data: dict, person_id: int) -> Correction:
        if "hidden" not in data:
            raise BadInput({"hidden": ["Give true or false."]})
        hidden = _flag(data["hidden"])
        return corrections.set_hidden(_person(person_id), hidden, by=request.user, via="api")


class MergeApiView(CorrectionApiView):
    def correct(self, request: HttpRequest, data: dict, person_id: int) -> Correction:
        other_id = _whole(data.get("other"), "other")
        name = _text(data, "name", required=False)
        survivor, other = _person(person_id), _person(other_id)
        return corrections.merge(survivor, other, name=name, by=request.user, via="api")


class SplitApiView(CorrectionApiView):
    def correct(self, request: HttpRequest, data: dict, person_id: int) -> Correction:
        ids = data.get("appearances")
        if not isinstance(ids, list) or not ids:
            raise BadInput({"appearances": ["Give a list of the appearances' ids to move."]})
        try:
            appearance_ids = [_whole(pk, "appearances") for pk in ids]
        except BadInput:
            message = "Each appearance is an id (a whole number)."
            raise BadInput({"appearances": [message]}) from None
        to_id = _whole(data.get("to"), "to", required=False)
        person = _person(person_id)
        to = _person(to_id) if to_id is not None else None
        return corrections.split(person, appearance_ids, to=to, by=request.user, via="api")


class NotThisPersonApiView(CorrectionApiView):
    def correct(self, request: HttpRequest, data: dict, appearance_id: int) -> Correction:
        appearance = Appearance.objects.without_embeddings().filter(pk=appearance_id).first()
        if appearance is None:
            raise Http404(f"There is no appearance {appearance_id}.")
        return corrections.reject(appearance, by=request.user, via="api")


class UndoApiView(CorrectionApiView):
    def correct(self, request: HttpRequest, data: dict, correction_id: int) -> Correction:
        correction = Correction.objects.filter(pk=correction_id).first()
        if correction is None:
            raise Http404(f"There is no correction {correction_id}.")
        return correction_history.undo(correction, by=request.user, via="api")


class PersonCorrectionsApiView(api.ApiView):
    """The history of a person (a merged person's is their survivor's)."""

    def get(self, request: HttpRequest, person_id: int) -> JsonResponse:
        person = _person(person_id).survivor()
        rows = correction_history.history(person)
        return api.paginated(request, rows, correction_items, per_page=CORRECTIONS_PER_PAGE)
