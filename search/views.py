"""Search pages: results for a face or a photo, photo upload, saved searches, the JSON endpoint.

Views stay thin: they read a form, call ``search.services`` (the one search code path, shared
with the ``search_faces`` command) and ``search.photos``, and hand ``search.presentation``
cards to a template or to JSON.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse, reverse_lazy
from django.views import View
from django.views.generic import DeleteView, FormView, ListView, TemplateView, UpdateView

from faces.models import Face
from movies.display import box_style
from movies.media import send_media_file
from search import services
from search.forms import (
    PhotoUploadForm,
    RenameSavedSearchForm,
    SaveSearchForm,
    SearchFiltersForm,
)
from search.models import QueryPhoto, SavedSearch
from search.photos import PhotoRejected, store_query_photo
from search.presentation import face_card, group_cards
from search.results import SearchResult


class SearchRequest:
    """A search a results page or the API runs: for a stored face or one face of a photo."""

    def __init__(self, *, face: Face | None = None, photo: QueryPhoto | None = None, index=0):
        self.face = face
        self.photo = photo
        self.photo_face_index = index

    @property
    def embedder(self) -> str:
        return self.face.embedder if self.face else self.photo.embedder

    def run(self, filters: dict) -> SearchResult:
        if self.face is not None:
            return services.search_by_face(self.face.pk, **filters)
        vector = self.photo.vector(self.photo_face_index)
        return services.search_by_vector(vector, self.photo.embedder, **filters)

    def save_initial(self) -> dict:
        if self.face is not None:
            return {"face": self.face.pk}
        return {"photo": self.photo.pk, "photo_face_index": self.photo_face_index}


def _face_or_404(face_id: int) -> Face:
    face = Face.objects.without_embeddings().select_related("frame__movie").filter(pk=face_id)
    face = face.first()
    if face is None:
        raise Http404(f"There is no face {face_id}.")
    return face


def _own_photo_or_404(user, pk: int, face_index: int | None = None) -> QueryPhoto:
    photo = get_object_or_404(QueryPhoto, pk=pk, owner=user)
    if face_index is not None and not 0 <= face_index < photo.face_count:
        raise Http404(f"This photo has no face {face_index + 1}.")
    return photo


class ResultsPageMixin:
    """Filters, search, paging by groups and the empty states shared by both results pages."""

    template_name = "search/results.html"

    def search_request(self) -> SearchRequest:
        raise NotImplementedError

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        search = self.search_request()
        form = SearchFiltersForm(request.GET)
        context = {
            "search": search,
            "filters_form": form,
            "saved_search": self._saved_search(),
            "query_string": self._query_string(exclude=("page",)),
        }
        status = 400
        if form.is_valid():
            filters = form.filters()
            try:
                result = search.run(filters)
            except services.FaceNotFound as error:
                raise Http404(str(error)) from error
            except services.SearchError as error:
                context["search_error"] = str(error)
            else:
                context.update(self.results_context(search, result, filters))
                status = context.pop("status", 200)
        if status != 400:
            context["save_form"] = SaveSearchForm(
                owner=request.user,
                initial={
                    **search.save_initial(),
                    "k": filters["k"],
                    "movie": filters["movie_id"],
                    "min_score": filters["min_score"],
                    "name": self.default_name(search),
                },
            )
        context.update(self.query_context(search))
        return self.render_to_response(context, status=status)

    def render_to_response(self, context: dict, status: int = 200) -> HttpResponse:
        return render(self.request, self.template_name, context, status=status)

    def results_context(self, search: SearchRequest, result: SearchResult, filters) -> dict:
        paginator = Paginator(result.groups, settings.FACEFINDER_GROUPS_PER_PAGE)
        context = {"result": result, "paginator": paginator}
        if not result.groups:
            context["empty_reason"] = self._empty_reason(search, filters)
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
        groups = group_cards(list(page.object_list))
        context.update(
            {
                "page_obj": page,
                "groups": groups,
                "page_range": paginator.get_elided_page_range(page.number, on_ends=1),
            }
        )
        others_found = any(hit.face_id != result.query_face_id for hit in result.hits)
        if not others_found:
            context["empty_reason"] = self._empty_reason(search, filters)
        return context

    def _empty_reason(self, search: SearchRequest, filters: dict) -> str:
        others = Face.objects.filter(embedder=search.embedder)
        if search.face is not None:
            others = others.exclude(pk=search.face.pk)
        if not others.exists():
            return (
                f"No other face has been embedded with {search.embedder} yet, so there is "
                "nothing to compare with. Ingest more movies with this embedder."
            )
        if filters.get("movie_id") or filters.get("min_score") is not None:
            return "No face matches these filters. Try all movies or a lower minimum score."
        return "No similar face was found."

    def _saved_search(self) -> SavedSearch | None:
        saved_id = self.request.GET.get("saved", "")
        if not saved_id.isdigit():
            return None
        return SavedSearch.objects.filter(pk=int(saved_id), owner=self.request.user).first()

    def _query_string(self, exclude: tuple[str, ...]) -> str:
        params = [(k, v) for k, v in self.request.GET.items() if k not in exclude and v != ""]
        return urlencode(params)

    def query_context(self, search: SearchRequest) -> dict:
        return {}

    def default_name(self, search: SearchRequest) -> str:
        return ""


class FaceQueryMixin:
    """The query is a stored face (``face_id`` in the URL); 404 when it does not exist."""

    def search_request(self) -> SearchRequest:
        self.face = _face_or_404(self.kwargs["face_id"])
        return SearchRequest(face=self.face)


class PhotoQueryMixin:
    """The query is face ``index`` of the user's own uploaded photo ``pk``; 404 otherwise."""

    def search_request(self) -> SearchRequest:
        index = self.kwargs["index"]
        self.photo = _own_photo_or_404(self.request.user, self.kwargs["pk"], index)
        return SearchRequest(photo=self.photo, index=index)


class FaceResultsView(LoginRequiredMixin, FaceQueryMixin, ResultsPageMixin, View):
    """``/search/face/<id>/``: the faces most similar to a stored face."""

    def query_context(self, search: SearchRequest) -> dict:
        return {"query_card": face_card(self.face, 1.0), "query_kind": "face"}

    def default_name(self, search: SearchRequest) -> str:
        return f"Face {self.face.pk} in {self.face.frame.name}"


class PhotoResultsView(LoginRequiredMixin, PhotoQueryMixin, ResultsPageMixin, View):
    """``/search/photo/<id>/face/<n>/``: the faces most similar to a face of an uploaded photo."""

    def query_context(self, search: SearchRequest) -> dict:
        index = search.photo_face_index
        return {
            "query_kind": "photo",
            "photo": self.photo,
            "photo_face_number": index + 1,
            "photo_box_style": box_style(
                self.photo.box(index), self.photo.width, self.photo.height
            ),
        }

    def default_name(self, search: SearchRequest) -> str:
        name = self.photo.original_name or "photo"
        if self.photo.face_count > 1:
            return f"{name}, face {search.photo_face_index + 1}"
        return name


class PhotoUploadView(LoginRequiredMixin, FormView):
    """Upload a photo; one face goes straight to its results, several ask which one."""

    template_name = "search/photo_upload.html"
    form_class = PhotoUploadForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["max_megabytes"] = settings.FACEFINDER_MAX_PHOTO_BYTES / 1024**2
        context["max_megapixels"] = settings.FACEFINDER_MAX_PHOTO_PIXELS / 1e6
        return context

    def form_valid(self, form):
        try:
            photo = store_query_photo(self.request.user, form.cleaned_data["photo"])
        except PhotoRejected as error:
            form.add_error("photo", str(error))
            return self.render_to_response(self.get_context_data(form=form), status=400)
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
        photo = _own_photo_or_404(self.request.user, self.kwargs["pk"])
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
        photo = _own_photo_or_404(request.user, pk)
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
            .select_related("face__frame__movie", "photo", "movie")
            .defer("face__embedding", "photo__embeddings")
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
        if back.startswith("/") and not back.startswith("//"):
            return HttpResponseRedirect(back)
        return HttpResponseRedirect(reverse("search:saved-list"))

    def get(self, request):
        return HttpResponseRedirect(reverse("search:saved-list"))


class SavedSearchRunView(OwnSavedSearchMixin, View):
    """Re-run a saved search: its results page with its filters."""

    def get(self, request, pk: int):
        saved = get_object_or_404(self.get_queryset(), pk=pk)
        return HttpResponseRedirect(saved.get_results_url())


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


# --- JSON -------------------------------------------------------------------------------------


class JsonLoginRequiredMixin:
    """API clients get a JSON 401 instead of a redirect to the login page."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "Authentication required: log in first."}, status=401)
        return super().dispatch(request, *args, **kwargs)


class SearchApiMixin(JsonLoginRequiredMixin):
    def search_request(self) -> SearchRequest:
        raise NotImplementedError

    def get(self, request, *args, **kwargs):
        try:
            search = self.search_request()
        except Http404 as error:
            return JsonResponse({"error": str(error)}, status=404)
        form = SearchFiltersForm(request.GET)
        if not form.is_valid():
            return JsonResponse({"error": "Invalid filters.", "fields": form.errors}, status=400)
        filters = form.filters()
        try:
            result = search.run(filters)
        except services.FaceNotFound as error:
            return JsonResponse({"error": str(error)}, status=404)
        except services.SearchError as error:
            return JsonResponse({"error": str(error)}, status=400)
        groups = group_cards(result.groups)
        absolute = request.build_absolute_uri
        return JsonResponse(
            {
                "query": self.query_json(search, absolute),
                "embedder": result.embedder,
                "filters": filters,
                "hit_count": len(result.hits),
                "groups": [group.as_json(absolute) for group in groups],
            }
        )

    def query_json(self, search: SearchRequest, absolute) -> dict:
        raise NotImplementedError


class FaceSearchApiView(FaceQueryMixin, SearchApiMixin, View):
    """``GET /search/api/face/<id>/?k=&movie=&min_score=`` → ranked groups as JSON."""

    def query_json(self, search, absolute) -> dict:
        return {"type": "face", **face_card(self.face, 1.0).as_json(absolute)}


class PhotoSearchApiView(PhotoQueryMixin, SearchApiMixin, View):
    """``GET /search/api/photo/<id>/face/<n>/`` → the same for a face of your uploaded photo."""

    def query_json(self, search, absolute) -> dict:
        return {
            "type": "photo",
            "photo_id": self.photo.pk,
            "face_index": search.photo_face_index,
            "box": list(self.photo.box(search.photo_face_index)),
            "image_url": absolute(self.photo.get_image_url()),
        }
