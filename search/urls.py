"""Search pages. Every URL here needs a login; the API answers 401 JSON instead of redirecting."""

from django.urls import path

from search import views

app_name = "search"
urlpatterns = [
    path("face/<int:face_id>/", views.FaceResultsView.as_view(), name="face"),
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
    path("api/face/<int:face_id>/", views.FaceSearchApiView.as_view(), name="api-face"),
    path(
        "api/photo/<int:pk>/face/<int:index>/",
        views.PhotoSearchApiView.as_view(),
        name="api-photo",
    ),
]
