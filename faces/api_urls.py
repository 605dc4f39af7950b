"""Appearance and people endpoints of the JSON API, at the API's root (``config/api_urls.py``)."""

from django.urls import path

from faces import api

app_name = "faces"
urlpatterns = [
    path(
        "movies/<int:movie_id>/appearances/",
        api.MovieAppearancesApiView.as_view(),
        name="movie-appearances",
    ),
    path("appearances/<int:appearance_id>/", api.AppearanceApiView.as_view(), name="appearance"),
    path("people/", api.PeopleApiView.as_view(), name="people"),
    path("people/<int:person_id>/", api.PersonApiView.as_view(), name="person"),
]
