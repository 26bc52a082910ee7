"""The "blocks" world: a learnable miniature of the simulator for CPU-sized models.

A plain grey floor seen from one fixed camera, with two or three large primitives, each class in its own flat
colour (a red cube, a blue ball, a green cylinder, a yellow cone), all of one size before scaling. Everything
else is the regular simulator: the same pyrender pass, the same metric ground truth (``groundtruth.annotate``)
and the same question generators, so rows are ordinary STVQA rows with ``scene_3d``. What it removes is what a
4 M-parameter model cannot learn in minutes: clutter, texture, camera motion, small objects and look-alike
classes. Class and colour are one to one, so a model that tells colours apart and finds where they are can
answer every question; sizes vary per instance (scale 0.6-1.5), so "which is larger" is decided by the image
rather than by the class.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from spatialthinker.data.records import QAItem
from spatialthinker.data.sim.assets import Asset, Part, _composed
from spatialthinker.data.sim.layout import GAP_M, Camera, Layout, Placed, Room, _overlaps

#: (label, shape, colour). One colour per class, far apart in RGB. Every class has the same bounding box (0.55 m
#: on each side before scaling), so which object is bigger or taller is decided by the drawn scale, not the class.
BLOCK_CLASSES: tuple[tuple[str, str, tuple[int, int, int]], ...] = (
    ("cube", "box", (220, 40, 40)),
    ("ball", "sphere", (40, 80, 230)),
    ("cylinder", "cylinder", (40, 180, 60)),
    ("cone", "frustum", (235, 200, 30)),
)
BLOCK_SIZE_M = 0.55
#: The fixed camera: 2.1 m up, 2.5 m in front of the play area's centre, looking down at it.
CAMERA_EYE = (0.0, 2.1, 2.0)
CAMERA_TARGET = (0.0, 0.0, -0.5)
CAMERA_FOV_DEG = 55.0
#: Where object centres may go (world x, z in m): all of it is in view of the camera above.
PLAY_X = (-1.3, 1.3)
PLAY_Z = (-1.6, 0.5)
SCALE_RANGE = (0.6, 1.5)
#: Categories asked about blocks. Orientation is left out: balls, cubes and cones have no front.
BLOCK_CATEGORIES = ("relation", "size", "depth", "distance", "existence")


def keep_block_question(item: QAItem) -> bool:
    """Whether a generated question is kept in the blocks world: only choices the wording cannot give away.

    ``pipeline.heldout.blind_baseline`` (the best answer without the image) measured what the rules left out
    give away with one fixed camera: instance-location and metric-distance options are drawn around the answer
    (blind accuracy 0.85-1.0), a "next to / far from" choice is only asked of pairs that are next to each other
    (the simulator states "far" nowhere), and "taller in reality" repeats the bigger/smaller question.
    """
    evidence = item.evidence
    if evidence.get("rule") in ("metric_distance_3d", "height_3d"):
        return False
    return not (item.category == "relation" and evidence.get("direction") in ("near", "far"))


#: Keep every object's projected centre this far (share of the image) from the borders.
BORDER_MARGIN = 0.08


@functools.lru_cache(maxsize=1)
def block_assets() -> tuple[Asset, ...]:
    """The four block classes as composed single-part assets (label = class name, one flat colour each)."""
    assets = []
    size = BLOCK_SIZE_M
    for label, shape, color in BLOCK_CLASSES:
        taper = 0.05 if shape == "frustum" else 1.0
        part = Part(shape, (size, size, size), (0, size / 2, 0), color, taper=taper)
        assets.append(_composed(f"block_{label}", label, "toy", [part], placement="floor"))
    return tuple(assets)


def _projected_inside(camera: Camera, point: tuple[float, float, float]) -> bool:
    world_to_cam = camera.world_to_cv()
    x, y, z = (world_to_cam @ np.array([*point, 1.0]))[:3]
    if z <= 0.1:
        return False
    u = camera.fy * x / z / camera.width + 0.5
    v = camera.fy * y / z / camera.height + 0.5
    return BORDER_MARGIN <= u <= 1 - BORDER_MARGIN and BORDER_MARGIN <= v <= 1 - BORDER_MARGIN


def sample_blocks_layout(rng: np.random.Generator, image_size: tuple[int, int] = (112, 112),
                         min_objects: int = 2, max_objects: int = 3) -> Layout:
    """Draw 2-3 distinct block classes (one class is then always absent, for existence questions) at random
    places, yaws and scales in front of the fixed camera.

    Objects never overlap (footprints disjoint with the simulator's gap) and their centres project inside the
    image; an object that cannot be placed in 40 tries is left out, so a scene may hold fewer than drawn.
    """
    room = Room(7.0, 7.0, 3.0, (150, 150, 150), (205, 205, 200), None, None)
    camera = Camera(CAMERA_EYE, CAMERA_TARGET, CAMERA_FOV_DEG, image_size[0], image_size[1])
    assets = block_assets()
    count = int(rng.integers(min_objects, max_objects + 1))
    chosen = rng.choice(len(assets), size=count, replace=False)
    placed: list[Placed] = []
    for asset_index in chosen:
        asset = assets[int(asset_index)]
        for _ in range(40):
            x, z = float(rng.uniform(*PLAY_X)), float(rng.uniform(*PLAY_Z))
            cand = Placed(len(placed), asset, (x, 0.0, z), float(rng.uniform(-math.pi, math.pi)),
                          float(rng.uniform(*SCALE_RANGE)))
            centre = (x, cand.size_m[1] / 2, z)
            if not _projected_inside(camera, centre):
                continue
            if any(_overlaps(cand.footprint(GAP_M * 4), other.footprint()) for other in placed):
                continue
            placed.append(cand)
            break
    return Layout(room, tuple(placed), camera)
