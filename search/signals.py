"""Deleting search rows, however it happens (admin, cascade, cleanup, ORM), tidies up after them.

An uploaded photo's file goes with its row, and a photo goes with the last saved search that
used it (unsaved photos are removed by ``search.photos`` once they expire).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from search.models import QueryPhoto, SavedSearch


@receiver(post_delete, sender=QueryPhoto, dispatch_uid="search.delete_photo_file")
def delete_photo_file(sender: type[QueryPhoto], instance: QueryPhoto, **kwargs: Any) -> None:
    if instance.image:
        instance.image.storage.delete(instance.image.name)


@receiver(post_delete, sender=SavedSearch, dispatch_uid="search.delete_unsaved_photo")
def delete_photo_no_longer_saved(
    sender: type[SavedSearch], instance: SavedSearch, **kwargs: Any
) -> None:
    if instance.photo_id is None:
        return
    photo = QueryPhoto.objects.filter(pk=instance.photo_id).first()
    if photo is not None and not photo.saved_searches.exists():
        photo.delete()
