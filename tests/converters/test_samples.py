"""Calibration and check views: the labelled evaluation photos stay out of int8 calibration."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from converters.samples import calibration_views, person_views, zoom_out


def _photo(path, value):
    image = np.full((60, 80, 3), value, np.uint8)
    image[10:50, 30:50] = 255 - value  # a "person"
    cv2.imwrite(str(path), image)
    return image


@pytest.fixture()
def folder(tmp_path):
    _photo(tmp_path / "free.png", 40)
    _photo(tmp_path / "labelled.png", 200)
    ann = {
        "images": [{"id": 1, "file_name": "labelled.png"}],
        "annotations": [{"image_id": 1, "bbox": [30, 10, 20, 40], "num_keypoints": 5}],
        "categories": [{"id": 1, "name": "person"}],
    }
    (tmp_path / "person_keypoints.json").write_text(json.dumps(ann))
    return tmp_path


def test_check_views_include_labelled_photos_and_their_crops(folder):
    views = person_views([folder])
    assert len(views) == 3  # free, labelled, the labelled person's crop
    assert views[2].shape == (50, 50, 3)  # box side 40 x 1.25, square


def test_calibration_leaves_labelled_photos_out(folder):
    views = calibration_views([folder], count=12)
    assert len(views) == 12
    assert all(int(np.median(v)) != 200 for v in views)  # never the labelled photo
    assert np.array_equal(views[1], views[0][:, ::-1])  # the photo, then its mirror image


def test_calibration_falls_back_on_labelled_photos(tmp_path, folder):
    (folder / "free.png").unlink()
    assert len(calibration_views([folder], count=4)) == 4


def test_zoom_out_keeps_the_size_and_centres_the_picture():
    view = np.full((40, 60, 3), 255, np.uint8)
    out = zoom_out(view, 0.5)
    assert out.shape == view.shape
    assert out[20, 30].tolist() == [255, 255, 255] and out[0, 0].tolist() == [0, 0, 0]
    assert int((out[:, :, 0] > 0).sum()) == 20 * 30
