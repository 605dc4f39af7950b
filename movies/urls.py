"""Movie pages; every one needs a login."""

from django.urls import path

from movies import video_serving, views

app_name = "movies"
urlpatterns = [
    path("", views.MovieListView.as_view(), name="list"),
    path("movies/<int:pk>/", views.MovieDetailView.as_view(), name="detail"),
    # The movie's video file for the player, by id (byte ranges; nginx in x-accel mode).
    path("movies/<int:pk>/video/", video_serving.serve_movie_video, name="video"),
    path("frames/<int:pk>/", views.FrameDetailView.as_view(), name="frame"),
]
