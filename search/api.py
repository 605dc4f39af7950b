"""The search endpoints of the JSON API: the faces most like a stored face or a photo's face.

``GET /api/search/face/<id>/`` and ``GET /api/search/photo/<id>/face/<n>/`` take the results
page's filters (``k``, ``movie``, ``min_score``) and ``page``, and answer with the search's
summary beside one page of result groups, in the envelope and with the errors of
``config.api``. Routes: ``search/api_urls.py``; the shapes are documented in the README.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from config import api
from search import queries


class SearchApiView(api.ApiView):
    """One search, paged by appearances (or near-duplicate groups with ``group=duplicate``)
    like the results page (``FACEFINDER_GROUPS_PER_PAGE``)."""

    def get_query(self) -> queries.Query:
        raise NotImplementedError

    def get(self, request: HttpRequest, *args, **kwargs) -> JsonResponse:
        query = self.get_query()  # QueryNotFound is an Http404: ApiView answers 404
        answer = queries.answer(query, request.GET)
        if answer.result is None:
            return api.error(400, answer.error, fields=answer.field_errors())
        absolute = request.build_absolute_uri

        def groups_json(groups: list) -> list[dict]:
            return [group.as_json(absolute) for group in answer.cards(groups)]

        return api.paginated(
            request,
            answer.result.entries,
            groups_json,
            per_page=settings.FACEFINDER_GROUPS_PER_PAGE,
            **answer.summary_json(absolute),
        )


class FaceSearchApiView(SearchApiView):
    """``/api/search/face/<id>/``: the faces most like stored face ``id``."""

    def get_query(self) -> queries.FaceQuery:
        return queries.face_query(self.kwargs["face_id"])


class PhotoSearchApiView(SearchApiView):
    """``/api/search/photo/<id>/face/<n>/``: the same for face ``n`` (from 0) of your photo."""

    def get_query(self) -> queries.PhotoQuery:
        return queries.photo_query(self.request.user, self.kwargs["pk"], self.kwargs["index"])


class AppearanceSearchApiView(SearchApiView):
    """``/api/search/appearance/<id>/``: the same for appearance ``id``'s mean vector."""

    def get_query(self) -> queries.AppearanceQuery:
        return queries.appearance_query(self.kwargs["appearance_id"])


class PersonSearchApiView(SearchApiView):
    """``/api/search/person/<id>/``: the same for all of person ``id``'s appearances."""

    def get_query(self) -> queries.PersonQuery:
        return queries.person_query(self.kwargs["person_id"])
