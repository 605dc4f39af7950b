"""The person and appearance pages' correction forms: each POSTs here, is made by
``faces.corrections`` (the one code path of every correction) and comes back to the page it
was sent from with a message. Login and the permission ``faces.change_person`` are required
(readers get 403); Django's CSRF middleware guards every POST."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from faces import correction_history, corrections
from faces.corrections import PERMISSION, CorrectionRefused
from faces.models import Appearance, Correction, Person


class RenameForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, strip=True)


class HideForm(forms.Form):
    hidden = forms.BooleanField(required=False)


class MergeForm(forms.Form):
    other = forms.IntegerField(min_value=1)
    name = forms.CharField(max_length=200, required=False, strip=True)


class SplitForm(forms.Form):
    appearances = forms.TypedMultipleChoiceField(coerce=int, choices=())
    to = forms.IntegerField(min_value=1, required=False)

    def __init__(self, *args, person: Person, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        ids = person.appearances.values_list("pk", flat=True)
        self.fields["appearances"].choices = [(pk, pk) for pk in ids]


class CorrectionView(LoginRequiredMixin, PermissionRequiredMixin, View):
    """POST only: run ``correct`` and go back to the page with its outcome as a message."""

    permission_required = PERMISSION
    raise_exception = True
    http_method_names = ["post"]
    done = "Done"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # Login first (to the login page), then the method (405 for a GET), then permission.
        if request.user.is_authenticated and request.method.lower() not in self.http_method_names:
            return self.http_method_not_allowed(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def handle_no_permission(self) -> HttpResponse:
        """Someone logged out is sent to log in; a reader gets 403."""
        if not self.request.user.is_authenticated:
            return redirect_to_login(
                self.request.get_full_path(), self.get_login_url(), self.get_redirect_field_name()
            )
        return super().handle_no_permission()

    def correct(self, request: HttpRequest) -> Correction:
        raise NotImplementedError

    def back(self) -> str:
        raise NotImplementedError

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            correction = self.correct(request)
        except CorrectionRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, f"{self.done}: {correction.summary}.")
        return HttpResponseRedirect(self._next(request))

    def _next(self, request: HttpRequest) -> str:
        wanted = request.POST.get("next", "")
        safe = url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return wanted if wanted and safe else self.back()


def _form_or_refuse(form: forms.Form) -> dict:
    if not form.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
            for name, errors in form.errors.items()
        )
        raise CorrectionRefused(f"The form was not filled in right ({problems}).")
    return form.cleaned_data


def _person(pk: int | None, what: str = "person") -> Person:
    person = Person.objects.filter(pk=pk).first() if pk else None
    if person is None:
        raise CorrectionRefused(f"There is no {what} {pk}.")
    return person


class PersonCorrectionView(CorrectionView):
    # Looked up on POST, after the login and permission checks: no one learns which ids exist.
    @cached_property
    def person(self) -> Person:
        return get_object_or_404(Person, pk=self.kwargs["pk"])

    def back(self) -> str:
        return Person.objects.get(pk=self.person.pk).survivor().get_absolute_url()

    def via(self) -> dict:
        return {"by": self.request.user, "via": "web"}


class RenameView(PersonCorrectionView):
    def correct(self, request: HttpRequest) -> Correction:
        data = _form_or_refuse(RenameForm(request.POST))
        return corrections.rename(self.person, data["name"], **self.via())


class HideView(PersonCorrectionView):
    def correct(self, request: HttpRequest) -> Correction:
        data = _form_or_refuse(HideForm(request.POST))
        return corrections.set_hidden(self.person, data["hidden"], **self.via())


class MergeView(PersonCorrectionView):
    """Merge another person (by id) into this one."""

    def correct(self, request: HttpRequest) -> Correction:
        data = _form_or_refuse(MergeForm(request.POST))
        other = _person(data["other"])
        return corrections.merge(self.person, other, name=data["name"] or None, **self.via())


class SplitView(PersonCorrectionView):
    """Move the ticked appearances to a new person, or to the person id given."""

    def correct(self, request: HttpRequest) -> Correction:
        form = SplitForm(request.POST, person=self.person)
        if not request.POST.getlist("appearances"):
            raise CorrectionRefused("Choose the appearances to move.")
        data = _form_or_refuse(form)
        to = _person(data["to"]) if data["to"] else None
        return corrections.split(self.person, data["appearances"], to=to, **self.via())


class UndoView(PersonCorrectionView):
    done = "Undone"

    def correct(self, request: HttpRequest) -> Correction:
        correction = get_object_or_404(
            correction_history.history(self.person), pk=self.kwargs["correction"]
        )
        return correction_history.undo(correction, by=request.user, via="web")


class AppearanceCorrectionView(CorrectionView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.appearance = get_object_or_404(
            Appearance.objects.without_embeddings(), pk=kwargs["pk"]
        )
        self.person_id = self.appearance.person_id  # whose page to go back to
        return super().post(request, *args, **kwargs)

    def back(self) -> str:
        if self.person_id is not None:
            return Person.objects.get(pk=self.person_id).survivor().get_absolute_url()
        return self.appearance.get_absolute_url()


class NotThisPersonView(AppearanceCorrectionView):
    def correct(self, request: HttpRequest) -> Correction:
        return corrections.reject(self.appearance, by=request.user, via="web")


class MoveAppearanceView(AppearanceCorrectionView):
    """Split this one appearance off its person: to a new person or the person id given."""

    def correct(self, request: HttpRequest) -> Correction:
        if self.appearance.person_id is None:
            raise CorrectionRefused("That appearance belongs to no one: there is nothing to move.")
        to = request.POST.get("to", "").strip()
        if to and not to.isdigit():
            raise CorrectionRefused("A person id is a number.")
        target = _person(int(to)) if to else None
        return corrections.split(
            self.appearance.person, [self.appearance.pk], to=target, by=request.user, via="web"
        )


def history_rows(person: Person, allowed: bool) -> list[Correction]:
    """The person's history, each row told whether it can be undone now (when ``allowed``)."""
    rows = list(correction_history.history(person)[:100])
    can_undo = correction_history.undoable(rows) if allowed else set()
    for row in rows:
        row.undoable = row.pk in can_undo
    return rows
