"""Box maths over ``(N, 4)`` xyxy arrays: normalisation, IoU / GIoU / CIoU (element-wise and pairwise), [0, 1] mapping.

Every function is vectorised with NumPy: the reward scores thousands of (prediction, ground truth) pairs per
training step, so the per-pair Python loop of the reference is the bottleneck we avoid.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

BoxMetric = Literal["iou", "giou", "ciou"]
BOX_METRICS: tuple[str, ...] = ("iou", "giou", "ciou")

_EPS = 1e-9
#: The reference's CIoU adds 1e-7 to the union, the enclosing diagonal and each box height (aspect term); we add
#: the same, so CIoU totals agree with the reference to 1e-9 (on small boxes a smaller epsilon differs by 1e-4).
CIOU_EPS = 1e-7
# Normalised coordinates are clipped to this range so that absurd but finite model outputs (1e300) cannot
# overflow squares into inf/NaN; a box ten image-widths away scores the same as one a million away.
_COORD_LIMIT = 10.0
COORD_LIMIT = _COORD_LIMIT  # public name for callers that normalise boxes themselves


def normalize_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Pixel boxes ``(N, 4)`` -> fractions of the image size ``(N, 4)``, clipped to ``[-10, 10]``.

    Example:
        >>> normalize_boxes(np.array([[0, 0, 320, 240]]), 640, 480).tolist()
        [[0.0, 0.0, 0.5, 0.5]]
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scale = np.array([width, height, width, height], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.clip(boxes / scale, -_COORD_LIMIT, _COORD_LIMIT)


def clip_boxes(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Clip pixel boxes ``(N, 4)`` to the image ``[0, W] x [0, H]``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return boxes


def sort_box_corners(boxes: np.ndarray) -> np.ndarray:
    """Make every box well-formed (x1 <= x2, y1 <= y2) by sorting its corners."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [np.minimum(boxes[:, 0], boxes[:, 2]), np.minimum(boxes[:, 1], boxes[:, 3]),
         np.maximum(boxes[:, 0], boxes[:, 2]), np.maximum(boxes[:, 1], boxes[:, 3])], axis=-1)


def box_overlap(a: np.ndarray, b: np.ndarray, metric: BoxMetric = "ciou") -> np.ndarray:
    """IoU, GIoU or CIoU of boxes that broadcast against each other: ``a (..., 4)``, ``b (..., 4)`` -> ``(...)``.

    Boxes must be well-formed (x1 <= x2, y1 <= y2); degenerate (zero-area) boxes give IoU 0, not NaN.
    IoU is in [0, 1]; GIoU and CIoU are in [-1, 1] (CIoU's aspect term can push it slightly below -1 in theory;
    ``map_to_unit`` clamps).

    Example:
        >>> round(float(box_overlap(np.array([0, 0, 2, 2.]), np.array([1, 0, 3, 2.]), "iou")), 4)
        0.3333
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax1, ay1, ax2, ay2 = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx1, by1, bx2, by2 = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    aw, ah = ax2 - ax1, ay2 - ay1
    bw, bh = bx2 - bx1, by2 - by1
    inter = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None) * np.clip(
        np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    union = aw * ah + bw * bh - inter
    iou = inter / np.maximum(union, _EPS)
    if metric == "iou":
        return iou
    cw = np.maximum(ax2, bx2) - np.minimum(ax1, bx1)  # enclosing box
    ch = np.maximum(ay2, by2) - np.minimum(ay1, by1)
    if metric == "giou":
        enclosing = cw * ch
        return iou - (enclosing - union) / np.maximum(enclosing, _EPS)
    if metric != "ciou":
        raise ValueError(f"box metric must be one of {BOX_METRICS}, got {metric!r}")
    iou = inter / (union + CIOU_EPS)
    centre_dist2 = ((ax1 + ax2 - bx1 - bx2) ** 2 + (ay1 + ay2 - by1 - by2) ** 2) / 4.0
    diag2 = cw**2 + ch**2 + CIOU_EPS
    v = (4.0 / math.pi**2) * (np.arctan(bw / (bh + CIOU_EPS)) - np.arctan(aw / (ah + CIOU_EPS))) ** 2
    with_v = 1.0 - iou + v
    alpha = np.divide(v, with_v, out=np.zeros_like(with_v), where=with_v != 0)  # reference: 0 when 1 - IoU + v is 0
    return iou - centre_dist2 / diag2 - alpha * v


def pairwise_overlap(pred: np.ndarray, gt: np.ndarray, metric: BoxMetric = "ciou") -> np.ndarray:
    """All pairs: ``pred (P, 4)``, ``gt (G, 4)`` -> ``(P, G)``."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    return box_overlap(pred[:, None, :], gt[None, :, :], metric)


def map_to_unit(values: np.ndarray, metric: BoxMetric = "ciou") -> np.ndarray:
    """Map an overlap score to [0, 1]: IoU as is, GIoU/CIoU as ``(x + 1) / 2``, then clamp.

    The clamp matters: the reference's mapped CIoU dips to about -0.2 for far-apart boxes with different aspect
    ratios, which would make a bad box *cost* reward relative to no box at all.
    """
    values = np.asarray(values, dtype=np.float64)
    mapped = values if metric == "iou" else (values + 1.0) / 2.0
    return np.clip(np.nan_to_num(mapped, nan=0.0), 0.0, 1.0)
