"""Appearance pages; every one needs a login."""

from django.urls import path

from faces import views

app_name = "faces"
urlpatterns = [
    path("appearances/<int:pk>/", views.AppearanceDetailView.as_view(), name="appearance"),
]
