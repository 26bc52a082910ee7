"""The asset model of the simulator and the built-in fallback asset set that needs nothing beyond PyPI.

Every asset lives in its own frame: metres, +y up, the bottom of its bounding box at y = 0, centred on x and z,
its front facing +z. Layout, rendering and ground truth only rely on that convention, so primitive compositions,
``pybullet_data`` meshes and SweetHome3D models (``sweethome.py``) are interchangeable. The fallback set is what
the quickstart and the tests use: it must work on a fresh machine, so shapes are composed from trimesh primitives
(a table is a top and four legs, a chair a seat, a back and legs ...) and only a few meshes come from pybullet_data.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Vec3 = tuple[float, float, float]
RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Part:
    """One convex primitive of a composed asset: ``shape`` box | cylinder | disc | sphere | frustum, axis-aligned.

    ``extents`` is the part's bounding box (x, y, z) and ``center`` its centre in the asset frame; a frustum's top
    radius is ``taper`` times its bottom radius (a lamp shade, a vase neck).
    """

    shape: str
    extents: Vec3
    center: Vec3
    color: RGB
    taper: float = 1.0


@dataclass(frozen=True, slots=True)
class Asset:
    """A placeable object type with its real size and provenance (credited in the dataset card).

    ``placement`` is ``floor`` (furniture) or ``surface`` (small things put on tables and shelves);
    ``surface_height_m`` is the height of the top other objects may stand on (None: nothing goes on it).
    Exactly one of ``parts`` (fallback primitives) or ``mesh_path`` (a mesh file) describes the geometry;
    a mesh is rescaled to ``size_m`` and turned so that its ``mesh_up`` axis becomes +y.
    """

    key: str
    label: str
    category: str
    size_m: Vec3
    placement: str = "floor"
    surface_height_m: float | None = None
    against_wall: bool = False
    parts: tuple[Part, ...] = ()
    mesh_path: str | None = None
    mesh_up: str = "y"
    licence: str = "Apache-2.0"
    author: str = "SpatialThinker authors"
    source: str = "fallback"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready catalogue entry (the dataset card lists these); the mesh by file name, never a local path."""
        return {"key": self.key, "label": self.label, "category": self.category, "size_m": list(self.size_m),
                "placement": self.placement, "licence": self.licence, "author": self.author, "source": self.source,
                "mesh_file": Path(self.mesh_path).name if self.mesh_path else None}


def parts_size(parts: tuple[Part, ...]) -> Vec3:
    """Bounding-box size (w, h, d) of a composition; the asset's size is derived, never typed twice."""
    lo = [min(p.center[i] - p.extents[i] / 2 for p in parts) for i in range(3)]
    hi = [max(p.center[i] + p.extents[i] / 2 for p in parts) for i in range(3)]
    return (round(hi[0] - lo[0], 6), round(hi[1] - lo[1], 6), round(hi[2] - lo[2], 6))


def _composed(key: str, label: str, category: str, parts: list[Part], **kwargs: Any) -> Asset:
    # Recentre so that the bottom sits at y = 0 and the footprint is centred: the asset-frame convention above.
    lo = [min(p.center[i] - p.extents[i] / 2 for p in parts) for i in range(3)]
    hi = [max(p.center[i] + p.extents[i] / 2 for p in parts) for i in range(3)]
    shift = (-(lo[0] + hi[0]) / 2, -lo[1], -(lo[2] + hi[2]) / 2)
    moved = tuple(Part(p.shape, p.extents, (p.center[0] + shift[0], p.center[1] + shift[1], p.center[2] + shift[2]),
                       p.color, p.taper) for p in parts)
    return Asset(key=f"fallback/{key}", label=label, category=category, size_m=parts_size(moved), parts=moved, **kwargs)


def _legs(w: float, d: float, h: float, t: float, color: RGB, inset: float = 0.03) -> list[Part]:
    """Four square legs under a w x d top, ``h`` tall."""
    xs, zs = (w / 2 - inset - t / 2), (d / 2 - inset - t / 2)
    return [Part("box", (t, h, t), (sx * xs, h / 2, sz * zs), color) for sx in (-1, 1) for sz in (-1, 1)]


def _table(key: str, w: float, d: float, h: float, top: RGB, leg: RGB, label: str = "table") -> Asset:
    parts = [Part("box", (w, 0.04, d), (0, h - 0.02, 0), top), *_legs(w, d, h - 0.04, 0.05, leg)]
    return _composed(key, label, "furniture", parts, surface_height_m=h)


def _chair(key: str, color: RGB, leg: RGB) -> Asset:
    seat_h, w, d = 0.45, 0.45, 0.45
    parts = [Part("box", (w, 0.05, d), (0, seat_h - 0.025, 0), color),
             Part("box", (w, 0.5, 0.05), (0, seat_h + 0.25, -d / 2 + 0.025), color),
             *_legs(w, d, seat_h - 0.05, 0.04, leg, inset=0.01)]
    return _composed(key, "chair", "furniture", parts)


def _sofa(color: RGB) -> Asset:
    w, d = 1.9, 0.85
    parts = [Part("box", (w - 0.3, 0.42, d - 0.2), (0, 0.21, 0.1), color),
             Part("box", (w, 0.8, 0.2), (0, 0.4, -d / 2 + 0.1), color),
             Part("box", (0.15, 0.6, d), (-w / 2 + 0.075, 0.3, 0), color),
             Part("box", (0.15, 0.6, d), (w / 2 - 0.075, 0.3, 0), color)]
    return _composed("sofa", "sofa", "furniture", parts, against_wall=True)


def _bed() -> Asset:
    w, d = 1.5, 2.05
    wood, sheet, pillow = (120, 80, 50), (200, 210, 230), (245, 245, 240)
    parts = [Part("box", (w, 0.3, d), (0, 0.15, 0), wood),
             Part("box", (w - 0.06, 0.2, d - 0.1), (0, 0.4, 0.03), sheet),
             Part("box", (w, 1.0, 0.08), (0, 0.5, -d / 2 + 0.04), wood),
             Part("box", (0.6, 0.12, 0.35), (-0.35, 0.56, -d / 2 + 0.3), pillow),
             Part("box", (0.6, 0.12, 0.35), (0.35, 0.56, -d / 2 + 0.3), pillow)]
    return _composed("bed", "bed", "furniture", parts, against_wall=True)


def _floor_lamp() -> Asset:
    parts = [Part("cylinder", (0.3, 0.03, 0.3), (0, 0.015, 0), (40, 40, 40)),
             Part("cylinder", (0.03, 1.3, 0.03), (0, 0.68, 0), (60, 60, 60)),
             Part("frustum", (0.45, 0.3, 0.45), (0, 1.45, 0), (250, 235, 190), taper=0.55)]
    return _composed("floor_lamp", "lamp", "furniture", parts)


def _plant() -> Asset:
    green, dark = (60, 140, 60), (40, 110, 45)
    parts = [Part("frustum", (0.32, 0.35, 0.32), (0, 0.175, 0), (170, 90, 60), taper=1.25),
             Part("sphere", (0.5, 0.45, 0.5), (0, 0.55, 0), green),
             Part("sphere", (0.32, 0.35, 0.32), (0.1, 0.8, 0.05), dark),
             Part("sphere", (0.3, 0.3, 0.3), (-0.12, 0.75, -0.06), dark)]
    return _composed("plant", "plant", "decor", parts)


def _shelf() -> Asset:
    w, h, d, wood = 0.9, 1.8, 0.35, (150, 105, 65)
    parts = [Part("box", (0.03, h, d), (-w / 2 + 0.015, h / 2, 0), wood),
             Part("box", (0.03, h, d), (w / 2 - 0.015, h / 2, 0), wood),
             Part("box", (w, h, 0.02), (0, h / 2, -d / 2 + 0.01), (130, 90, 55))]
    parts += [Part("box", (w - 0.06, 0.03, d - 0.02), (0, y, 0.01), wood) for y in (0.05, 0.48, 0.92, 1.36, h - 0.015)]
    books = [(170, 40, 40), (40, 70, 160), (220, 180, 60), (50, 130, 80), (120, 60, 140)]
    for row, y in enumerate((0.065, 0.495, 0.935)):
        for i, color in enumerate(books[row: row + 4]):
            height = 0.28 - 0.02 * i
            parts.append(Part("box", (0.05, height, 0.22), (-0.33 + 0.06 * i + 0.2 * row, y + height / 2, 0.03), color))
    return _composed("bookshelf", "shelf", "furniture", parts, surface_height_m=h, against_wall=True)


def _cabinet() -> Asset:
    w, h, d, body = 1.0, 0.75, 0.45, (235, 230, 220)
    parts = [Part("box", (w, h - 0.08, d), (0, 0.08 + (h - 0.08) / 2, 0), body),
             Part("box", (w - 0.04, 0.08, d - 0.04), (0, 0.04, 0), (90, 90, 90)),
             Part("box", (0.015, 0.2, 0.03), (-0.06, 0.5, d / 2 + 0.015), (120, 120, 120)),
             Part("box", (0.015, 0.2, 0.03), (0.06, 0.5, d / 2 + 0.015), (120, 120, 120))]
    return _composed("cabinet", "cabinet", "furniture", parts, surface_height_m=h, against_wall=True)


def _teddy() -> Asset:
    """A sitting teddy bear: body, head, snout, ears, arms and legs as ellipsoids."""
    fur, light = (150, 100, 55), (205, 165, 115)
    parts = [Part("sphere", (0.2, 0.22, 0.16), (0, 0.13, 0), fur), Part("sphere", (0.15, 0.14, 0.13), (0, 0.3, 0), fur),
             Part("sphere", (0.06, 0.045, 0.05), (0, 0.29, 0.06), light)]
    for side in (-1, 1):  # ears, arms, legs
        parts += [Part("sphere", (0.055, 0.055, 0.03), (side * 0.06, 0.37, 0), fur),
                  Part("sphere", (0.06, 0.13, 0.06), (side * 0.11, 0.15, 0.02), fur),
                  Part("sphere", (0.075, 0.07, 0.13), (side * 0.06, 0.035, 0.07), fur)]
    return _composed("teddy_bear", "teddy bear", "toy", parts, placement="surface")


def _small_assets() -> list[Asset]:
    """Things that stand on tables, cabinets and shelves."""
    red, green, blue, black = (230, 90, 60), (40, 120, 60), (60, 90, 170), (20, 20, 20)
    shapes: dict[str, tuple[str, str, list[Part]]] = {
        "cup": ("cup", "tableware", [Part("cylinder", (0.08, 0.1, 0.08), (0, 0.05, 0), red),
                                     Part("box", (0.02, 0.06, 0.015), (0.05, 0.055, 0), red)]),
        "bottle": ("bottle", "tableware", [Part("cylinder", (0.08, 0.2, 0.08), (0, 0.1, 0), green),
                                           Part("frustum", (0.08, 0.06, 0.08), (0, 0.23, 0), green, taper=0.35),
                                           Part("cylinder", (0.03, 0.05, 0.03), (0, 0.285, 0), green)]),
        "vase": ("vase", "decor", [Part("frustum", (0.16, 0.22, 0.16), (0, 0.11, 0), blue, taper=0.6),
                                   Part("frustum", (0.1, 0.08, 0.1), (0, 0.26, 0), blue, taper=1.4)]),
        "book": ("book", "decor", [Part("box", (0.17, 0.04, 0.24), (0, 0.02, 0), (160, 40, 40)),
                                   Part("box", (0.16, 0.03, 0.23), (0.006, 0.02, 0), (245, 240, 225))]),
        "laptop": ("laptop", "electronics", [Part("box", (0.34, 0.02, 0.24), (0, 0.01, 0), (170, 170, 175)),
                                             Part("box", (0.34, 0.23, 0.015), (0, 0.135, -0.115), (40, 40, 45))]),
        "tv": ("tv", "electronics", [Part("box", (0.9, 0.52, 0.05), (0, 0.34, 0), (20, 20, 25)),
                                     Part("box", (0.06, 0.08, 0.05), (0, 0.04, 0), (50, 50, 50)),
                                     Part("box", (0.3, 0.015, 0.18), (0, 0.0075, 0), (50, 50, 50))]),
        "bowl": ("bowl", "tableware", [Part("frustum", (0.18, 0.07, 0.18), (0, 0.035, 0), (240, 240, 235), taper=1.6)]),
        "clock": ("clock", "decor", [Part("disc", (0.22, 0.22, 0.05), (0, 0.13, 0), (250, 250, 250)),
                                     Part("disc", (0.2, 0.2, 0.01), (0, 0.13, 0.027), (245, 240, 230)),
                                     Part("box", (0.01, 0.07, 0.006), (0, 0.155, 0.035), black),
                                     Part("box", (0.05, 0.01, 0.006), (0.02, 0.13, 0.035), black),
                                     Part("box", (0.12, 0.02, 0.08), (0, 0.01, 0), (90, 60, 40))]),
    }
    assets = [_composed(key, label, category, parts, placement="surface")
              for key, (label, category, parts) in shapes.items()]
    return [*assets, _teddy()]


@functools.lru_cache(maxsize=None)
def mesh_extents(path: str, up: str) -> Vec3:
    """Raw bounding-box size (x, y, z) of a mesh file after turning ``up`` to +y (cached per process)."""
    from spatialthinker.data.sim.mesh_files import load_mesh_file

    mesh = load_mesh_file(path, up)
    ext = mesh.extents
    return (float(ext[0]), float(ext[1]), float(ext[2]))


@functools.lru_cache(maxsize=1)
def _pybullet_data_dir() -> Path | None:
    try:
        import pybullet_data  # heavy-ish and optional: only needed for the four mesh assets
    except ImportError:
        return None
    return Path(pybullet_data.getDataPath())


def _pybullet_assets() -> list[Asset]:
    """Meshes shipped with the pybullet wheel (zlib licence); skipped when pybullet is absent."""
    root = _pybullet_data_dir()
    if root is None:
        return []
    # (label, file, category, target height in m, up axis of the file, placement)
    specs = [("duck", "duck.obj", "toy", 0.12, "y", "surface"),
             ("mug", "urdf/mug.obj", "tableware", 0.1, "z", "surface"),
             ("ball", "soccerball.obj", "toy", 0.22, "y", "floor")]
    assets = []
    for label, rel, category, height, up, placement in specs:
        path = root / rel
        if not path.exists():
            continue
        raw = mesh_extents(str(path), up)
        scale = height / raw[1]
        assets.append(Asset(key=f"pybullet/{label}", label=label, category=category,
                            size_m=(round(raw[0] * scale, 6), round(height, 6), round(raw[2] * scale, 6)),
                            placement=placement, mesh_path=str(path), mesh_up=up, licence="zlib",
                            author="Bullet Physics (pybullet_data)", source="pybullet_data"))
    return assets


@functools.lru_cache(maxsize=1)
def fallback_assets() -> tuple[Asset, ...]:
    """The built-in asset set: composed furniture, small objects and pybullet_data meshes.

    Returns:
        Assets sorted by key, so catalogue order (and therefore every seeded choice) is stable across runs.

    Example:
        >>> sorted({a.label for a in fallback_assets()})[:3]
        ['ball', 'bed', 'book']
    """
    wood, dark, white, metal = (160, 110, 70), (90, 60, 40), (235, 235, 230), (70, 70, 75)
    assets = [
        _table("table_wood", 1.2, 0.8, 0.75, wood, dark), _table("table_white", 1.0, 1.0, 0.74, white, metal),
        _table("desk", 1.4, 0.7, 0.76, (200, 170, 130), metal, label="desk"),
        _table("coffee_table", 1.0, 0.55, 0.42, dark, dark),
        _chair("chair_wood", (150, 100, 60), dark), _chair("chair_red", (180, 50, 45), metal),
        _sofa((90, 110, 140)), _bed(), _floor_lamp(), _plant(), _shelf(), _cabinet(),
        _composed("box", "box", "storage", [Part("box", (0.5, 0.4, 0.4), (0, 0.2, 0), (190, 150, 100)),
                                             Part("box", (0.5, 0.01, 0.06), (0, 0.405, 0), (170, 130, 85))]),
        *_small_assets(), *_pybullet_assets(),
    ]
    return tuple(sorted(assets, key=lambda a: a.key))
