"""The files of a persisted collection: their format, their checks, and one writer at a time.

One directory per collection, ``FACEFINDER_SEARCH_INDEX_DIR/<database>/<table>/<embedder>/``::

    manifest.json            the current generation: the files, their sizes and checksums, and
                             the table state they are in step with; replaced atomically
    lock                     held (flock) by the one process writing a generation
    training-<tag>.faiss     the trained, empty IVF index that encodes every segment
    seg-<n>/ids.npy          int64 ids, ascending            (numpy .npy files, memory-mapped
    seg-<n>/movie_ids.npy    int64                            read-only by every process)
    seg-<n>/vectors.npy      float32, rows x dimension
    seg-<n>/ivf-<tag>.faiss  the segment's IVF codes (faiss.write_index; read with IO_FLAG_MMAP)
    seg-<n>/deleted-<g>.npy  int64 ids deleted from the table since the segment was written

Every file is written once, under a temporary name, fsynced, then renamed into place; the
manifest, written last the same way, is the commit point. Readers take no lock: the manifest
they read names only complete files, and a file a writer removes later stays readable through
the mappings already made (POSIX keeps an unlinked inode alive). Anything that does not match
the manifest (size, checksum, array shape, dimension, faiss header) raises ``DamagedIndex``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from django.db import connection

from search.backends.index_files import (
    DamagedIndex,
    check_file,
    file_record,
    fsync,
    write_array,
    write_vectors,
)
from search.backends.segments import RowFile, Segment, Training

FORMAT = 1
MANIFEST = "manifest.json"


@dataclass
class Generation:
    """An opened manifest: its segments (memory-mapped) and training."""

    number: int
    table_seen: tuple[int, int]
    dimension: int
    segments: list[Segment]
    training: Training | None
    manifest: dict


def database_key() -> str:
    """A folder name for the database in use: the bench's scratch file never meets the site's."""
    settings = connection.settings_dict
    name = str(settings["NAME"])
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        name = str(Path(name).resolve())
    identity = "|".join(
        [connection.vendor, str(settings.get("HOST")), str(settings.get("PORT")), name]
    )
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).name)[:40].strip("-")
    return f"{connection.vendor}-{slug}-{hashlib.sha256(identity.encode()).hexdigest()[:10]}"


class IndexStore:
    """The directory of one collection's files."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST

    def stamp(self) -> tuple[int, int, int] | None:
        """Changes whenever a new manifest is published (a stat call: microseconds)."""
        try:
            stat = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    # --- reading ------------------------------------------------------------------------------

    def read_manifest(self) -> dict | None:
        try:
            text = self.manifest_path.read_text()
        except FileNotFoundError:
            return None
        try:
            manifest = json.loads(text)
        except ValueError as error:
            raise DamagedIndex(f"{self.manifest_path} is not valid JSON: {error}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise DamagedIndex(f"{self.manifest_path} is not a format {FORMAT} manifest")
        return manifest

    def open(
        self, manifest: dict, *, table: str, embedder: str, reuse: dict[str, Segment] | None = None
    ) -> Generation:
        """Check every file the manifest names and map them; ``reuse``: segments already open."""
        try:
            if (manifest["table"], manifest["embedder"]) != (table, embedder):
                raise DamagedIndex(
                    f"{self.manifest_path} describes {manifest['embedder']} rows of "
                    f"{manifest['table']}, not {embedder} rows of {table}"
                )
            dimension = int(manifest["dimension"])
            training = self._open_training(manifest.get("training"))
            segments = [
                self._open_segment(entry, dimension, training, (reuse or {}).get(entry["name"]))
                for entry in manifest["segments"]
            ]
            count, max_id = manifest["table_seen"]
            return Generation(
                number=int(manifest["generation"]),
                table_seen=(int(count), int(max_id)),
                dimension=dimension,
                segments=segments,
                training=training,
                manifest=manifest,
            )
        except (KeyError, TypeError, ValueError, OSError) as error:
            raise DamagedIndex(f"{self.manifest_path}: {error!r}") from None

    def _open_training(self, entry: dict | None) -> Training | None:
        if entry is None:
            return None
        path = self.directory / entry["file"]["name"]
        check_file(path, entry["file"])
        index = self._read_index(path, 0)
        return Training(
            tag=entry["tag"],
            trained_rows=int(entry["trained_rows"]),
            blob=faiss.serialize_index(index),
        )

    def _open_segment(
        self, entry: dict, dimension: int, training: Training | None, reused: Segment | None
    ) -> Segment:
        folder = self.directory / entry["name"]
        rows = int(entry["rows"])
        files = entry["files"]
        if reused is not None and reused.entry is not None and reused.entry["files"] == files:
            segment = Segment(
                reused.ids,
                reused.movie_ids,
                reused.vectors,
                index=reused.index,
                training=reused.training,
                id_base=reused.id_base,
                name=reused.name,
            )
            segment.row_file = reused.row_file
        else:
            ids = self._load_array(folder, files["ids"], (rows,), "<i8")
            movie_ids = self._load_array(folder, files["movie_ids"], (rows,), "<i8")
            vectors = self._load_array(folder, files["vectors"], (rows, dimension), "<f4")
            if rows == 0 or ids[0] != entry["first_id"] or ids[-1] != entry["last_id"]:
                raise DamagedIndex(f"{folder}: its ids do not span the manifest's range")
            if np.any(np.diff(ids) <= 0) or int(entry["id_base"]) > int(ids[0]):
                raise DamagedIndex(f"{folder}: its ids are not ascending")
            index = None
            if "ivf" in files:
                if training is None or entry.get("training") != training.tag:
                    raise DamagedIndex(f"{folder}: its IVF codes belong to another training")
                path = folder / files["ivf"]["name"]
                check_file(path, files["ivf"])
                index = self._read_index(path, faiss.IO_FLAG_MMAP)
                # The mapped lists are in the page cache; faiss would otherwise start 32 threads
                # per search to read them ahead, which measured 5 ms of a 10 ms search at 1M.
                lists = faiss.downcast_InvertedLists(faiss.extract_index_ivf(index).invlists)
                lists.prefetch_nthread = 0
                if index.ntotal != rows or index.d != dimension:
                    raise DamagedIndex(f"{path} holds {index.ntotal} rows of {index.d} dimensions")
            segment = Segment(
                ids,
                movie_ids,
                vectors,
                index=index,
                training=training if index else None,
                id_base=int(entry["id_base"]),
                name=entry["name"],
            )
            segment.row_file = RowFile(vectors.filename, vectors.offset, dimension)
        segment.entry = entry
        deleted = entry.get("deleted")
        if deleted is not None:
            gone = self._load_array(folder, deleted, (int(deleted["rows"]),), "<i8")
            if len(gone) and np.any(segment.positions_of(np.asarray(gone)) < 0):
                raise DamagedIndex(f"{folder}: {deleted['name']} names rows it does not hold")
            segment.set_deleted(np.asarray(gone))
        return segment

    def _load_array(self, folder: Path, record: dict, shape: tuple, dtype: str) -> np.ndarray:
        path = folder / record["name"]
        check_file(path, record)
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as error:
            raise DamagedIndex(f"{path} is not a numpy array file: {error}") from None
        if array.shape != shape or array.dtype != np.dtype(dtype) or not array.flags.c_contiguous:
            raise DamagedIndex(
                f"{path} holds {array.dtype} {array.shape}, expected {dtype} {shape}"
            )
        return array

    def _read_index(self, path: Path, flags: int) -> faiss.Index:
        try:
            index = faiss.read_index(str(path), flags)
        except RuntimeError as error:
            raise DamagedIndex(
                f"{path} is not a readable faiss index: {str(error)[:200]}"
            ) from None
        if not isinstance(index, faiss.IndexIVFScalarQuantizer):
            raise DamagedIndex(f"{path} is a {type(index).__name__}, not an IVF-SQ8 index")
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise DamagedIndex(f"{path} does not rank by inner product")
        return index

    def index_in_memory(self, segment: Segment) -> faiss.IndexIVFScalarQuantizer:
        """A writable copy of a file segment's IVF codes (for merging)."""
        return self._read_index(
            self.directory / segment.name / segment.entry["files"]["ivf"]["name"], 0
        )

    # --- writing (only while holding ``writer``) ----------------------------------------------

    @contextlib.contextmanager
    def writer(self, *, wait_seconds: float) -> Iterator[bool]:
        """Hold the collection's write lock; yields False when another process kept it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "lock").open("a") as handle:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as error:
                    if error.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.05)
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write_segment(
        self,
        name: str,
        parts: list[tuple[Segment, np.ndarray]],
        index: faiss.Index | None,
        *,
        dimension: int,
        id_base: int,
        training: Training | None,
    ) -> dict:
        """A segment of the rows at ``positions`` of each part, in order; returns its entry."""
        staging = self.directory / f".tmp-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            ids = np.concatenate([part.ids[rows] for part, rows in parts])
            files = {
                "ids": write_array(staging / "ids.npy", [ids]),
                "movie_ids": write_array(
                    staging / "movie_ids.npy", [part.movie_ids[rows] for part, rows in parts]
                ),
                "vectors": write_vectors(staging / "vectors.npy", parts, dimension),
            }
            entry = {
                "name": name,
                "id_base": id_base,
                "first_id": int(ids[0]),
                "last_id": int(ids[-1]),
                "rows": len(ids),
            }
            if index is not None:
                path = staging / f"ivf-{uuid.uuid4().hex[:8]}.faiss"
                faiss.write_index(index, str(path))
                fsync(path)
                files["ivf"] = file_record(path)
                entry["training"] = training.tag if training else None
            entry["files"] = files
            # A writer that died before publishing may have left this name behind.
            shutil.rmtree(self.directory / name, ignore_errors=True)
            os.rename(staging, self.directory / name)
            fsync(self.directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return entry

    def write_deleted(self, segment_name: str, deleted: np.ndarray, generation: int) -> dict:
        path = self.directory / segment_name / f"deleted-{generation}.npy"
        record = write_array(path, [np.asarray(deleted, dtype=np.int64)], staged=True)
        return {**record, "rows": len(deleted)}

    def write_training(self, training: Training) -> dict:
        path = self.directory / f"training-{training.tag}.faiss"
        staged = path.with_name(f".tmp-{uuid.uuid4().hex}")
        faiss.write_index(training.empty_index(), str(staged))
        fsync(staged)
        os.rename(staged, path)
        return {
            "tag": training.tag,
            "trained_rows": training.trained_rows,
            "file": file_record(path),
        }

    def publish(self, manifest: dict) -> None:
        """Make ``manifest`` the current generation, then remove files it no longer names."""
        staged = self.directory / f".tmp-{uuid.uuid4().hex}.json"
        staged.write_text(json.dumps({"format": FORMAT, **manifest}, indent=1))
        fsync(staged)
        os.replace(staged, self.manifest_path)
        fsync(self.directory)
        self._collect_garbage(manifest)

    def _collect_garbage(self, manifest: dict) -> None:
        keep: dict[str, set[str]] = {}
        for entry in manifest["segments"]:
            names = {record["name"] for record in entry["files"].values()}
            if entry.get("deleted"):
                names.add(entry["deleted"]["name"])
            keep[entry["name"]] = names
        training = manifest.get("training")
        top_level = {MANIFEST, "lock"} | ({training["file"]["name"]} if training else set())
        for path in self.directory.iterdir():
            if path.is_dir() and path.name in keep:
                for inner in path.iterdir():
                    if inner.name not in keep[path.name]:
                        inner.unlink()
            elif path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.name not in top_level:
                path.unlink(missing_ok=True)
