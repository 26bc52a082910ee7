"""``spatialthinker experiment``: end-to-end comparisons built from the quickstart's stages."""

from __future__ import annotations

import time
from pathlib import Path

import typer

experiment_app = typer.Typer(help="Controlled experiments: train several arms from one warm start and compare.",
                             no_args_is_help=True)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers such as 0,1,2, got {text!r}",
                                 param_hint="--seeds") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise typer.BadParameter(f"expected distinct non-negative integers, got {text!r}", param_hint="--seeds")
    return seeds


@experiment_app.command("dense-vs-sparse")
def dense_vs_sparse(
    preset: str = typer.Option("experiment", "--preset",
                               help="experiment (<= 60 min on 2 CPU cores) or experiment-test (seconds)."),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Comma-separated training seeds, one run per arm each."),
    out: Path = typer.Option(Path("runs/dense-vs-sparse"), "--out",
                             help="Run directory (finished stages are skipped)."),
    model: str = typer.Option("tiny", "--model", help="tiny (offline tiny Qwen2.5-VL) or a local checkpoint."),
) -> None:
    """Dense-reward GRPO vs sparse-reward GRPO vs continued SFT, equal budgets, several seeds, held-out scenes."""
    from spatialthinker.pipeline.experiment import run_experiment
    from spatialthinker.pipeline.presets import EXPERIMENT_PRESETS

    if preset not in EXPERIMENT_PRESETS:
        raise typer.BadParameter(f"choose one of {', '.join(EXPERIMENT_PRESETS)}, got {preset!r}",
                                 param_hint="--preset")
    chosen_seeds = _seeds(seeds)
    started = time.perf_counter()

    def progress(stage: str, status: str) -> None:
        typer.echo(f"[{time.perf_counter() - started:7.1f}s] {stage}: {status}")

    record = run_experiment(preset, out, chosen_seeds, model, on_stage=progress)
    typer.echo(summary_text(record))


def summary_text(record: dict) -> str:
    """The result table as plain text (what the command prints)."""
    from spatialthinker.viz.experiment import RESULT_HEADERS, result_rows

    chance = next(iter(record["warm_start"].values())).get("chance_rate")
    blind = (record.get("blind_baseline") or {}).get("accuracy")
    lines = [f"\nheld-out: {record['splits']['heldout_questions']} questions from "
             f"{record['splits']['heldout_scenes']} val scenes; chance rate {chance:.3f}"
             + (f"; without the image {blind:.3f}" if isinstance(blind, float) else ""),
             " | ".join(RESULT_HEADERS[:5])]
    lines += [" | ".join(str(cell) for cell in row[:5]) for row in result_rows(record)]
    for name, diff in record.get("paired_accuracy_difference", {}).items():
        lines.append(f"{name.replace('_', ' ')}: " + ", ".join(f"{v:+.3f}" for v in diff["per_seed"])
                     + f" (mean {diff['mean']:+.3f})")
    lines.append(f"wall time {record['seconds'].get('total', 0):.0f} s; report: {record.get('report')}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add ``experiment`` to the root app."""
    app.add_typer(experiment_app, name="experiment")
