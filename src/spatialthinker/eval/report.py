"""Markdown reports: one run's table, several runs side by side, and the paper's numbers next to ours.

Every number is shown with n, its 95% interval, the prompt mode, the extractor, the entry version and the
parse-failure rate: a score without them cannot be compared (benchmarks.md §2).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PAPER_MODELS = ("Qwen2.5-VL-7B", "SpatialThinker-7B")


@lru_cache(maxsize=1)
def paper_numbers() -> dict[str, dict[str, float]]:
    """Model -> paper key -> published accuracy (%), from ``paper_numbers.yaml``."""
    text = resources.files("spatialthinker.eval").joinpath("paper_numbers.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["models"]


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]{}#|!~"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;",
                                                                    "\n": " ", "\r": " "})


def md(text: object) -> str:
    """Text from datasets, models or paths made inert in a markdown table cell: no pipes that split the row, no
    HTML, no emphasis or links, one line.

    Example:
        >>> md("a|b <i>*x*</i>")
        'a\\|b &lt;i&gt;\\*x\\*&lt;/i&gt;'
    """
    return str(text).translate(_MARKDOWN)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _ci(ci: list[float | None] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "–"
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _score(result: dict[str, Any]) -> str:
    """The score cell; a partial aggregate says which parts are missing instead of showing a misleading number."""
    if result.get("partial"):
        return f"partial (missing {md(', '.join(result.get('missing', [])))})"
    return _pct(result.get("accuracy"))


def load_run(directory: str | Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Summaries (by benchmark) and group summaries of an output directory."""
    directory = Path(directory)
    run_file = directory / "run.json"
    if run_file.exists():
        run = json.loads(run_file.read_text())
        summaries = {n: json.loads((directory / p).read_text()) for n, p in run["benchmarks"].items()
                     if (directory / p).exists()}
        return summaries, run.get("groups", {})
    summaries = {p.parent.name: json.loads(p.read_text()) for p in sorted(directory.glob("*/summary.json"))}
    if not summaries:
        raise FileNotFoundError(f"{directory} holds no run.json or */summary.json; is it an eval output directory?")
    return summaries, {}


def metric_rows(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, result) rows of one benchmark: official score, plain accuracy, aggregates, then categories."""
    official = summary["official"]
    rows = [(official["name"], official)]
    if official["name"] != "accuracy":
        rows.append(("accuracy", summary))
    rows += [(name, result) for name, result in summary.get("aggregates", {}).items() if name != official["name"]]
    categories = summary.get("per_category", {})
    if len(categories) > 1:  # a single category would only repeat the benchmark's own accuracy
        rows += [(name or "(none)", result) for name, result in categories.items()]
    return rows


def format_run(summaries: dict[str, dict[str, Any]], groups: dict[str, dict[str, Any]] | None = None) -> str:
    """One run as a markdown table; sub-rows (aggregates, categories) are indented under their benchmark."""
    lines = ["| benchmark | v | prompt mode | extractor | n | score (%) | 95% CI | parse fail (%) | errors |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in summaries.items():
        official = s["official"]
        flags = " (limited)" if s.get("limited") else ""
        flags += "" if s.get("complete", True) else " (incomplete)"
        lines.append(f"| **{md(name)}**{flags} · {md(official['name'])} | {s['version']} | {md(s['prompt_mode'])} | "
                     f"{md(s['extractor'])} | {s['n']} | {_score(official)} | {_ci(official.get('ci95'))} | "
                     f"{_pct(s.get('parse_failure_rate'))} | {s.get('errors', 0)} |")
        for label, result in metric_rows(s)[1:]:
            lines.append(f"| &nbsp;&nbsp;{md(label)} | | | | {result.get('n', '')} | {_score(result)} | "
                         f"{_ci(result.get('ci95'))} | | |")
        scene = s.get("scene_quality")
        if scene:
            lines.append(f"| &nbsp;&nbsp;scene mean IoU / R@0.5 | | | | {scene['n']} | "
                         f"{_pct(scene['mean_iou'])} / {_pct(scene['recall_50'])} | | | |")
    for name, g in (groups or {}).items():
        lines.append(f"| **{md(name)}** (group mean) | | | | {g['official'].get('n')} | {_score(g['official'])} "
                     f"| {_ci(g['official'].get('ci95'))} | | |")
    return "\n".join(lines) + "\n"


def _paper_key(summary: dict[str, Any], label: str) -> str | None:
    keys = summary.get("paper_keys") or {}
    return keys.get(label)


def compare_runs(directories: list[str | Path], paper_models: list[str] | tuple[str, ...] | None = None) -> str:
    """Several runs side by side (one column each, ``score [CI]``), optionally with the paper's numbers.

    Rows are every benchmark's metric rows in the order of the first run that has them; a run without a
    benchmark shows "–". Column headers give the directory and prompt mode, because numbers from different
    prompt modes are not comparable.
    """
    runs = [(Path(d), *load_run(d)) for d in directories]
    headers = []
    for directory, summaries, _ in runs:
        modes = sorted({s["prompt_mode"] for s in summaries.values()})
        headers.append(f"{md(directory.name)} ({md(', '.join(modes))})")
    models = list(paper_models or [])
    table = paper_numbers()
    unknown = [m for m in models if m not in table]
    if unknown:
        raise KeyError(f"no paper numbers for {unknown}; known models: {sorted(table)}.")
    lines = ["| benchmark · metric | " + " | ".join(headers + [f"paper: {md(m)}" for m in models]) + " |",
             "|---" * (1 + len(headers) + len(models)) + "|"]
    order: list[tuple[str, str, str | None]] = []
    for _, summaries, groups in runs:
        for name, s in summaries.items():
            for label, _ in metric_rows(s):
                row = (name, label, _paper_key(s, label))
                if row[:2] not in [r[:2] for r in order]:
                    order.append(row)
        for name, g in groups.items():
            row = (name, "group mean", (g.get("paper_keys") or {}).get("overall"))
            if row[:2] not in [r[:2] for r in order]:
                order.append(row)
    for name, label, key in order:
        cells = []
        for _, summaries, groups in runs:
            if label == "group mean":
                result = groups.get(name, {}).get("official")
            else:
                result = dict(metric_rows(summaries[name])).get(label) if name in summaries else None
            cells.append(f"{_score(result)} {_ci(result.get('ci95'))}" if result else "–")
        paper = [f"{table[m][key]:.1f}" if key and key in table[m] else "–" for m in models]
        lines.append(f"| {md(name)} · {md(label)} | " + " | ".join(cells + paper) + " |")
    return "\n".join(lines) + "\n"
