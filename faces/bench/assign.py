"""``manage.py bench_people --assign LIBRARY``: the time to assign a new movie's 1,000
appearances against a library of LIBRARY appearances already in people, on the configured
(scratch) database.

The appearances are ``synthetic_nodes``' (dlib-like vectors, movies of 1000 appearances, a
Zipf cast with recurring stars); the library's appearances are put in people by their true
labels and the centroids written (``faces.centroids.rebuild``), as a library clustered before
would be; the last movie's 1,000 then wait and ``faces.people.assign_movie`` places them. What
this times is the real assignment path: the database reads (waiting rows, the centroids, the
members' spans in the new shots, the members' count), the clustering and the writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from faces import centroids
from faces.bench.people import synthetic_nodes
from faces.models import Appearance, Person
from faces.people import assign_movie
from movies.models import Movie, Shot

MOVIE_SIZE = 1000
BATCH = 5000


@dataclass
class AssignBench:
    library: int
    build_seconds: float
    assign_seconds: float
    assigned: int
    created: int
    stars_right: int  # new appearances of a recurring star that joined that star's person
    stars_seen: int


def _movie_rows(
    movie_number: int, rows: np.ndarray, vectors: np.ndarray, faces: np.ndarray, embedder: str
) -> list[Appearance]:
    movie = Movie.objects.create(
        title=f"synthetic {movie_number}", fps=25.0, status=Movie.Status.DONE, embedder=embedder
    )
    shots = Shot.objects.bulk_create(
        [
            Shot(
                movie=movie,
                index=k,
                first_frame=100 * k,
                last_frame=100 * k + 99,
                start_seconds=4.0 * k,
                end_seconds=4.0 * k + 4.0,
            )
            for k in range(len(rows))
        ],
        batch_size=BATCH,
    )
    return [
        Appearance(
            movie=movie,
            embedder=embedder,
            shot=shot,
            first_frame_index=100 * k,
            first_face_index=0,
            last_frame_index=100 * k + 5 * (int(faces[row]) - 1),
            start_seconds=4.0 * k,
            end_seconds=4.0 * k + 0.2 * int(faces[row]),
            face_count=int(faces[row]),
            embedding=np.asarray(vectors[row], dtype="<f4").tobytes(),
        )
        for k, (row, shot) in enumerate(zip(rows.tolist(), shots, strict=True))
    ]


def run(library: int, embedder: str) -> AssignBench:
    """Build the library and the new movie, then time the assignment of the new movie."""
    started = time.monotonic()
    nodes, labels = synthetic_nodes(library + MOVIE_SIZE)
    vectors = nodes.sums / nodes.counts[:, None]
    person_of: dict[int, int] = {}
    for label in np.unique(labels[:library]).tolist():
        person_of[label] = 0
    people = Person.objects.bulk_create([Person() for _ in person_of], batch_size=BATCH)
    for label, person in zip(person_of, people, strict=True):
        person_of[label] = person.pk
    movie = None
    for number, start in enumerate(range(0, library + MOVIE_SIZE, MOVIE_SIZE)):
        rows = np.arange(start, min(start + MOVIE_SIZE, library + MOVIE_SIZE))
        appearances = _movie_rows(number, rows, vectors, nodes.faces, embedder)
        if start < library:
            for row, appearance in zip(rows.tolist(), appearances, strict=True):
                appearance.person_id = person_of[int(labels[row])]
        Appearance.objects.bulk_create(appearances, batch_size=BATCH)
        movie = appearances[0].movie
    centroids.rebuild(embedder)
    built = time.monotonic() - started
    started = time.monotonic()
    (report,) = assign_movie(movie.pk)
    seconds = time.monotonic() - started
    new = Appearance.objects.filter(movie=movie).order_by("shot__index")
    placed = list(new.values_list("person_id", flat=True))
    truth = labels[library:].tolist()
    stars = [(p, t) for p, t in zip(placed, truth, strict=True) if t in person_of]
    return AssignBench(
        library=library,
        build_seconds=built,
        assign_seconds=seconds,
        assigned=report.assigned,
        created=report.people_created,
        stars_right=sum(p == person_of[t] for p, t in stars),
        stars_seen=len(stars),
    )
