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

    columns = ["question_only", "answer_option_text", "problem", "options", "category"]
    return pq.read_table(parquet, columns=columns).to_pylist()


def _records(files: list[Path]) -> list[dict[str, Any]]:
    """Primary output records of the evaluation logs (truncated lines skipped by ``read_jsonl``)."""
    from spatialthinker.jsonl import read_jsonl

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
    from spatialthinker.rewards import compute_rewards, compute_sparse_reward, sparse_format_reward

    eval_dir, rows = Path(eval_dir), _val_rows(Path(val_parquet))
    files = sorted(eval_dir.rglob("items.jsonl"))
    if not files:
        raise FileNotFoundError(f"no items.jsonl under {eval_dir}: the evaluation wrote no outputs.")
    outputs, truths, sizes, matched_rows, unmatched = [], [], [], [], 0
    for record in _records(files):
        index = str(record.get("id", "")).split("@")[0]
        row = rows[int(index)] if index.isdigit() and int(index) < len(rows) else None
        if row is None or (record.get("question") and row["question_only"] not in str(record["question"])):
            unmatched += 1
            continue
        outputs.append(record["output"])
        matched_rows.append(row)
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
        # the sparse baseline's own reward and format (think/answer), so both kinds of policy are scored
        "sparse_format_rate": mean([float(sparse_format_reward(o) >= 1.0) for o in outputs]),
        "sparse_reward_mean": mean([compute_sparse_reward(o, row["answer_option_text"])
                                    for o, row in zip(outputs, matched_rows, strict=True)]),
        # what guessing one option uniformly at random scores on these questions (2-4 options each)
        "chance_rate": mean([chance_of(row) for row in matched_rows]),
        "per_category": _per_category(matched_rows),
    }
    if unmatched:
        logger.warning("%s: %d outputs could not be matched to val rows", eval_dir, unmatched)
    # beside the benchmark's summary.json, where the report's evaluation section looks for it
    (files[0].parent / HELDOUT_FILE).write_text(json.dumps(summary, indent=2))
    return summary


def _per_category(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Questions and chance rate per category (the evaluation's summary holds the accuracy per category)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("category") or "unknown"), []).append(row)
    return {name: {"n": len(group), "chance_rate": sum(map(chance_of, group)) / len(group)}
            for name, group in sorted(groups.items())}


def chance_of(row: dict[str, Any]) -> float:
    """What guessing one of the row's options uniformly at random scores."""
    return 1.0 / max(len(row["options"] or ()), 1)



def blind_baseline(train_parquet: str | Path, heldout_parquet: str | Path) -> dict[str, Any]:
    """Accuracy of a model that never looks at the image: for each held-out question, the option text most often
    right for the same question text and option set in the training split (ties and unseen questions score the
    chance rate in expectation).

    Why: templated questions carry priors ("which is taller, the cone or the block?" has one answer in most
    scenes), so beating the chance rate alone does not show that a model reads the image; beating this does.

    Returns:
        ``{"accuracy", "n", "seen_share", "per_category": {category: accuracy}}``.
    """
    import pyarrow.parquet as pq

    from spatialthinker.prompts import parse_ground_truth

    def answer_text(row: dict[str, Any]) -> str:
        answer = parse_ground_truth(row["answer_option_text"])[1] or ""
        return answer.split(")", 1)[-1].strip().lower()

    columns = ["question_only", "options", "answer_option_text", "category"]
    votes: dict[tuple[str, frozenset[str]], dict[str, int]] = {}
    for row in pq.read_table(train_parquet, columns=columns).to_pylist():
        key = (row["question_only"], frozenset(o.lower() for o in row["options"] or ()))
        counts = votes.setdefault(key, {})
        text = answer_text(row)
        counts[text] = counts.get(text, 0) + 1
    scores: list[tuple[str, float]] = []
    seen = 0
    for row in pq.read_table(heldout_parquet, columns=columns).to_pylist():
        options = [o.lower() for o in row["options"] or ()]
        counts = votes.get((row["question_only"], frozenset(options)))
        if counts:
            seen += 1
            best = max(counts.values())
            winners = [text for text, count in counts.items() if count == best and text in options]
            score = (1.0 / len(winners)) if answer_text(row) in winners else 0.0
        else:
            score = chance_of(row)
        scores.append((str(row.get("category") or "unknown"), score))
    by_category: dict[str, list[float]] = {}
    for category, score in scores:
        by_category.setdefault(category, []).append(score)
    n = len(scores)
    return {"accuracy": sum(s for _, s in scores) / n if n else math.nan, "n": n,
            "seen_share": seen / n if n else math.nan,
            "per_category": {c: sum(v) / len(v) for c, v in sorted(by_category.items())}}
