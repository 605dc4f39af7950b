"""``manage.py calibrate_embedder NAME PHOTOS_DIR [--far 0.001] [--dry-run] [--json]``.

Measures the embedder's same-person threshold on labelled photos (one subfolder per person,
``faces.calibration``) and stores it, so that search marks results "likely the same person" and
clustering uses it. ``--dry-run`` prints the figures without storing them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from faces.calibration import DEFAULT_TARGET_FAR, CalibrationError, calibrate
from faces.embedders import EMBEDDER_NAMES, EmbedderError


class Command(BaseCommand):
    help = "Calibrate an embedder's same-person threshold on labelled photos."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help=f"one of {', '.join(EMBEDDER_NAMES)}")
        parser.add_argument("photos_dir", type=Path, help="one subfolder of photos per person")
        parser.add_argument(
            "--far",
            type=float,
            default=DEFAULT_TARGET_FAR,
            help="false-accept rate on cross-person pairs (default 0.001)",
        )
        parser.add_argument("--dry-run", action="store_true", help="measure, store nothing")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = calibrate(options["name"], options["photos_dir"], target_far=options["far"])
        except (CalibrationError, EmbedderError) as error:
            raise CommandError(str(error)) from error
        if not options["dry_run"]:
            result.save()
        if options["json"]:
            self.stdout.write(json.dumps({**asdict(result), "stored": not options["dry_run"]}))
            return
        self.stdout.write(result.message)
        self.stdout.write("not stored (--dry-run)" if options["dry_run"] else "stored")
