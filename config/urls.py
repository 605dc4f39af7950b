"""Site URLs: each app owns its own; media goes through a login-required view."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("movies.urls")),
    path("search/", include("search.urls")),
]
