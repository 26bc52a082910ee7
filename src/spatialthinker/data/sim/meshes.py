"""Turn an ``Asset`` into trimesh geometry in its own frame, at its real size (cached per process).

Kept apart from rendering so that ground-truth tests can check sizes against the very meshes that are drawn.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import numpy as np

from spatialthinker.data.sim.assets import Asset, Part
from spatialthinker.data.sim.mesh_files import UP_TO_Y, load_mesh_parts

if TYPE_CHECKING:  # trimesh is imported lazily: `import spatialthinker.data.sim` must stay light
    import trimesh

logger = logging.getLogger(__name__)

def _part_mesh(part: Part) -> trimesh.Trimesh:
    """A primitive scaled to its bounding box; cylinders and frusta stand along +y, discs face +z."""
    import trimesh

    ex, ey, ez = part.extents
    if part.shape == "box":
        mesh = trimesh.creation.box(extents=(ex, ey, ez))
    elif part.shape == "sphere":
        mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
        mesh.apply_scale((ex, ey, ez))
    elif part.shape == "disc":  # a cylinder whose axis is the front (z): clock faces, plates on walls
        mesh = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=32)
        mesh.apply_scale((ex, ey, ez))
    elif part.shape in ("cylinder", "frustum"):
        mesh = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=24)  # along z, centred
        mesh.apply_transform(UP_TO_Y["z"])  # now along y
        if part.shape == "frustum":
            # Scale the top ring by `taper`, then refit so the widest ring spans the stated extents.
            vertices = mesh.vertices.copy()
            top = vertices[:, 1] > 0
            vertices[top, 0] *= part.taper
            vertices[top, 2] *= part.taper
            vertices[:, [0, 2]] /= max(1.0, part.taper)
            mesh = trimesh.Trimesh(vertices, mesh.faces, process=False)
        mesh.apply_scale((ex, ey, ez))
    else:
        raise ValueError(f"unknown part shape {part.shape!r}")
    mesh.apply_translation(part.center)
    mesh.visual.face_colors = np.array([*part.color, 255], dtype=np.uint8)
    return mesh


@functools.lru_cache(maxsize=256)
def asset_meshes(asset: Asset) -> tuple[trimesh.Trimesh, ...]:
    """Geometry of ``asset`` in its frame: bottom at y = 0, centred on x/z, exactly ``asset.size_m`` in size.

    Returns:
        One trimesh per primitive part (fallback assets) or per geometry of the mesh file.
    """
    if asset.parts:
        return tuple(_part_mesh(p) for p in asset.parts)
    if not asset.mesh_path:
        raise ValueError(f"asset {asset.key} has neither parts nor a mesh")
    parts = [p.copy() for p in load_mesh_parts(asset.mesh_path, asset.mesh_up)]
    lo = np.min([p.bounds[0] for p in parts], axis=0)
    hi = np.max([p.bounds[1] for p in parts], axis=0)
    # Non-uniform scale to the catalogue size: SweetHome3D states width/height/depth and scales models the same way.
    scale = np.asarray(asset.size_m, dtype=np.float64) / np.maximum(hi - lo, 1e-9)
    offset = -np.array([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2])
    transform = np.diag([*scale, 1.0])
    transform[:3, 3] = offset * scale
    for part in parts:
        part.apply_transform(transform)
    return tuple(parts)


def asset_bounds(asset: Asset) -> np.ndarray:
    """``(2, 3)`` min/max corners of the asset's geometry in its frame (tests compare this with ``size_m``)."""
    meshes = asset_meshes(asset)
    return np.stack([np.min([m.bounds[0] for m in meshes], axis=0), np.max([m.bounds[1] for m in meshes], axis=0)])
