"""`spatialthinker synth ...` subcommands: scene-graph synthesis (this module) and simulated scenes (data.sim)."""

from __future__ import annotations

from typing import Optional

import typer

synth_app = typer.Typer(help="Synthesise spatial VQA datasets in the STVQA schema.", no_args_is_help=True)


@synth_app.command("scene-graphs")
def scene_graphs(
    source: str = typer.Option(..., "--source", help="Annotation format: vg | vg150 | gqa."),
    input_dir: str = typer.Option(..., "--input-dir", help="Annotation directory (or file for vg150/gqa)."),
    images: str = typer.Option(..., "--images", help="Directory of {image_id}.jpg / .png images."),
    out: str = typer.Option(..., "--out", help="Output directory: train.parquet, val.parquet, stats.json."),
    seed: int = typer.Option(0, "--seed", help="Seed of phrasing, option order, split and tie-breaks."),
    per_image: Optional[int] = typer.Option(None, "--per-image", help="At most K questions per image."),
    target: Optional[int] = typer.Option(None, "--target", help="Balance to N items in total (default: keep all)."),
    relation_percent: float = typer.Option(50.0, "--relation-percent", help="Percent of relation items when balancing."),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Fraction of images in the val split."),
    verl: bool = typer.Option(False, "--verl", help="Also write {split}_verl.parquet for veRL."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Read at most N images (smoke runs)."),
    llm_base_url: Optional[str] = typer.Option(None, "--llm-base-url", help="OpenAI-compatible endpoint: enables the LLM stage."),
    llm_model: Optional[str] = typer.Option(None, "--llm-model", help="Model for LLM generation."),
    llm_judge_model: Optional[str] = typer.Option(None, "--llm-judge-model", help="VLM judge for pass@k validation (default: --llm-model)."),
    llm_api_key_env: str = typer.Option("OPENAI_API_KEY", "--llm-api-key-env", help="Environment variable holding the API key."),
    llm_k: int = typer.Option(2, "--llm-k", help="Judge answers per item (keep if any matches)."),
    llm_temperature: float = typer.Option(0.0, "--llm-temperature", help="Temperature of LLM generation."),
    llm_per_image: int = typer.Option(1, "--llm-per-image", help="LLM-generated questions per image."),
) -> None:
    """Turn Visual Genome / VG150 / GQA scene graphs into STVQA-schema multiple-choice datasets."""
    from spatialthinker.cli_values import check_counts, check_fraction
    from spatialthinker.errors import InputError

    check_counts(1, per_image=per_image, target=target, limit=limit, llm_k=llm_k)
    check_counts(0, seed=seed, llm_per_image=llm_per_image)
    check_fraction("--val-fraction", val_fraction)
    if not 0 <= relation_percent <= 100:
        raise InputError(f"--relation-percent: expected a number in [0, 100], got {relation_percent}")
    from spatialthinker.data.curation import CurationConfig
    from spatialthinker.data.pipeline import NoImagesError, SynthConfig, synthesize
    from spatialthinker.data.records import CATEGORIES

    llm = None
    if llm_base_url:
        from spatialthinker.data.llm import LLMConfig

        llm = LLMConfig(base_url=llm_base_url, model=llm_model or "", judge_model=llm_judge_model,
                        api_key_env=llm_api_key_env, k=llm_k, temperature=llm_temperature, per_image=llm_per_image)
    config = SynthConfig(source=source, input_dir=input_dir, images_dir=images, out_dir=out, seed=seed,
                         per_image=per_image, verl=verl, limit=limit, llm=llm,
                         curation=CurationConfig(target=target, relation_percent=relation_percent,
                                                 val_fraction=val_fraction, seed=seed))
    try:
        summary = synthesize(config, progress=True)
    except NoImagesError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    stats = summary.stats
    typer.echo(f"images: {summary.images_read} read, {summary.images_missing} missing (skipped), "
               f"{summary.images_rescaled} rescaled")
    for kind in ("dropped", "merged"):
        counts = stats["objects"][kind]
        typer.echo(f"objects {kind}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"))
    gate_stats = stats["gate"]
    typer.echo(f"quality gate: {gate_stats['checked']} checked, {gate_stats['passed']} passed; rejected by check: "
               + ", ".join(f"{k} {v}" for k, v in gate_stats["rejected"].items()))
    typer.echo(f"items: {summary.items_generated} generated -> {summary.train} train, {summary.val} val")
    typer.echo(f"  {'category':<18} {'train':>6} {'val':>6}")
    for category in CATEGORIES:
        typer.echo(f"  {category:<18} {stats['counts']['train']['category'].get(category, 0):>6} "
                   f"{stats['counts']['val']['category'].get(category, 0):>6}")
    if target is not None and summary.train + summary.val < target:
        short = {k.split(":")[0]: v for k, v in stats.get("dropped", {}).items() if k.endswith(":shortfall")}
        typer.echo(f"warning: target {target} not reached: {summary.train + summary.val} items "
                   f"(short per category: {short or 'none'})", err=True)
    if "llm" in summary.stats:
        typer.echo(f"llm: {summary.stats['llm']}")
    typer.echo(f"wrote {', '.join(summary.files)}")


def register(app: typer.Typer) -> None:
    """Add ``synth`` and its subcommands to the root app."""
    from spatialthinker.data.sim import cli as sim_cli

    sim_cli.register(synth_app)
    app.add_typer(synth_app, name="synth")
