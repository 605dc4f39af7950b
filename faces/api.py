"""The appearance endpoints of the JSON API (conventions in ``config.api``).

``GET /api/movies/<id>/appearances/`` lists a movie's appearances in time order, paged in the
API's envelope; ``GET /api/appearances/<id>/`` is one appearance with its faces' ids. Routes:
``faces/api_urls.py``; the item shape: ``faces.listing``.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse

from config import api
from faces.listing import appearance_detail, appearance_item, appearances_of
from faces.models import Appearance
from movies.models import Movie

APPEARANCES_PER_PAGE = 50


class MovieAppearancesApiView(api.ApiView):
    def get(self, request: HttpRequest, movie_id: int) -> JsonResponse:
        if not Movie.objects.filter(pk=movie_id).exists():
            raise Http404(f"There is no movie {movie_id}.")
        appearances = appearances_of(movie_id)

        def items(page: list[Appearance]) -> list[dict]:
            return [appearance_item(appearance) for appearance in page]

        return api.paginated(request, appearances, items, per_page=APPEARANCES_PER_PAGE)


class AppearanceApiView(api.ApiView):
    def get(self, request: HttpRequest, appearance_id: int) -> JsonResponse:
        appearance = (
            Appearance.objects.without_embeddings()
            .select_related("shot")
            .filter(pk=appearance_id)
            .first()
        )
        if appearance is None:
            raise Http404(f"There is no appearance {appearance_id}.")
        return JsonResponse(appearance_detail(appearance))
