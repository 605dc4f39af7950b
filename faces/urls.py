"""Appearance and people pages, and their correction forms (``faces.correction_views``);
every one needs a login."""

from django.urls import path

from faces import correction_views as fix
from faces import people_views, views

app_name = "faces"
urlpatterns = [
    path("appearances/<int:pk>/", views.AppearanceDetailView.as_view(), name="appearance"),
    path(
        "appearances/<int:pk>/not-this-person/",
        fix.NotThisPersonView.as_view(),
        name="not_this_person",
    ),
    path("appearances/<int:pk>/move/", fix.MoveAppearanceView.as_view(), name="move_appearance"),
    path("people/", people_views.PeopleListView.as_view(), name="people"),
    path("people/<int:pk>/", people_views.PersonDetailView.as_view(), name="person"),
    path("people/<int:pk>/rename/", fix.RenameView.as_view(), name="rename"),
    path("people/<int:pk>/hide/", fix.HideView.as_view(), name="hide"),
    path("people/<int:pk>/merge/", fix.MergeView.as_view(), name="merge"),
    path("people/<int:pk>/split/", fix.SplitView.as_view(), name="split"),
    path(
        "people/<int:pk>/corrections/<int:correction>/undo/",
        fix.UndoView.as_view(),
        name="undo",
    ),
]
