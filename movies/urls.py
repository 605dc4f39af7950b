"""Movie pages; every one needs a login."""

from django.urls import path

from movies import views

app_name = "movies"
urlpatterns = [
    path("", views.MovieListView.as_view(), name="list"),
    path("movies/<int:pk>/", views.MovieDetailView.as_view(), name="detail"),
    path("frames/<int:pk>/", views.FrameDetailView.as_view(), name="frame"),
]
