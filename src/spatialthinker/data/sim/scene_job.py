"""One simulated scene end to end: layout -> render -> ground truth -> questions -> STVQA rows.

Runs in worker processes, so it takes only plain arguments and returns plain rows. The scene depends on
``(seed, index)`` alone (``numpy.random.default_rng([seed, index])``), never on the worker that drew it, which is
what makes resumed and parallel runs identical to a single straight run.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialthinker.data.records import AnnotatedImage, QAItem
from spatialthinker.data.sim.assets import Asset

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SceneSpec:
    """Everything that fixes one scene (its id is ``sim-<seed>-<index>``)."""

    seed: int
    index: int
    image_size: int
    assets: str  # fallback | sweethome3d (already resolved from "auto"); unused by the blocks world
    per_image: int | None = None
    world: str = "room"  # room (furnished rooms) | blocks (the learnable miniature, ``blocks.py``)

    @property
    def image_id(self) -> str:
        prefix = "sim" if self.world == "room" else self.world
        return f"{prefix}-{self.seed}-{self.index:06d}"


@dataclass(slots=True)
class SceneOutput:
    """A finished scene: the annotated image, its PNG, its questions and rows."""

    spec: SceneSpec
    image: AnnotatedImage
    png: bytes
    items: list[QAItem]
    rows: list[dict[str, Any]]


@functools.lru_cache(maxsize=2)
def load_assets(name: str) -> tuple[Asset, ...]:
    """The asset set called ``name`` (cached per process)."""
    if name == "fallback":
        from spatialthinker.data.sim.assets import fallback_assets

        return fallback_assets()
    if name == "blocks":
        from spatialthinker.data.sim.blocks import block_assets

        return block_assets()
    if name == "sweethome3d":
        from spatialthinker.data.sim.sweethome import sweethome_assets

        return sweethome_assets()
    raise ValueError(f"unknown asset set {name!r}; use fallback, sweethome3d or auto")


def init_worker(workers: int) -> None:
    """Pool initializer: share the cores between workers. llvmpipe starts one raster thread per core in every
    process; with several workers that oversubscribes the CPU, so each gets ``cores // workers`` threads."""
    import os

    os.environ.setdefault("LP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an ``(H, W, 3)`` uint8 image; fixed settings so that reruns are byte-identical."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def scene_questions(image: AnnotatedImage, seed: int, per_image: int | None,
                    categories: tuple[str, ...] | None = None,
                    keep: Callable[[QAItem], bool] | None = None) -> list[QAItem]:
    """Shared generators' items plus the 3D-only ones, duplicates (same question text) dropped; only
    ``categories`` when given (None: all), and only items ``keep`` accepts when given."""
    from spatialthinker.data.generators import generate_items
    from spatialthinker.data.generators.base import Context
    from spatialthinker.data.sim.questions import sim_questions

    items = generate_items(image, seed=seed, per_image=per_image, categories=categories)
    seen = {item.question for item in items}
    extra = [item for item in sim_questions(Context(image, seed))
             if item.question not in seen and (categories is None or item.category in categories)]
    return [item for item in items + extra if keep is None or keep(item)]


def run_scene(spec: SceneSpec) -> SceneOutput:
    """Build, render, annotate and question one scene.

    Args:
        spec: seed, index, image size and asset set.

    Returns:
        ``SceneOutput`` whose rows carry the STVQA columns plus ``scene_3d`` (JSON) and ``source``.
    """
    from spatialthinker.data.export import item_rows
    from spatialthinker.data.sim.groundtruth import MIN_VISIBLE_PX, annotate, scene_3d_json
    from spatialthinker.data.sim.layout import sample_layout
    from spatialthinker.data.sim.render import render_layout

    rng = np.random.default_rng([spec.seed, spec.index])
    categories, keep = None, None
    if spec.world == "blocks":
        from spatialthinker.data.sim.blocks import BLOCK_CATEGORIES, keep_block_question, sample_blocks_layout

        layout = sample_blocks_layout(rng, (spec.image_size, spec.image_size))
        categories, keep = BLOCK_CATEGORIES, keep_block_question
    else:
        layout = sample_layout(rng, load_assets(spec.assets), (spec.image_size, spec.image_size))
    rendered = render_layout(layout, min_visible_px=MIN_VISIBLE_PX)
    image, _ = annotate(layout, rendered, spec.image_id)
    png = encode_png(rendered.rgb)
    image.image_path = f"{spec.image_id}.png"
    items = scene_questions(image, spec.seed, spec.per_image, categories, keep)
    s3d = scene_3d_json(image)
    for item in items:
        item.extras["scene_3d"] = s3d
        item.extras["source"] = "sim"
    rows = item_rows(items, {spec.image_id: png})
    for row in rows:  # export names byte images .jpg; ours are PNG (the name is informative only)
        row["images"] = {"bytes": png, "path": image.image_path}
    return SceneOutput(spec, image, png, items, rows)
