"""How much learning signal GRPO had: per run, the share of groups whose rewards were all equal (zero advantage),
the reward spread inside groups, how often the gated box term paid, KL to the reference and the clip rate.

    python benchmarks/grpo_signal.py [RUN_DIR ...]     # default: runs/*/grpo and runs/*/arms/*

Reads each run's ``metrics.jsonl`` (one record per logged step, written by the trainer's telemetry) and prints
one row per run with the means over its steps. Why these numbers: a GRPO step moves the policy only through
groups whose completions scored differently, and the dense reward pays boxes only for right answers, so a
policy that never answers right gets no box gradient at all.

Then, from the saved rollouts (``rollouts/step_*.jsonl``, which record each completion's question category),
where that spread came from: per category, the groups seen, the mean answer term and the mean reward variance
inside a group, and the category's share of all within-group variance. Advantages are differences inside a
group, so this share is the share of the policy gradient each category drives; spread on questions the policy
answers at chance from the image rewards a guess, not a way of looking.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

KEYS = {
    "zero-std groups": "frac_reward_zero_std",
    "reward std": "reward_std",
    "reward": "reward",
    "accuracy term": "reward/accuracy",
    "spatial term": "reward/spatial",
    "format rate": "format_rate",
    "kl": "kl",
    "clipped": "clip_ratio/region_mean",
    "tokens": "completion_tokens_mean",
}


def summarize(run: Path) -> dict[str, float]:
    from spatialthinker.jsonl import read_jsonl

    rows = [r for r in read_jsonl(run / "metrics.jsonl") if "reward" in r or "reward/total" in r]
    out = {"steps": float(len(rows))}
    for label, key in KEYS.items():
        values = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        out[label] = sum(values) / len(values) if values else math.nan
    return out


def categories_of_questions(run: Path) -> dict[tuple[str, str], str]:
    """(image id, question text) -> category, from the training split named in the run's ``config.json``: for
    rollouts saved before they recorded the category (a prompt with the question alone matches)."""
    import json

    import pyarrow.parquet as pq

    config = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else {}
    parquet = Path(config.get("dataset", "")) / f"{config.get('split', 'train')}.parquet"
    if not parquet.is_file():
        return {}
    rows = pq.read_table(parquet, columns=["image_id", "question_with_options", "category"]).to_pylist()
    return {(r["image_id"], r["question_with_options"].strip()): r["category"] for r in rows}


def by_category(run: Path) -> dict[str, dict[str, float]]:
    """Per question category: groups (completions of one prompt in one step), mean answer term, mean reward
    variance inside a group and the category's share of the summed within-group variance."""
    from collections import defaultdict
    from statistics import mean, pvariance

    from spatialthinker.jsonl import read_jsonl

    groups: dict[tuple, list[dict]] = defaultdict(list)
    for path in sorted((run / "rollouts").glob("step_*.jsonl")):
        for record in read_jsonl(path):
            groups[(record["step"], record.get("image_id"), record["prompt"])].append(record)
    known = {}
    if any("category" not in records[0] for records in groups.values()):
        known = categories_of_questions(run)
    per_category: dict[str, list[list[dict]]] = defaultdict(list)
    for (_, image_id, prompt), records in groups.items():
        if len(records) > 1:
            category = records[0].get("category") or known.get((image_id, prompt.strip()), "unrecorded")
            per_category[category].append(records)
    variances = {c: [pvariance([r["reward"]["total"] for r in g]) for g in gs] for c, gs in per_category.items()}
    total = sum(sum(v) for v in variances.values()) or math.nan
    return {c: {"groups": len(gs), "accuracy term": mean(r["reward"]["accuracy"] for g in gs for r in g),
                "within-group variance": mean(variances[c]), "share of variance": sum(variances[c]) / total}
            for c, gs in sorted(per_category.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path)
    args = parser.parse_args()
    runs = args.runs or sorted([*Path("runs").glob("*/grpo"), *Path("runs").glob("*/arms/*")])
    if not runs:
        print("no GRPO runs found: pass run folders (each with a metrics.jsonl)")
        return
    header = ["run", "steps", *KEYS]
    print(" | ".join(header))
    for run in runs:
        if not (run / "metrics.jsonl").is_file():
            print(f"{run}: no metrics.jsonl, not a GRPO run folder (skipped)", file=sys.stderr)
            continue
        values = summarize(run)
        print(" | ".join([run.name] + [f"{values[k]:.3f}" if k != "steps" else f"{values[k]:.0f}"
                                        for k in ["steps", *KEYS]]))
    for run in runs:
        categories = by_category(run)
        if categories:
            print(f"\n{run}: where the within-group reward spread came from (saved rollouts)")
            print("category | groups | accuracy term | within-group variance | share of variance")
            for category, row in categories.items():
                print(f"{category} | {row['groups']:.0f} | {row['accuracy term']:.3f} | "
                      f"{row['within-group variance']:.4f} | {row['share of variance']:.2f}")


if __name__ == "__main__":
    main()
