"""Run plumbing shared by the GRPO and SFT recipes: model set-up, LoRA, checkpoints, resume and the final save."""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

from spatialthinker.train.config import CommonConfig

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a recipe returns: where things are and the last logged numbers.

    ``metrics`` is the list of per-step records also written to ``output_dir/metrics.jsonl``.
    """

    output_dir: str
    final_dir: str | None
    global_step: int
    train_loss: float | None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)


def setup_model(config: CommonConfig) -> tuple[Any, Any, str]:
    """Resolve ``tiny`` to a local build, load model + processor with the recipe's pixel limits, freeze if asked."""
    from spatialthinker.train.model import load_model_and_processor, resolve_model_path

    if config.torch_threads:
        import torch

        torch.set_num_threads(config.torch_threads)
    path = resolve_model_path(config.model, seed=config.seed)
    model, processor = load_model_and_processor(
        path, dtype=config.dtype, min_pixels=config.min_pixels, max_pixels=config.max_pixels,
        attn_implementation=config.attn_implementation, quantization=config.quantization)
    if config.freeze_vision:
        visual = getattr(getattr(model, "model", model), "visual", None)
        if visual is None:
            raise ValueError("freeze_vision is set but the model has no `visual` tower.")
        visual.requires_grad_(False)
    return model, processor, path


def load_for_run(config: CommonConfig, resume: str | None) -> tuple[Any, Any]:
    """Model + processor for a run; on resume, the weights come from the checkpoint through ``from_pretrained``.

    Why not leave it to ``Trainer(resume_from_checkpoint=...)``: with transformers 5.24 the Trainer loads a
    Qwen2.5-VL checkpoint's raw state dict without the key renaming ``from_pretrained`` applies (checkpoints are
    written with the legacy ``visual.*``/``model.layers.*`` names), finds no matching key and silently keeps the
    initial weights. The Trainer still restores optimizer, scheduler, data position and RNG. The model's
    ``_name_or_path`` is pointed back at the base model, because TRL builds the KL reference from it.
    """
    from spatialthinker.train.model import resolve_model_path

    if resume is None or config.lora:  # LoRA checkpoints hold adapters only; peft's resume path loads them
        model, processor, _ = setup_model(config)
        return model, processor
    model, processor, _ = setup_model(dataclasses.replace(config, model=resume))
    model.config._name_or_path = resolve_model_path(config.model, seed=config.seed)
    return model, processor


def peft_config(config: CommonConfig) -> Any | None:
    """LoRA config for peft when ``config.lora`` (QLoRA when a quantization is also set)."""
    if not config.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.lora_target_modules, task_type="CAUSAL_LM")


def checkpoints(output_dir: str) -> list[str]:
    """``output_dir/checkpoint-N`` folders, oldest first."""
    found = glob.glob(os.path.join(output_dir, "checkpoint-*"))
    numbered = [(int(m.group(1)), p) for p in found if (m := re.search(r"checkpoint-(\d+)$", p))]
    return [p for _, p in sorted(numbered)]


def checkpoint_step(path: str | None) -> int | None:
    """The N of ``checkpoint-N`` (None for no checkpoint)."""
    match = re.search(r"checkpoint-(\d+)$", path or "")
    return int(match.group(1)) if match else None


def resume_checkpoint(config: CommonConfig) -> str | None:
    """The checkpoint to resume from; errors when ``resume`` is set and there is none."""
    if not config.resume:
        return None
    found = checkpoints(config.output_dir)
    if not found:
        raise FileNotFoundError(f"--resume: no checkpoint-N folder in {config.output_dir}.")
    log.info("Resuming from %s", found[-1])
    return found[-1]


def save_at_end_callback() -> Any:
    """A callback that always checkpoints the last step, so every run can be resumed or inspected."""
    from transformers import TrainerCallback

    class SaveAtEnd(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if state.max_steps > 0 and state.global_step >= state.max_steps:
                control.should_save = True
            return control

    return SaveAtEnd()


def step_seed_callback() -> Any:
    """Reseed every RNG from (seed, step) at each optimizer step.

    Why: rollouts are sampled from torch's global RNG. Trainer restores the RNG state on resume, but iterator
    set-up in a fresh process draws from it in a different order, so a resumed GRPO run would sample different
    completions from step N+1 on. Seeding per step makes the samples a function of (seed, step) alone, so an
    interrupted run continues to the same result. Under a multi-process launch each process gets its own
    stream, a function of (seed, step, process index), with no two (step, process) pairs sharing one.
    """
    from transformers import TrainerCallback, set_seed

    class StepSeed(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # One seed per (step, process). With one seed on every process, the members of a group that land on
            # different processes would sample identical completions (TRL seeds per device for the same reason);
            # seed + step + rank would replay process 0's step-N draws on process 1 at step N-1.
            set_seed(args.seed + state.global_step * args.world_size + args.process_index)

    return StepSeed()


def finish(trainer: Any, config: CommonConfig, processor: Any, train_output: Any,
           records: list[dict[str, Any]]) -> TrainResult:
    """Save the final model + processor to ``output_dir/final`` and collect the result."""
    final_dir = None
    if config.save_final:
        final_dir = os.path.join(config.output_dir, "final")
        trainer.save_model(final_dir)  # writes on the main process only
        if trainer.is_world_process_zero():
            processor.save_pretrained(final_dir)
    # The other processes may read what the main process just wrote (GRPO reloads the warm-up's final model).
    trainer.accelerator.wait_for_everyone()
    loss = getattr(train_output, "training_loss", None)
    return TrainResult(output_dir=config.output_dir, final_dir=final_dir, global_step=trainer.state.global_step,
                       train_loss=float(loss) if loss is not None else None, metrics=records,
                       checkpoints=checkpoints(config.output_dir))


def prepare_output(config: CommonConfig) -> None:
    """Create the output folder and write the resolved config beside what it will produce (main process only)."""
    from spatialthinker.train.distributed import is_main_process

    os.makedirs(config.output_dir, exist_ok=True)
    if is_main_process():
        config.save(os.path.join(config.output_dir, "config.json"))


def trl_arguments(config: CommonConfig) -> Any:
    """The recipe's TRL config with what the launch needs (CPU data parallel), checked against the launch."""
    from spatialthinker.train.distributed import check_launch, launch_trl_overrides

    overrides = launch_trl_overrides()
    if overrides:
        config = dataclasses.replace(config, trl_args={**overrides, **config.trl_args})
    args = config.to_trl()
    check_launch(args)
    return args
