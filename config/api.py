"""The conventions every JSON endpoint under ``/api/`` follows, whichever app it belongs to.

- A login is needed, as for every page; an anonymous client gets a 401 JSON answer, never a
  redirect to the login page (``ApiView``).
- An error is ``{"error": "<one line for a person>"}`` (``error``); a 400 caused by parameters
  adds ``"fields"``: parameter name → its messages.
- A POST needs the site's CSRF token; without it the answer is a 403 JSON error
  (``csrf_failure``).
- Every list comes in one envelope (``paginated``): ``count``, ``page``, ``num_pages``,
  ``next``, ``previous`` (absolute URLs or null) and ``results``; ``?page=`` picks the page.

The routes are in ``config/api_urls.py``; the README's "JSON API" section documents them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import View
from django.views.csrf import csrf_failure as django_csrf_failure

# The statuses an API error may have: bad parameters, not logged in, not permitted, no such
# thing, wrong method, refused as things stand (a correction ``faces.corrections`` refuses),
# too many requests.
ERROR_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 429})


def error(
    status: int,
    message: str,
    *,
    fields: dict[str, list[str]] | None = None,
    retry_after: int | None = None,
) -> JsonResponse:
    """The API's one error answer; ``retry_after`` (seconds) sets the header a 429 carries."""
    if status not in ERROR_STATUSES:
        raise ValueError(f"{status} is not an API error status ({sorted(ERROR_STATUSES)}).")
    body: dict[str, Any] = {"error": message}
    if fields:
        body["fields"] = fields
    response = JsonResponse(body, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(int(retry_after))
    return response


class ApiView(View):
    """Base of every API view: 401 for anonymous clients, 404 and 405 as API errors."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return error(401, "Authentication required: log in first.")
        try:
            return super().dispatch(request, *args, **kwargs)
        except Http404 as missing:
            return error(404, str(missing) or "Not found.")

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any):
        response = error(405, f"{request.method} is not allowed here.")
        response["Allow"] = ", ".join(self._allowed_methods())
        return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: a 403 JSON error for a POST under ``/api/`` without the CSRF token
    (the session's POSTs need it there too), Django's own page anywhere else."""
    if request.path.startswith("/api/"):
        return error(
            403,
            f"CSRF check failed ({reason}): send the csrftoken cookie's value as the "
            "X-CSRFToken header.",
        )
    return django_csrf_failure(request, reason=reason)


class NoSuchEndpoint(ApiView):
    """Every other path under ``/api/``: a 404 in the API's shape (401 first, as everywhere)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return error(404, "There is no such API endpoint (see the README's JSON API section).")

    http_method_not_allowed = get


def paginated(
    request: HttpRequest,
    items: Sequence,
    serialise: Callable[[list], list],
    *,
    per_page: int,
    **extra: Any,
) -> JsonResponse:
    """One page of ``items`` in the envelope, ``serialise`` turning that page into JSON.

    ``extra`` keys describe the whole list (a search's query and filters, say) and go beside the
    envelope's. A ``page`` that is not a whole number from 1 is a 400, one past the end a 404;
    an empty list has one empty page.
    """
    text = request.GET.get("page") or "1"
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        return error(400, "Invalid page.", fields={"page": ["Give a page number from 1."]})
    number = int(text)
    paginator = Paginator(items, per_page)
    if number > paginator.num_pages:
        pages = f"{paginator.num_pages} page{'s' if paginator.num_pages != 1 else ''}"
        return error(404, f"There is no page {number}; the list has {pages}.")
    page = paginator.page(number)
    return JsonResponse(
        {
            **extra,
            "count": paginator.count,
            "page": number,
            "num_pages": paginator.num_pages,
            "next": _page_url(request, number + 1) if page.has_next() else None,
            "previous": _page_url(request, number - 1) if page.has_previous() else None,
            "results": serialise(list(page.object_list)),
        }
    )


def _page_url(request: HttpRequest, number: int) -> str:
    params = request.GET.copy()
    params["page"] = str(number)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
