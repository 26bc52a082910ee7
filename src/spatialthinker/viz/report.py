"""Build the one-file HTML report for any mix of synthesis, training and evaluation output directories.

``build_report`` is what ``spatialthinker view`` and the quickstart call. Results come first (evaluation table,
curves), then the evidence behind them (rollouts with boxes, dataset samples), so a reader sees whether training
worked before scrolling through pictures.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialthinker.errors import InputError
from spatialthinker.viz import html as H
from spatialthinker.viz.evaluation import eval_section
from spatialthinker.viz.plots import read_jsonl, training_curves_png
from spatialthinker.viz.sources import ImageResolver, RunDir, dataset_paths, discover, load_samples

logger = logging.getLogger(__name__)


def _name(path: Path, root: Path | None) -> str:
    """A short display name: the path relative to the common root of the report's inputs."""
    if root is not None:
        try:
            relative = path.resolve().relative_to(root)
            return str(relative) if str(relative) != "." else path.resolve().name
        except ValueError:
            pass
    return str(path)


def _common_root(runs: Sequence[RunDir]) -> Path | None:
    try:
        return Path(os.path.commonpath([str(r.path.resolve()) for r in runs]))
    except ValueError:
        return None


def _overview(runs: Sequence[RunDir], root: Path | None) -> str:
    rows = []
    for run in runs:
        details = []
        if run.parquets:
            details.append(", ".join(p.name for p in run.parquets))
        if run.metrics:
            details.append("metrics.jsonl")
        if run.rollouts:
            details.append(f"{len(run.rollouts)} rollout files")
        for key in ("model", "model_name_or_path", "reward", "max_steps", "num_generations"):
            if key in run.config and isinstance(run.config[key], (str, int, float)):
                details.append(f"{key}={run.config[key]}")
        rows.append([_name(run.path, root), ", ".join(run.kinds), "; ".join(details)])
    return H.table(["directory", "contents", "details"], rows)


def _curves_section(runs: Sequence[RunDir], root: Path | None) -> str:
    parts = []
    for run in runs:
        if run.metrics is None:
            continue
        metrics = read_jsonl(run.metrics)
        png = training_curves_png(metrics, title=_name(run.path, root))
        if png is None:
            parts.append(f'<p class="meta">{H.esc(_name(run.path, root))}: metrics.jsonl has no plottable values</p>')
            continue
        parts.append(f'<h3>{H.esc(_name(run.path, root))} · {len(metrics)} logged steps</h3>'
                     f'<div class="plot">{H.img_tag(png, "image/png", "training curves")}</div>')
    return "".join(parts)


def _pick_rollouts(files: Sequence[Path], per_file: int) -> list[tuple[Path, list[dict[str, Any]]]]:
    """The first and the last step's samples: the change between them is what training did."""
    chosen = [files[0]] if len(files) == 1 else [files[0], files[-1]]
    return [(path, read_jsonl(path, limit=per_file)) for path in chosen]


def _rollouts_section(runs: Sequence[RunDir], root: Path | None, resolver: ImageResolver, per_file: int) -> str:
    parts = []
    for run in runs:
        if not run.rollouts:
            continue
        resolver.datasets.extend(p for p in dataset_paths(run.config, run.path) if p not in resolver.datasets)
        for path, records in _pick_rollouts(run.rollouts, per_file):
            cards = "".join(H.rollout_card(record, resolver.resolve(record, run.path)) for record in records)
            parts.append(f"<h3>{H.esc(_name(run.path, root))} · {H.esc(path.name)}</h3><div class=\"grid\">{cards}</div>")
    return "".join(parts)


def _samples_section(runs: Sequence[RunDir], root: Path | None, limit: int) -> str:
    parts = []
    for run in runs:
        for parquet in run.parquets:
            cards = "".join(H.sample_card(sample) for sample in load_samples(parquet, limit))
            heading = f"{H.esc(_name(run.path, root))} / {H.esc(parquet.name)}"
            parts.append(f'<h3>{heading}</h3><div class="grid">{cards}</div>')
    gallery = [run.path / "gallery.html" for run in runs if (run.path / "gallery.html").is_file()]
    if gallery:
        links = ", ".join(H.esc(_name(p, root)) for p in gallery)
        parts.append(f'<p class="meta">More samples in the simulator galleries: {links}</p>')
    return "".join(parts)


def build_report(
    dirs: Sequence[str | Path],
    out_html: str | Path,
    title: str = "SpatialThinker report",
    max_samples: int = 6,
    max_rollouts: int = 4,
    extra_sections: Sequence[tuple[str, str, str]] = (),
) -> Path:
    """Write a self-contained HTML report for the output directories ``dirs`` and return its path.

    Each directory (and its subdirectories, three levels down) is classified by content: STVQA ``*.parquet``
    (synthesis), ``metrics.jsonl`` / ``rollouts/`` (training), ``summary.json`` (evaluation).

    Args:
        dirs: output directories of ``synth``, ``train``, ``eval`` or ``quickstart``.
        out_html: where to write the page.
        title: page title.
        max_samples: dataset questions shown per parquet file.
        max_rollouts: completions shown from the first and from the last rollout file of each run.
        extra_sections: ``(anchor, heading, inner html)`` sections shown first (a pipeline's own summary, e.g.
            the quickstart's held-out before/after table); empty ones are left out.

    Returns:
        ``out_html`` as a Path.

    Raises:
        FileNotFoundError: a path is not a directory.
        InputError: none of the directories holds anything the report can show (a ``ValueError``).
    """
    paths = [Path(d) for d in dirs]
    runs = discover(paths)
    if not runs:
        raise InputError(f"nothing to show in {', '.join(map(str, paths))}: expected STVQA *.parquet, "
                         "metrics.jsonl, rollouts/ or summary.json")
    root = _common_root(runs)
    datasets = [p for run in runs for p in run.parquets]
    resolver = ImageResolver(datasets)
    sections = [section for section in extra_sections if section[2]] + [("overview", "Inputs", _overview(runs, root))]
    candidates = [
        ("evaluation", "Evaluation", eval_section([r for r in runs if r.summaries], lambda p: _name(p, root))),
        ("curves", "Training curves", _curves_section(runs, root)),
        ("rollouts", "Rollouts: predicted (dashed) vs ground-truth (solid) boxes",
         _rollouts_section(runs, root, resolver, max_rollouts)),
        ("samples", "Dataset samples with ground-truth scene graphs", _samples_section(runs, root, max_samples)),
    ]
    sections += [section for section in candidates if section[2]]
    subtitle = " · ".join(_name(p, None) for p in paths)
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(H.page(title, subtitle, sections), encoding="utf-8")
    logger.info("report with %d sections from %d directories: %s", len(sections), len(runs), out)
    return out

