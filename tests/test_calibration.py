"""The same-person threshold: where it is put, the command anyone can run on labelled folders,
and what search then uses."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from faces.calibration import SHIPPED, CalibrationError, same_person_threshold, threshold_at
from faces.models import EmbedderCalibration
from tests.shared_data import FACES

pytestmark = pytest.mark.django_db


def test_the_threshold_lets_through_at_most_the_asked_share_of_cross_person_pairs():
    impostor = np.linspace(0.0, 0.999, 10_000)
    threshold = threshold_at(impostor, 0.001)
    assert (impostor >= threshold).mean() <= 0.001
    # As low as that allows: 0.0001 lower would let more through than asked.
    assert (impostor >= threshold - 0.0002).mean() > 0.001
    with pytest.raises(CalibrationError, match="between 0 and 1"):
        threshold_at(impostor, 1.5)


def test_shipped_figures_and_a_stored_calibration_that_overrides_them():
    assert same_person_threshold("dlib-resnet") == SHIPPED["dlib-resnet"].threshold
    assert same_person_threshold("facenet-vggface2") is None  # no weights here: uncalibrated
    EmbedderCalibration.objects.create(
        embedder="facenet-vggface2",
        threshold=0.61,
        false_accept_rate=0.001,
        true_accept_rate=0.9,
        target_false_accept_rate=0.001,
        genuine_pairs=10,
        impostor_pairs=100,
        photos=20,
        people=5,
    )
    assert same_person_threshold("facenet-vggface2") == 0.61


def labelled_folder(tmp_path, people: dict[str, list[str]]):
    for person, names in people.items():
        (tmp_path / person).mkdir()
        for name in names:
            shutil.copy(FACES / person / name, tmp_path / person / name)
    return tmp_path


@pytest.mark.slow
def test_calibrate_embedder_measures_and_stores_a_threshold(tmp_path):
    folder = labelled_folder(
        tmp_path,
        {
            "barack_obama": ["1.jpg", "2.jpg", "4.jpg"],
            "alex_lacamoire": ["1.jpg", "2.jpg", "3.jpg"],
            "kit_harington": ["1.jpg", "2.jpg", "3.jpg"],
        },
    )
    out = io.StringIO()
    call_command("calibrate_embedder", "dlib-resnet", str(folder), "--json", stdout=out)
    figures = json.loads(out.getvalue())
    assert (figures["photos"], figures["people"]) == (9, 3)
    assert (figures["genuine_pairs"], figures["impostor_pairs"]) == (9, 27)
    assert figures["false_accept_rate"] <= 0.001
    assert 0 < figures["true_accept_rate"] <= 1 and figures["stored"] is True
    stored = EmbedderCalibration.objects.get(embedder="dlib-resnet")
    assert stored.threshold == pytest.approx(figures["threshold"])
    assert same_person_threshold("dlib-resnet") == pytest.approx(figures["threshold"])
    text = io.StringIO()
    call_command("calibrate_embedder", "dlib-resnet", str(folder), "--dry-run", stdout=text)
    assert "TAR" in text.getvalue() and "not stored (--dry-run)" in text.getvalue()


def test_a_folder_that_cannot_calibrate_says_why(tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("calibrate_embedder", "dlib-resnet", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="holds no photos in per-person subfolders"):
        call_command("calibrate_embedder", "dlib-resnet", str(tmp_path))
    with pytest.raises(CommandError, match="unknown embedder"):
        call_command("calibrate_embedder", "nonesuch", str(tmp_path))
    assert not EmbedderCalibration.objects.exists()


@pytest.mark.slow
def test_one_person_only_has_no_cross_person_pair(tmp_path):
    folder = labelled_folder(tmp_path, {"alex_lacamoire": ["1.jpg", "2.jpg"]})
    with pytest.raises(CommandError, match="one person only"):
        call_command("calibrate_embedder", "dlib-resnet", str(folder))
