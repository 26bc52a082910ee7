"""Score an evaluation run's outputs with the training reward, so "did RL help" is measured on held-out data.

The evaluation harness reports accuracy and parse failures; the quickstart's claim is also about the quantities
GRPO optimises (format rate, dense reward). Those are computed here from the saved outputs (``items.jsonl``)
against the val parquet's ground truth with ``spatialthinker.rewards.compute_rewards`` -- the same function the
trainer scores rollouts with, so held-out and training numbers are comparable.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Written next to the evaluation's own summary.json; the report's evaluation section reads it too.
HELDOUT_FILE = "heldout_reward.json"


def _val_rows(parquet: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    columns = ["question_only", "answer_option_text", "problem"]
    return pq.read_table(parquet, columns=columns).to_pylist()


def _records(files: list[Path]) -> list[dict[str, Any]]:
    """Primary output records of the evaluation logs (truncated lines skipped by ``read_jsonl``)."""
    from spatialthinker.viz.plots import read_jsonl

    records = [record for path in files for record in read_jsonl(path)]
    return [r for r in records if "output" in r and r.get("primary", True)]


def score_outputs(eval_dir: str | Path, val_parquet: str | Path) -> dict[str, Any]:
    """Mean dense reward, its components and the format rate of an evaluation's outputs on the val split.

    Items are joined to val rows by their id (the row index for a local STVQA parquet) and checked by question
    text, so a mismatch is skipped and counted rather than scored against the wrong ground truth.

    Args:
        eval_dir: the evaluation output directory (holds ``items.jsonl``).
        val_parquet: the STVQA parquet the evaluation ran on.

    Returns:
        ``{"n", "unmatched", "format_rate", "mean_reward", "reward/format", ...}``; also written to
        ``heldout_reward.json`` beside the benchmark's ``items.jsonl``.
    """
    from spatialthinker.prompts import parse_image_size
    from spatialthinker.rewards import compute_rewards

    eval_dir, rows = Path(eval_dir), _val_rows(Path(val_parquet))
    files = sorted(eval_dir.rglob("items.jsonl"))
    if not files:
        raise FileNotFoundError(f"no items.jsonl under {eval_dir}: the evaluation wrote no outputs.")
    outputs, truths, sizes, unmatched = [], [], [], 0
    for record in _records(files):
        index = str(record.get("id", "")).split("@")[0]
        row = rows[int(index)] if index.isdigit() and int(index) < len(rows) else None
        if row is None or (record.get("question") and row["question_only"] not in str(record["question"])):
            unmatched += 1
            continue
        outputs.append(record["output"])
        truths.append(row["answer_option_text"])
        sizes.append(parse_image_size(row["problem"] or ""))
    results = compute_rewards(outputs, truths, sizes) if outputs else []
    n = len(results)

    def mean(values: list[float]) -> float:
        return sum(values) / n if n else math.nan

    summary: dict[str, Any] = {
        "n": n,
        "unmatched": unmatched,
        "format_rate": mean([float(r.format >= 1.0) for r in results]),
        "mean_reward": mean([r.total for r in results]),
        **{f"reward/{key}": mean([float(getattr(r, key)) for r in results])
           for key in ("format", "count", "accuracy", "spatial")},
        "pred_objects_mean": mean([float(r.n_pred_objects) for r in results]),
        "gt_objects_mean": mean([float(r.n_gt_objects) for r in results]),
    }
    if unmatched:
        logger.warning("%s: %d outputs could not be matched to val rows", eval_dir, unmatched)
    # beside the benchmark's summary.json, where the report's evaluation section looks for it
    (files[0].parent / HELDOUT_FILE).write_text(json.dumps(summary, indent=2))
    return summary
