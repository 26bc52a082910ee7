"""The report's evaluation section: one table comparing every evaluation run, a bar chart of headline metrics.

Runs are read from their ``summary.json`` as written by ``spatialthinker.eval`` (docs/evaluation.md): overall
accuracy with its Wilson interval, parse-failure rate, per-category accuracy and scene-graph quality. When the
quickstart scored the same outputs with the training reward it left ``heldout_reward.json`` beside the summary;
those rows (format rate, mean dense reward) are added. Runs line up column by column, so "before" and "after"
training read across one row.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from spatialthinker.viz import html as H
from spatialthinker.viz.plots import comparison_bars_png

logger = logging.getLogger(__name__)

#: Written by ``spatialthinker.pipeline.heldout`` beside an evaluation's summary (dense reward on its outputs).
HELDOUT_FILE = "heldout_reward.json"

#: (row label, path in the summary) in display order; rows no run has are left out.
ROWS: tuple[tuple[str, str], ...] = (
    ("benchmark", "benchmark"),
    ("model", "backend/model"),
    ("prompt mode", "prompt_mode"),
    ("items (n)", "n"),
    ("accuracy", "accuracy"),
    ("accuracy 95% CI", "ci95"),
    ("parse-failure rate", "parse_failure_rate"),
    ("scene graph valid rate", "scene_quality/valid_rate"),
    ("scene mean IoU", "scene_quality/mean_iou"),
    ("scene recall@0.5", "scene_quality/recall_50"),
    ("held-out format rate (reward)", "heldout_reward/format_rate"),
    ("held-out mean dense reward", "heldout_reward/mean_reward"),
    ("held-out reward: format", "heldout_reward/reward/format"),
    ("held-out reward: count", "heldout_reward/reward/count"),
    ("held-out reward: accuracy", "heldout_reward/reward/accuracy"),
    ("held-out reward: spatial", "heldout_reward/reward/spatial"),
    ("predicted objects / answer", "heldout_reward/pred_objects_mean"),
    ("GT objects / question", "heldout_reward/gt_objects_mean"),
)
#: Rates in [0, 1], higher is better, drawn in the bar chart (failure rates stay in the table).
CHART: tuple[tuple[str, str], ...] = (
    ("accuracy", "accuracy"),
    ("format rate", "heldout_reward/format_rate"),
    ("mean reward", "heldout_reward/mean_reward"),
    ("scene valid", "scene_quality/valid_rate"),
)


def load_summary(path: Path) -> dict[str, Any]:
    """A JSON object from ``path`` ({} when unreadable, with a log line)."""
    try:
        value = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        logger.warning("%s: unreadable (%s)", path, error)
        return {}
    return value if isinstance(value, dict) else {}


def lookup(summary: dict[str, Any], path: str) -> Any:
    """The value at ``a/b/c`` (keys may themselves contain ``/``: ``reward/format``); None when absent.

    Example:
        >>> lookup({"heldout_reward": {"reward/format": 0.5}}, "heldout_reward/reward/format")
        0.5
    """
    if path in summary:
        return summary[path]
    head, _, rest = path.partition("/")
    if rest and isinstance(summary.get(head), dict):
        return lookup(summary[head], rest)
    return None


def _cell(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return f"[{value[0]:.2f}, {value[1]:.2f}]"
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    if isinstance(value, (dict, list)) or value is None:
        return "" if value is None else str(value)[:80]
    return value


def _with_heldout(summary: dict[str, Any], path: Path) -> dict[str, Any]:
    """Add the quickstart's held-out reward scores (``heldout_reward.json``), when present, under one key."""
    extra = path / HELDOUT_FILE
    if summary and extra.is_file():
        summary = {**summary, "heldout_reward": load_summary(extra)}
    return summary


def _rows(summaries: Sequence[dict[str, Any]]) -> list[list[Any]]:
    rows = [[label] + [_cell(lookup(s, path)) for s in summaries]
            for label, path in ROWS if any(lookup(s, path) is not None for s in summaries)]
    categories = sorted({c for s in summaries for c in (s.get("per_category") or {})})
    for category in categories:
        cells = []
        for summary in summaries:
            part = (summary.get("per_category") or {}).get(category)
            cells.append(f"{part['accuracy']:.3f} (n={part['n']})" if isinstance(part, dict)
                         and isinstance(part.get("accuracy"), (int, float)) else "")
        rows.append([f"accuracy: {category}"] + cells)
    return rows


def chart_values(summary: dict[str, Any]) -> dict[str, float]:
    """The bar-chart metrics of one run (finite rates only)."""
    values = {}
    for label, path in CHART:
        value = lookup(summary, path)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            values[label] = float(value)
    return values


def eval_section(runs: Sequence[Any], name_of: Callable[[Path], str]) -> str:
    """HTML for every run that has a ``summary.json``; empty string when there is none."""
    loaded = [(name_of(run.path), _with_heldout(load_summary(path), run.path))
              for run in runs for path in run.summaries]
    loaded = [item for item in loaded if item[1]]
    if not loaded:
        return ""
    parts = []
    bars = comparison_bars_png([(name, chart_values(summary)) for name, summary in loaded])
    if bars is not None:
        parts.append(f'<div class="plot">{H.img_tag(bars, "image/png", "evaluation comparison")}</div>')
    parts.append(H.table(["metric"] + [name for name, _ in loaded], _rows([s for _, s in loaded])))
    parts.append('<p class="meta">Accuracy counts an unparsed answer as wrong (never as a guessed letter); the '
                 "held-out reward rows score the same outputs with the training reward.</p>")
    return "".join(parts)
