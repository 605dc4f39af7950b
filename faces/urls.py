"""Appearance and people pages; every one needs a login."""

from django.urls import path

from faces import people_views, views

app_name = "faces"
urlpatterns = [
    path("appearances/<int:pk>/", views.AppearanceDetailView.as_view(), name="appearance"),
    path("people/", people_views.PeopleListView.as_view(), name="people"),
    path("people/<int:pk>/", people_views.PersonDetailView.as_view(), name="person"),
]
