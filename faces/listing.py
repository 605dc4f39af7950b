"""What is shown of an appearance: the one item shape of the JSON API, ``manage.py appearances
list`` and search results (README, "JSON API")."""

from __future__ import annotations

from django.db.models import QuerySet

from faces.models import Appearance, Face


def appearances_of(movie_id: int) -> QuerySet[Appearance]:
    """A movie's appearances in time order, with their shots, without their vectors."""
    return (
        Appearance.objects.without_embeddings()
        .filter(movie_id=movie_id)
        .select_related("shot")
        .order_by("start_seconds", "first_frame_index", "first_face_index")
    )


def appearance_item(appearance: Appearance) -> dict:
    """The appearance as JSON (its shot must be loaded: ``select_related("shot")``)."""
    return {
        "id": appearance.pk,
        "movie_id": appearance.movie_id,
        "embedder": appearance.embedder,
        "shot_index": appearance.shot.index,
        "start_seconds": round(appearance.start_seconds, 3),
        "end_seconds": round(appearance.end_seconds, 3),
        "first_frame_index": appearance.first_frame_index,
        "last_frame_index": appearance.last_frame_index,
        "face_count": appearance.face_count,
        "representative_face_id": appearance.representative_face_id,
        "person_id": appearance.person_id,
    }


def face_ids_of(appearance_ids: list[int]) -> dict[int, list[int]]:
    """Appearance id → its faces' ids in frame order, in one query."""
    rows = (
        Face.objects.filter(appearance_id__in=appearance_ids)
        .order_by("frame_index", "face_index")
        .values_list("appearance_id", "pk")
    )
    faces: dict[int, list[int]] = {appearance_id: [] for appearance_id in appearance_ids}
    for appearance_id, face_id in rows:
        faces[appearance_id].append(face_id)
    return faces


def appearance_detail(appearance: Appearance) -> dict:
    """The item plus ``face_ids`` in frame order."""
    return {**appearance_item(appearance), "face_ids": face_ids_of([appearance.pk])[appearance.pk]}
