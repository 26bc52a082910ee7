"""The paper's benchmark suite as one table: each benchmark's headline score beside the published numbers.

``spatialthinker eval suite`` runs a group (``paper-12`` by default: the 12 benchmarks of the paper's average,
benchmarks.md §3) and writes ``comparison.md``. Every row names the metric it compares, the table header names
the prompt mode, model and backend: the same model moves by 20 points between prompt modes (benchmarks.md §2),
so a number without its prompt mode cannot be compared with anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spatialthinker.eval.registry import GROUPS
from spatialthinker.eval.report import _ci, _score, md, paper_numbers
from spatialthinker.eval.runner import headline_result

DEFAULT_SUITE = "paper-12"


def _paper_key(summary: dict[str, Any], metric: str) -> str | None:
    return (summary.get("paper_keys") or {}).get(metric)


def suite_table(out_dir: str | Path, group: str = DEFAULT_SUITE, paper_models: list[str] | tuple[str, ...] = ()) -> str:
    """Markdown comparison of a finished (or partial) suite run in ``out_dir`` with the paper's numbers."""
    out = Path(out_dir)
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    summaries = {n: json.loads((out / p).read_text(encoding="utf-8")) for n, p in run["benchmarks"].items()
                 if (out / p).exists()}
    groups, not_evaluated = run.get("groups", {}), run.get("not_evaluated", {})
    table = paper_numbers()
    unknown = [m for m in paper_models if m not in table]
    if unknown:
        raise KeyError(f"no paper numbers for {unknown}; known models: {sorted(table)}.")
    config = run.get("config", {})
    modes = sorted({s["prompt_mode"] for s in summaries.values()}) or [str(config.get("prompt_mode"))]
    lines = [f"# {md(group)}: ours beside the published numbers",
             "",
             f"- prompt mode: **{md(', '.join(modes))}**; model: {md(config.get('model'))}; "
             f"backend: {md(config.get('backend'))}" + (f"; limit {config['limit']} (not comparable)" if config.get("limit") else ""),
             "- published: Batra et al., SpatialThinker (arXiv 2511.07403), accuracy %; ours: score [95% CI], n",
             "",
             "| benchmark | metric | ours | n | " + " | ".join(f"paper: {md(m)}" for m in paper_models) + " |",
             "|---|---|---|---|" + "---|" * len(paper_models)]

    def row(name: str, metric: str, result: dict[str, Any] | None, key: str | None, note: str = "",
            bold: bool = False) -> None:
        ours = f"{_score(result)} {_ci(result.get('ci95'))}" if result else f"not evaluated{note}"
        n = result.get("n", "") if result else ""
        paper = [f"{table[m][key]:.1f}" if key and key in table[m] else "–" for m in paper_models]
        label = f"**{md(name)}**" if bold else md(name)
        lines.append(f"| {label} | {md(metric)} | {ours} | {n} | " + " | ".join(paper) + " |")

    def member_rows(name: str) -> None:
        if name in GROUPS:
            for member in GROUPS.get(name).members:
                member_rows(member)
            g = groups.get(name, {})
            row(name, "mean of " + ", ".join(GROUPS.get(name).members), g.get("official"),
                (GROUPS.get(name).paper or {}).get("overall"))
            return
        if name not in summaries:
            row(name, "–", None, None, f": {md(not_evaluated.get(name, 'no summary'))[:120]}")
            return
        summary = summaries[name]
        result = headline_result(summary)
        flags = "" if summary.get("complete", True) else f" (incomplete: {summary.get('errors', 0)} errors)"
        row(name + flags, result["name"], result, _paper_key(summary, result["name"]))

    for member in GROUPS.get(group).members:
        member_rows(member)
    total = groups.get(group, {})
    row(f"{group} average", f"mean of {len(GROUPS.get(group).members)} headline scores", total.get("official"),
        (GROUPS.get(group).paper or {}).get("overall"), bold=True)
    lines.append("")
    return "\n".join(lines) + "\n"
