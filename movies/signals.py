"""Deleting a movie, however it happens (admin, bulk action, ORM), removes its files.

Frames and faces go with the row itself (``on_delete=CASCADE``, carried out by Django's
collector, so it holds on SingleStoreDB, which does not enforce foreign keys).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from movies.models import Movie
from movies.storage import delete_frame_images, delete_upload


@receiver(post_delete, sender=Movie, dispatch_uid="movies.delete_movie_files")
def delete_files_of_deleted_movie(sender: type[Movie], instance: Movie, **kwargs: Any) -> None:
    """The movie's images and its uploaded video go once the deletion is committed."""
    movie_id, upload_name = instance.pk, instance.upload.name if instance.upload else ""

    def delete_files() -> None:
        delete_frame_images(movie_id)
        if upload_name:
            delete_upload(upload_name)

    transaction.on_commit(delete_files)
