"""Site URLs: each app owns its own; media goes through a login-required view."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from movies.media import serve_protected_media

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    # Every file under MEDIA_URL needs a login, in development and production alike.
    re_path(
        r"^{}(?P<path>.*)$".format(re.escape(settings.MEDIA_URL.lstrip("/"))),
        serve_protected_media,
        name="media",
    ),
    path("", include("movies.urls")),
    path("", include("faces.urls")),
    path("search/", include("search.urls")),
    # The JSON API: one root, each app's endpoints below it (see config/api_urls.py).
    path("api/", include("config.api_urls")),
]
