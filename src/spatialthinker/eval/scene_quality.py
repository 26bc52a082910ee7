"""Scene-graph quality of one output against the benchmark's ground-truth scene: one-to-one box matching.

Reported only for benchmarks that ship boxes (STVQA) and outputs that contain a ``<scene>``; it tells whether a
model's grounding improved, which accuracy alone cannot show.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spatialthinker.prompts import last_tag_contents
from spatialthinker.scene import LENIENT, SceneGraph

# Label disagreement costs more than any box difference (IoU cost is at most 1), so the matcher pairs same-label
# objects first, mirroring the reward's lambda_sem = 2 > lambda_box = 1 (method.md §4).
LABEL_COST = 2.0
IOU_THRESHOLD = 0.5


def scene_quality(output: str, gt: SceneGraph) -> dict[str, Any] | None:
    """Match the output's last ``<scene>`` to ``gt`` (Hungarian on label + 1 - IoU) and score the boxes.

    Returns None when there is nothing to score (no ``<scene>`` tag in the output, or an empty GT). An invalid
    graph scores zeros with ``valid`` False. ``mean_iou`` and ``recall_50`` are over GT objects (unmatched = 0);
    ``precision_50`` is over predicted objects, so box spam lowers it. Never raises on model output.

    Example:
        >>> gt = SceneGraph.parse('{"objects": [{"id": "cup.1", "bbox": [0, 0, 10, 10]}]}')[0]
        >>> scene_quality('<scene>{"objects": [{"id": "cup.1", "bbox": [0, 0, 10, 10]}]}</scene>', gt)["mean_iou"]
        1.0
    """
    from scipy.optimize import linear_sum_assignment

    from spatialthinker.geometry import pairwise_overlap, sort_box_corners

    text = last_tag_contents(output, "scene") if isinstance(output, str) else None
    if text is None or not gt.objects:
        return None
    pred, _ = SceneGraph.parse(text, LENIENT)
    zero = {"valid": False, "n_pred": 0, "n_gt": len(gt), "mean_iou": 0.0, "recall_50": 0.0,
            "precision_50": 0.0, "label_accuracy": 0.0}
    if pred is None or not pred.objects:
        return {**zero, "valid": pred is not None}
    iou = pairwise_overlap(sort_box_corners(pred.boxes()), sort_box_corners(gt.boxes()), "iou")  # (P, G)
    iou = np.nan_to_num(iou, nan=0.0)
    same = np.array([[p.name == g.name for g in gt.objects] for p in pred.objects], dtype=bool)  # (P, G)
    rows, cols = linear_sum_assignment(LABEL_COST * (~same) + (1.0 - iou))
    matched_iou = iou[rows, cols]
    hits = int((matched_iou >= IOU_THRESHOLD).sum())
    return {
        "valid": True, "n_pred": len(pred), "n_gt": len(gt),
        "mean_iou": float(matched_iou.sum() / len(gt)),
        "recall_50": hits / len(gt),
        "precision_50": hits / len(pred),
        "label_accuracy": float(same[rows, cols].sum() / len(gt)),
    }
