"""The persisted search index: restarts, appends, deletes, damaged files, several processes.

A "restart" here is ``forget_cached_vectors()``: the process drops every collection and the next
search starts from what lies in ``FACEFINDER_SEARCH_INDEX_DIR`` and in the table, as a freshly
started web process would. Writes happen only outside transactions, so these tests commit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faces.models import Face
from search.backends import forget_cached_vectors, generations, get_backend
from search.backends.embedded import EmbeddedBackend
from search.backends.index_files import file_record
from search.backends.vector_table import VectorTable
from tests.factories import add_faces, clustered_vectors, make_movie

pytestmark = pytest.mark.django_db(transaction=True)

DIM = 64
EMBEDDER = "dlib-resnet"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def small_thresholds(settings, monkeypatch):
    """IVF above 500 faces, files once 200 rows are in memory (the defaults are far higher)."""
    settings.FACEFINDER_SEARCH_EXACT_MAX_FACES = 500
    monkeypatch.setattr(generations, "FOLD_ROWS", 200)
    return settings


@pytest.fixture
def loads(monkeypatch):
    """Every range of rows read from the table: (after id, up to id, rows)."""
    calls: list[tuple[int, int | None, int]] = []
    real = VectorTable.iter_rows

    def spy(self, embedder, *, after_id, upto_id=None):
        for chunk in real(self, embedder, after_id=after_id, upto_id=upto_id):
            calls.append((after_id, upto_id, len(chunk[0])))
            yield chunk

    monkeypatch.setattr(VectorTable, "iter_rows", spy)
    return calls


def rows_loaded(calls) -> int:
    return sum(rows for _, _, rows in calls)


def collection():
    backend = get_backend()
    assert isinstance(backend, EmbeddedBackend)
    return backend.collection(EMBEDDER)


def nearest(vector, k=10, **options):
    return get_backend().nearest(vector, EMBEDDER, k, **options)


def manifest() -> dict:
    return json.loads((collection().store.manifest_path).read_text())


def segment_folder(position: int = 0) -> Path:
    return collection().store.directory / manifest()["segments"][position]["name"]


@pytest.fixture
def library():
    """1200 faces in three movies (800, 300, 100), searched once: their files are written."""
    vectors = clustered_vectors(people=60, faces_per_person=20, dim=DIM, spread=0.6, seed=1)
    first, second, short = make_movie("First"), make_movie("Second"), make_movie("Short")
    ids = (
        add_faces(first, vectors[:800])
        + add_faces(second, vectors[800:1100])
        + add_faces(short, vectors[1100:])
    )
    nearest(vectors[0])
    assert collection().segments, "no files were written"
    return {"vectors": vectors, "ids": ids, "movies": (first, second, short)}


def test_a_restarted_process_searches_from_the_files_without_loading_vectors(library, loads):
    vectors = library["vectors"]
    before = [nearest(vectors[row]).hits for row in (0, 500, 1100)]
    forget_cached_vectors()
    after = [nearest(vectors[row]).hits for row in (0, 500, 1100)]
    assert after == before
    assert rows_loaded(loads) == 0
    assert collection().uses_index and collection().count == 1200
    assert isinstance(collection().segments[0].vectors, np.memmap)


def test_rows_read_from_a_file_segment_are_the_stored_vectors(library):
    forget_cached_vectors()
    nearest(library["vectors"][0])
    (segment,) = collection().segments
    for positions in ([5, 6, 7, 100, 3, 4, 1199], [0], list(range(40)), []):
        positions = np.asarray(positions, dtype=np.int64)
        read = segment.rows(positions)
        assert read.shape == (len(positions), DIM)
        assert np.array_equal(read, library["vectors"][positions])


def test_results_from_files_equal_the_in_memory_index(library, settings):
    vectors = library["vectors"]
    first = library["movies"][0]
    queries = [
        (vectors[row], options)
        for row in (3, 420, 999)
        for options in ({}, {"exact": True}, {"movie_id": first.pk}, {"min_score": 0.5})
    ]
    forget_cached_vectors()
    from_files = [nearest(vector, 20, **options) for vector, options in queries]
    assert collection().segments and not collection().tail.count
    settings.FACEFINDER_SEARCH_INDEX_DIR = ""
    forget_cached_vectors()
    in_memory = [nearest(vector, 20, **options) for vector, options in queries]
    assert collection().store is None and collection().uses_index
    for files, memory in zip(from_files, in_memory, strict=True):
        assert files.hits == memory.hits  # same faces, same exact scores, same order
        assert np.array_equal(files.vectors, memory.vectors)


def test_rows_added_after_a_restart_are_loaded_alone_then_written(library, loads):
    first = library["movies"][0]
    forget_cached_vectors()
    newcomers = clustered_vectors(people=5, faces_per_person=20, dim=DIM, seed=2)
    new_ids = add_faces(first, newcomers, first_frame=10_000)
    hits = nearest(newcomers[7], k=1).hits
    assert hits[0].face_id == new_ids[7] and hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert rows_loaded(loads) == 100 and loads[0][0] == max(library["ids"])
    generation = manifest()["generation"]

    more = clustered_vectors(people=5, faces_per_person=30, dim=DIM, seed=3)
    more_ids = add_faces(first, more, first_frame=20_000)
    assert nearest(more[0], k=1).hits[0].face_id == more_ids[0]
    assert manifest()["generation"] == generation + 1  # 250 rows in memory: written
    assert not collection().tail.count

    loads.clear()
    forget_cached_vectors()
    assert nearest(more[0], k=1).hits[0].face_id == more_ids[0]
    assert nearest(newcomers[7], k=1).hits[0].face_id == new_ids[7]
    assert rows_loaded(loads) == 0 and collection().count == 1450


def test_a_movie_deleted_while_no_process_ran_is_gone_after_the_restart(library, loads):
    vectors = library["vectors"]
    short = library["movies"][2]
    forget_cached_vectors()
    short.delete()  # cascades to its 100 faces
    hits = nearest(vectors[1150], k=20).hits
    assert {hit.face_id for hit in hits} <= set(library["ids"][:1100])
    assert collection().count == 1100
    assert rows_loaded(loads) == 0  # tombstones, not a reload
    (entry,) = manifest()["segments"]
    assert entry["deleted"]["rows"] == 100

    forget_cached_vectors()
    assert nearest(vectors[1150], k=20).hits == hits
    assert rows_loaded(loads) == 0


def test_faces_deleted_between_two_searches_disappear(library):
    vectors, ids = library["vectors"], library["ids"]
    Face.objects.filter(pk__in=ids[:3]).delete()
    hits = nearest(vectors[0], k=20).hits
    assert not {hit.face_id for hit in hits} & set(ids[:3])
    assert nearest(vectors[0], k=20, exact=True).hits == hits[:20]
    assert collection().count == 1197


def test_many_deletions_rewrite_the_segment_without_them(library, loads):
    vectors, ids = library["vectors"], library["ids"]
    Face.objects.filter(pk__in=ids[:500]).delete()
    nearest(vectors[600])
    (entry,) = manifest()["segments"]
    assert entry["rows"] == 700 and entry.get("deleted") is None
    forget_cached_vectors()
    assert nearest(vectors[600], k=5).hits[0].face_id == ids[600]
    assert rows_loaded(loads) == 0


def test_appends_make_few_segments_and_keep_every_face_findable(library, loads):
    first = library["movies"][0]
    added = {}
    for batch in range(8):
        vectors = clustered_vectors(people=10, faces_per_person=21, dim=DIM, seed=20 + batch)
        for face_id, vector in zip(
            add_faces(first, vectors, first_frame=10_000 * (batch + 1)), vectors, strict=True
        ):
            added[face_id] = vector
        nearest(vectors[0])
    assert len(manifest()["segments"]) <= 4
    forget_cached_vectors()
    loads.clear()
    for face_id, vector in list(added.items())[::97]:
        assert nearest(vector, k=1).hits[0].face_id == face_id
    assert rows_loaded(loads) == 0


def truncate_vectors():
    path = segment_folder() / "vectors.npy"
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def rewrite_vectors_with_another_dimension():
    """A vectors file of 32-d rows, recorded in the manifest as if it belonged there."""
    path = segment_folder() / "vectors.npy"
    rows = manifest()["segments"][0]["rows"]
    np.save(path, np.zeros((rows, 32), dtype=np.float32))
    edit_manifest(lambda m: m["segments"][0]["files"].update(vectors=file_record(path)))


def rewrite_vectors_with_other_values():
    """Same shape, consistent checksums, other vectors: files of another database."""
    path = segment_folder() / "vectors.npy"
    rows = manifest()["segments"][0]["rows"]
    other = clustered_vectors(people=rows // 10, faces_per_person=10, dim=DIM, seed=99)
    np.save(path, other)
    edit_manifest(lambda m: m["segments"][0]["files"].update(vectors=file_record(path)))


def truncate_ivf():
    path = next(segment_folder().glob("ivf-*.faiss"))
    with path.open("r+b") as handle:
        handle.truncate(1000)


def edit_manifest(change):
    data = manifest()
    change(data)
    collection().store.manifest_path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "damage",
    [
        truncate_vectors,
        rewrite_vectors_with_another_dimension,
        rewrite_vectors_with_other_values,
        truncate_ivf,
        lambda: edit_manifest(lambda m: m.update(embedder="facenet-vggface2")),
        lambda: edit_manifest(lambda m: m["segments"][0].update(rows=1199)),
        lambda: collection().store.manifest_path.write_text("{not json"),
    ],
    ids=[
        "truncated-vectors",
        "other-dimension",
        "other-database",
        "truncated-ivf",
        "other-embedder",
        "wrong-row-count",
        "garbage-manifest",
    ],
)
def test_damaged_or_foreign_files_are_rebuilt_never_served(library, loads, damage):
    vectors, ids = library["vectors"], library["ids"]
    damage()
    forget_cached_vectors()
    hits = nearest(vectors[42], k=10).hits
    assert hits[0].face_id == ids[42] and hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert rows_loaded(loads) == 1200  # rebuilt from the table
    loads.clear()
    forget_cached_vectors()
    assert nearest(vectors[42], k=10).hits == hits  # and written again, soundly
    assert rows_loaded(loads) == 0


def test_nothing_is_written_inside_a_transaction(settings):
    from django.db import transaction

    vectors = clustered_vectors(people=30, faces_per_person=20, dim=DIM, seed=5)
    with transaction.atomic():
        add_faces(make_movie(), vectors)
        nearest(vectors[0])
        assert collection().count == 600 and not collection().segments
    assert not collection().store.manifest_path.exists()


def test_files_written_by_another_process_are_adopted_at_the_next_search(library, loads):
    """Two backends in one process stand for two web processes sharing the folder."""
    first = library["movies"][0]
    other = EmbeddedBackend()
    vectors = library["vectors"]
    assert other.nearest(vectors[5], EMBEDDER, 5).hits == nearest(vectors[5], k=5).hits
    newcomers = clustered_vectors(people=10, faces_per_person=30, dim=DIM, seed=7)
    new_ids = add_faces(first, newcomers, first_frame=10_000)
    nearest(newcomers[0])  # this process loads the 300 rows and writes generation 2
    assert manifest()["generation"] == 2
    loads.clear()
    hits = other.nearest(newcomers[3], EMBEDDER, 1).hits
    assert hits[0].face_id == new_ids[3]
    assert rows_loaded(loads) == 0  # adopted the new files instead of reading the table
    adopted = other.collection(EMBEDDER)
    assert adopted.generation == 2 and not adopted.tail.count


def test_a_busy_writer_leaves_this_process_searching_from_memory(library):
    first = library["movies"][0]
    newcomers = clustered_vectors(people=10, faces_per_person=30, dim=DIM, seed=8)
    new_ids = add_faces(first, newcomers, first_frame=10_000)
    with collection().store.writer(wait_seconds=0) as locked:  # another process writes
        assert locked
        assert nearest(newcomers[9], k=1).hits[0].face_id == new_ids[9]
        assert collection().tail.count == 300 and manifest()["generation"] == 1
    nearest(newcomers[9], k=1)  # the lock is free again: written now
    assert manifest()["generation"] == 2 and not collection().tail.count


# --- several processes -------------------------------------------------------------------------

CHILD = """
import json, os, sys
import django
django.setup()
from search.backends import generations, get_backend
from search.backends.vector_table import VectorTable
from tests.factories import add_faces, clustered_vectors, make_movie

loaded = []
real = VectorTable.iter_rows
def spy(self, embedder, **kwargs):
    for chunk in real(self, embedder, **kwargs):
        loaded.append(len(chunk[0]))
        yield chunk
VectorTable.iter_rows = spy
generations.FOLD_ROWS = 200

vectors = clustered_vectors(people=60, faces_per_person=20, dim=64, spread=0.6, seed=1)
if sys.argv[1] == "fill":
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    add_faces(make_movie("First"), vectors)
    print(json.dumps({"filled": True}))
    sys.exit()
sys.stdin.readline()  # start together
hits = [get_backend().nearest(vectors[row], "dlib-resnet", 10).hits for row in (0, 600, 1199)]
maps = open(f"/proc/{os.getpid()}/maps").read()
print(json.dumps({
    "hits": [[(h.face_id, h.score) for h in found] for found in hits],
    "loaded": sum(loaded),
    "mapped": sorted({line.split()[-1] for line in maps.splitlines() if "vectors.npy" in line}),
}))
"""


def test_processes_build_once_and_share_the_same_files(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "FACEFINDER_SEARCH_INDEX_DIR": str(tmp_path / "index"),
        "FACEFINDER_SEARCH_EXACT_MAX_FACES": "500",
    }

    def start(mode):
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, mode],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    filling = start("fill")
    assert json.loads(filling.communicate(timeout=120)[0])["filled"]
    children = [start("search"), start("search")]
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    answers = [json.loads(child.communicate(timeout=300)[0]) for child in children]
    assert answers[0]["hits"] == answers[1]["hits"]
    assert sorted(answer["loaded"] for answer in answers) == [0, 1200]  # one built, one waited
    (mapped,) = {tuple(answer["mapped"]) for answer in answers}
    assert len(mapped) == 1 and mapped[0].startswith(str(tmp_path / "index"))
