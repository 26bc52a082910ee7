"""``spatialthinker experiment dense-vs-sparse``: the paper's central comparison at a size one machine affords.

From one shared warm start, three arms train at equal budgets, each for several seeds:

- ``dense``: GRPO with the SpatialThinker reward (format, count, accuracy, gated CIoU) and its prompt;
- ``sparse``: GRPO with the sparse baseline (``0.5 format + 0.5 accuracy``, think/answer prompt; method.md §4);
- ``sft``: continued supervised training on the dense ground-truth responses.

The warm start is one SFT run on every training question twice (the dense response after the dense prompt, the
think/answer response after the sparse prompt), so both GRPO arms start from a policy that already writes their
format and neither pays for learning it. Equal budget means the same optimizer steps, the same sequences per step
(completions for GRPO, training examples for SFT), the same completion cap and the same learning rate; the
tokens each GRPO arm actually generated are recorded beside it. Seeds change the arms' sampling and data order,
never the data, the model or the warm start. Every arm is evaluated on the val scenes only (greedy decoding) and
scored with both rewards.

Layout of ``--out``::

    data/ tiny_data/ model/          as in the quickstart (simulated blocks world, tiny model)
    warm/                            the shared warm start (SFT, dense+sparse targets)
    arms/<arm>-seed<k>/              each arm's training run (metrics.jsonl, rollouts/, final/)
    eval/heldout.parquet             the held-out questions (val scenes)
    eval/warm-dense, eval/warm-sparse, eval/<arm>-seed<k>/
    experiment.json                  every number below, per seed and aggregated
    report.html

Every stage is skipped when its output exists, so an interrupted experiment resumes.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatialthinker.pipeline.presets import Preset, get_preset

logger = logging.getLogger(__name__)

RESULT_FILE = "experiment.json"
ARMS = ("dense", "sparse", "sft")


@dataclass(frozen=True)
class Arm:
    """How one arm trains and is evaluated."""

    name: str
    reward: str | None  # GRPO reward; None for continued SFT
    prompt_style: str  # training prompt style
    eval_mode: str  # evaluation prompt mode (the same prompt as in training)
    own_format: str  # key of heldout_reward.json holding the arm's own format rate


def arms(tiny: bool) -> dict[str, Arm]:
    """The three arms; a tiny model gets the bare question (it cannot read instructions), a real one the paper's."""
    from spatialthinker.pipeline.stages import prompt_style

    dense_style = prompt_style(tiny)
    dense_mode = "question_only" if tiny else "spatialthinker-train"
    return {"dense": Arm("dense", "dense", dense_style, dense_mode, "format_rate"),
            "sparse": Arm("sparse", "sparse", "sparse", "reasoning", "sparse_format_rate"),
            "sft": Arm("sft", None, dense_style, dense_mode, "format_rate")}


def budget(preset: Preset) -> dict[str, Any]:
    """The per-arm budget every arm gets (written to experiment.json)."""
    return {"optimizer_steps": preset.grpo_steps, "sequences_per_step": preset.grpo_batch_size,
            "num_generations": preset.num_generations, "max_completion_tokens": preset.max_completion_length,
            "learning_rate": preset.grpo_learning_rate,
            "max_generated_tokens": preset.grpo_steps * preset.grpo_batch_size * preset.max_completion_length}


def _train_arm(arm: Arm, warm: str, data_dir: Path, preset: Preset, seed: int, run_dir: Path, tiny: bool) -> str:
    """Train one arm from the warm start for the shared budget (resuming its newest checkpoint, if any)."""
    from spatialthinker.pipeline.stages import tiny_recipe_fields
    from spatialthinker.train.config import GRPORecipe, SFTRecipe
    from spatialthinker.train.grpo import run_grpo
    from spatialthinker.train.runtime import checkpoints
    from spatialthinker.train.sft import run_sft

    common = dict(model=warm, dataset=str(data_dir), split="train", output_dir=str(run_dir), seed=seed,
                  max_steps=preset.grpo_steps, learning_rate=preset.grpo_learning_rate,
                  per_device_train_batch_size=preset.grpo_batch_size, prompt_style=arm.prompt_style,
                  save_steps=max(10, preset.grpo_steps // 2), save_total_limit=1, report_to="none",
                  resume=bool(checkpoints(str(run_dir))), **tiny_recipe_fields(tiny))
    if arm.reward is None:
        result = run_sft(SFTRecipe(**common, target="dense", lr_scheduler_type="constant"))
    else:
        result = run_grpo(GRPORecipe(**common, reward=arm.reward, num_generations=preset.num_generations,
                                     max_completion_length=preset.max_completion_length,
                                     temperature=preset.temperature,
                                     rollouts_per_step=preset.grpo_batch_size))
    return result.final_dir or str(run_dir / "final")


def _run_log_facts(run_dir: Path, preset: Preset) -> dict[str, Any]:
    """From one read of a run's metrics.jsonl: the last optimizer step it logged and, for GRPO, the completion
    tokens it generated (mean completion length x completions, summed over steps)."""
    from spatialthinker.jsonl import read_jsonl

    path = run_dir / "metrics.jsonl"
    rows = read_jsonl(path) if path.is_file() else []
    steps = [int(r["step"]) for r in rows if isinstance(r.get("step"), int)]
    lengths = [r["completion_length_mean"] for r in rows if "completion_length_mean" in r]
    return {"generated_tokens": round(sum(lengths) * preset.grpo_batch_size, 1) if lengths else None,
            "optimizer_steps": max(steps) if steps else None}


def _read_point(eval_dir: Path, arm: Arm | None = None) -> dict[str, Any]:
    """The numbers of one evaluation: accuracy with its interval, per category, box IoU, both rewards."""
    summary_path = next(eval_dir.rglob("summary.json"))
    summary = json.loads(summary_path.read_text())
    heldout = json.loads((summary_path.parent / "heldout_reward.json").read_text())
    scene = summary.get("scene_quality") or {}
    point = {
        "n": summary["n"], "correct": summary["correct"], "accuracy": summary["accuracy"], "ci95": summary["ci95"],
        "parse_failure_rate": summary.get("parse_failure_rate"),
        "per_category": {k: {"n": v["n"], "accuracy": v["accuracy"], "ci95": v["ci95"]}
                         for k, v in summary.get("per_category", {}).items()},
        "box_iou": scene.get("mean_iou"), "box_recall_50": scene.get("recall_50"),
        **{k: heldout.get(k) for k in ("format_rate", "mean_reward", "reward/format", "reward/count",
                                       "reward/accuracy", "reward/spatial", "sparse_format_rate",
                                       "sparse_reward_mean", "chance_rate", "pred_objects_mean")},
    }
    if arm is not None:
        point["own_format_rate"] = heldout.get(arm.own_format)
    return point


def _aggregate(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and sample standard deviation over seeds, plus accuracy pooled over seeds with a Wilson interval."""
    from spatialthinker.eval.metrics import wilson_interval

    keys = ("accuracy", "own_format_rate", "box_iou", "mean_reward", "reward/format", "reward/count",
            "reward/accuracy", "reward/spatial", "sparse_reward_mean", "generated_tokens")
    out: dict[str, Any] = {}
    for key in keys:
        values = [p[key] for p in points if isinstance(p.get(key), (int, float)) and not math.isnan(p[key])]
        if values:
            out[key] = {"mean": statistics.fmean(values),
                        "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n_seeds": len(values)}
    correct, n = sum(p["correct"] for p in points), sum(p["n"] for p in points)
    out["pooled_accuracy"] = {"correct": correct, "n": n, "accuracy": correct / n if n else math.nan,
                              "ci95": list(wilson_interval(correct, n)) if n else None}
    return out


def run_experiment(preset: str | Preset = "experiment", out_dir: str | Path = "runs/dense-vs-sparse",
                   seeds: Sequence[int] = (0, 1, 2), model: str = "tiny",
                   on_stage: Callable[[str, str], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the dense-vs-sparse experiment and return what ``experiment.json`` holds.

    Args:
        preset: data, warm start (``sft_steps``) and per-arm budget (``grpo_*``); ``experiment`` by default.
        out_dir: run directory; finished stages are skipped.
        seeds: one training run per arm and seed, all from the same warm start.
        model: ``tiny`` (offline tiny Qwen2.5-VL) or a local checkpoint.
        on_stage: called with ``(stage, "start" | "done" | "skipped")``.
    """
    from spatialthinker.pipeline import stages
    from spatialthinker.pipeline.heldout import blind_baseline
    from spatialthinker.train.config import SFTRecipe
    from spatialthinker.train.inputs import check_model
    from spatialthinker.train.runtime import checkpoints
    from spatialthinker.train.sft import run_sft

    chosen = get_preset(preset)
    check_model(model)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {list(seeds)}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tiny = stages.is_tiny(model)
    notify = on_stage or (lambda stage, status: None)
    seconds: dict[str, float] = {}

    def stage(name: str, done: Callable[[], bool], work: Callable[[], Any]) -> None:
        if done():
            notify(name, "skipped")
            return
        notify(name, "start")
        started = time.perf_counter()
        work()
        seconds[name] = round(time.perf_counter() - started, 1)
        notify(name, "done")

    settings = {"preset": chosen.to_dict(), "model": model, "seeds": list(seeds)}
    _check_settings(out, settings)
    data, train_data = out / "data", out / "tiny_data" if tiny else out / "data"
    stage("data", lambda: stages.data_done(data), lambda: stages.make_data(chosen, data))
    if tiny:
        stage("subset", lambda: stages.data_done(train_data),
              lambda: stages.make_subset(data, train_data, chosen.max_gt_objects))
        stage("model", lambda: (out / "model" / "tiny_build.json").is_file(),
              lambda: stages.make_model(model, chosen, out / "model", train_data))
    base = str(out / "model") if tiny else model
    warm_dir = out / "warm"
    stage("warm_start", lambda: stages.final_dir(warm_dir).is_dir(), lambda: run_sft(SFTRecipe(
        model=base, dataset=str(train_data), split="train", output_dir=str(warm_dir), seed=chosen.seed,
        max_steps=chosen.sft_steps, learning_rate=chosen.sft_learning_rate, lr_scheduler_type="cosine",
        warmup_steps=0.05, per_device_train_batch_size=chosen.sft_batch_size, target="dense+sparse",
        prompt_style=stages.prompt_style(tiny), save_steps=max(50, chosen.sft_steps // 4), save_total_limit=1,
        resume=bool(checkpoints(str(warm_dir))), report_to="none", **stages.tiny_recipe_fields(tiny))))
    warm = str(stages.final_dir(warm_dir))
    heldout = out / "eval" / "heldout.parquet"
    if not heldout.is_file():
        stages.make_heldout(train_data / "val.parquet", heldout, chosen.eval_limit)
    specs = arms(tiny)
    for mode_arm in ("dense", "sparse"):
        target = out / "eval" / f"warm-{mode_arm}"
        stage(f"eval_warm-{mode_arm}", lambda target=target: stages.eval_done(target),
              lambda target=target, arm=specs[mode_arm]: stages.evaluate(warm, heldout, chosen, target, tiny,
                                                                         arm.eval_mode))
    results: dict[str, Any] = {"warm_start": {name: _read_point(out / "eval" / f"warm-{name}", specs[name])
                                              for name in ("dense", "sparse")}, "arms": {}}
    for arm_name in ARMS:
        arm = specs[arm_name]
        points = []
        for seed in seeds:
            tag = f"{arm_name}-seed{seed}"
            run_dir, eval_dir = out / "arms" / tag, out / "eval" / tag
            stage(f"train_{tag}", lambda run_dir=run_dir: stages.final_dir(run_dir).is_dir(),
                  lambda arm=arm, seed=seed, run_dir=run_dir: _train_arm(arm, warm, train_data, chosen, seed,
                                                                         run_dir, tiny))
            stage(f"eval_{tag}", lambda eval_dir=eval_dir: stages.eval_done(eval_dir),
                  lambda arm=arm, run_dir=run_dir, eval_dir=eval_dir: stages.evaluate(
                      str(stages.final_dir(run_dir)), heldout, chosen, eval_dir, tiny, arm.eval_mode))
            points.append({"seed": seed, **_read_point(eval_dir, arm), **_run_log_facts(run_dir, chosen)})
        results["arms"][arm_name] = {"prompt_style": arm.prompt_style, "reward": arm.reward or "sft (dense targets)",
                                     "eval_mode": arm.eval_mode, "seeds": points, "aggregate": _aggregate(points)}
    results["paired_accuracy_difference"] = _paired(results["arms"], seeds)
    record = {"experiment": "dense-vs-sparse", "out_dir": str(out), "settings": settings, "budget": budget(chosen),
              "splits": _split_facts(train_data, heldout), "seconds": _merge_seconds(out, seconds),
              "blind_baseline": blind_baseline(train_data / "train.parquet", heldout), **results}
    (out / RESULT_FILE).write_text(json.dumps(record, indent=2, default=str))
    from spatialthinker.viz.experiment import write_experiment_report

    record["report"] = str(write_experiment_report(record, out / "report.html"))
    (out / RESULT_FILE).write_text(json.dumps(record, indent=2, default=str))
    return record


def _paired(arm_results: dict[str, Any], seeds: Sequence[int]) -> dict[str, Any]:
    """Per-seed accuracy differences dense - sparse and dense - sft (same seed, same held-out questions)."""
    def by_seed(name: str) -> dict[int, float]:
        return {p["seed"]: p["accuracy"] for p in arm_results[name]["seeds"]}

    dense = by_seed("dense")
    out = {}
    for other in ("sparse", "sft"):
        values = by_seed(other)
        diffs = [dense[s] - values[s] for s in seeds if s in dense and s in values]
        out[f"dense_minus_{other}"] = {"per_seed": diffs, "mean": statistics.fmean(diffs) if diffs else math.nan}
    return out


def _split_facts(train_data: Path, heldout: Path) -> dict[str, Any]:
    """Scene ids of both splits, to show (and test) that no held-out scene was trained on."""
    import pyarrow.parquet as pq

    train_ids = set(pq.read_table(train_data / "train.parquet", columns=["image_id"]).column(0).to_pylist())
    held = pq.read_table(heldout, columns=["image_id", "category"])
    held_ids = set(held.column("image_id").to_pylist())
    categories = held.column("category").to_pylist()
    return {"train_scenes": len(train_ids), "heldout_scenes": len(held_ids),
            "heldout_questions": len(categories), "heldout_categories": sorted(set(categories)),
            "overlap_scenes": sorted(train_ids & held_ids)}


def _check_settings(out: Path, settings: dict[str, Any]) -> None:
    """Refuse to resume into a directory made with other settings: arms from two setups would be compared."""
    path = out / "settings.json"
    settings = json.loads(json.dumps(settings))  # as it reads back from the file (tuples become lists)
    if path.is_file():
        previous = json.loads(path.read_text())
        if previous != settings:
            changed = sorted(k for k in settings if previous.get(k) != settings.get(k))
            raise ValueError(f"{out} holds an experiment with other settings (changed: {', '.join(changed)}); "
                             "choose another --out or delete that directory.")
    else:
        path.write_text(json.dumps(settings, indent=2))


def _merge_seconds(out: Path, seconds: dict[str, float]) -> dict[str, float]:
    """Stage wall times of this run and of earlier (resumed) runs, so the record always has the full cost."""
    previous = {}
    if (out / RESULT_FILE).is_file():
        previous = json.loads((out / RESULT_FILE).read_text()).get("seconds", {})
    merged = {**previous, **seconds}
    merged["total"] = round(sum(v for k, v in merged.items() if k != "total"), 1)
    return merged
