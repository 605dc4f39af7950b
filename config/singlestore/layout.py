"""The SingleStoreDB table layout of frames, shots, faces and appearances: the one place that
describes it.

django_singlestore shards every table by its primary key. Frames, shots, faces and appearances
are instead sharded by movie, so that one movie's rows sit together on one partition and the
unique natural keys (movie, frame index[, face index]; movie, shot index; movie, first frame
index, first face index) contain the shard key, as SingleStoreDB requires. A unique
key must contain the shard key, so ``id`` cannot stay the PRIMARY KEY of these tables: it keeps
its AUTO_INCREMENT (unique by construction) and gets a non-unique hash key for ``pk`` lookups.

Faces get one persisted computed ``VECTOR(n, F32)`` column per embedder, derived from the
``embedding`` BLOB that the ORM writes (little-endian float32, the VECTOR binary format). The
ORM keeps reading and writing ``embedding`` on every backend; SingleStoreDB fills the vector
column of the face's embedder and leaves the others NULL. The faces table is created with the
columns of ``TABLE_VECTOR_EMBEDDERS``; each later embedder's column is added by a migration of
its own (``config.singlestore.operations.AddVectorColumn``), so that a new database and an
upgraded one end with the same table. Appearances hold the mean of their faces' vectors in the
same way (``embedder`` and ``embedding`` columns, one computed VECTOR column per embedder); their
table was created after every embedder above existed, so it is created with all their columns.
"""

from __future__ import annotations

from dataclasses import dataclass

# Frozen here (not imported from faces.embedders, which loads torch) because migrations must
# produce the same DDL forever; tests check that it matches faces.embedders.DIMENSIONS.
VECTOR_DIMENSIONS: dict[str, int] = {
    "facenet-vggface2": 512,
    "dlib-resnet": 128,
    "dlib-resnet-mtcnn": 128,  # added by faces' migration 0002
}
# The embedders whose columns faces' migration 0001 creates with the table.
TABLE_VECTOR_EMBEDDERS: tuple[str, ...] = ("facenet-vggface2", "dlib-resnet")
# The embedders whose columns faces' migration 0003 creates the appearances table with.
APPEARANCE_VECTOR_EMBEDDERS: tuple[str, ...] = (
    "facenet-vggface2",
    "dlib-resnet",
    "dlib-resnet-mtcnn",
)


# Django's own apps and the small per-user search tables have unique keys that do not contain
# their primary key (auth_user.username, the content-type pair, m2m pairs), which a distributed
# table cannot enforce; as reference tables (copied to every leaf) they can, and joins to them
# stay local. django-axes' tables are small too (and stay empty: failed logins are counted in
# the throttle cache). Movies, frames and faces stay distributed. The schema editor applies this
# default; DJANGO_SINGLESTORE_TABLE_STORAGE_TYPE_<APP> in the environment overrides it for one app.
REFERENCE_APPS = ("admin", "auth", "axes", "contenttypes", "search")
REFERENCE_STORAGE_TYPE = "ROWSTORE REFERENCE"


def vector_column(embedder: str) -> str:
    """Name of the VECTOR column that holds ``embedder``'s vectors."""
    if embedder not in VECTOR_DIMENSIONS:
        raise KeyError(f"no VECTOR column for embedder {embedder!r}")
    return "embedding_" + embedder.replace("-", "_")


def vector_index_name(embedder: str) -> str:
    """The ANN index of faces' ``embedder`` column (``manage.py vector_index``)."""
    return f"faces_face_{vector_column(embedder)}_ann"


@dataclass(frozen=True)
class TableLayout:
    shard_key: tuple[str, ...]
    sort_key: tuple[str, ...]
    # Non-unique hash keys (the old primary key lives on here).
    hash_keys: tuple[tuple[str, ...], ...] = ()
    # Embedders whose persisted VECTOR column the table is created with.
    vector_embedders: tuple[str, ...] = ()


LAYOUTS: dict[str, TableLayout] = {
    # Frames are read per movie in frame order (movie page, frame page neighbours).
    "movies.Frame": TableLayout(
        shard_key=("movie_id",),
        sort_key=("movie_id", "index"),
        hash_keys=(("id",),),
    ),
    # Similarity scans filter by embedder (and often movie); listings read a movie's faces in
    # frame order. Sorting by (embedder, movie_id, frame_index) lets segment elimination skip
    # every segment of other embedders and movies for both.
    "faces.Face": TableLayout(
        shard_key=("movie_id",),
        sort_key=("embedder", "movie_id", "frame_index", "face_index"),
        hash_keys=(("id",),),
        vector_embedders=TABLE_VECTOR_EMBEDDERS,
    ),
    # Shots are read per movie in order (an appearance's shot, the timeline).
    "movies.Shot": TableLayout(
        shard_key=("movie_id",),
        sort_key=("movie_id", "index"),
        hash_keys=(("id",),),
    ),
    # Appearances are listed per movie in time order, and read by id (a search result's
    # appearance); their mean vectors are compared per embedder, like faces'.
    "faces.Appearance": TableLayout(
        shard_key=("movie_id",),
        sort_key=("embedder", "movie_id", "first_frame_index", "first_face_index"),
        hash_keys=(("id",),),
        vector_embedders=APPEARANCE_VECTOR_EMBEDDERS,
    ),
}
