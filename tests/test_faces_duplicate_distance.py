"""The duplicate distance of each dlib embedder on the real Hamilton clip (every 5th frame).

Results closer than the embedder's FACEFINDER_DUPLICATE_DISTANCE are folded into one entry;
at that distance the 20 nearest faces of any face must group only neighbouring frames of one
person in one shot. How the values were chosen: ``manage.py bench_faces --only duplicates``.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings

from faces.bench import shared_data, video_frames
from faces.bench.duplicates import CLIP, person_in_clip
from faces.pipeline import analyse_images
from search.results import Hit
from search.services import duplicate_distance, group_duplicates


@pytest.mark.slow
@pytest.mark.parametrize("embedder", ["dlib-resnet", "dlib-resnet-mtcnn"])
def test_duplicate_groups_hold_one_person_in_one_shot(embedder):
    frames = list(video_frames(shared_data() / "videos" / CLIP, 5))
    found = analyse_images(
        [frame for _, frame in frames], embedder=embedder, min_face=settings.FACEFINDER_MIN_FACE
    )
    labels = [
        person_in_clip(index, face.detection.box)
        for (index, _), faces in zip(frames, found, strict=True)
        for face in faces
    ]
    vectors = np.stack([face.vector for faces in found for face in faces])
    assert len(labels) > 50

    group_counts = []
    for i in range(len(labels)):
        nearest = np.argsort(-(vectors @ vectors[i]))[:20]
        hits = [Hit(face_id=int(j), score=float(vectors[i] @ vectors[j])) for j in nearest]
        groups = group_duplicates(hits, dict(enumerate(vectors)), duplicate_distance(embedder))
        for group in groups:
            assert len({labels[hit.face_id] for hit in [group.leader, *group.duplicates]}) == 1
        group_counts.append(len(groups))
    # Grouping does real work: 20 results collapse into a handful of entries on average.
    assert np.mean(group_counts) < 10
