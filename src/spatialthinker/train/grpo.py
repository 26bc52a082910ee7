"""The GRPO recipe on TRL's GRPOTrainer: SpatialThinker's dense reward, or the sparse baseline (method.md §4-5)."""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from spatialthinker.train.config import GRPORecipe, SFTRecipe
from spatialthinker.train.runtime import (
    TrainResult,
    checkpoint_step,
    finish,
    load_for_run,
    peft_config,
    prepare_output,
    resume_checkpoint,
    save_at_end_callback,
    setup_model,
    step_seed_callback,
    trl_arguments,
)

log = logging.getLogger(__name__)


def build_reward_funcs(config: GRPORecipe) -> list[Any]:
    """``dense``/``sparse`` -> our telemetry-recording reward; anything else -> the rewards registry or a dotted path."""
    from spatialthinker.rewards import RewardConfig

    reward_config = RewardConfig(**config.reward_config)
    if config.reward in ("dense", "sparse"):
        from spatialthinker.train.telemetry import TelemetryReward

        return [TelemetryReward(config.reward, reward_config, config.output_dir, config.rollouts_per_step,
                                config.box_spam_ratio, config.format_collapse_rate)]
    from spatialthinker.rewards.trl import get_reward_funcs

    return get_reward_funcs(config.reward, reward_config)


def warm_up(config: GRPORecipe, model: Any, processor: Any) -> str:
    """A few SFT steps on GT-built responses before GRPO, in place on ``model``.

    Why: a freshly initialised (tiny) policy gives every completion in a group the same reward, so every
    advantage, and therefore every gradient, is zero (platform.md). The paper's real models need none.

    Returns:
        The folder of the warmed model; GRPO reloads from it so that TRL's KL reference is the warmed policy.
    """
    from spatialthinker.train.sft import run_sft

    shared = {f.name: getattr(config, f.name) for f in dataclasses.fields(SFTRecipe) if hasattr(config, f.name)
              and f.name not in ("learning_rate", "lr_scheduler_type", "num_train_epochs", "max_steps", "output_dir",
                                 "resume", "overwrite", "save_final", "trl_args", "prompt_style", "lora", "quantization",
                                 "gradient_accumulation_steps", "save_steps", "report_to")}
    recipe = SFTRecipe(**shared, output_dir=os.path.join(config.output_dir, "warmup_sft"),
                       max_steps=config.warmup_sft_steps, learning_rate=config.warmup_sft_learning_rate,
                       lr_scheduler_type="constant", target="sparse" if config.reward == "sparse" else "dense",
                       prompt_style=config.resolved_prompt_style, save_final=True, overwrite=True,
                       save_steps=max(config.warmup_sft_steps, 1) * 10, report_to="none")
    log.info("Warm-up SFT: %d steps at lr %g", config.warmup_sft_steps, config.warmup_sft_learning_rate)
    return run_sft(recipe, model=model, processor=processor).final_dir


def run_grpo(config: GRPORecipe) -> TrainResult:
    """Train a VLM with GRPO on STVQA rows and return where the run wrote its artefacts.

    Writes ``output_dir/config.json``, ``metrics.jsonl`` (one record per logging step, every reward component),
    ``rollouts/step_XXXXXX.jsonl``, ``checkpoint-N/`` and ``final/`` (see docs/training.md).

    Args:
        config: the recipe; ``config.resume`` continues the newest checkpoint (same data order and RNG state).

    Returns:
        ``TrainResult`` (final model folder, global step, training loss, per-step records).

    Example:
        >>> run_grpo(GRPORecipe(model="tiny", dataset="data/tiny", output_dir="runs/g", max_steps=2))  # doctest: +SKIP
    """
    from spatialthinker.train.inputs import check_run_inputs

    check_run_inputs(config)  # every input, in seconds, before TRL is imported, the folder touched or a model loaded
    from trl import GRPOTrainer

    from spatialthinker.train.data import load_stvqa, prepare_grpo_dataset
    from spatialthinker.train.telemetry import metrics_callback

    # A bad dataset or TRL setting fails before the run folder is touched and before the (slow) model load.
    dataset = prepare_grpo_dataset(load_stvqa(config.dataset, config.split, config.max_samples),
                                   config.resolved_prompt_style, source=config.dataset)
    trl_args = trl_arguments(config)  # a launch that cannot work stops before anything is written
    prepare_output(config)
    resume = resume_checkpoint(config)
    warmed = os.path.join(config.output_dir, "warmup_sft", "final")
    if config.warmup_sft_steps and resume is None:
        with trl_args.main_process_first(local=False, desc="building/loading the model"):
            model, processor, _ = setup_model(config)
        warmed = warm_up(config, model, processor)
        del model
    if config.warmup_sft_steps:  # TRL builds the KL reference from the model's path: it must be the warmed one
        config = dataclasses.replace(config, model=warmed)
    # Main process first: `--model tiny` builds the model into a shared cache folder on first use.
    with trl_args.main_process_first(local=False, desc="building/loading the model"):
        model, processor = load_for_run(config, resume)
    metrics = metrics_callback(config.output_dir, checkpoint_step(resume))
    trainer = GRPOTrainer(model=model, reward_funcs=build_reward_funcs(config), args=trl_args,
                          train_dataset=dataset, processing_class=processor, peft_config=peft_config(config),
                          callbacks=[metrics, step_seed_callback()] + ([save_at_end_callback()] if config.save_last else []))
    output = trainer.train(resume_from_checkpoint=resume)
    return finish(trainer, config, processor, output, metrics.records)

