"""Run plumbing shared by the GRPO and SFT recipes: model set-up, LoRA, checkpoints, resume and the final save."""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

from spatialthinker.errors import InputError
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
    from spatialthinker.train.model import load_model_and_processor
    from spatialthinker.train.tiny import resolve_model_path

    if config.torch_threads:
        import torch

        torch.set_num_threads(config.torch_threads)
    path = resolve_model_path(config.model, seed=config.seed)
    model, processor = load_model_and_processor(
        path, dtype=config.dtype, min_pixels=config.min_pixels, max_pixels=config.max_pixels,
        attn_implementation=config.attn_implementation, quantization=config.quantization)
    if config.freeze_vision or config.freeze_patch_embedding:
        visual = getattr(getattr(model, "model", model), "visual", None)
        if visual is None:
            raise ValueError("freeze_vision / freeze_patch_embedding is set but the model has no `visual` tower.")
        # The patch projection alone: with a fan-in of 3*2*14*14 = 1176 its weights are ~0.02 each, and Adam moves
        # every weight by ~lr per step whatever its gradient's size, so at a from-scratch learning rate
        # (>= 1e-4) the projection turns to noise within tens of steps and the image stops informing the answer
        # (measured in docs/training.md, "Learning in miniature"). Frozen, a random projection keeps every patch
        # linearly readable, as MoCo v3 found for ViTs.
        (visual if config.freeze_vision else visual.patch_embed).requires_grad_(False)
    return model, processor, path


def load_for_run(config: CommonConfig, resume: str | None) -> tuple[Any, Any]:
    """Model + processor for a run; on resume, the weights come from the checkpoint through ``from_pretrained``.

    Why not leave it to ``Trainer(resume_from_checkpoint=...)``: with transformers 5.24 the Trainer loads a
    Qwen2.5-VL checkpoint's raw state dict without the key renaming ``from_pretrained`` applies (checkpoints are
    written with the legacy ``visual.*``/``model.layers.*`` names), finds no matching key and silently keeps the
    initial weights. The Trainer still restores optimizer, scheduler, data position and RNG. The model's
    ``_name_or_path`` is pointed back at the base model, because TRL builds the KL reference from it.
    """
    from spatialthinker.train.tiny import resolve_model_path

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


def checkpoints(output_dir: str, complete: bool = True) -> list[str]:
    """``output_dir/checkpoint-N`` folders, oldest first; by default only complete ones.

    The Trainer writes ``trainer_state.json`` last, so a folder without it is a save that was killed half-way:
    resuming from it would fail (or worse, load half the weights), so it does not count as a checkpoint.
    """
    found = glob.glob(os.path.join(output_dir, "checkpoint-*"))
    numbered = [(int(m.group(1)), p) for p in found if (m := re.search(r"checkpoint-(\d+)$", p))]
    return [p for _, p in sorted(numbered)
            if not complete or os.path.isfile(os.path.join(p, "trainer_state.json"))]


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
        raise InputError(f"--resume: no checkpoint-N folder in {config.output_dir}")
    log.info("Resuming from %s", found[-1])
    return found[-1]


#: What a run writes into its folder besides ``checkpoint-N``: removed by ``overwrite``; logs also by a fresh run.
RUN_LOGS = ("metrics.jsonl", "rollouts", "train_summary.json")
RUN_OUTPUTS = ("final", "warmup_sft", "config.json")


def check_output_folder(config: CommonConfig) -> None:
    """Refuse a fresh run into a folder that holds an earlier run's checkpoints or final model (unless overwrite).

    Why refuse rather than start clean silently: the earlier run's checkpoints are the expensive part, and a new
    run would otherwise mix its checkpoints and logs with them (and a later ``--resume`` would pick the wrong one).
    """
    folder = config.output_dir
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InputError(f"--output {folder}: exists and is not a folder")
    if config.resume:
        resume_checkpoint(config)
        return
    earlier = [os.path.basename(p) for p in checkpoints(folder, complete=False)] + [
        name for name in ("final",) if os.path.isdir(os.path.join(folder, name))]
    if earlier and not config.overwrite:
        raise InputError(f"--output {folder}: holds an earlier run ({', '.join(earlier[:3])}); pass --resume to "
                         "continue it, --overwrite to start clean, or choose another folder")


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def truncate_rollouts(output_dir: str, last_step: int) -> None:
    """Delete rollout files of steps after ``last_step`` (an interrupted run logged them; the resumed run redoes them)."""
    for path in glob.glob(os.path.join(output_dir, "rollouts", "step_*.jsonl")):
        match = re.search(r"step_(\d+)\.jsonl$", path)
        if match and int(match.group(1)) > last_step:
            os.remove(path)


def prepare_output(config: CommonConfig) -> None:
    """Make the run folder hold only this run, then write the resolved config beside what it will produce
    (main process only).

    Fresh run: ``overwrite`` removes an earlier run (checkpoints, final model, logs); without it only logs of a run
    that never checkpointed can be there (``check_output_folder`` refused the rest), and they are removed, so no
    step is logged twice. Resumed run: rollouts after the checkpoint's step are removed (metrics.jsonl is cut by
    its callback), so the redone steps are logged once.
    """
    from spatialthinker.train.distributed import is_main_process

    check_output_folder(config)
    folder = config.output_dir
    os.makedirs(folder, exist_ok=True)
    if not is_main_process():  # one process cleans and writes; the others wait at the model load that follows
        return
    if config.resume:
        for partial in sorted(set(checkpoints(folder, complete=False)) - set(checkpoints(folder))):
            log.warning("Removing %s: its save was interrupted (no trainer_state.json)", partial)
            _remove(partial)
        truncate_rollouts(folder, checkpoint_step(resume_checkpoint(config)) or 0)
    else:
        stale = list(RUN_LOGS) + (list(RUN_OUTPUTS) if config.overwrite else [])
        doomed = [os.path.join(folder, name) for name in stale] + (
            checkpoints(folder, complete=False) if config.overwrite else [])
        for path in doomed:
            if os.path.exists(path):
                log.info("Starting clean: removing %s", path)
                _remove(path)
    config.save(os.path.join(folder, "config.json"))


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


def trl_arguments(config: CommonConfig) -> Any:
    """The recipe's TRL config with what the launch needs (CPU data parallel), checked against the launch."""
    from spatialthinker.train.distributed import check_launch, launch_trl_overrides

    overrides = launch_trl_overrides()
    if overrides:
        config = dataclasses.replace(config, trl_args={**overrides, **config.trl_args})
    args = config.to_trl()
    check_launch(args)
    return args
