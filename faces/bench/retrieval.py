"""Same-person retrieval on lfw_dev for dlib's network under three alignments.

R-precision: for each photo, the fraction of its person's other R photos among its R nearest
photos (cosine), averaged over photos. In LFW the labelled person is the face nearest the image
centre, so each photo contributes that face of each detector; photos where a detector finds
none, or where dlib's and MTCNN's centre faces differ, are left out of every row alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from faces.bench import load_rgb
from faces.bench.speed import facenet_detect, integral_detect, lfw_photos
from faces.detection import Detection


@dataclass
class Photo:
    person: str
    image: np.ndarray
    hog: Detection | None
    mtcnn: dict[str, Detection | None]  # by pyramid: "facenet", "integral"


def _nearest_centre(faces: list[Detection], shape: tuple[int, ...]) -> Detection | None:
    if not faces:
        return None
    height, width = shape[:2]
    return min(
        faces,
        key=lambda f: (f.box[0] + f.box[2] - width) ** 2 + (f.box[1] + f.box[3] - height) ** 2,
    )


def _detections(found: tuple[np.ndarray, np.ndarray], min_probability: float) -> list[Detection]:
    boxes, points = found
    return [
        Detection(tuple(float(v) for v in box[:4]), float(box[4]), points[i].tolist())
        for i, box in enumerate(boxes)
        if box[4] > min_probability
    ]


def load_photos(limit: int | None) -> list[Photo]:
    """lfw_dev photos with dlib's HOG face (no upsampling, as in dlib's own example) and
    MTCNN's face by each pyramid, each the one nearest the image centre."""
    import dlib

    from faces.detection import resolve_min_face

    hog = dlib.get_frontal_face_detector()
    min_probability = settings.FACEFINDER_MIN_PROBABILITY
    photos = []
    for path in lfw_photos(limit):
        image = load_rgb(path)
        min_face_px = resolve_min_face(settings.FACEFINDER_MIN_FACE, image.shape[0])
        hog_faces = [
            Detection((r.left(), r.top(), r.right(), r.bottom()), 1.0, []) for r in hog(image, 0)
        ]
        mtcnn = {
            name: _nearest_centre(
                _detections(detect(image, min_face_px), min_probability), image.shape
            )
            for name, detect in (("facenet", facenet_detect), ("integral", integral_detect))
        }
        hog_face = _nearest_centre(hog_faces, image.shape)
        photos.append(Photo(path.parent.name, image, hog_face, mtcnn))
    return photos


def same_face(a: Detection, b: Detection) -> bool:
    """Whether ``b``'s centre lies inside ``a``'s box (two detectors' boxes of one face)."""
    x, y = (b.box[0] + b.box[2]) / 2, (b.box[1] + b.box[3]) / 2
    return a.box[0] <= x <= a.box[2] and a.box[1] <= y <= a.box[3]


def r_precisions(vectors: np.ndarray, people: list[str]) -> np.ndarray:
    """Each photo's R-precision (photos whose person has no other photo are left out)."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    labels = np.asarray(people)
    scores = []
    for i, label in enumerate(labels):
        relevant = int((labels == label).sum()) - 1
        if relevant:
            nearest = np.argpartition(-similarity[i], relevant)[:relevant]
            scores.append(float((labels[nearest] == label).mean()))
    return np.asarray(scores)


def _interval(difference: np.ndarray, people: list[str], rounds: int = 2000) -> tuple[float, float]:
    """95% bootstrap interval of the mean per-photo difference, resampling people."""
    labels = np.asarray(people)
    groups = [np.flatnonzero(labels == person) for person in dict.fromkeys(people)]
    rng = np.random.default_rng(0)
    means = []
    for _ in range(rounds):
        chosen = rng.integers(0, len(groups), len(groups))
        means.append(difference[np.concatenate([groups[i] for i in chosen])].mean())
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def retrieval(limit: int | None) -> Iterator[str]:
    from faces.embedders import get_embedder

    photos = load_photos(limit)
    usable = [
        p
        for p in photos
        if p.hog and all(p.mtcnn.values()) and all(same_face(m, p.hog) for m in p.mtcnn.values())
    ]
    people = [p.person for p in usable]
    # Only photos whose person has another photo among the usable ones are queries.
    counts = {person: people.count(person) for person in people}
    usable = [p for p in usable if counts[p.person] > 1]
    people = [p.person for p in usable]
    dlib_resnet, mtcnn_aligned = get_embedder("dlib-resnet"), get_embedder("dlib-resnet-mtcnn")
    rows = {
        "(a) dlib HOG box -> shape predictor": (dlib_resnet, lambda p: p.hog),
        "(b) MTCNN box -> shape predictor [dlib-resnet]": (
            dlib_resnet,
            lambda p: p.mtcnn["integral"],
        ),
        "(b) same, facenet-pytorch's pyramid": (dlib_resnet, lambda p: p.mtcnn["facenet"]),
        "(c) MTCNN landmarks [dlib-resnet-mtcnn]": (
            mtcnn_aligned,
            lambda p: p.mtcnn["integral"],
        ),
        "(c) same, facenet-pytorch's pyramid": (mtcnn_aligned, lambda p: p.mtcnn["facenet"]),
    }
    scores = {}
    for name, (embedder, face_of) in rows.items():
        vectors = embedder.embed_many([(p.image, [face_of(p)]) for p in usable])
        scores[name] = r_precisions(vectors, people)
    yield (
        f"lfw_dev: {len(photos)} photos; {len(usable)} photos of {len(set(people))} people where "
        "every detector finds the same centre face; R-precision (R = the person's other photos):"
    )
    for name, values in scores.items():
        yield f"  {name:<48} {values.mean():.4f}"
    names = list(scores)
    comparisons = {
        "(c) - (a)": (names[3], names[0]),
        "(c) - (b)": (names[3], names[1]),
        "(b) integral - facenet pyramid": (names[1], names[2]),
        "(c) integral - facenet pyramid": (names[3], names[4]),
    }
    for label, (better, worse) in comparisons.items():
        difference = scores[better] - scores[worse]
        low, high = _interval(difference, people)
        yield (
            f"  {label:<32} {difference.mean():+.4f} (95% bootstrap over people "
            f"{low:+.4f} to {high:+.4f})"
        )
