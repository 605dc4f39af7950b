"""What the next generation of a persisted collection holds, and writing it.

A process writes a generation (with the store's lock held) when its view of the table differs
enough from the files: its in-memory tail reached ``FOLD_ROWS`` rows, or rows of file segments
were deleted from the table. The generation is always the process's whole view, in step with
the table state it last saw, so any process can adopt it and carry on from that state.

- The tail becomes a segment of its own; then, like a binary counter, the newest segment is
  merged into the one before it while that one holds fewer than ``MERGE_FACTOR`` times its
  rows. Segments stay few (about log2 of rows / ``FOLD_ROWS``) and every row is rewritten a
  logarithmic number of times.
- A segment whose tombstones reach ``COMPACT_SHARE`` of its rows is rewritten without them;
  with fewer, only a small file listing them is written.
- Above the exact-scan size every segment holds IVF codes of one ``Training``: merged segments
  concatenate their codes, new rows are encoded once, and a collection that outgrew its
  training ``RETRAIN_GROWTH`` times is trained again (the one costly step, as rare as in
  memory).
"""

from __future__ import annotations

import os
import time

import faiss
import numpy as np

from search.backends.index_store import IndexStore
from search.backends.segments import (
    RETRAIN_GROWTH,
    MemorySegment,
    Segment,
    Training,
    sample_positions,
)

# Rows of the in-memory tail that make a write due (about 10 MB of 512-d vectors: the exact
# scan of the tail stays near a millisecond).
FOLD_ROWS = 5_000
MERGE_FACTOR = 2
COMPACT_SHARE = 0.25


def write_due(segments: list[Segment], tail: MemorySegment) -> bool:
    return tail.live_rows >= FOLD_ROWS or any(unwritten_deletes(s) for s in segments)


def unwritten_deletes(segment: Segment) -> bool:
    written = (segment.entry or {}).get("deleted") or {"rows": 0}
    return len(segment.deleted) != written["rows"]


def write_generation(
    store: IndexStore,
    *,
    table: str,
    embedder: str,
    number: int,
    segments: list[Segment],
    tail: MemorySegment,
    training: Training | None,
    table_seen: tuple[int, int],
    exact_max: int,
) -> None:
    """Write and publish generation ``number``: the file segments and the tail, merged."""
    groups = _merge_plan([*segments, tail])
    total = sum(_live(group) for group in groups)
    dimension = next((part.dim for part in [*segments, tail] if part.count), 0)
    if total > exact_max:
        training = _training_for(groups, training, tail, total)
    kept_training = training if total > exact_max or _uses(groups, training) else None
    entries = []
    for position, group in enumerate(groups):
        if _keep(group, training if total > exact_max else None):
            entries.append(_kept_entry(store, group[0], number))
        else:
            name = f"seg-{number}-{position}"
            index = _build_index(store, group, training) if total > exact_max else None
            parts = [(part, part.live_positions()) for part in group]
            entries.append(
                store.write_segment(
                    name,
                    parts,
                    index,
                    dimension=dimension,
                    id_base=group[0].id_base,
                    training=training if index is not None else None,
                )
            )
    store.publish(
        {
            "table": table,
            "embedder": embedder,
            "dimension": dimension,
            "generation": number,
            "table_seen": list(table_seen),
            "training": store.write_training(kept_training) if kept_training else None,
            "segments": entries,
            "written": {"pid": os.getpid(), "at": time.time()},
        }
    )


def _live(group: list[Segment]) -> int:
    return sum(part.live_rows for part in group)


def _merge_plan(segments: list[Segment]) -> list[list[Segment]]:
    """Groups of consecutive segments, each to become one segment of the next generation."""
    groups: list[list[Segment]] = []
    for segment in segments:
        if not segment.live_rows:
            continue
        groups.append([segment])
        while len(groups) >= 2 and _live(groups[-2]) < MERGE_FACTOR * _live(groups[-1]):
            newest = groups.pop()
            groups[-1].extend(newest)
    return groups


def _keep(group: list[Segment], training: Training | None) -> bool:
    """Whether a file segment can stay as it is (at most a new tombstone list)."""
    (segment,) = group if len(group) == 1 else (None,)
    if segment is None or segment.name is None:
        return False
    if len(segment.deleted) >= COMPACT_SHARE * segment.count:
        return False
    return training is None or segment.encoded_with(training)


def _kept_entry(store: IndexStore, segment: Segment, number: int) -> dict:
    entry = dict(segment.entry or {})
    if unwritten_deletes(segment):
        entry["deleted"] = store.write_deleted(segment.name, segment.deleted, number)
    return entry


def _uses(groups: list[list[Segment]], training: Training | None) -> bool:
    return training is not None and any(
        _keep(group, training) and group[0].index is not None for group in groups
    )


def _training_for(
    groups: list[list[Segment]], training: Training | None, tail: MemorySegment, total: int
) -> Training:
    """The collection's training: kept, taken from a tail that trained itself, or trained anew."""
    if training is None and tail.index is not None:
        training = tail.training
    if training is not None and total <= RETRAIN_GROWTH * training.trained_rows:
        return training
    parts = [(part, part.live_positions()) for group in groups for part in group]
    offsets = np.cumsum([0] + [len(rows) for _, rows in parts])
    wanted = sample_positions(total)
    sample = []
    for number, (part, rows) in enumerate(parts):
        inside = wanted[(wanted >= offsets[number]) & (wanted < offsets[number + 1])]
        sample.append(np.asarray(part.vectors[rows[inside - offsets[number]]]))
    return Training.from_sample(np.concatenate(sample), total)


def _build_index(store: IndexStore, group: list[Segment], training: Training) -> faiss.Index:
    """IVF codes of a group's live rows: existing codes are merged, other rows encoded."""
    first = group[0]
    whole_tail = len(group) == 1 and first.name is None and not len(first.deleted)
    if whole_tail and first.encoded_with(training):
        return first.index  # a tail that trained itself: its codes are the segment's
    target = training.empty_index()
    for part in group:
        if part.encoded_with(training):
            codes = store.index_in_memory(part) if part.name else faiss.clone_index(part.index)
            if len(part.deleted):
                codes.remove_ids(np.ascontiguousarray(part.deleted - part.id_base))
            target.merge_from(codes, part.id_base - first.id_base)
        else:
            rows = part.live_positions()
            for start in range(0, len(rows), 100_000):
                chunk = rows[start : start + 100_000]
                target.add_with_ids(
                    np.ascontiguousarray(part.vectors[chunk], dtype=np.float32),
                    np.ascontiguousarray(part.ids[chunk] - first.id_base),
                )
    return target
