"""Synthetic face vectors shaped like a film library, for ``bench_search`` (never for a page).

Uniform random vectors are useless for judging an index: real face embeddings form clusters.
Here each movie is a run of shots; a shot shows one or two people for a few sampled frames.
A face vector mixes, with fixed weights, four random unit directions:

    common (shared by every face: embedders put all faces in one cone)
    + identity (the person) + shot (pose, lighting of that shot) + frame noise

so that the expected cosine is ``common`` between different people, ``common + identity``
between shots of one person, and ``common + identity + shot`` within a shot. The weights of
``PROFILES`` follow what real embedders give:

- dlib-resnet (128-d): measured on the Hamilton clip, every 5th frame (``bench_search``
  docstring has the figures): within a shot 0.93-0.98, between people about 0.80 with the
  closest other person at 0.895.
- facenet-vggface2 (512-d): no VGGFace2 weights can be loaded on this machine, so these follow
  the usual behaviour of that model (different people near 0, the same person 0.5-0.8,
  neighbouring frames above 0.9); they are an assumption, not a measurement.

People matter unequally, as in films: a few leads fill most frames (Zipf-like shares), extras
appear once or twice, and some actors recur across movies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    dimension: int
    common: float  # expected cosine between different people
    identity: float  # added for the same person in another shot
    shot: float  # added within one shot (neighbouring frames)
    # the rest (1 - common - identity - shot) is per-frame noise


PROFILES = {
    "facenet-vggface2": Profile(dimension=512, common=0.05, identity=0.55, shot=0.32),
    "dlib-resnet": Profile(dimension=128, common=0.80, identity=0.10, shot=0.055),
}
CAST_PER_MOVIE = 60
RECURRING_STARS = 300
STARS_PER_MOVIE = 6


def _unit_rows(rng: np.random.Generator, count: int, dimension: int) -> np.ndarray:
    rows = rng.standard_normal((count, dimension), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def movie_chunks(
    total: int, profile: Profile, *, faces_per_movie: int = 10_000, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (frame numbers, unit vectors) per movie until ``total`` faces were made.

    Frame numbers count sampled frames within the movie; two faces of one shot share a frame.
    Deterministic for a seed, so that a benchmark database can be reused.
    """
    rng = np.random.default_rng(seed)
    dim = profile.dimension
    common = _unit_rows(rng, 1, dim)[0]
    stars = _unit_rows(rng, RECURRING_STARS, dim)
    noise = 1.0 - profile.common - profile.identity - profile.shot
    weights = np.sqrt([profile.common, profile.identity, profile.shot, noise]).astype(np.float32)
    made = 0
    while made < total:
        size = min(faces_per_movie, total - made)
        cast = np.concatenate(
            [
                stars[rng.choice(RECURRING_STARS, STARS_PER_MOVIE, replace=False)],
                _unit_rows(rng, CAST_PER_MOVIE - STARS_PER_MOVIE, dim),
            ]
        )
        shares = 1.0 / np.arange(1, CAST_PER_MOVIE + 1) ** 1.1
        shares /= shares.sum()
        frames, people, shots = _shots(rng, size, shares)
        shot_directions = _unit_rows(rng, int(shots.max()) + 1, dim)
        noise = rng.standard_normal((size, dim), dtype=np.float32) / np.float32(np.sqrt(dim))
        vectors = (
            weights[0] * common
            + weights[1] * cast[people]
            + weights[2] * shot_directions[shots]
            + weights[3] * noise
        )
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        made += size
        yield frames, vectors.astype(np.float32)


def _shots(
    rng: np.random.Generator, size: int, shares: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame number, person and shot number of each of ``size`` faces."""
    frames, people, shots = [], [], []
    frame = shot = 0
    while len(frames) < size:
        on_screen = rng.choice(len(shares), 1 + int(rng.random() < 0.3), replace=False, p=shares)
        for _ in range(int(rng.integers(2, 26))):
            for person in on_screen:
                frames.append(frame)
                people.append(person)
                # Each (shot, person) pair gets its own pose direction.
                shots.append(shot * 2 + (person != on_screen[0]))
            frame += 1
        shot += 1
    return (
        np.asarray(frames[:size], dtype=np.int64),
        np.asarray(people[:size], dtype=np.int64),
        np.asarray(shots[:size], dtype=np.int64),
    )
