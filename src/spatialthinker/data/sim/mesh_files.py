"""Read mesh files into trimesh geometry with their up axis turned to +y (cached per process).

Apart from ``meshes.py`` so that the asset catalogue can size its mesh assets from the files without importing the
module that builds meshes *from* assets: the dependency runs one way, assets -> mesh_files <- meshes.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # trimesh is imported lazily: `import spatialthinker.data.sim` must stay light
    import trimesh

UP_TO_Y = {  # rotations that turn a file's up axis into +y (front stays roughly +z)
    "y": np.eye(4),
    "z": np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=np.float64),
}


def load_mesh_file(path: str, up: str = "y") -> trimesh.Trimesh:
    """One mesh from a file (all parts concatenated, textures kept where trimesh can), ``up`` turned to +y."""
    parts = load_mesh_parts(path, up)
    if len(parts) == 1:
        return parts[0]
    import trimesh

    return trimesh.util.concatenate(parts)


@functools.lru_cache(maxsize=64)
def load_mesh_parts(path: str, up: str = "y") -> list[trimesh.Trimesh]:
    """The geometries of a mesh file with their transforms applied and ``up`` turned to +y."""
    import trimesh

    loaded = trimesh.load(path, process=False)
    parts = [g for g in loaded.dump()] if isinstance(loaded, trimesh.Scene) else [loaded]
    parts = [p for p in parts if isinstance(p, trimesh.Trimesh) and len(p.faces)]
    if not parts:
        raise ValueError(f"{path}: no triangles")
    for part in parts:
        part.apply_transform(UP_TO_Y[up])
    return parts
