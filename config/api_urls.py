"""The JSON API's root, ``/api/``: each app's endpoints under a prefix of their own.

To add endpoints for an app: write the views in ``<app>/api.py`` on ``config.api.ApiView``
(lists through ``config.api.paginated``, errors through ``config.api.error``), route them in
``<app>/api_urls.py`` with ``app_name = "<app>"``, and include that module here. They reverse
as ``api:<app>:<name>``, e.g. ``reverse("api:search:face", args=[face_id])``.
"""

from django.urls import include, path, re_path

from config.api import NoSuchEndpoint

app_name = "api"
urlpatterns = [
    path("search/", include("search.api_urls")),
    # movies/<id>/appearances/, appearances/<id>/, people/, people/<id>/ and corrections
    path("", include("faces.api_urls")),
    # Last: any other path answers in the API's shape, not with the site's HTML 404 page.
    re_path(r"", NoSuchEndpoint.as_view(), name="not-found"),
]
