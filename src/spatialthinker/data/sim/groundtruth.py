"""Per-object ground truth of a rendered scene: boxes from masks, visibility, camera-space centre, size, yaw, distance.

The result is the project's ``AnnotatedImage`` (source ``sim``), so the question generators treat simulated and
annotated photos alike, plus the ``scene_3d`` JSON column with the same ids. Conventions (also in ``docs/sim.md``):
camera frame x right, y down, z forward; ``depth_m`` is the Euclidean distance from the camera centre to the
centre of the object's 3D box; ``yaw_deg`` is the heading of the object's front in the camera frame seen from
above, from +z towards +x: 0 faces away from the camera, 90 faces image right, 180 faces the camera (the convention of the orientation
generator, ``generators.relational.egocentric_direction``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from spatialthinker.data.records import AnnotatedImage, AnnotatedObject
from spatialthinker.data.sim.layout import Layout, Placed
from spatialthinker.data.sim.relations import Solid, compute_relations
from spatialthinker.data.sim.render import RenderResult

MIN_VISIBLE_PX = 16  # fewer visible pixels than this and the object is left out of the annotation entirely


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Tight ``[x1, y1, x2, y2]`` box of a boolean ``(H, W)`` mask, pixel edges (x2, y2 exclusive)."""
    cols = np.flatnonzero(mask.any(axis=0))
    rows = np.flatnonzero(mask.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _world_corners(obj: Placed) -> np.ndarray:
    """``(8, 3)`` world corners of the object's oriented 3D box."""
    w, h, d = obj.asset.size_m
    local = np.array([[x, y, z, 1.0] for x in (-w / 2, w / 2) for y in (0.0, h) for z in (-d / 2, d / 2)])
    return (local @ obj.pose().T)[:, :3]


def _front(obj: Placed) -> np.ndarray:
    return np.array([math.sin(obj.yaw_rad), 0.0, math.cos(obj.yaw_rad)])


def yaw_in_camera_deg(obj: Placed, world_to_cam: np.ndarray) -> float:
    """Heading of the object's front in the camera frame, seen from above: degrees from +z (straight away from
    the camera) towards +x (image right), in (-180, 180]; 180 means the object faces the camera."""
    front = world_to_cam[:3, :3] @ _front(obj)
    angle = math.degrees(math.atan2(float(front[0]), float(front[2])))
    return 180.0 if angle <= -180.0 else angle


def _object_ids(objects: list[Placed]) -> dict[int, str]:
    """``label.N`` ids, numbered per label in object order (spaces become underscores, as ids require)."""
    counts: dict[str, int] = {}
    ids = {}
    for obj in objects:
        counts[obj.asset.label] = counts.get(obj.asset.label, 0) + 1
        ids[obj.index] = f"{obj.asset.label.replace(' ', '_')}.{counts[obj.asset.label]}"
    return ids


def annotate(layout: Layout, render: RenderResult, image_id: str) -> tuple[AnnotatedImage, dict[str, Any]]:
    """Build the annotated image and the ``scene_3d`` dict of one rendered scene.

    Args:
        layout: the scene that was rendered.
        render: its passes.
        image_id: the row id (``sim-<seed>-<index>``).

    Returns:
        ``(AnnotatedImage, scene_3d)``: objects with at least ``MIN_VISIBLE_PX`` visible pixels, their 3D fields
        and geometric relations; ``scene_3d`` holds the camera and the same objects with the same ids.
    """
    cam = layout.camera
    world_to_cam = cam.world_to_cv()
    counts = np.bincount(render.instance.ravel(), minlength=len(layout.objects) + 1)
    visible = [o for o in layout.objects if counts[o.index + 1] >= MIN_VISIBLE_PX and o.index in render.full_masks]
    ids = _object_ids(visible)
    annotated: list[AnnotatedObject] = []
    solids: list[Solid] = []
    for obj in visible:
        mask = render.instance == obj.index + 1
        full = render.full_masks[obj.index]
        corners = _world_corners(obj)
        center_world = (corners.min(axis=0) + corners.max(axis=0)) / 2
        center_cam = (world_to_cam @ np.append(center_world, 1.0))[:3]
        size = obj.size_m
        ann = AnnotatedObject(
            id=ids[obj.index], label=obj.asset.label, bbox=mask_box(mask), source_id=obj.asset.key,
            bbox_full=mask_box(full), visible_fraction=round(min(1.0, float(mask.sum()) / float(full.sum())), 4),
            center_cam_m=tuple(round(float(v), 4) for v in center_cam),  # type: ignore[arg-type]
            size_m=tuple(round(float(v), 4) for v in size),  # type: ignore[arg-type]
            yaw_deg=round(yaw_in_camera_deg(obj, world_to_cam), 2),
            depth_m=round(float(np.linalg.norm(center_cam)), 4))
        annotated.append(ann)
        support = obj.support if obj.support in ids else None
        solids.append(Solid(ann.id, ann.label, ann.bbox, corners.min(axis=0), corners.max(axis=0), center_cam,
                            _front(obj), ids[support] if support is not None else None))
    image = AnnotatedImage(image_id=image_id, width=cam.width, height=cam.height, objects=annotated,
                           relations=compute_relations(solids), source="sim", camera=cam.to_dict())
    return image, scene_3d(image)


def scene_3d(image: AnnotatedImage) -> dict[str, Any]:
    """The ``scene_3d`` column value (data.md §7 / issue 4) for an annotated simulated image."""
    keys = ("bbox", "bbox_full", "visible_fraction", "center_cam_m", "size_m", "yaw_deg", "depth_m")
    objects = [{"id": o.id, "label": o.label, **{k: (list(v) if isinstance(v := getattr(o, k), tuple) else v)
                                                  for k in keys}} for o in image.objects]
    return {"camera": image.camera, "objects": objects}


def scene_3d_json(image: AnnotatedImage) -> str:
    """``scene_3d`` serialised the way the parquet column stores it (stable key order, default separators)."""
    return json.dumps(scene_3d(image))
