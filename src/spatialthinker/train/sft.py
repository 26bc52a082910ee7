"""The SFT recipe on TRL's SFTTrainer: the paper's answers-only baseline, and the format warm-up for tiny models."""

from __future__ import annotations

import logging

from spatialthinker.train.config import SFTRecipe
from spatialthinker.train.runtime import (
    TrainResult,
    finish,
    load_for_run,
    peft_config,
    prepare_output,
    resume_checkpoint,
    save_at_end_callback,
    step_seed_callback,
    trl_arguments,
)

log = logging.getLogger(__name__)


def run_sft(config: SFTRecipe, model=None, processor=None) -> TrainResult:
    """Fine-tune a VLM on STVQA rows with TRL's SFTTrainer (loss on the completion only).

    Args:
        config: the recipe (``target`` picks answers-only, sparse or full dense responses).
        model, processor: reuse an already-loaded pair (the GRPO warm-up does); loaded from ``config.model``
            otherwise.

    Returns:
        ``TrainResult`` with the final model in ``output_dir/final`` and per-step records in ``metrics.jsonl``.

    Example:
        >>> run_sft(SFTRecipe(model="tiny", dataset="data/tiny", output_dir="runs/sft", max_steps=2))  # doctest: +SKIP
    """
    from spatialthinker.train.inputs import check_run_inputs

    check_run_inputs(config)  # every input, in seconds, before TRL is imported, the folder touched or a model loaded
    from trl import SFTTrainer

    from spatialthinker.train.data import load_stvqa, prepare_sft_dataset
    from spatialthinker.train.runtime import checkpoint_step
    from spatialthinker.train.telemetry import metrics_callback

    # A bad dataset or launch fails before the run folder is touched and before the (slow) model load.
    dataset = prepare_sft_dataset(load_stvqa(config.dataset, config.split, config.max_samples),
                                  config.target, config.prompt_style, source=config.dataset)
    trl_args = trl_arguments(config)
    prepare_output(config)
    resume = resume_checkpoint(config)
    if model is None or processor is None:
        # Main process first: `--model tiny` builds the model into a shared cache folder on first use.
        with trl_args.main_process_first(local=False, desc="building/loading the model"):
            model, processor = load_for_run(config, resume)
    metrics = metrics_callback(config.output_dir, checkpoint_step(resume))
    trainer = SFTTrainer(model=model, args=trl_args, train_dataset=dataset, processing_class=processor,
                         peft_config=peft_config(config), callbacks=[metrics, step_seed_callback()] + ([save_at_end_callback()] if config.save_last else []))
    output = trainer.train(resume_from_checkpoint=resume)
    return finish(trainer, config, processor, output, metrics.records)
