"""The quickstart's stages, each a thin call into the area that owns the work, and each skippable when done.

A stage is "done" when its output exists (the parquet files, a ``final/`` model, an evaluation summary), so an
interrupted quickstart picks up at the first missing stage. Heavy imports (torch, TRL, the renderer) happen
inside the stage that needs them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from spatialthinker.pipeline.presets import Preset

logger = logging.getLogger(__name__)

#: Share of scenes held out. Above the simulator's 0.1 so that a run of a few dozen scenes still evaluates on
#: several rooms it never trained on.
VAL_FRACTION = 0.2
#: Image-area bounds of the tiny model's processor: at most 112 x 112, i.e. 16 image tokens (configs/tiny_cpu.yaml).
TINY_PIXELS = (56 * 56, 112 * 112)


def is_tiny(model: str) -> bool:
    """``tiny`` (or ``tiny-micro`` …) builds the offline model; anything else is a local path or hub id."""
    return model == "tiny" or model.startswith("tiny-")


def data_done(data_dir: Path) -> bool:
    return (data_dir / "train.parquet").is_file() and (data_dir / "val.parquet").is_file()


def make_data(preset: Preset, data_dir: Path) -> Path:
    """Render ``preset.num_scenes`` simulated rooms and write ``train.parquet``/``val.parquet`` (STVQA + scene_3d)."""
    from spatialthinker.data.sim.pipeline import synthesize

    synthesize(num_scenes=preset.num_scenes, out_dir=str(data_dir), seed=preset.seed,
               image_size=preset.image_size, workers=preset.workers, val_fraction=VAL_FRACTION, world=preset.world)
    if not data_done(data_dir):
        raise RuntimeError(f"simulation finished but {data_dir} lacks train.parquet and val.parquet.")
    return data_dir


def make_subset(data_dir: Path, out_dir: Path, max_gt_objects: int) -> Path:
    """Copy train/val keeping questions whose ground-truth scene has at most ``max_gt_objects`` objects.

    Why: with one digit per token a box costs ~30 tokens, so a 5-object answer is ~400 tokens; a tiny model on
    two CPU cores learns the four-tag format within minutes only when answers stay near ~120 tokens.
    """
    import pyarrow.parquet as pq

    from spatialthinker.prompts import parse_ground_truth

    out_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        table = pq.read_table(data_dir / f"{split}.parquet")
        scenes = [parse_ground_truth(text)[0] for text in table.column("answer_option_text").to_pylist()]
        keep = [i for i, scene in enumerate(scenes) if scene is not None and 0 < len(scene.objects) <= max_gt_objects]
        pq.write_table(table.take(keep), out_dir / f"{split}.parquet")
        logger.info("%s: kept %d of %d questions with <= %d GT objects", split, len(keep), table.num_rows,
                    max_gt_objects)
    return out_dir


def make_heldout(val_parquet: Path, out_path: Path, limit: int) -> Path:
    """Write ``limit`` val questions spread evenly over the val split (rows are grouped by scene, so the first
    ``limit`` rows would all come from one or two rooms and a few categories)."""
    import pyarrow.parquet as pq

    table = pq.read_table(val_parquet)
    if table.num_rows == 0:
        raise RuntimeError(f"{val_parquet} is empty: render more scenes (the val split is chosen per scene).")
    count = min(limit, table.num_rows)
    indices = sorted({round(i * (table.num_rows - 1) / max(count - 1, 1)) for i in range(count)})
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.take(indices), out_path)
    return out_path


def tokenizer_corpus(data_dir: Path) -> list[str]:
    """The training split's questions, options and ground-truth answers: the tiny tokenizer learns its merges
    from them, so the run's labels and phrasings cost few tokens (val rows are never read)."""
    import pyarrow.parquet as pq

    table = pq.read_table(data_dir / "train.parquet", columns=["question_only", "options", "answer_option_text"])
    texts = []
    for row in table.to_pylist():
        options = "\n".join(f"({chr(65 + i)}) {text}" for i, text in enumerate(row["options"] or []))
        texts.append(f"Q. {row['question_only']}\nOptions:\n{options}\n{row['answer_option_text']}")
    return texts


def make_model(model: str, preset: Preset, model_dir: Path, data_dir: Path | None = None) -> str:
    """Build the tiny model into the run directory (so the run is self-contained), or pass a path/hub id through;
    with ``data_dir`` its tokenizer also learns from that dataset's training split."""
    if not is_tiny(model):
        return model
    from spatialthinker.train.tiny import build_tiny_vlm

    size = model.partition("-")[2] or preset.tiny_size
    corpus = tokenizer_corpus(data_dir) if data_dir is not None else []
    return build_tiny_vlm(model_dir, seed=preset.seed, size=size, corpus=corpus)


def final_dir(run_dir: Path) -> Path:
    return run_dir / "final"


def _resume(run_dir: Path) -> bool:
    """Resume a stage interrupted after a checkpoint (TRL restores optimizer and RNG state from it)."""
    from spatialthinker.train.runtime import checkpoints

    return bool(checkpoints(str(run_dir)))


def prompt_style(tiny: bool) -> str:
    """The paper's long training prompt for real models; the bare question and options for the tiny model.

    A 3.4 M-parameter model cannot follow instructions: it learns the response format from the SFT targets
    alone, and a ~50-token prompt instead of the ~600-token worked example makes every step several times cheaper
    on two CPU cores.
    """
    return "question_only" if tiny else "training"


def tiny_recipe_fields(tiny: bool) -> dict[str, int | bool]:
    """Recipe fields of a tiny model trained from scratch (a real model keeps the paper's defaults): its
    image-area bounds, and a frozen patch projection (docs/training.md, "Learning in miniature")."""
    if not tiny:
        return {}
    return {"min_pixels": TINY_PIXELS[0], "max_pixels": TINY_PIXELS[1], "freeze_patch_embedding": True}


def train_sft(model_path: str, data_dir: Path, preset: Preset, run_dir: Path, tiny: bool) -> str:
    """Format warm-up: SFT on full GT responses (observe/scene/think/answer) with the training prompt.

    A freshly initialised policy gives every completion of a group the same reward, so GRPO's advantages and
    gradients are all zero; a few hundred tokens of supervised format make the group's rewards differ.
    """
    from spatialthinker.train.config import SFTRecipe
    from spatialthinker.train.sft import run_sft

    recipe = SFTRecipe(
        model=model_path, dataset=str(data_dir), split="train", output_dir=str(run_dir), seed=preset.seed,
        max_steps=preset.sft_steps, learning_rate=preset.sft_learning_rate, lr_scheduler_type="cosine",
        warmup_steps=0.05, per_device_train_batch_size=preset.sft_batch_size, target="dense",
        prompt_style=prompt_style(tiny), save_steps=max(50, preset.sft_steps // 2), save_total_limit=1,
        resume=_resume(run_dir), **tiny_recipe_fields(tiny),
    )
    result = run_sft(recipe)
    return result.final_dir or str(final_dir(run_dir))


def train_grpo(model_path: str, data_dir: Path, preset: Preset, run_dir: Path, tiny: bool) -> str:
    """Dense-reward GRPO (the SpatialThinker reward); writes metrics.jsonl, rollouts/ and ``final/``."""
    from spatialthinker.train.config import GRPORecipe
    from spatialthinker.train.grpo import run_grpo

    recipe = GRPORecipe(
        model=model_path, dataset=str(data_dir), split="train", output_dir=str(run_dir), seed=preset.seed,
        max_steps=preset.grpo_steps, learning_rate=preset.grpo_learning_rate if tiny else 1e-6,
        num_generations=preset.num_generations, per_device_train_batch_size=preset.grpo_batch_size,
        max_completion_length=preset.max_completion_length, temperature=preset.temperature, reward="dense",
        rollouts_per_step=preset.grpo_batch_size, save_steps=max(50, preset.grpo_steps // 2), save_total_limit=1,
        resume=_resume(run_dir), prompt_style=prompt_style(tiny), **tiny_recipe_fields(tiny),
    )
    result = run_grpo(recipe)
    return result.final_dir or str(final_dir(run_dir))


def eval_done(eval_dir: Path) -> bool:
    return any(eval_dir.rglob("summary.json")) and any(eval_dir.rglob("heldout_reward.json"))


def evaluate(model_path: str, val_parquet: Path, preset: Preset, eval_dir: Path, tiny: bool,
             prompt_mode: str | None = None) -> dict[str, Any]:
    """Evaluate on held-out simulated questions (``make_heldout``'s parquet as a local STVQA benchmark), score the
    outputs with the training reward. Greedy decoding, with the prompt style the model was trained with
    (``prompt_mode`` overrides it: ``reasoning`` for a sparse-GRPO policy)."""
    from spatialthinker.eval import EvalConfig, run_evaluation
    from spatialthinker.pipeline.heldout import score_outputs

    # the eval names of prompt_style(tiny)
    mode = prompt_mode or ("question_only" if tiny else "spatialthinker-train")
    config = EvalConfig(benchmarks=["stvqa"], model=model_path, backend="transformers", prompt_mode=mode,
                        out=str(eval_dir), data_path=str(val_parquet),
                        max_new_tokens=preset.eval_max_new_tokens)
    run_evaluation(config)
    return score_outputs(eval_dir, val_parquet)


def threads_note() -> str:
    """Torch thread count, recorded with the timings (wall times on a shared 2-core box depend on it)."""
    try:
        import torch

        return str(torch.get_num_threads())
    except ImportError:
        return os.environ.get("OMP_NUM_THREADS", "?")
