"""The "did it learn?" section of a quickstart report: held-out numbers at each training point, side by side.

Input is the quickstart's ``heldout`` record (``quickstart.json``): for each evaluation point the training
reward's numbers on the val scenes (``heldout_reward.json``) plus the evaluation's accuracy, interval, box IoU and
per-category accuracy. Accuracy is always shown beside the chance rate of the same questions, so a number that
only reflects guessing cannot pass for learning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from spatialthinker.viz import html as H
from spatialthinker.viz.plots import points_png


def _accuracy_cell(values: Mapping[str, Any]) -> str:
    accuracy = values.get("eval/accuracy")
    if not isinstance(accuracy, (int, float)):
        return "–"
    low, high = values.get("eval/ci95") or (math.nan, math.nan)
    return f"{accuracy:.2f} [{low:.2f}, {high:.2f}]"


def _verdict(values: Mapping[str, Any]) -> str:
    """Whether the 95% interval of the accuracy lies above the chance rate (the bar the quickstart sets)."""
    low = (values.get("eval/ci95") or (math.nan,))[0]
    chance = values.get("chance_rate")
    if not isinstance(low, (int, float)) or not isinstance(chance, (int, float)):
        return "–"
    return "above chance" if low > chance else "not above chance"


def heldout_section(points: Mapping[str, Mapping[str, Any]],
                    blind: Mapping[str, Any] | None = None) -> tuple[str, str, str]:
    """``(anchor, heading, html)``: a before/after table, a per-category table and a plot over the points;
    ``blind`` is ``pipeline.heldout.blind_baseline`` of the same questions (what the wording alone gives)."""
    if not points:
        return ("learning", "Held-out learning", "")
    rows = [[name, H.fmt(values.get("n")), _accuracy_cell(values), H.fmt(values.get("chance_rate")), _verdict(values),
             H.fmt(values.get("format_rate")), H.fmt(values.get("mean_reward")), H.fmt(values.get("eval/box_iou"))]
            for name, values in points.items()]
    table = H.table(["point", "questions", "accuracy [95% Wilson]", "chance rate", "verdict", "format rate",
                     "mean dense reward", "box IoU"], rows)
    categories = sorted({c for values in points.values() for c in (values.get("eval/per_category") or {})})
    last = list(points.values())[-1].get("per_category") or {}
    category_rows = [[category, H.fmt((last.get(category) or {}).get("n")),
                      H.fmt((last.get(category) or {}).get("chance_rate")),
                      *[H.fmt(((values.get("eval/per_category") or {}).get(category) or {}).get("accuracy"))
                        for values in points.values()]] for category in categories]
    blind_by = (blind or {}).get("per_category") or {}
    for row, category in zip(category_rows, categories, strict=True):
        row.insert(3, H.fmt(blind_by.get(category)))
    per_category = (H.table(["category", "questions", "chance", "without the image", *points], category_rows)
                    if category_rows else "")
    note = ""
    if blind:
        note = (f'<p class="meta">Without the image (the option most often right for the same question text and '
                f'options in the training split): {H.fmt(blind.get("accuracy"))} on these questions. Accuracy '
                f'above chance but not above this comes from the wording, not from the image.</p>')
    png = points_png(points)
    picture = H.img_tag(png, "image/png", "held-out metrics per point") if png else ""
    return ("learning", "Held-out learning (val scenes only)", table + note + per_category + picture)
