"""The reference's CIoU, written from its formula and the facts in benchmarks.md ("Reference reward facts").

CIoU of Zheng et al. 2020 with the reference's 1e-7 added to the union, the squared enclosing diagonal and each
height of the aspect term, and alpha 0 when 1 - IoU + v is 0. Scalar Python, independent of geometry.py: the
yardstick the vectorised CIoU must meet to 1e-9.
"""

from __future__ import annotations

import math

EPS = 1e-7


def reference_ciou(a, b) -> float:
    ax1, ay1, ax2, ay2 = map(float, a)
    bx1, by1, bx2, by2 = map(float, b)
    wa, ha, wb, hb = ax2 - ax1, ay2 - ay1, bx2 - bx1, by2 - by1
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    iou = inter / (wa * ha + wb * hb - inter + EPS)
    centre = ((ax1 + ax2) / 2 - (bx1 + bx2) / 2) ** 2 + ((ay1 + ay2) / 2 - (by1 + by2) / 2) ** 2
    diag = (max(ax2, bx2) - min(ax1, bx1)) ** 2 + (max(ay2, by2) - min(ay1, by1)) ** 2 + EPS
    v = 4 / math.pi**2 * (math.atan(wb / (hb + EPS)) - math.atan(wa / (ha + EPS))) ** 2
    with_v = 1 - iou + v
    alpha = v / with_v if with_v != 0 else 0.0
    return iou - (centre / diag + alpha * v)


def reference_mapped_ciou(a, b) -> float:
    """The reference's (CIoU + 1) / 2, unclamped."""
    return (reference_ciou(a, b) + 1) / 2
