"""Search pages; every one needs a login. The search API lives under /api/search/."""

from django.urls import path
from django.views.generic import RedirectView

from search import views


def _moved_to(pattern_name: str):
    return RedirectView.as_view(pattern_name=pattern_name, permanent=True, query_string=True)


app_name = "search"
urlpatterns = [
    path("face/<int:face_id>/", views.FaceResultsView.as_view(), name="face"),
    path(
        "appearance/<int:appearance_id>/",
        views.AppearanceResultsView.as_view(),
        name="appearance",
    ),
    path("person/<int:person_id>/", views.PersonResultsView.as_view(), name="person"),
    path("photo/", views.PhotoUploadView.as_view(), name="photo"),
    path("photo/<int:pk>/", views.PhotoFacesView.as_view(), name="photo-faces"),
    path("photo/<int:pk>/image/", views.PhotoImageView.as_view(), name="photo-image"),
    path(
        "photo/<int:pk>/face/<int:index>/",
        views.PhotoResultsView.as_view(),
        name="photo-results",
    ),
    path("saved/", views.SavedSearchListView.as_view(), name="saved-list"),
    path("saved/new/", views.SaveSearchView.as_view(), name="saved-create"),
    path("saved/<int:pk>/", views.SavedSearchRunView.as_view(), name="saved-run"),
    path("saved/<int:pk>/rename/", views.SavedSearchRenameView.as_view(), name="saved-rename"),
    path("saved/<int:pk>/delete/", views.SavedSearchDeleteView.as_view(), name="saved-delete"),
    # The API's first home: permanent redirects to /api/search/..., query string kept.
    path("api/face/<int:face_id>/", _moved_to("api:search:face")),
    path("api/photo/<int:pk>/face/<int:index>/", _moved_to("api:search:photo")),
]
