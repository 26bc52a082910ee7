"""`spatialthinker train grpo|sft`: flags and YAML presets -> one recipe dataclass -> one library call.

Only typer is imported at module level; torch, transformers and TRL load inside the commands.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer

from spatialthinker.errors import InputError

#: Presets live in the repository's configs/ folder; ``--preset NAME`` finds ``configs/NAME.yaml`` there.
CONFIGS_DIR = Path(__file__).resolve().parents[3] / "configs"
#: Preset applied to ``--model tiny*`` when no preset is given, so the offline smoke run is CPU-sized.
TINY_PRESET = {"grpo": "tiny_cpu", "sft": "tiny_cpu_sft"}

train_app = typer.Typer(name="train", help="Train with GRPO (dense or sparse reward) or SFT on TRL.",
                        no_args_is_help=True)


def resolve_preset(preset: str | None, model: str | None, kind: str) -> str | None:
    """A preset path from a path or a name in configs/; the tiny CPU preset for the tiny model by default."""
    if preset is None and model is not None and model.startswith("tiny"):
        preset = TINY_PRESET[kind]
        if not (CONFIGS_DIR / f"{preset}.yaml").is_file():
            logging.getLogger(__name__).warning("configs/%s.yaml not found; using recipe defaults.", preset)
            return None
    if preset is None or Path(preset).is_file():
        return preset
    candidate = CONFIGS_DIR / f"{preset.removesuffix('.yaml')}.yaml"
    if candidate.is_file():
        return str(candidate)
    known = sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml")) if CONFIGS_DIR.is_dir() else []
    raise InputError(f"--preset {preset!r}: no such file or preset name; known presets: {', '.join(known) or 'none'}")


def parse_sets(values: list[str] | None) -> dict[str, Any]:
    """``--set key=value`` pairs, values read as YAML (``--set beta=0.0 --set report_to=[wandb]``)."""
    import yaml

    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected key=value")
        try:
            out[key.strip().replace("-", "_")] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise InputError(f"--set {item!r}: the value is not valid YAML ({getattr(error, 'problem', error)})") from None
    return out


def check_counts(**counts: int | None) -> None:
    """Flags that count something (steps, rows) must be positive integers when given."""
    for name, value in counts.items():
        if value is not None and value < 1:
            flag = "--" + name.replace("_", "-")
            extra = " (omit it to train for num_train_epochs)" if name == "max_steps" else ""
            raise InputError(f"{flag}: expected a positive integer, got {value}{extra}")


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _report(result: Any) -> None:
    typer.echo(f"steps: {result.global_step}  train loss: {result.train_loss}")
    typer.echo(f"metrics: {Path(result.output_dir) / 'metrics.jsonl'}")
    typer.echo(f"checkpoints: {', '.join(result.checkpoints) or 'none'}")
    if result.final_dir:
        typer.echo(f"final model: {result.final_dir}")


@train_app.command("grpo")
def grpo_command(
    model: str = typer.Option(None, help="tiny | local path | hub id (Qwen2.5-VL, Qwen2-VL)."),
    dataset: str = typer.Option(None, help="STVQA parquet file/dir or hub id."),
    output: str = typer.Option(None, "--output", "-o", help="Output directory."),
    reward: str = typer.Option(None, help="dense | sparse | dotted path to a reward callable."),
    max_steps: int = typer.Option(None, help="Optimizer steps."),
    preset: str = typer.Option(None, help="YAML preset path or name in configs/ (e.g. spatialthinker_3b)."),
    resume: bool = typer.Option(False, help="Continue from the newest checkpoint in --output."),
    overwrite: bool = typer.Option(False, help="Start clean when --output holds an earlier run (removes it)."),
    use_vllm: bool = typer.Option(None, "--use-vllm/--no-vllm", help="Generate with vLLM (needs vllm)."),
    vllm_mode: str = typer.Option(None, help="colocate | server"),
    vllm_server_base_url: str = typer.Option(None, help="URL of a running `trl vllm-serve`."),
    lora: bool = typer.Option(None, "--lora/--full", help="Train LoRA adapters instead of all weights."),
    seed: int = typer.Option(None, help="Random seed."),
    max_samples: int = typer.Option(None, help="Use only the first N dataset rows."),
    set_: list[str] = typer.Option(None, "--set", help="Any recipe field: --set key=value (repeatable)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """GRPO with the dense SpatialThinker reward (default) or the sparse baseline."""
    from spatialthinker.train.config import GRPORecipe, load_recipe
    from spatialthinker.train.grpo import run_grpo

    _configure_logging(verbose)
    check_counts(max_steps=max_steps, max_samples=max_samples)
    recipe = load_recipe(GRPORecipe, resolve_preset(preset, model, "grpo"), parse_sets(set_), model=model,
                         dataset=dataset, output_dir=output, reward=reward, max_steps=max_steps,
                         resume=resume or None, overwrite=overwrite or None, use_vllm=use_vllm, vllm_mode=vllm_mode,
                         vllm_server_base_url=vllm_server_base_url, lora=lora, seed=seed, max_samples=max_samples)
    if not recipe.dataset:
        raise InputError("--dataset is required (or set `dataset:` in the preset)")
    _report(run_grpo(recipe))


@train_app.command("sft")
def sft_command(
    model: str = typer.Option(None, help="tiny | local path | hub id."),
    dataset: str = typer.Option(None, help="STVQA parquet file/dir or hub id."),
    output: str = typer.Option(None, "--output", "-o", help="Output directory."),
    target: str = typer.Option(None, help="answer (paper baseline) | dense | sparse | dense+sparse."),
    max_steps: int = typer.Option(None, help="Optimizer steps (default: epochs from the preset)."),
    preset: str = typer.Option(None, help="YAML preset path or name in configs/ (e.g. sft_3b)."),
    resume: bool = typer.Option(False, help="Continue from the newest checkpoint in --output."),
    overwrite: bool = typer.Option(False, help="Start clean when --output holds an earlier run (removes it)."),
    lora: bool = typer.Option(None, "--lora/--full", help="Train LoRA adapters instead of all weights."),
    seed: int = typer.Option(None, help="Random seed."),
    max_samples: int = typer.Option(None, help="Use only the first N dataset rows."),
    set_: list[str] = typer.Option(None, "--set", help="Any recipe field: --set key=value (repeatable)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Supervised fine-tuning (the paper's SFT baseline, or a format warm-up)."""
    from spatialthinker.train.config import SFTRecipe, load_recipe
    from spatialthinker.train.sft import run_sft

    _configure_logging(verbose)
    check_counts(max_steps=max_steps, max_samples=max_samples)
    recipe = load_recipe(SFTRecipe, resolve_preset(preset, model, "sft"), parse_sets(set_), model=model,
                         dataset=dataset, output_dir=output, target=target, max_steps=max_steps,
                         resume=resume or None, overwrite=overwrite or None, lora=lora, seed=seed, max_samples=max_samples)
    if not recipe.dataset:
        raise InputError("--dataset is required (or set `dataset:` in the preset)")
    _report(run_sft(recipe))


def register(app: typer.Typer) -> None:
    """Add the ``train`` group to the root app."""
    app.add_typer(train_app, name="train")
