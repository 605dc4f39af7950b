"""The appearance endpoints of the JSON API (conventions in ``config.api``).

``GET /api/movies/<id>/appearances/`` lists a movie's appearances in time order, paged in the
API's envelope; ``GET /api/appearances/<id>/`` is one appearance with its faces' ids.
``GET /api/people/?q=&named=&hidden=`` lists people, ``GET /api/people/<id>/`` is one person
with their appearances by movie (a merged person's survivor). Corrections:
``faces.corrections_api``. Routes: ``faces/api_urls.py``; the item shapes:
``faces.listing`` and ``faces.people_listing``.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse

from config import api
from faces.listing import appearance_detail, appearance_item, appearances_of
from faces.models import Appearance, Person
from faces.people_listing import PeopleFilters, people, person_detail, person_items, with_counts
from movies.models import Movie

APPEARANCES_PER_PAGE = 50
PEOPLE_PER_PAGE = 50


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


class PeopleApiView(api.ApiView):
    def get(self, request: HttpRequest) -> JsonResponse:
        form = PeopleFilters(request.GET)
        if not form.is_valid():
            fields = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
            return api.error(400, "Invalid filters.", fields=fields)
        return api.paginated(
            request, people(**form.values()), person_items, per_page=PEOPLE_PER_PAGE
        )


class PersonApiView(api.ApiView):
    """One person; a person merged into someone answers with that survivor (their ``id`` is
    the survivor's), not with a 301: a merge can be undone, so the move is not permanent."""

    def get(self, request: HttpRequest, person_id: int) -> JsonResponse:
        asked = Person.objects.filter(pk=person_id).first()
        person = with_counts(asked.survivor().pk) if asked else None
        if person is None:
            raise Http404(f"There is no person {person_id}.")
        return JsonResponse(person_detail(person))
