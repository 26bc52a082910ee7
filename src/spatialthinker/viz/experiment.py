"""The dense-vs-sparse experiment's HTML page: the result table first, then per-seed plots and training curves.

Reads only the ``experiment.json`` record (and the arms' ``metrics.jsonl`` for curves), so the page can be rebuilt
from a finished run without training anything.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from spatialthinker.jsonl import read_jsonl
from spatialthinker.viz import html as H
from spatialthinker.viz.plots import runs_curve_png, seed_points_png


def _mean_std(aggregate: dict[str, Any], key: str) -> str:
    value = aggregate.get(key)
    if not value:
        return "–"
    return f"{value['mean']:.3f} ± {value['std']:.3f}"


def _interval(pooled: dict[str, Any]) -> str:
    low, high = pooled.get("ci95") or (math.nan, math.nan)
    return f"{pooled['accuracy']:.3f} [{low:.3f}, {high:.3f}] (n={pooled['n']})"


def result_rows(record: dict[str, Any]) -> list[list[Any]]:
    """One row per arm (mean ± std over seeds), plus the shared warm start in both prompt modes."""
    rows = []
    for mode, point in record["warm_start"].items():
        rows.append([f"warm start ({mode} prompt)", f"{point['accuracy']:.3f}", H.fmt(point.get("own_format_rate")),
                     H.fmt(point.get("box_iou")), H.fmt(point.get("mean_reward")), H.fmt(point.get("reward/count")),
                     H.fmt(point.get("reward/spatial")), H.fmt(point.get("sparse_reward_mean")), "–"])
    for name, arm in record["arms"].items():
        agg = arm["aggregate"]
        rows.append([f"{name} ({len(arm['seeds'])} seeds)", _interval(agg["pooled_accuracy"]) + "; per seed "
                     + _mean_std(agg, "accuracy"), _mean_std(agg, "own_format_rate"), _mean_std(agg, "box_iou"),
                     _mean_std(agg, "mean_reward"), _mean_std(agg, "reward/count"), _mean_std(agg, "reward/spatial"),
                     _mean_std(agg, "sparse_reward_mean"), _mean_std(agg, "generated_tokens")])
    return rows


RESULT_HEADERS = ["arm", "held-out accuracy, pooled [95% Wilson]; per seed mean ± std", "own format rate",
                  "box IoU (matched, over GT objects)", "dense reward", "count term", "spatial term",
                  "sparse reward", "tokens generated"]


def _category_rows(record: dict[str, Any]) -> list[list[Any]]:
    categories = sorted({c for arm in record["arms"].values() for p in arm["seeds"] for c in p["per_category"]})
    rows = []
    for name, arm in record["arms"].items():
        cells = []
        for category in categories:
            values = [p["per_category"][category]["accuracy"] for p in arm["seeds"] if category in p["per_category"]]
            cells.append(f"{sum(values) / len(values):.2f}" if values else "–")
        rows.append([name, *cells])
    warm = record["warm_start"].get("dense", {}).get("per_category", {})
    rows.insert(0, ["warm start", *[f"{warm[c]['accuracy']:.2f}" if c in warm else "–" for c in categories]])
    return [["", *categories], *rows]


def write_experiment_report(record: dict[str, Any], out_html: str | Path) -> Path:
    """Write the experiment page and return its path."""
    out = Path(out_html)
    arms = record["arms"]
    chance = next(iter(record["warm_start"].values())).get("chance_rate")
    settings = record["budget"]
    intro = (f"<p>Every arm starts from the same warm start and trains for {settings['optimizer_steps']} optimizer "
             f"steps of {settings['sequences_per_step']} sequences (completions for GRPO, examples for SFT), at "
             f"learning rate {H.esc(settings['learning_rate'])}, completions capped at "
             f"{settings['max_completion_tokens']} tokens. Held-out: {record['splits']['heldout_questions']} "
             f"questions from {record['splits']['heldout_scenes']} val scenes "
             f"({H.esc(', '.join(record['splits']['heldout_categories']))}); chance rate "
             f"{H.fmt(chance)}; without the image (best answer per question text in the training split) "
             f"{H.fmt((record.get('blind_baseline') or {}).get('accuracy'))}. "
             f"Seeds: {H.esc(record['settings']['seeds'])}.</p>")
    sections = [("result", "Result", intro + H.table(RESULT_HEADERS, result_rows(record)))]
    category = _category_rows(record)
    sections.append(("categories", "Held-out accuracy per category (mean over seeds)",
                     H.table(category[0], category[1:])))
    plots = []
    for key, title in (("accuracy", "Held-out accuracy per seed"), ("box_iou", "Box IoU per seed"),
                       ("own_format_rate", "Own format rate per seed")):
        png = seed_points_png([(name, [p.get(key) for p in arm["seeds"]]) for name, arm in arms.items()], title,
                              key, ("chance", chance) if key == "accuracy" and chance is not None else None)
        if png:
            plots.append(H.img_tag(png, "image/png", title))
    base = Path(record.get("out_dir", out.parent))
    curves = [(f"{name} s{p['seed']}", read_jsonl(path))
              for name in arms for p in arms[name]["seeds"]
              if (path := base / "arms" / f"{name}-seed{p['seed']}" / "metrics.jsonl").is_file()]
    png = runs_curve_png([c for c in curves if not c[0].startswith("sft")], ("reward/total", "reward"),
                         "Training reward (each arm's own reward)", "reward")
    if png:
        plots.append(H.img_tag(png, "image/png", "training reward"))
    sections.append(("plots", "Plots", "".join(plots)))
    paired = record.get("paired_accuracy_difference", {})
    sections.append(("paired", "Paired differences (same seed, same questions)", H.table(
        ["difference", "per seed", "mean"],
        [[k.replace("_", " "), ", ".join(f"{v:+.3f}" for v in d["per_seed"]), H.fmt(d["mean"])]
         for k, d in paired.items()])))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(H.page("SpatialThinker experiment: dense vs sparse reward", f"model {record['settings']['model']}",
                          sections), encoding="utf-8")
    return out
