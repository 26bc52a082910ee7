"""How much learning signal GRPO had: per run, the share of groups whose rewards were all equal (zero advantage),
the reward spread inside groups, how often the gated box term paid, KL to the reference and the clip rate.

    python benchmarks/grpo_signal.py [RUN_DIR ...]     # default: runs/*/grpo and runs/*/arms/*

Reads each run's ``metrics.jsonl`` (one record per logged step, written by the trainer's telemetry) and prints
one row per run with the means over its steps. Why these numbers: a GRPO step moves the policy only through
groups whose completions scored differently, and the dense reward pays boxes only for right answers, so a
policy that never answers right gets no box gradient at all.
"""

from __future__ import annotations

import argparse
import math
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
            continue
        values = summarize(run)
        print(" | ".join([run.name] + [f"{values[k]:.3f}" if k != "steps" else f"{values[k]:.0f}"
                                        for k in ["steps", *KEYS]]))


if __name__ == "__main__":
    main()
