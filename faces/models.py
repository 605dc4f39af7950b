"""Faces found in frames, each with the embedding of one named embedder."""

from __future__ import annotations

import numpy as np
from django.db import models

from movies.models import Frame, Movie


class FaceQuerySet(models.QuerySet):
    def without_embeddings(self) -> FaceQuerySet:
        """Lists never need the 2 KB vectors."""
        return self.defer("embedding")


class Face(models.Model):
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="faces")
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="faces")
    # Natural key (movie, frame_index, face_index): the frame index is copied here so that the
    # unique key contains the movie (SingleStoreDB shards faces by movie).
    frame_index = models.IntegerField()
    face_index = models.IntegerField()
    # Box in frame pixels.
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    probability = models.FloatField()
    # Five MTCNN landmarks as [[x, y], ...] in frame pixels.
    landmarks = models.JSONField(default=list, blank=True)
    embedder = models.CharField(max_length=64, db_index=True)
    # Little-endian float32, L2-normalised; length = 4 * the embedder's dimension.
    embedding = models.BinaryField()
    thumbnail = models.ImageField(max_length=255, blank=True)

    objects = FaceQuerySet.as_manager()

    class Meta:
        ordering = ["movie", "frame_index", "face_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["movie", "frame_index", "face_index"], name="face_unique_natural_key"
            ),
        ]
        indexes = [models.Index(fields=["embedder", "movie"], name="face_embedder_movie")]

    def __str__(self) -> str:
        return f"Face {self.pk}"

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)


def pack_vector(vector: np.ndarray) -> bytes:
    """Pack a vector as little-endian float32 bytes (what SingleStoreDB's JSON_ARRAY_PACK makes)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def unpack_vector(blob: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype="<f4")
