"""`spatialthinker synth sim`: render simulated scenes and write an STVQA dataset with exact 3D ground truth."""

from __future__ import annotations

import json

import typer


def sim_command(
    num_scenes: int = typer.Option(100, "--num-scenes", help="Scenes to render (scene i is seeded by (seed, i))."),
    out: str = typer.Option(..., "--out", help="Output folder: train/val parquet, shards/, gallery.html, summary."),
    seed: int = typer.Option(0, "--seed", help="Dataset seed; the same seed gives byte-identical output."),
    image_size: int = typer.Option(512, "--image-size", help="Square image side in pixels."),
    workers: int = typer.Option(1, "--workers", help="Rendering processes."),
    assets: str = typer.Option("auto", "--assets", help="fallback (no downloads) | sweethome3d (fetched once) | auto."),
    per_image: int = typer.Option(0, "--per-image", help="Cap on questions per scene (0: no cap)."),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Share of scenes in val.parquet."),
    gallery: int = typer.Option(12, "--gallery", help="Scenes shown in gallery.html."),
    world: str = typer.Option("room", "--world", help="room (furnished rooms) | blocks (the learnable miniature: "
                                                       "a fixed camera, two or three coloured primitives)."),
) -> None:
    """Render seeded indoor scenes and write OUT/train.parquet, OUT/val.parquet and OUT/gallery.html (resumable)."""
    from spatialthinker.cli_values import check_counts, check_fraction
    from spatialthinker.errors import InputError

    # Every option before any rendering: a negative count must not be read as "no cap" or "none".
    check_counts(1, num_scenes=num_scenes, workers=workers)
    check_counts(32, image_size=image_size)
    check_counts(0, per_image=per_image, gallery=gallery, seed=seed)
    check_fraction("--val-fraction", val_fraction)
    if assets not in ("fallback", "sweethome3d", "auto"):
        raise InputError(f"--assets {assets!r}: expected fallback, sweethome3d or auto")
    from spatialthinker.data.sim.pipeline import WORLDS, synthesize

    if world not in WORLDS:
        raise InputError(f"--world {world!r}: expected one of {', '.join(WORLDS)}")

    summary = synthesize(num_scenes, out, seed=seed, image_size=image_size, workers=workers, assets=assets,
                         per_image=per_image or None, val_fraction=val_fraction, gallery_scenes=gallery,
                         world=world)
    typer.echo(json.dumps({"out": summary.out_dir, "scenes": summary.scenes, "rendered_now": summary.rendered_now,
                           "rows": summary.rows, "categories": summary.categories, "assets": summary.assets}, indent=2))


def register(synth_app: typer.Typer) -> None:
    """Add ``sim`` to the ``synth`` group."""
    synth_app.command("sim")(sim_command)
