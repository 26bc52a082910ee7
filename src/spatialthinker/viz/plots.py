"""Training curves from a run's ``metrics.jsonl`` and before/after evaluation bars, as matplotlib PNGs.

The trainer logs one JSON object per logging step. Key names are looked up through a short list of aliases
(our telemetry names first, then TRL's own), so a run logged by an older trainer or by plain TRL still plots.
matplotlib is imported inside the functions, through the Agg canvas directly (no pyplot): importing
``spatialthinker.viz`` stays cheap and never touches a global backend or opens a window.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spatialthinker.jsonl import read_jsonl  # noqa: F401  (re-exported: the viewer's and held-out scoring's reader)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a panel: a label and the metric keys that may hold it (first present wins)."""

    label: str
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Panel:
    """One subplot: a title, a y-axis label, and its lines."""

    title: str
    ylabel: str
    series: tuple[Series, ...]


#: Series with at least this many points get a faint raw line plus a moving average.
SMOOTH_FROM = 20

PANELS: tuple[Panel, ...] = (
    Panel("Reward components (mean per step)", "reward", (
        Series("total", ("reward/total", "reward", "rewards/spatial_reward/mean")),
        Series("format", ("reward/format",)),
        Series("count", ("reward/count",)),
        Series("accuracy", ("reward/accuracy",)),
        Series("spatial", ("reward/spatial",)),
    )),
    Panel("Format", "rate", (
        Series("format rate", ("format_rate", "reward/format_rate")),
        Series("empty answer rate", ("empty_answer_rate",)),
    )),
    Panel("Objects per completion", "objects", (
        Series("predicted", ("pred_objects_mean", "objects/pred_mean")),
        Series("ground truth", ("gt_objects_mean", "objects/gt_mean")),
    )),
    Panel("Completion length", "tokens", (
        Series("mean length", ("completion_length_mean", "completions/mean_length", "completion_tokens_mean")),
    )),
    Panel("Loss", "loss", (Series("loss", ("loss", "train_loss")),)),
    Panel("SFT next-token accuracy", "accuracy", (Series("token accuracy", ("mean_token_accuracy",)),)),
)


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def extract_series(metrics: Sequence[dict], keys: Iterable[str]) -> tuple[list[float], list[float]]:
    """``(steps, values)`` for the first of ``keys`` present in any row; rows without a finite value are skipped.

    Example:
        >>> extract_series([{"step": 1, "loss": 2.0}, {"step": 2}], ["loss"])
        ([1.0], [2.0])
    """
    for key in keys:
        steps, values = [], []
        for index, row in enumerate(metrics):
            value = _finite(row.get(key))
            if value is None:
                continue
            step = _finite(row.get("step"))
            steps.append(step if step is not None else float(index))
            values.append(value)
        if values:
            return steps, values
    return [], []


def moving_average(values: Sequence[float], window: int | None = None) -> list[float]:
    """Trailing mean over ``window`` points (default: a tenth of the series, at least 3).

    Example:
        >>> moving_average([0.0, 1.0, 2.0, 3.0], window=2)
        [0.0, 0.5, 1.5, 2.5]
    """
    window = window or max(3, len(values) // 10)
    out, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        out.append(total / min(index + 1, window))
    return out


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def training_curves_png(metrics: Sequence[dict], title: str = "") -> bytes | None:
    """One PNG with a subplot per panel that has data; None when no panel has any (nothing to show).

    Args:
        metrics: rows of ``metrics.jsonl``.
        title: figure title (e.g. the run directory).
    """
    panels = [(panel, [(s, *extract_series(metrics, s.keys)) for s in panel.series]) for panel in PANELS]
    panels = [(panel, [line for line in lines if line[1]]) for panel, lines in panels]
    panels = [(panel, lines) for panel, lines in panels if lines]
    if not panels:
        logger.info("no plottable metrics in %d rows", len(metrics))
        return None
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = _new_figure(4.2 * columns, 3.0 * rows)
    if title:
        figure.suptitle(title, fontsize=11)
    for index, (panel, lines) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        for series, steps, values in lines:
            if len(values) >= SMOOTH_FROM:  # GRPO batches are small: show the trend over the raw noise
                raw = axes.plot(steps, values, linewidth=0.8, alpha=0.3)[0]
                axes.plot(steps, moving_average(values), label=series.label, linewidth=1.8, color=raw.get_color())
            else:
                axes.plot(steps, values, label=series.label, marker="o", markersize=3, linewidth=1.5)
        axes.set_title(panel.title, fontsize=10)
        axes.set_xlabel("step")
        axes.set_ylabel(panel.ylabel)
        axes.grid(alpha=0.3)
        if len(lines) > 1:
            axes.legend(fontsize=8)
    return _png(figure)


def comparison_bars_png(runs: Sequence[tuple[str, dict[str, float]]], title: str = "Held-out evaluation") -> bytes | None:
    """Grouped bars: one group per metric, one bar per run (e.g. before vs after training).

    Args:
        runs: ``(run name, {metric name: value in [0, 1]})`` pairs, in display order.
        title: figure title.
    """
    metrics = [name for name in dict.fromkeys(k for _, values in runs for k in values)]
    if not runs or not metrics:
        return None
    figure = _new_figure(max(4.5, 1.6 * len(metrics) + 1.5), 3.2)
    axes = figure.add_subplot(1, 1, 1)
    width = 0.8 / len(runs)
    for index, (name, values) in enumerate(runs):
        xs = [m + (index - (len(runs) - 1) / 2) * width for m in range(len(metrics))]
        heights = [values.get(metric, float("nan")) for metric in metrics]
        bars = axes.bar(xs, heights, width=width, label=name)
        axes.bar_label(bars, fmt="%.2f", fontsize=8)
    axes.set_xticks(range(len(metrics)), metrics)
    axes.set_ylim(0, 1.1)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def seed_points_png(groups: Sequence[tuple[str, Sequence[float]]], title: str, ylabel: str,
                    reference: tuple[str, float] | None = None) -> bytes | None:
    """One bar per group at the mean over seeds, each seed's value as a dot on it, and an optional reference line
    (e.g. the chance rate): differences between arms are read against the spread of the seeds.

    Args:
        groups: ``(arm name, one value per seed)`` in display order; non-finite values are left out.
        title, ylabel: figure labels.
        reference: ``(label, y)`` of a dashed horizontal line.
    """
    cleaned = [(name, [v for v in values if _finite(v) is not None]) for name, values in groups]
    cleaned = [(name, values) for name, values in cleaned if values]
    if not cleaned:
        return None
    figure = _new_figure(max(3.5, 1.3 * len(cleaned) + 1.5), 3.2)
    axes = figure.add_subplot(1, 1, 1)
    for index, (name, values) in enumerate(cleaned):
        mean = sum(values) / len(values)
        bar = axes.bar([index], [mean], width=0.6, alpha=0.55)
        axes.bar_label(bar, fmt="%.2f", fontsize=8)
        axes.scatter([index] * len(values), values, color="black", s=12, zorder=3)
    if reference is not None:
        axes.axhline(reference[1], linestyle="--", color="grey", linewidth=1.2, label=f"{reference[0]} {reference[1]:.2f}")
        axes.legend(fontsize=8)
    axes.set_xticks(range(len(cleaned)), [name for name, _ in cleaned])
    axes.set_ylabel(ylabel)
    axes.set_ylim(0, 1.05)
    axes.set_title(title, fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def runs_curve_png(runs: Sequence[tuple[str, Sequence[dict]]], keys: Sequence[str], title: str,
                   ylabel: str) -> bytes | None:
    """One line per run of the first of ``keys`` each run logged (smoothed when long), e.g. the training reward
    of every arm and seed on one axis."""
    lines = [(name, *extract_series(metrics, keys)) for name, metrics in runs]
    lines = [line for line in lines if line[2]]
    if not lines:
        return None
    figure = _new_figure(6.0, 3.4)
    axes = figure.add_subplot(1, 1, 1)
    for name, steps, values in lines:
        axes.plot(steps, moving_average(values) if len(values) >= SMOOTH_FROM else values, label=name,
                  linewidth=1.4)
    axes.set_xlabel("step")
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    return _png(figure)


def points_png(points: Mapping[str, Mapping[str, Any]]) -> bytes | None:
    """Accuracy, chance, format rate and box IoU across the evaluation points (lines over the training order)."""
    names = list(points)
    if len(names) < 2:
        return None
    figure = _new_figure(5.5, 3.2)
    axes = figure.add_subplot(1, 1, 1)
    for key, label in (("eval/accuracy", "accuracy"), ("chance_rate", "chance"), ("format_rate", "format rate"),
                       ("eval/box_iou", "box IoU")):
        values = [points[n].get(key) for n in names]
        values = [float(v) if isinstance(v, (int, float)) else math.nan for v in values]
        axes.plot(range(len(names)), values, marker="o", label=label,
                  linestyle="--" if key == "chance_rate" else "-")
    axes.set_xticks(range(len(names)), names)
    axes.set_ylim(0, 1.05)
    axes.set_title("Held-out questions at each training point", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return _png(figure)
