"""Appearance and people endpoints of the JSON API, at the API's root (``config/api_urls.py``)."""

from django.urls import path

from faces import api, corrections_api

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
    # Corrections (faces.corrections_api): POSTs needing faces.change_person, and the history.
    path("people/<int:person_id>/name/", corrections_api.NameApiView.as_view(), name="person-name"),
    path(
        "people/<int:person_id>/hidden/",
        corrections_api.HiddenApiView.as_view(),
        name="person-hidden",
    ),
    path(
        "people/<int:person_id>/merge/",
        corrections_api.MergeApiView.as_view(),
        name="person-merge",
    ),
    path(
        "people/<int:person_id>/split/",
        corrections_api.SplitApiView.as_view(),
        name="person-split",
    ),
    path(
        "people/<int:person_id>/corrections/",
        corrections_api.PersonCorrectionsApiView.as_view(),
        name="person-corrections",
    ),
    path(
        "appearances/<int:appearance_id>/not-this-person/",
        corrections_api.NotThisPersonApiView.as_view(),
        name="appearance-not-this-person",
    ),
    path(
        "corrections/<int:correction_id>/undo/",
        corrections_api.UndoApiView.as_view(),
        name="correction-undo",
    ),
]
