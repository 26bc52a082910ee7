"""Recipe configs for GRPO and SFT: our settings as dataclasses, YAML presets as diffs, and their TRL translation.

A recipe holds what the paper's method needs (model, data, reward, image limits, RL hyper-parameters) and builds
TRL's ``GRPOConfig``/``SFTConfig`` from it, rather than copying them; anything else TRL offers goes through
``trl_args`` verbatim. Multi-field rules are checked in ``__post_init__`` so a bad run fails at start-up.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

#: Paper image-area bounds (method.md §5): 512² .. 2048² pixels.
PAPER_MIN_PIXELS = 512 * 512
PAPER_MAX_PIXELS = 2048 * 2048


@dataclass
class CommonConfig:
    """Settings shared by GRPO and SFT recipes.

    Parameters:
        > Model and data
        model (`str`, defaults to `"tiny"`): ``tiny`` (offline tiny Qwen2.5-VL), a local path or a hub id.
        dataset (`str`, defaults to `""`): parquet file, directory of parquet files, or hub id (STVQA schema).
        split (`str`, defaults to `"train"`): split to train on.
        max_samples (`int` or `None`): keep only the first N rows (smoke runs).
        min_pixels / max_pixels (`int`): image-area bounds of the processor; the prompt keeps the original size.
        > Run
        output_dir (`str`): where metrics, rollouts, checkpoints and the final model go.
        seed (`int`, defaults to `0`): seeds data order, sampling and initialisation.
        max_steps (`int`, defaults to `-1`): optimizer steps; -1 trains for ``num_train_epochs``.
        resume (`bool`): continue from the newest ``output_dir/checkpoint-N``.
    """

    model: str = field(default="tiny", metadata={"help": "tiny | local path | hub id"})
    dataset: str = field(default="", metadata={"help": "Parquet file/dir or hub id with STVQA columns."})
    split: str = field(default="train", metadata={"help": "Dataset split."})
    max_samples: int | None = field(default=None, metadata={"help": "Use only the first N rows."})
    output_dir: str = field(default="runs/spatialthinker", metadata={"help": "Output directory."})
    seed: int = field(default=0, metadata={"help": "Random seed."})
    max_steps: int = field(default=-1, metadata={"help": "Optimizer steps (-1: use num_train_epochs)."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs when max_steps is -1."})
    learning_rate: float = field(default=1e-6, metadata={"help": "Peak learning rate."})
    lr_scheduler_type: str = field(default="constant", metadata={"help": "transformers scheduler name."})
    warmup_steps: float = field(default=0, metadata={"help": "Warm-up steps (a float < 1 is a fraction of training)."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Sequences per device per micro-step."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-steps per optimizer step."})
    min_pixels: int = field(default=PAPER_MIN_PIXELS, metadata={"help": "Minimum image area (pixels)."})
    max_pixels: int = field(default=PAPER_MAX_PIXELS, metadata={"help": "Maximum image area (pixels)."})
    freeze_vision: bool = field(default=False, metadata={"help": "Freeze the vision tower (paper: trained)."})
    dtype: str = field(default="auto", metadata={"help": "auto | float32 | bfloat16 | float16"})
    torch_threads: int | None = field(default=None, metadata={"help": "CPU threads for torch (None: torch's choice)."})
    bf16: bool = field(default=False, metadata={"help": "Mixed precision bf16 (GPUs)."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Trade compute for memory."})
    attn_implementation: str | None = field(default=None, metadata={"help": "sdpa | flash_attention_2 | eager"})
    lora: bool = field(default=False, metadata={"help": "Train LoRA adapters (peft) instead of all weights."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] | str = field(default="all-linear", metadata={"help": "LoRA target modules."})
    quantization: str | None = field(default=None, metadata={"help": "4bit | 8bit (QLoRA; needs bitsandbytes)."})
    logging_steps: int = field(default=1, metadata={"help": "Log every N optimizer steps."})
    save_steps: int = field(default=50, metadata={"help": "Checkpoint every N optimizer steps."})
    save_total_limit: int | None = field(default=3, metadata={"help": "Keep at most N checkpoints."})
    save_final: bool = field(default=True, metadata={"help": "Save the final model to output_dir/final."})
    save_last: bool = field(default=True, metadata={"help": "Always checkpoint the last step (for resume)."})
    resume: bool = field(default=False, metadata={"help": "Resume from the newest checkpoint in output_dir."})
    report_to: list[str] | str = field(default="none", metadata={"help": "none | tensorboard | wandb"})
    trl_args: dict[str, Any] = field(default_factory=dict, metadata={"help": "Extra TRL config fields, verbatim."})

    def __post_init__(self) -> None:
        if self.min_pixels <= 0 or self.max_pixels < self.min_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels} and {self.max_pixels}.")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps must be -1 (epochs) or positive, got {self.max_steps}.")
        if self.quantization not in (None, "4bit", "8bit"):
            raise ValueError(f"quantization must be 4bit, 8bit or None, got {self.quantization!r}.")
        if self.quantization and not self.lora:
            raise ValueError("quantization (QLoRA) trains adapters only: set lora: true as well.")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}.")

    def common_trl_kwargs(self) -> dict[str, Any]:
        """The ``TrainingArguments`` fields both recipes share."""
        return dict(
            output_dir=self.output_dir, seed=self.seed, data_seed=self.seed, max_steps=self.max_steps,
            num_train_epochs=self.num_train_epochs, learning_rate=self.learning_rate,
            lr_scheduler_type=self.lr_scheduler_type, warmup_steps=self.warmup_steps,
            weight_decay=self.weight_decay, max_grad_norm=self.max_grad_norm,
            per_device_train_batch_size=self.per_device_train_batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps, bf16=self.bf16,
            gradient_checkpointing=self.gradient_checkpointing, logging_steps=self.logging_steps,
            save_steps=self.save_steps, save_total_limit=self.save_total_limit, report_to=self.report_to,
            save_only_model=False,  # optimizer + RNG state are what make resume continue the same run
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the resolved config as JSON (it travels with what it produced)."""
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"recipe": type(self).__name__, **self.to_dict()}, handle, indent=2, default=str)


@dataclass
class GRPORecipe(CommonConfig):
    """GRPO with the dense SpatialThinker reward (or the sparse baseline). Defaults follow the paper (method.md §5).

    Parameters:
        > Reward and prompt
        reward (`str`, defaults to `"dense"`): ``dense``, ``sparse`` or a dotted path to a TRL reward callable.
        reward_config (`dict`): ``RewardConfig`` fields for the dense reward (weights, similarity, ...).
        prompt_style (`str` or `None`): ``training`` for dense, ``sparse`` for sparse when None.
        > Generation
        num_generations (`int`, defaults to `8`): group size G.
        temperature (`float`, defaults to `1.0`), max_completion_length (`int`, defaults to `2048`).
        > Loss (TRL differs from the reference here; see docs/training.md)
        beta (`float`, defaults to `0.01`): KL coefficient (TRL default 0 disables KL).
        epsilon / epsilon_high (`float`, `0.2` / `0.3`): clip-higher range.
        delta (`float`, defaults to `3.0`): ratio cap, TRL's form of dual-clip.
        loss_type (`str`, defaults to `"bnpo"`): token mean per micro-batch, like the reference.
    """

    learning_rate: float = field(default=1e-6, metadata={"help": "Paper: 1e-6."})
    reward: str = field(default="dense", metadata={"help": "dense | sparse | dotted path to a reward callable"})
    reward_config: dict[str, Any] = field(default_factory=dict, metadata={"help": "RewardConfig fields."})
    prompt_style: str | None = field(default=None, metadata={"help": "Prompt style; None picks by reward."})
    num_generations: int = field(default=8, metadata={"help": "Completions per prompt (group size)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of rollouts."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling of rollouts."})
    max_completion_length: int = field(default=2048, metadata={"help": "Max new tokens per completion."})
    steps_per_generation: int | None = field(default=None, metadata={"help": "Micro-steps per rollout batch."})
    num_iterations: int = field(default=1, metadata={"help": "Passes over each rollout batch (mu)."})
    beta: float = field(default=0.01, metadata={"help": "KL coefficient (k3 estimator)."})
    epsilon: float = field(default=0.2, metadata={"help": "Lower clip range."})
    epsilon_high: float = field(default=0.3, metadata={"help": "Upper clip range (clip-higher)."})
    delta: float | None = field(default=3.0, metadata={"help": "Ratio cap (dual-clip); None disables."})
    loss_type: str = field(default="bnpo", metadata={"help": "TRL loss aggregation: bnpo | dapo | grpo | dr_grpo"})
    scale_rewards: str = field(default="group", metadata={"help": "group | batch | none (advantage std)."})
    use_vllm: bool = field(default=False, metadata={"help": "Generate with vLLM (needs vllm installed)."})
    vllm_mode: str = field(default="colocate", metadata={"help": "colocate | server"})
    vllm_server_base_url: str | None = field(default=None, metadata={"help": "URL of `trl vllm-serve`."})
    vllm_gpu_memory_utilization: float = field(default=0.3, metadata={"help": "GPU share of colocated vLLM."})
    vllm_tensor_parallel_size: int = field(default=1, metadata={"help": "Tensor parallel size of vLLM."})
    warmup_sft_steps: int = field(default=0, metadata={"help": "SFT steps on formatted GT before GRPO (tiny)."})
    warmup_sft_learning_rate: float = field(default=1e-3, metadata={"help": "LR of the warm-up SFT."})
    rollouts_per_step: int = field(default=8, metadata={"help": "Sample completions saved per step."})
    box_spam_ratio: float = field(default=3.0, metadata={"help": "Warn when mean pred/GT objects exceeds this."})
    format_collapse_rate: float = field(default=0.1, metadata={"help": "Warn when format rate falls below this."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_generations < 2:
            raise ValueError("num_generations must be >= 2: GRPO's advantage compares completions within a group.")
        world = int(os.environ.get("WORLD_SIZE", "1"))
        per_step = self.per_device_train_batch_size * world
        generation_batch = per_step * (self.steps_per_generation or self.gradient_accumulation_steps)
        if generation_batch % self.num_generations:
            raise ValueError(
                f"Each rollout batch holds per_device_train_batch_size x processes x steps_per_generation = "
                f"{self.per_device_train_batch_size} x {world} x {self.steps_per_generation or self.gradient_accumulation_steps}"
                f" = {generation_batch} completions, which is not a multiple of num_generations={self.num_generations}. "
                "Make per_device_train_batch_size (or steps_per_generation) a multiple of num_generations.")
        if self.loss_type not in ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo"):
            raise ValueError(f"unknown loss_type {self.loss_type!r}.")
        if self.vllm_mode not in ("colocate", "server"):
            raise ValueError(f"vllm_mode must be colocate or server, got {self.vllm_mode!r}.")
        if self.max_completion_length < 8:
            raise ValueError("max_completion_length < 8 cannot hold even the answer tags.")
        if self.delta is not None and self.delta <= 1 + self.epsilon_high:
            raise ValueError(f"delta ({self.delta}) must exceed 1 + epsilon_high ({1 + self.epsilon_high}).")

    @property
    def resolved_prompt_style(self) -> str:
        return self.prompt_style or ("sparse" if self.reward == "sparse" else "training")

    def to_trl(self) -> Any:
        """Build TRL's ``GRPOConfig`` (imports TRL)."""
        from trl import GRPOConfig

        kwargs = self.common_trl_kwargs()
        kwargs.update(
            num_generations=self.num_generations, temperature=self.temperature, top_p=self.top_p,
            max_completion_length=self.max_completion_length, steps_per_generation=self.steps_per_generation,
            num_iterations=self.num_iterations, beta=self.beta, epsilon=self.epsilon,
            epsilon_high=self.epsilon_high, delta=self.delta, loss_type=self.loss_type,
            scale_rewards=self.scale_rewards, use_vllm=self.use_vllm, vllm_mode=self.vllm_mode,
            vllm_gpu_memory_utilization=self.vllm_gpu_memory_utilization,
            vllm_tensor_parallel_size=self.vllm_tensor_parallel_size,
            remove_unused_columns=False,  # the reward reads GT and image size from extra columns
            log_completions=False,  # we write our own rollouts JSONL (telemetry.py)
        )
        if self.vllm_server_base_url:
            kwargs["vllm_server_base_url"] = self.vllm_server_base_url
        kwargs.update(self.trl_args)
        return GRPOConfig(**kwargs)


#: What SFT can teach (``SFTRecipe.target``).
SFT_TARGETS = ("answer", "dense", "sparse", "dense+sparse")


@dataclass
class SFTRecipe(CommonConfig):
    """Supervised fine-tuning: the paper's SFT baseline (LoRA r8, 3 epochs, lr 1e-4 cosine, answers only).

    Parameters:
        target (`str`, defaults to `"answer"`): what the model learns to write. ``answer`` = ``(X) text`` only
            (the paper's baseline); ``dense`` = the full observe/scene/think/answer response built from the GT
            (a format warm-up); ``sparse`` = think/answer; ``dense+sparse`` = every row twice, the dense response
            after ``prompt_style`` and the think/answer one after the sparse prompt (one warm start for both
            kinds of GRPO, as the dense-vs-sparse experiment needs).
        prompt_style (`str`, defaults to `"direct"`): prompt style of the inputs.
        max_length (`int`, defaults to `4096`): token cap per example (image tokens included).
    """

    learning_rate: float = field(default=1e-4, metadata={"help": "Paper SFT baseline: 1e-4."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Paper SFT baseline: cosine."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Paper SFT baseline: 3 epochs."})
    target: str = field(default="answer", metadata={"help": "answer | dense | sparse | dense+sparse"})
    prompt_style: str = field(default="direct", metadata={"help": "Prompt style of the SFT inputs."})
    max_length: int | None = field(default=4096, metadata={"help": "Max tokens per example."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target not in SFT_TARGETS:
            raise ValueError(f"target must be one of {', '.join(SFT_TARGETS)}, got {self.target!r}.")

    def to_trl(self) -> Any:
        """Build TRL's ``SFTConfig`` (imports TRL)."""
        from trl import SFTConfig

        kwargs = self.common_trl_kwargs()
        kwargs.update(max_length=self.max_length, completion_only_loss=True, remove_unused_columns=False,
)
        kwargs.update(self.trl_args)
        return SFTConfig(**kwargs)


def load_recipe(cls: type[CommonConfig], preset: str | os.PathLike[str] | None = None, **overrides: Any) -> Any:
    """Build a recipe from an optional YAML preset plus overrides (None values are ignored).

    A preset may name a ``base:`` preset (path relative to itself) that it modifies. Unknown keys are errors, so a
    misspelled key never silently falls back to a default.
    """
    values: dict[str, Any] = {}
    if preset:
        values = _read_preset(str(preset))
        values.pop("recipe", None)
    values.update({key: value for key, value in overrides.items() if value is not None})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown} (from {preset or 'overrides'}). "
                         f"Known keys: {', '.join(sorted(known))}.")
    return cls(**values)


def _read_preset(path: str) -> dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as handle:
        values = yaml.safe_load(handle) or {}
    if not isinstance(values, dict):
        raise ValueError(f"preset {path} must be a mapping of config keys.")
    base = values.pop("base", None)
    if base:
        merged = _read_preset(os.path.join(os.path.dirname(path), base))
        merged.update(values)
        return merged
    return values
