"""Reward telemetry for training runs: per-step metrics JSONL, sample rollouts JSONL and reward-hacking warnings.

The dense reward is scored once per completion through ``spatialthinker.rewards.compute_rewards``; the same
breakdown gives TRL its scalar and gives us every component, so telemetry costs no second scoring pass. The
warnings exist because the paper's reward history is a list of hacks (box spam, format collapse; method.md §4).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: TRL log keys renamed to the names of our output contract (docs/training.md).
RENAMES = {"completions/mean_length": "completion_length_mean"}
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def _text(completion: Any) -> str:
    from spatialthinker.rewards.trl import completion_text

    return completion_text(completion)


def _prompt_text(prompt: Any) -> str:
    """The text parts of a conversational prompt (images are referenced by ``image_id``, not embedded)."""
    if isinstance(prompt, str):
        return prompt
    parts = []
    for message in prompt or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(parts)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


class TelemetryReward:
    """A TRL reward callable that scores with our reward, logs every component and saves sample rollouts.

    Args:
        kind: ``"dense"`` (gated SpatialThinker reward) or ``"sparse"`` (0.5 format + 0.5 accuracy).
        reward_config: ``RewardConfig`` of the dense reward.
        output_dir: run folder; rollouts go to ``output_dir/rollouts/step_XXXXXX.jsonl``.
        rollouts_per_step: how many completions of each rollout batch to save.
        box_spam_ratio, format_collapse_rate: warning thresholds.

    A class, not a closure, so it pickles; ``__name__`` fixes TRL's metric key (``rewards/<name>/mean``).
    """

    def __init__(self, kind: str = "dense", reward_config: Any = None, output_dir: str | None = None,
                 rollouts_per_step: int = 8, box_spam_ratio: float = 3.0, format_collapse_rate: float = 0.1) -> None:
        if kind not in ("dense", "sparse"):
            raise ValueError(f"kind must be dense or sparse, got {kind!r}.")
        self.kind = kind
        self.__name__ = f"spatial_{kind}"
        self.reward_config = reward_config
        self.output_dir = output_dir
        self.rollouts_per_step = rollouts_per_step
        self.box_spam_ratio = box_spam_ratio
        self.format_collapse_rate = format_collapse_rate
        self._last_warning_step: dict[str, int] = {}
        self._started_steps: set[int] = set()  # steps whose rollout file this process has (re)started

    def score(self, texts: list[str], columns: dict[str, Any], prompts: Any) -> list[dict[str, Any]]:
        """One breakdown dict per completion (total, components, object counts, empty answer, errors)."""
        from spatialthinker.rewards.trl import _column, _sizes

        n = len(texts)
        if self.kind == "dense":
            from spatialthinker.rewards import compute_rewards

            truths = _column(columns, ("answer_option_text", "ground_truth", "solution"), n)
            results = compute_rewards(texts, truths, _sizes(columns, prompts, n), self.reward_config)
            return [r.to_dict() for r in results]
        from spatialthinker.rewards import compute_sparse_reward, sparse_format_reward

        truths = _column(columns, ("answer_option_text_only", "answer_option_text"), n)
        out = []
        for text, truth in zip(texts, truths):
            total, fmt = compute_sparse_reward(text, truth), sparse_format_reward(text)
            match = _ANSWER.search(text)
            out.append({"total": total, "format": fmt, "count": 0.0, "accuracy": 2.0 * total - fmt,
                        "spatial": 0.0, "n_pred_objects": 0, "n_gt_objects": 0,
                        "answer_empty": not (match and match.group(1).strip()), "errors": []})
        return out

    def __call__(self, prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                 trainer_state: Any = None, log_metric: Callable[[str, float], None] | None = None,
                 log_extra: Callable[[str, list], None] | None = None, **columns: Any) -> list[float]:
        started = time.perf_counter()
        texts = [_text(c) for c in completions or []]
        if not texts:
            return []
        results = self.score(texts, columns, prompts)
        # Rollouts feed the optimizer step after the current one; metrics.jsonl logs them under that step too.
        step = (getattr(trainer_state, "global_step", 0) or 0) + 1
        stats = batch_stats(results, completion_ids)
        stats["reward_seconds"] = time.perf_counter() - started  # the reward's share of the step (benchmarks)
        if log_metric is not None:
            for name, value in stats.items():
                log_metric(name, value)
        if log_extra is not None:
            for key in ("format", "count", "accuracy", "spatial"):
                log_extra(f"reward/{key}", [r[key] for r in results])
        self._warn(stats, step)
        if self.output_dir and self.rollouts_per_step > 0 and _is_main_process():
            self._save_rollouts(step, prompts, texts, results, columns)
        return [float(r["total"]) for r in results]

    def _warn(self, stats: dict[str, float], step: int) -> None:
        """Warn (at most every 10 steps per kind) on box spam or format collapse."""
        checks = {
            "box_spam": stats["gt_objects_mean"] > 0
            and stats["pred_objects_mean"] > self.box_spam_ratio * stats["gt_objects_mean"],
            "format_collapse": step > 1 and stats["format_rate"] < self.format_collapse_rate,
        }
        for name, fired in checks.items():
            if fired and step - self._last_warning_step.get(name, -10**9) >= 10:
                self._last_warning_step[name] = step
                log.warning("step %d: %s (pred objects %.1f vs GT %.1f, format rate %.2f)", step,
                            name.replace("_", " "), stats["pred_objects_mean"], stats["gt_objects_mean"],
                            stats["format_rate"])

    def _save_rollouts(self, step: int, prompts: Any, texts: list[str], results: list[dict[str, Any]],
                       columns: dict[str, Any]) -> None:
        folder = os.path.join(self.output_dir, "rollouts")
        os.makedirs(folder, exist_ok=True)
        truth_key = "answer_option_text" if self.kind == "dense" else "answer_option_text_only"
        path = os.path.join(folder, f"step_{step:06d}.jsonl")
        # The first batch of a step in this process starts its file afresh: what is there came from an interrupted
        # or earlier run (kept would mean the step's rollouts twice); later batches of the same step append.
        mode = "a" if step in self._started_steps else "w"
        self._started_steps.add(step)
        with open(path, mode, encoding="utf-8") as handle:
            for i in range(min(self.rollouts_per_step, len(texts))):
                size = (columns.get("image_size") or [None] * len(texts))[i]
                record = {
                    "step": step, "image_id": (columns.get("image_id") or [None] * len(texts))[i],
                    "category": (columns.get("category") or [None] * len(texts))[i],
                    "image_path": _image_path(columns, i), "prompt": _prompt_text(prompts[i] if prompts else ""),
                    "completion": texts[i], "ground_truth": (columns.get(truth_key) or [None] * len(texts))[i],
                    "image_size": list(size) if size is not None else None,
                    "reward": {k: results[i][k] for k in ("total", "format", "count", "accuracy", "spatial")},
                    "n_pred_objects": results[i]["n_pred_objects"], "n_gt_objects": results[i]["n_gt_objects"],
                    "errors": list(results[i].get("errors", []))[:3],
                }
                handle.write(json.dumps(record, default=str) + "\n")


def _image_path(columns: dict[str, Any], index: int) -> str | None:
    """The image's file path when the dataset stores one (images embedded as bytes have none; use image_id)."""
    images = columns.get("image") or []
    image = images[index] if index < len(images) else None
    return getattr(image, "filename", None) or None


def batch_stats(results: list[dict[str, Any]], completion_ids: Any = None) -> dict[str, float]:
    """Means of every reward component plus the telemetry rates, under the output-contract names."""
    stats = {f"reward/{key}": _mean([float(r[key]) for r in results])
             for key in ("total", "format", "count", "accuracy", "spatial")}
    stats["format_rate"] = _mean([float(r["format"] >= 1.0) for r in results])
    stats["format_failure_rate"] = 1.0 - stats["format_rate"]
    stats["pred_objects_mean"] = _mean([float(r["n_pred_objects"]) for r in results])
    stats["gt_objects_mean"] = _mean([float(r["n_gt_objects"]) for r in results])
    stats["empty_answer_rate"] = _mean([float(bool(r["answer_empty"])) for r in results])
    if completion_ids is not None:
        stats["completion_tokens_mean"] = _mean([float(len(ids)) for ids in completion_ids])
    return stats


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def metrics_callback(output_dir: str, resume_step: int | None = None) -> Any:
    """A ``transformers.TrainerCallback`` that appends one JSON record per logging step to ``metrics.jsonl``."""
    from transformers import TrainerCallback

    from spatialthinker.jsonl import read_jsonl

    class MetricsJSONL(TrainerCallback):
        """Writes ``output_dir/metrics.jsonl``; on resume keeps only the records up to the checkpoint's step."""

        def __init__(self) -> None:
            self.path = os.path.join(output_dir, "metrics.jsonl")
            self.records: list[dict[str, Any]] = []
            kept = []
            # Read on the main process only: it rewrites the file, another process could read it half-written.
            if resume_step is not None and _is_main_process() and os.path.exists(self.path):
                kept = [r for r in read_jsonl(self.path) if r.get("step", 0) <= resume_step]
            if _is_main_process():
                os.makedirs(output_dir, exist_ok=True)
                with open(self.path, "w", encoding="utf-8") as handle:
                    handle.writelines(json.dumps(r) + "\n" for r in kept)
            self.records.extend(kept)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any):
            if not logs or not state.is_world_process_zero:
                return
            if "train_runtime" in logs:  # end-of-training summary, not a step
                with open(os.path.join(output_dir, "train_summary.json"), "w", encoding="utf-8") as handle:
                    json.dump({"step": state.global_step, **logs}, handle, indent=2)
                return
            record: dict[str, Any] = {"step": state.global_step}
            for key, value in logs.items():
                if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
                    record[RENAMES.get(key, key)] = value
            self.records.append(record)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    return MetricsJSONL()
