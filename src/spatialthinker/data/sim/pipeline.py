"""``synthesize``: render N seeded scenes into an STVQA dataset (train/val parquet + scene_3d), resumably.

Each scene is written to ``OUT/shards/<image_id>.parquet`` (atomically, via a temporary name) as soon as it is
done; a rerun with the same settings skips scenes whose shard exists, and the final files are rebuilt from all
shards in index order, so an interrupted-and-resumed run ends with the same bytes as a straight one. The split is
per scene (never a scene in both splits), decided by a stable hash of the image id.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


logger = logging.getLogger(__name__)

#: Scene families ``synthesize`` can render (``world=``).
WORLDS = ("room", "blocks")

@dataclass
class SimSummary:
    """What a run produced (also written to ``OUT/summary.json``)."""

    out_dir: str
    scenes: int
    rendered_now: int
    rows: dict[str, int] = field(default_factory=dict)  # split -> rows
    categories: dict[str, int] = field(default_factory=dict)
    assets: str = "fallback"
    files: list[str] = field(default_factory=list)


def resolve_assets(assets: str) -> str:
    """``auto`` -> ``sweethome3d`` when its cache is unpacked, else ``fallback``; others are checked and returned."""
    from spatialthinker.data.sim.sweethome import sweethome_available

    if assets == "auto":
        return "sweethome3d" if sweethome_available() else "fallback"
    if assets not in ("fallback", "sweethome3d"):
        raise ValueError(f"--assets must be fallback, sweethome3d or auto, got {assets!r}")
    return assets


def _write_table(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows with the shared STVQA export, atomically (a killed run never leaves a half shard behind)."""
    from spatialthinker.data.export import write_rows

    tmp = path.with_name(path.name + ".tmp")
    write_rows(rows, tmp)
    tmp.replace(path)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def _check_config(out: Path, config: dict[str, Any]) -> None:
    """Refuse to mix shards made with other settings into one dataset (fail fast, say how to fix)."""
    path = out / "sim_config.json"
    if path.exists():
        previous = json.loads(path.read_text())
        if previous != config:
            raise ValueError(f"{out} holds shards made with {previous}, not {config}; use another --out or delete it")
    else:
        path.write_text(json.dumps(config, indent=2, sort_keys=True))


def synthesize(num_scenes: int, out_dir: str | Path, seed: int = 0, image_size: int = 512, workers: int = 1,
               assets: str = "auto", per_image: int | None = None, val_fraction: float = 0.1,
               gallery_scenes: int = 12, progress: bool = True, world: str = "room") -> SimSummary:
    """Render ``num_scenes`` scenes and write ``OUT/train.parquet``, ``OUT/val.parquet``, ``OUT/gallery.html``.

    Args:
        num_scenes: scenes ``0 .. num_scenes-1`` of this seed.
        out_dir: output folder; shards of an earlier run with the same settings are reused.
        seed: dataset seed; scene ``i`` is drawn from ``numpy.random.default_rng([seed, i])``.
        image_size: square image side in pixels.
        workers: processes rendering in parallel (each holds its own offscreen GL context).
        assets: ``fallback`` (no downloads), ``sweethome3d`` (fetched on demand) or ``auto``.
        per_image: cap on questions per scene (None: all the generators support).
        val_fraction: share of scenes in ``val`` (with 2+ scenes, neither split is left empty).
        gallery_scenes: scenes shown in ``gallery.html``.
        progress: show a tqdm bar.
        world: ``room`` (furnished rooms, a moving camera) or ``blocks`` (the learnable miniature: a fixed camera
            and two to four coloured primitives, ``blocks.py``).

    Returns:
        ``SimSummary`` with row counts per split and category.

    Example:
        >>> summary = synthesize(2, "/tmp/sim_doc", image_size=128, progress=False)  # doctest: +SKIP
    """
    from tqdm import tqdm

    from spatialthinker.data.sim.scene_job import SceneSpec, load_assets, run_scene

    if num_scenes < 1 or image_size < 32 or workers < 1 or not 0.0 <= val_fraction < 1.0:
        raise ValueError("need num_scenes >= 1, image_size >= 32, workers >= 1 and 0 <= val_fraction < 1")
    if world not in WORLDS:
        raise ValueError(f"world must be one of {', '.join(WORLDS)}, got {world!r}")
    out = Path(out_dir)
    shards = out / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    resolved = resolve_assets(assets) if world == "room" else "blocks"
    config = {"seed": seed, "image_size": image_size, "assets": resolved, "per_image": per_image}
    _check_config(out, config if world == "room" else {**config, "world": world})
    load_assets(resolved)  # fetch/index once here, not in every worker
    specs = [SceneSpec(seed, i, image_size, resolved, per_image, world) for i in range(num_scenes)]
    todo = [s for s in specs if not (shards / f"{s.image_id}.parquet").exists()]
    logger.info("%d of %d scenes already rendered in %s", num_scenes - len(todo), num_scenes, out)
    bar = tqdm(total=len(todo), desc="sim scenes", unit="scene", disable=not progress)
    for output in _run_all(todo, workers, run_scene):
        _write_table(output.rows, shards / f"{output.spec.image_id}.parquet")
        bar.update(1)
    bar.close()
    return _finalise(out, specs, resolved, len(todo), val_fraction, gallery_scenes, seed)


def _run_all(specs: list[Any], workers: int, job: Any) -> Any:
    """Yield job results in spec order; with workers > 1 from spawned processes (fresh GL state per worker)."""
    if workers == 1 or len(specs) <= 1:
        yield from map(job, specs)
        return
    from spatialthinker.data.sim.scene_job import init_worker

    with multiprocessing.get_context("spawn").Pool(workers, initializer=init_worker, initargs=(workers,)) as pool:
        yield from pool.imap(job, specs, chunksize=1)


def _finalise(out: Path, specs: list[Any], assets: str, rendered_now: int, val_fraction: float,
              gallery_scenes: int, seed: int) -> SimSummary:
    from spatialthinker.data.curation import is_val_image
    from spatialthinker.data.sim.gallery import write_gallery
    from spatialthinker.data.sim.scene_job import load_assets

    in_val = [is_val_image(spec.image_id, val_fraction, seed) for spec in specs]
    if len(specs) >= 2 and val_fraction > 0 and not any(in_val):
        in_val[-1] = True  # tiny runs (the quickstart) still get a non-empty val split
    if len(specs) >= 2 and all(in_val):
        in_val[0] = False
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "val": []}
    for spec, val in zip(specs, in_val, strict=True):
        rows = _read_rows(out / "shards" / f"{spec.image_id}.parquet")
        splits["val" if val else "train"].extend(rows)
    files = []
    for split, rows in splits.items():
        _write_table(rows, out / f"{split}.parquet")
        files.append(str(out / f"{split}.parquet"))
    all_rows = splits["train"] + splits["val"]
    write_gallery(sorted(all_rows, key=lambda r: r["image_id"]), out / "gallery.html", max_images=gallery_scenes)
    # Credits for the dataset card: every asset of the set with its licence and author (CC-BY needs attribution).
    catalogue = [a.to_dict() for a in load_assets(assets)]
    (out / "assets.json").write_text(json.dumps(catalogue, indent=1))
    files += [str(out / "gallery.html"), str(out / "assets.json")]
    summary = SimSummary(str(out), len(specs), rendered_now, {k: len(v) for k, v in splits.items()},
                         dict(sorted(Counter(r["category"] for r in all_rows).items())), assets, files)
    (out / "summary.json").write_text(json.dumps(asdict(summary), indent=2))
    logger.info("sim dataset: %s", summary.rows)
    return summary
