"""``python manage.py bench_faces``: the face pipeline's speed and quality figures in one run.

Sections, all but ``template`` by default (or those named with --only): ``descriptor``
(dlib's network against torch's, per face), ``pyramid`` (MTCNN's image pyramid and whole
detection, facenet-pytorch's way against the integral image), ``detections`` (the faces both
ways find on the shared clips and lfw_dev), ``retrieval`` (R-precision on lfw_dev of three
alignments), ``duplicates`` (the duplicate distance of the dlib embedders on the Hamilton clip)
and ``template`` (the chip template of dlib-resnet-mtcnn). Never a test: speed is measured here
only.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

SECTIONS = ("descriptor", "pyramid", "detections", "retrieval", "duplicates", "template")
# The template is a one-off measurement of a constant (about 3 minutes): asked for by name.
DEFAULT_SECTIONS = SECTIONS[:-1]


class Command(BaseCommand):
    help = "Measure the face pipeline: descriptor and pyramid speed, detections, retrieval."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only",
            default=",".join(DEFAULT_SECTIONS),
            help=f"comma-separated: {', '.join(SECTIONS)} (default: all but template)",
        )
        parser.add_argument("--repeat", type=int, default=5, help="timed repeats per path")
        parser.add_argument("--every", type=int, default=5, help="clip frames: every N-th")
        parser.add_argument(
            "--lfw-limit", type=int, default=0, help="first N lfw_dev photos (0: all 1391)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from faces.bench import agreement, duplicates, retrieval, speed, template

        wanted = [name.strip() for name in options["only"].split(",") if name.strip()]
        unknown = sorted(set(wanted) - set(SECTIONS))
        if unknown:
            raise CommandError(f"unknown section(s) {', '.join(unknown)}; known: {SECTIONS}")
        repeat, limit = max(1, options["repeat"]), options["lfw_limit"] or None
        min_face = settings.FACEFINDER_MIN_FACE
        probability = settings.FACEFINDER_MIN_PROBABILITY
        runs = {
            "descriptor": lambda: speed.descriptor_speed(repeat),
            "pyramid": lambda: speed.pyramid_speed(repeat, min_face),
            "detections": lambda: agreement.detection_agreement(
                options["every"], min_face, probability, limit
            ),
            "retrieval": lambda: retrieval.retrieval(limit),
            "duplicates": lambda: (
                line
                for name in ("dlib-resnet", "dlib-resnet-mtcnn")
                for line in duplicates.duplicate_distances(name)
            ),
            "template": template.fit_template,
        }
        for name in SECTIONS:
            if name in wanted:
                start = time.perf_counter()
                self.stdout.write(f"== {name}")
                for line in runs[name]():
                    self.stdout.write(line)
                self.stdout.write(f"   ({time.perf_counter() - start:.0f} s)")
