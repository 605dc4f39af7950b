"""Deleting a movie, however it happens (admin, bulk action, ORM), removes its image files.

Frames and faces go with the row itself (``on_delete=CASCADE``, carried out by Django's
collector, so it holds on SingleStoreDB, which does not enforce foreign keys).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from movies.frames import on_movie_deleted
from movies.models import Movie


@receiver(post_delete, sender=Movie, dispatch_uid="movies.delete_movie_files")
def delete_files_of_deleted_movie(sender: type[Movie], instance: Movie, **kwargs: Any) -> None:
    on_movie_deleted(instance)
