"""Search endpoints of the JSON API, below ``/api/search/`` (``config/api_urls.py``)."""

from django.urls import path

from search import api

app_name = "search"
urlpatterns = [
    path("face/<int:face_id>/", api.FaceSearchApiView.as_view(), name="face"),
    path("photo/<int:pk>/face/<int:index>/", api.PhotoSearchApiView.as_view(), name="photo"),
    path(
        "appearance/<int:appearance_id>/",
        api.AppearanceSearchApiView.as_view(),
        name="appearance",
    ),
    path("person/<int:person_id>/", api.PersonSearchApiView.as_view(), name="person"),
]
