"""URL confs for the appearance page's "Search with this appearance" link, which shows only
where the search app names a ``search:appearance`` URL: the site's URLs with that name added
(``With``) or taken away (``Without``), whatever the search app holds. Each is a URL conf as
``ROOT_URLCONF`` takes one: an object with ``urlpatterns``."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import URLResolver, include, path

from config.urls import urlpatterns as site_patterns
from search import urls as search_urls


def _stand_in(request, pk):
    return HttpResponse(f"search with appearance {pk}")


def _site(search_patterns: list) -> list:
    kept = [
        pattern
        for pattern in site_patterns
        if not (isinstance(pattern, URLResolver) and pattern.namespace == "search")
    ]
    return [*kept, path("search/", include((search_patterns, "search")))]


_without = [p for p in search_urls.urlpatterns if getattr(p, "name", None) != "appearance"]


class Without:
    urlpatterns = _site(_without)


class With:
    urlpatterns = _site([*_without, path("appearance/<int:pk>/", _stand_in, name="appearance")])
