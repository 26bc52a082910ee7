"""Multi-process launches (``accelerate launch``, ``torchrun``): what the recipes need to be correct under them.

Under ``accelerate launch --num_processes N`` every process runs the whole recipe. Three things must then hold:
each process trains on its own share of the data inside one DDP/DeepSpeed/FSDP group (not N independent runs
writing into the same folder), files shared by the run are written by one process, and a process only reads what
another one wrote after a barrier (runtime.finish). torch is imported inside the functions.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)


def launched_world_size() -> int:
    """How many processes the launcher started (``WORLD_SIZE``; 1 for a plain ``python``/CLI run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0 of the launch (true for a single-process run). Valid before any process group exists."""
    return int(os.environ.get("RANK", "0")) == 0


def launch_trl_overrides() -> dict[str, Any]:
    """``TrainingArguments`` fields the launch needs, to merge under the recipe's own ``trl_args``.

    Why: accelerate's ``MULTI_GPU`` config on a machine without CUDA gives ``DistributedType.NO``, and the
    Trainer then silently trains N independent copies, each on the full dataset, all saving into one folder.
    With ``use_cpu`` the Trainer sets up a ``MULTI_CPU`` group on gloo instead, so the same config and command run
    real data-parallel training on CPUs (tests/test_multiprocess.py).

    Raises:
        RuntimeError: for an FSDP or DeepSpeed config on a machine without CUDA, before anything is loaded.
    """
    import torch

    sharding = requested_sharding()
    if sharding and not torch.cuda.is_available():
        raise RuntimeError(
            f"The accelerate config asks for {sharding}, which needs CUDA GPUs: accelerate 1.15 runs FSDP only on "
            "GPU-type devices (on CPUs it would silently fall back to plain data parallel) and DeepSpeed's CPU "
            "path does not form one process group. On CPUs use configs/accelerate/ddp.yaml.")
    if launched_world_size() <= 1 or os.environ.get("ACCELERATE_USE_CPU") or torch.cuda.is_available():
        return {}
    log.info("%d processes and no CUDA device: data-parallel training on CPU (gloo).", launched_world_size())
    return {"use_cpu": True}


def requested_sharding() -> str | None:
    """``"FSDP"`` or ``"DeepSpeed"`` when ``accelerate launch`` was given such a config (it exports these flags)."""
    for name, flag in (("DeepSpeed", "ACCELERATE_USE_DEEPSPEED"), ("FSDP", "ACCELERATE_USE_FSDP")):
        if os.environ.get(flag, "false").lower() == "true":
            return name
    return None


def check_launch(trl_args: Any) -> None:
    """Fail when the launcher started N processes but the Trainer's group has a different size.

    A mismatch means every process would train alone on the whole dataset and overwrite the others' files.
    """
    launched = launched_world_size()
    if launched > 1 and trl_args.world_size != launched:
        raise RuntimeError(
            f"{launched} processes were launched (WORLD_SIZE={launched}) but the Trainer set up a group of "
            f"{trl_args.world_size} (distributed type {getattr(trl_args.distributed_state, 'distributed_type', None)}). "
            "Check the accelerate config: its distributed_type and num_processes must match the launch.")

