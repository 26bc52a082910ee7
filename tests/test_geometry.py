"""Box maths: IoU/GIoU/CIoU against scalar formulas, broadcasting, degenerate and absurd boxes, the [0, 1] map."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spatialthinker.geometry import (
    box_overlap,
    clip_boxes,
    map_to_unit,
    normalize_boxes,
    pairwise_overlap,
    sort_box_corners,
)


def scalar_iou_giou(a, b):
    """IoU and GIoU from their definitions, one pair at a time (independent of geometry.py)."""
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union, inter / union - (hull - union) / hull


def test_iou_by_hand():
    a, b = np.array([0, 0, 2, 2.0]), np.array([1, 0, 3, 2.0])
    assert box_overlap(a, b, "iou") == pytest.approx(2 / 6)
    assert box_overlap(a, b, "giou") == pytest.approx(2 / 6)  # the hull is the union here
    # CIoU: same aspect ratio (v = 0); centres 1 apart, hull diagonal^2 = 9 + 4.
    assert box_overlap(a, b, "ciou") == pytest.approx(2 / 6 - 1 / 13)


def test_iou_and_giou_match_scalar_formulas():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (300, 2, 2))
    wh = rng.uniform(0.5, 30, (300, 2, 2))
    boxes = np.concatenate([xy, xy + wh], axis=-1)
    for metric, index in (("iou", 0), ("giou", 1)):
        expected = [scalar_iou_giou(a, b)[index] for a, b in boxes]
        np.testing.assert_allclose(box_overlap(boxes[:, 0], boxes[:, 1], metric), expected, atol=1e-12)


def test_identical_boxes_score_one_and_ranges():
    boxes = np.array([[0, 0, 10, 5], [3, 3, 4, 9]], dtype=float)
    for metric in ("iou", "giou", "ciou"):
        np.testing.assert_allclose(box_overlap(boxes, boxes, metric), 1.0)
    far = box_overlap(np.array([0, 0, 1, 1.0]), np.array([100, 100, 101, 101.0]), "giou")
    assert -1 <= far < 0


def test_pairwise_shape_and_values():
    pred = np.array([[0, 0, 2, 2], [1, 0, 3, 2]], dtype=float)
    gt = np.array([[0, 0, 2, 2], [1, 0, 3, 2], [10, 10, 11, 11]], dtype=float)
    matrix = pairwise_overlap(pred, gt, "iou")
    assert matrix.shape == (2, 3)
    np.testing.assert_allclose(matrix[:, :2], [[1, 1 / 3], [1 / 3, 1]])
    assert pairwise_overlap(np.zeros((0, 4)), gt).shape == (0, 3)


def test_degenerate_boxes_give_finite_values():
    point, line = np.array([5, 5, 5, 5.0]), np.array([0, 5, 10, 5.0])
    for metric in ("iou", "giou", "ciou"):
        values = box_overlap(np.stack([point, line, point]), np.stack([point, line, line]), metric)
        assert np.all(np.isfinite(values))


def test_map_to_unit_clamps():
    assert map_to_unit(np.array([-1.5, -1.0, 0.0, 1.0, 1.2, np.nan]), "ciou").tolist() == [0.0, 0.0, 0.5, 1.0, 1.0, 0.0]
    assert map_to_unit(np.array([0.25]), "iou").tolist() == [0.25]


def test_normalize_clip_and_sort():
    assert normalize_boxes(np.array([[0, 0, 320, 240]]), 640, 480).tolist() == [[0.0, 0.0, 0.5, 0.5]]
    assert normalize_boxes(np.array([[-1e300, 0, 1e300, 1]]), 640, 480).tolist() == [[-10.0, 0.0, 10.0, 1 / 480]]
    assert clip_boxes(np.array([[-5, -5, 700, 500]]), 640, 480).tolist() == [[0, 0, 640, 480]]
    assert sort_box_corners(np.array([[9, 8, 1, 2]])).tolist() == [[1, 2, 9, 8]]


def test_absurd_normalised_boxes_stay_finite():
    huge = normalize_boxes(np.array([[-1e300, -1e300, 1e300, 1e300], [0, 0, 1e-300, 1e-300]]), 1e-300, 1e-300)
    for metric in ("iou", "giou", "ciou"):
        assert np.all(np.isfinite(map_to_unit(box_overlap(huge[0], huge[1], metric), metric)))


def test_unknown_metric_raises():
    with pytest.raises(ValueError, match="box metric"):
        box_overlap(np.zeros(4), np.zeros(4), "diou")


def test_ciou_aspect_term():
    # Same centre and IoU, different aspect ratios: CIoU < IoU by alpha * v.
    a, b = np.array([0, 0, 4, 1.0]), np.array([1.5, -1.5, 2.5, 2.5])
    iou = box_overlap(a, b, "iou")
    v = 4 / math.pi ** 2 * (math.atan(1 / 4) - math.atan(4 / 1)) ** 2
    alpha = v / (1 - iou + v)
    assert box_overlap(a, b, "ciou") == pytest.approx(iou - alpha * v)
