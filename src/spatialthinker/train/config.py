"""Recipe configs for GRPO and SFT: our settings as dataclasses, YAML presets as diffs, and their TRL translation.

A recipe holds what the paper's method needs (model, data, reward, image limits, RL hyper-parameters) and builds
TRL's ``GRPOConfig``/``SFTConfig`` from it, rather than copying them; anything else TRL offers goes through
``trl_args`` verbatim. Multi-field rules are checked in ``__post_init__`` so a bad run fails at start-up.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from spatialthinker.errors import InputError

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
        overwrite (`bool`): a folder with an earlier run's checkpoints is refused unless this is set; then the
            earlier run's artefacts are removed first (docs/training.md, "Run folders").
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
    freeze_patch_embedding: bool = field(default=False, metadata={
        "help": "Freeze only the vision patch projection (tiny models trained from scratch: docs/training.md)."})
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
    overwrite: bool = field(default=False, metadata={"help": "Start clean in an output_dir that holds an earlier run."})
    report_to: list[str] | str = field(default="none", metadata={"help": "none | tensorboard | wandb"})
    trl_args: dict[str, Any] = field(default_factory=dict, metadata={"help": "Extra TRL config fields, verbatim."})

    def __post_init__(self) -> None:
        problems = field_problems(type(self), self.to_dict())
        if problems:
            key, message = problems[0]
            raise InputError(f"{key}: {message}")
        if self.min_pixels <= 0 or self.max_pixels < self.min_pixels:
            raise InputError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels} and {self.max_pixels}.")
        if self.max_steps == 0 or self.max_steps < -1:
            raise InputError(f"max_steps must be -1 (epochs) or positive, got {self.max_steps}.")
        if self.quantization not in (None, "4bit", "8bit"):
            raise InputError(f"quantization must be 4bit, 8bit or None, got {self.quantization!r}.")
        if self.quantization and not self.lora:
            raise InputError("quantization (QLoRA) trains adapters only: set lora: true as well.")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise InputError(f"dtype must be auto, float32, bfloat16 or float16, got {self.dtype!r}.")

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
        world = int(os.environ.get("WORLD_SIZE", "1"))
        per_step = self.per_device_train_batch_size * world
        generation_batch = per_step * (self.steps_per_generation or self.gradient_accumulation_steps)
        if generation_batch % self.num_generations:
            raise InputError(
                f"Each rollout batch holds per_device_train_batch_size x processes x steps_per_generation = "
                f"{self.per_device_train_batch_size} x {world} x {self.steps_per_generation or self.gradient_accumulation_steps}"
                f" = {generation_batch} completions, which is not a multiple of num_generations={self.num_generations}. "
                "Make per_device_train_batch_size (or steps_per_generation) a multiple of num_generations.")
        if self.loss_type not in ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo"):
            raise InputError(f"unknown loss_type {self.loss_type!r}.")
        if self.vllm_mode not in ("colocate", "server"):
            raise InputError(f"vllm_mode must be colocate or server, got {self.vllm_mode!r}.")
        if self.delta is not None and self.delta <= 1 + self.epsilon_high:
            raise InputError(f"delta ({self.delta}) must exceed 1 + epsilon_high ({1 + self.epsilon_high}).")

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
            raise InputError(f"target must be one of {', '.join(SFT_TARGETS)}, got {self.target!r}.")

    def to_trl(self) -> Any:
        """Build TRL's ``SFTConfig`` (imports TRL)."""
        from trl import SFTConfig

        kwargs = self.common_trl_kwargs()
        kwargs.update(max_length=self.max_length, completion_only_loss=True, remove_unused_columns=False,
)
        kwargs.update(self.trl_args)
        return SFTConfig(**kwargs)


#: Range rules per field: (test, what is expected). A field absent here is only type-checked.
_RANGES: dict[str, tuple[Any, str]] = {
    "learning_rate": (lambda v: v > 0, "a positive number"),
    "warmup_sft_learning_rate": (lambda v: v > 0, "a positive number"),
    "num_train_epochs": (lambda v: v > 0, "a positive number"),
    "warmup_steps": (lambda v: v >= 0, "a number >= 0"),
    "weight_decay": (lambda v: v >= 0, "a number >= 0"),
    "max_grad_norm": (lambda v: v > 0, "a positive number"),
    "per_device_train_batch_size": (lambda v: v >= 1, "a positive integer"),
    "gradient_accumulation_steps": (lambda v: v >= 1, "a positive integer"),
    "max_samples": (lambda v: v >= 1, "a positive integer (or null for all rows)"),
    "torch_threads": (lambda v: v >= 1, "a positive integer (or null)"),
    "lora_r": (lambda v: v >= 1, "a positive integer"),
    "lora_alpha": (lambda v: v > 0, "a positive number"),
    "lora_dropout": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "logging_steps": (lambda v: v >= 1, "a positive integer"),
    "save_steps": (lambda v: v >= 1, "a positive integer"),
    "save_total_limit": (lambda v: v >= 1, "a positive integer (or null to keep all)"),
    "num_generations": (lambda v: v >= 2, "an integer >= 2 (GRPO compares completions within a group)"),
    "temperature": (lambda v: v > 0, "a positive number"),
    "top_p": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "max_completion_length": (lambda v: v >= 8, "an integer >= 8 (room for the answer tags)"),
    "steps_per_generation": (lambda v: v >= 1, "a positive integer (or null)"),
    "num_iterations": (lambda v: v >= 1, "a positive integer"),
    "beta": (lambda v: v >= 0, "a number >= 0"),
    "epsilon": (lambda v: v >= 0, "a number >= 0"),
    "epsilon_high": (lambda v: v >= 0, "a number >= 0"),
    "vllm_gpu_memory_utilization": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "vllm_tensor_parallel_size": (lambda v: v >= 1, "a positive integer"),
    "warmup_sft_steps": (lambda v: v >= 0, "an integer >= 0"),
    "rollouts_per_step": (lambda v: v >= 0, "an integer >= 0"),
    "box_spam_ratio": (lambda v: v > 0, "a positive number"),
    "format_collapse_rate": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "max_length": (lambda v: v >= 1, "a positive integer (or null)"),
    "scale_rewards": (lambda v: v in ("group", "batch", "none"), "one of group, batch, none"),
    "model": (lambda v: bool(v.strip()), "a non-empty model name or path"),
    "reward": (lambda v: bool(v.strip()), "dense, sparse or a dotted path to a reward callable"),
    "output_dir": (lambda v: bool(v.strip()), "a non-empty folder path"),
}


def _type_problem(value: Any, hint: Any) -> str | None:
    """What is wrong with ``value`` for the annotation ``hint`` (None when it fits). Booleans are not numbers."""
    if hint is Any:
        return None
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if value is None:
        return None if type(None) in options else "a value, not null"
    for option in options:
        origin = typing.get_origin(option) or option
        if origin is bool and type(value) is bool:
            return None
        if origin is int and type(value) is int:
            return None
        if origin is float and type(value) in (int, float) and math.isfinite(value):
            return None
        if origin in (str, list, dict) and isinstance(value, origin):
            if origin is list and not all(isinstance(item, str) for item in value):
                continue
            return None
    names = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string", list: "a list of strings",
             dict: "a mapping"}
    return " or ".join(dict.fromkeys(names.get(typing.get_origin(o) or o, str(o)) for o in options if o is not type(None)))


def field_problems(cls: type, values: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key, message)`` for every recipe value of the wrong type or out of range, in field order."""
    hints = typing.get_type_hints(cls)
    problems = []
    for item in dataclasses.fields(cls):
        if item.name not in values:
            continue
        value = values[item.name]
        expected = _type_problem(value, hints.get(item.name, Any))
        if expected is None and value is not None and item.name in _RANGES:
            test, wanted = _RANGES[item.name]
            expected = None if test(value) else wanted
        if expected is not None:
            problems.append((item.name, f"expected {expected}, got {value!r}"))
    return problems


def load_recipe(cls: type[CommonConfig], preset: str | os.PathLike[str] | None = None,
                sets: dict[str, Any] | None = None, **overrides: Any) -> Any:
    """Build a recipe from an optional YAML preset, ``--set`` values and flag overrides (None values are ignored).

    A preset may name a ``base:`` preset (path relative to itself) that it modifies. Every value is type- and
    range-checked before the recipe exists, and every error names where the value came from (the preset file,
    ``--set`` or the flag), so a misspelled key never silently falls back to a default.

    Raises:
        InputError: one line naming the key, its origin and what was expected.
    """
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if preset:
        for key, (value, origin) in _read_preset(str(preset)).items():
            values[key], origins[key] = value, origin
        values.pop("recipe", None)
    for key, value in (sets or {}).items():
        values[key], origins[key] = value, f"--set {key}"
    for key, value in overrides.items():
        if value is not None:
            values[key], origins[key] = value, f"--{key.replace('_', '-')}"
    known = {f.name for f in dataclasses.fields(cls)}
    _read_yaml_floats(cls, values)
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(known))}"
            raise InputError(f"unknown {cls.__name__} key {key!r} (from {origins[key]}){hint}")
    for key, message in field_problems(cls, values):
        raise InputError(f"{key} (from {origins[key]}): {message}")
    try:
        return cls(**values)
    except InputError as error:  # a rule across fields: name where the first field it mentions came from
        first = str(error).split(" ", 1)[0].rstrip(":")
        raise InputError(f"{error} (from {origins[first]})" if first in origins else str(error)) from None


def _read_yaml_floats(cls: type, values: dict[str, Any]) -> None:
    """PyYAML reads ``1e-6`` (no dot) as a string; a float field takes such a string when it is a finite number."""
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if isinstance(value, str) and hints.get(key) in (float, float | None):
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number):
                values[key] = number


def _read_preset(path: str) -> dict[str, tuple[Any, str]]:
    """``key -> (value, file it came from)`` of a preset and its ``base:`` chain; bad YAML names the file and line."""
    import yaml

    if not os.path.isfile(path):
        raise InputError(f"preset {path}: no such file")
    try:
        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputError(f"preset {path}:{where}: invalid YAML ({reason})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"preset {path}: cannot be read ({error})") from None
    if not isinstance(values, dict):
        raise InputError(f"preset {path}: expected a mapping of recipe keys, got {type(values).__name__}")
    base = values.pop("base", None)
    own = {key: (value, path) for key, value in values.items()}
    if base:
        merged = _read_preset(os.path.join(os.path.dirname(path), str(base)))
        merged.update(own)
        return merged
    return own
