"""Spatial relations read off the exact 3D state (support, heights, camera-space order, footprints, facing).

One predicate per unordered pair, strongest evidence first (support > above > next to > depth order > left/right),
plus ``facing`` for objects with a clear front. Every predicate is one the question generators' vocabulary maps to
a direction (``vocabulary.PREDICATE_DIRECTION``), so relation questions and the rows' scene graphs agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spatialthinker.scene import Relation

ABOVE_GAP_M = 0.05  # a's bottom must clear b's top by this much to be "above"
NEXT_TO_M = 0.5  # footprint gap under which two floor objects are "next to" each other
DEPTH_MARGIN_M = 0.5  # camera-depth difference needed for "in front of"/"behind"
LEFT_RIGHT_MARGIN_M = 0.3  # camera-x difference needed (besides disjoint boxes) for "left of"/"right of"
FACING_DEG = 25.0  # front within this angle of the direction to b
FACING_RANGE_M = 3.0
FRONTED_LABELS = frozenset({"chair", "sofa", "tv", "laptop", "armchair", "bed"})


@dataclass(frozen=True, slots=True)
class Solid:
    """What relations need to know about one visible object (world frame: y up; camera frame: OpenCV)."""

    id: str
    label: str
    bbox: tuple[float, float, float, float]
    world_min: np.ndarray  # (3,) axis-aligned world bounds of the oriented box
    world_max: np.ndarray  # (3,)
    center_cam: np.ndarray  # (3,) x right, y down, z forward
    front: np.ndarray  # (3,) unit world vector the object faces
    support_id: str | None  # id of the object it stands on (None: floor, or the support is not visible)


def _xz_gap(a: Solid, b: Solid) -> float:
    """Distance between the two footprints' world AABBs on the floor plane (0 when they overlap)."""
    dx = max(0.0, float(max(a.world_min[0] - b.world_max[0], b.world_min[0] - a.world_max[0])))
    dz = max(0.0, float(max(a.world_min[2] - b.world_max[2], b.world_min[2] - a.world_max[2])))
    return math.hypot(dx, dz)


def _pair_relation(a: Solid, b: Solid) -> Relation | None:
    """The strongest predicate between a and b, oriented either way, or None when the evidence is too weak."""
    if a.support_id == b.id:
        return Relation(a.id, "on", b.id)
    if b.support_id == a.id:
        return Relation(b.id, "on", a.id)
    for upper, lower in ((a, b), (b, a)):
        if upper.world_min[1] > lower.world_max[1] + ABOVE_GAP_M and _xz_gap(upper, lower) == 0.0:
            return Relation(upper.id, "above", lower.id)
    same_level = (a.support_id is None) == (b.support_id is None)
    if same_level and _xz_gap(a, b) < NEXT_TO_M:
        return Relation(a.id, "next to", b.id)
    overlap = min(a.bbox[2], b.bbox[2]) - max(a.bbox[0], b.bbox[0])
    narrow = min(a.bbox[2] - a.bbox[0], b.bbox[2] - b.bbox[0])
    dz = float(a.center_cam[2] - b.center_cam[2])
    if narrow > 0 and overlap >= 0.3 * narrow and abs(dz) > DEPTH_MARGIN_M:
        near, far = (a, b) if dz < 0 else (b, a)
        return Relation(near.id, "in front of", far.id)
    dx = float(a.center_cam[0] - b.center_cam[0])
    if a.bbox[2] <= b.bbox[0] and dx < -LEFT_RIGHT_MARGIN_M:
        return Relation(a.id, "to the left of", b.id)
    if b.bbox[2] <= a.bbox[0] and dx > LEFT_RIGHT_MARGIN_M:
        return Relation(b.id, "to the left of", a.id)
    return None


def _facing(a: Solid, b: Solid) -> bool:
    if a.label not in FRONTED_LABELS or a.support_id == b.id or b.support_id == a.id:
        return False
    ca, cb = (a.world_min + a.world_max) / 2, (b.world_min + b.world_max) / 2
    to_b = np.array([cb[0] - ca[0], 0.0, cb[2] - ca[2]])
    dist = float(np.linalg.norm(to_b))
    if dist < 1e-6 or dist > FACING_RANGE_M:
        return False
    cos = float(np.dot(to_b / dist, a.front))
    return cos > math.cos(math.radians(FACING_DEG))


def compute_relations(solids: list[Solid]) -> list[Relation]:
    """All geometric relations between the given objects, in a deterministic order.

    Args:
        solids: the visible objects of one scene.

    Returns:
        Relations ordered by subject, then object position in ``solids``.

    Example:
        >>> z = np.zeros(3)
        >>> cup = Solid("cup.1", "cup", (10, 10, 20, 20), np.array([0, .75, 0]), np.array([.1, .85, .1]), z, z, "table.1")
        >>> table = Solid("table.1", "table", (0, 10, 60, 50), np.array([-.6, 0, -.4]), np.array([.6, .75, .4]), z, z, None)
        >>> compute_relations([cup, table])
        [Relation(subject='cup.1', predicate='on', object='table.1')]
    """
    relations: list[Relation] = []
    for i, a in enumerate(solids):
        for b in solids[i + 1:]:
            rel = _pair_relation(a, b)
            if rel is not None:
                relations.append(rel)
    for a in solids:
        relations.extend(Relation(a.id, "facing", b.id) for b in solids if b is not a and _facing(a, b))
    order = {s.id: i for i, s in enumerate(solids)}
    return sorted(relations, key=lambda r: (order[r.subject], order[r.object], r.predicate))
