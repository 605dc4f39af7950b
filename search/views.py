"""Search pages: results for a face or a photo, photo upload, saved searches.

Views stay thin: a results page asks ``search.queries`` for its query and answer (the flow the
JSON API and the ``search_faces`` command share), uploads go to ``search.photos``, and
``search.presentation`` cards go to the template.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import DeleteView, FormView, ListView, TemplateView, UpdateView

from config.throttle import PHOTO_SEARCHES, check_limits
from faces.models import Person
from movies.display import box_style
from movies.media import send_media_file
from search import queries
from search.forms import (
    PhotoUploadForm,
    RenameSavedSearchForm,
    SaveSearchForm,
)
from search.models import SavedSearch
from search.photos import PhotoRejected, store_query_photo
from search.queries import AppearanceQuery, FaceQuery, PersonQuery, PhotoQuery
from search.result_timelines import result_timelines


class ResultsPageMixin:
    """The filters, the search, paging by groups and the empty states of both results pages."""

    template_name = "search/results.html"

    def get_query(self) -> FaceQuery | PhotoQuery | AppearanceQuery:
        raise NotImplementedError

    def query_context(self, query) -> dict:
        raise NotImplementedError

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        query = self.get_query()
        answer = queries.answer(query, request.GET)
        context = {
            "filters_form": answer.form,
            "search_error": answer.error,
            "saved_search": self._saved_search(),
            "query_string": self._query_string(exclude=("page",)),
            **self.query_context(query),
        }
        status = answer.status
        if answer.result is not None:
            context.update(self.results_context(answer))
            status = context.pop("status", status)
        if answer.result is not None and hasattr(query, "save_initial"):
            filters = answer.filters
            context["save_form"] = SaveSearchForm(
                owner=request.user,
                initial={
                    **query.save_initial(),
                    "k": filters["k"],
                    "movie": filters["movie_id"],
                    "min_score": filters["min_score"],
                    "group": filters["group"],
                    "name": query.default_name(),
                },
            )
        return render(request, self.template_name, context, status=status)

    def results_context(self, answer: queries.Answer) -> dict:
        result = answer.result
        paginator = Paginator(result.entries, settings.FACEFINDER_GROUPS_PER_PAGE)
        context = {
            "result": result,
            "paginator": paginator,
            "empty_reason": answer.empty_reason,
            "nobody_matches": answer.nobody_matches,
            "same_person_threshold": answer.same_person_threshold,
        }
        if not result.entries:
            return context
        try:
            page = paginator.page(self.request.GET.get("page") or 1)
        except (EmptyPage, PageNotAnInteger):
            context["page_error"] = (
                f"There is no page “{self.request.GET.get('page')}” of these results; "
                f"they fill {paginator.num_pages} page{'s' if paginator.num_pages != 1 else ''}."
            )
            context["status"] = 404
            return context
        context.update(
            {
                "page_obj": page,
                "groups": answer.cards(page.object_list),
                "page_range": paginator.get_elided_page_range(page.number, on_ends=1),
                "timelines": self._timelines(answer, paginator.per_page, page.number),
            }
        )
        context["timelines_mark_query"] = any(
            strip.timeline.marked is not None for strip in context["timelines"]
        )
        return context

    def _timelines(self, answer: queries.Answer, per_page: int, page_number: int) -> list:
        """Where every result (all pages) falls on its movie's timeline."""
        query_string = self._query_string(exclude=("page",))
        prefix = f"?{query_string}&page=" if query_string else "?page="
        appearance = getattr(answer.query, "appearance", None)
        return result_timelines(
            answer.result,
            per_page=per_page,
            page_number=page_number,
            page_url=lambda number: f"{prefix}{number}",
            query_appearance_id=appearance.pk if appearance is not None else None,
        )

    def _saved_search(self) -> SavedSearch | None:
        saved_id = self.request.GET.get("saved", "")
        # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
        if not re.fullmatch(r"[0-9]+", saved_id):
            return None
        return SavedSearch.objects.filter(pk=int(saved_id), owner=self.request.user).first()

    def _query_string(self, exclude: tuple[str, ...]) -> str:
        params = [(k, v) for k, v in self.request.GET.items() if k not in exclude and v != ""]
        return urlencode(params)


def person_of_appearance(appearance_id: int | None) -> Person | None:
    """The person of the query's appearance, for "Search with this person"."""
    if appearance_id is None:
        return None
    return Person.objects.filter(appearances__pk=appearance_id).first()


class FaceResultsView(LoginRequiredMixin, ResultsPageMixin, View):
    """``/search/face/<id>/``: the faces most similar to a stored face."""

    def get_query(self) -> FaceQuery:
        return queries.face_query(self.kwargs["face_id"])

    def query_context(self, query: FaceQuery) -> dict:
        return {
            "query_card": query.card(),
            "query_kind": "face",
            "query_person": person_of_appearance(query.face.appearance_id),
        }


class AppearanceResultsView(LoginRequiredMixin, ResultsPageMixin, View):
    """``/search/appearance/<id>/``: faces like an appearance's mean vector, by appearance."""

    def get_query(self) -> AppearanceQuery:
        return queries.appearance_query(self.kwargs["appearance_id"])

    def query_context(self, query: AppearanceQuery) -> dict:
        return {
            "query_card": query.card(),
            "query_kind": "appearance",
            "appearance": query.appearance,
            "query_person": person_of_appearance(query.appearance.pk),
        }


class PersonResultsView(LoginRequiredMixin, ResultsPageMixin, View):
    """``/search/person/<id>/``: faces like any of a person's appearances, by appearance. A
    person merged into someone is sent (302, the query string kept: a merge can be undone) to
    the survivor's page."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        person = Person.objects.filter(pk=self.kwargs["person_id"]).first()
        if person is not None and person.merged_into_id is not None:
            url = reverse("search:person", args=[person.survivor().pk])
            query = request.GET.urlencode()
            return HttpResponseRedirect(f"{url}?{query}" if query else url)
        return super().get(request, *args, **kwargs)

    def get_query(self) -> PersonQuery:
        return queries.person_query(self.kwargs["person_id"])

    def query_context(self, query: PersonQuery) -> dict:
        return {"query_kind": "person", "person": query.person, "person_query": query}


class PhotoResultsView(LoginRequiredMixin, ResultsPageMixin, View):
    """``/search/photo/<id>/face/<n>/``: the faces most similar to a face of an uploaded photo."""

    def get_query(self) -> PhotoQuery:
        return queries.photo_query(self.request.user, self.kwargs["pk"], self.kwargs["index"])

    def query_context(self, query: PhotoQuery) -> dict:
        photo, index = query.photo, query.face_index
        return {
            "query_kind": "photo",
            "photo": photo,
            "photo_face_number": index + 1,
            "photo_box_style": box_style(photo.box(index), photo.width, photo.height),
        }


class PhotoUploadView(LoginRequiredMixin, FormView):
    """Upload a photo; one face goes straight to its results, several ask which one."""

    template_name = "search/photo_upload.html"
    form_class = PhotoUploadForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["max_megabytes"] = settings.FACEFINDER_MAX_PHOTO_BYTES / 1024**2
        context["max_megapixels"] = settings.FACEFINDER_MAX_PHOTO_PIXELS / 1e6
        context["max_faces"] = settings.FACEFINDER_MAX_PHOTO_FACES
        return context

    def post(self, request, *args, **kwargs):
        # Each photo search runs the face networks in this process: counted per user.
        refused = check_limits(
            request,
            [(PHOTO_SEARCHES, request.user.pk)],
            action="Searching by photo",
            message="You have searched by photo as often as one account may in an hour.",
        )
        return refused or super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            photo, detected = store_query_photo(self.request.user, form.cleaned_data["photo"])
        except PhotoRejected as error:
            form.add_error("photo", str(error))
            return self.render_to_response(self.get_context_data(form=form), status=400)
        if detected > photo.face_count:
            messages.warning(
                self.request,
                f"This photo shows {detected} faces; the {photo.face_count} largest can be "
                "searched.",
            )
        if photo.face_count == 1:
            return HttpResponseRedirect(reverse("search:photo-results", args=[photo.pk, 0]))
        return HttpResponseRedirect(photo.get_absolute_url())

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PhotoFacesView(LoginRequiredMixin, TemplateView):
    """The uploaded photo with its faces numbered: pick the one to search with."""

    template_name = "search/photo_faces.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        photo = queries.own_photo(self.request.user, self.kwargs["pk"])
        context["photo"] = photo
        context["faces"] = [
            {
                "number": index + 1,
                "probability": face["probability"],
                "style": box_style(tuple(face["box"]), photo.width, photo.height),
                "url": reverse("search:photo-results", args=[photo.pk, index]),
            }
            for index, face in enumerate(photo.faces)
        ]
        return context


class PhotoImageView(LoginRequiredMixin, View):
    """The uploaded photo's bytes, to its owner only (404 for everybody else)."""

    def get(self, request, pk: int):
        photo = queries.own_photo(request.user, pk)
        return send_media_file(request, photo.image.name)


# --- Saved searches ---------------------------------------------------------------------------


class OwnSavedSearchMixin(LoginRequiredMixin):
    """Only the owner's saved searches exist, for every view below (others get 404)."""

    def get_queryset(self):
        return SavedSearch.objects.filter(owner=self.request.user)


class SavedSearchListView(OwnSavedSearchMixin, ListView):
    template_name = "search/saved_list.html"
    context_object_name = "saved_searches"
    paginate_by = 50

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("face__frame__movie", "photo", "appearance__movie", "person", "movie")
            .defer("face__embedding", "photo__embeddings", "appearance__embedding")
        )


class SaveSearchView(LoginRequiredMixin, View):
    """POST from a results page: keep the search under a name."""

    def post(self, request):
        form = SaveSearchForm(request.POST, owner=request.user)
        if form.is_valid():
            saved = form.save()
            messages.success(request, f"Saved “{saved.name}”.")
            return HttpResponseRedirect(saved.get_results_url())
        errors = "; ".join(
            str(message) for field_errors in form.errors.values() for message in field_errors
        )
        messages.error(request, f"The search was not saved: {errors}")
        back = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return HttpResponseRedirect(back)
        return HttpResponseRedirect(reverse("search:saved-list"))

    def get(self, request):
        return HttpResponseRedirect(reverse("search:saved-list"))


class SavedSearchRunView(OwnSavedSearchMixin, View):
    """Re-run a saved search: its results page with its filters."""

    def get(self, request, pk: int):
        saved = get_object_or_404(self.get_queryset(), pk=pk)
        url = saved.get_results_url()
        if url is None:
            messages.error(request, gone_message(saved))
            return HttpResponseRedirect(reverse("search:saved-list"))
        return HttpResponseRedirect(url)


def gone_message(saved: SavedSearch) -> str:
    """Why a saved search cannot run: the appearance or person it was saved with is gone."""
    if saved.is_person_search:
        return (
            f"“{saved.name}” cannot run: the person it searched with no longer exists (deleted, "
            "or an unnamed person that re-clustering replaced). Open the people page, search "
            "with someone and save that search; then delete this one."
        )
    return (
        f"“{saved.name}” cannot run: the appearance it searched with no longer exists (its "
        "movie's appearances were rebuilt, or the movie was removed). Open the movie, search "
        "with one of its appearances and save that search; then delete this one."
    )


class SavedSearchRenameView(OwnSavedSearchMixin, UpdateView):
    template_name = "search/saved_rename.html"
    form_class = RenameSavedSearchForm
    success_url = reverse_lazy("search:saved-list")
    context_object_name = "saved"

    def form_valid(self, form):
        messages.success(self.request, f"Renamed to “{form.cleaned_data['name']}”.")
        return super().form_valid(form)


class SavedSearchDeleteView(OwnSavedSearchMixin, DeleteView):
    """GET asks for confirmation; POST deletes (and the photo, when no other search uses it)."""

    template_name = "search/saved_confirm_delete.html"
    success_url = reverse_lazy("search:saved-list")
    context_object_name = "saved"

    def form_valid(self, form):
        messages.success(self.request, f"Deleted “{self.object.name}”.")
        return super().form_valid(form)
