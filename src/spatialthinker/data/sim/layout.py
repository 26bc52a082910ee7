"""Seeded scene layout: a room, furniture on the floor without interpenetration, small things on tops, a camera.

World frame: metres, +y up, the floor at y = 0, the room spanning x in [-W/2, W/2] and z in [-D/2, D/2]; the camera
stands near the +z wall looking into the room. Overlap is checked on oriented footprints (separating axis test) with
a small gap, which is exact for upright furniture on a flat floor and needs no physics engine. Everything is drawn
from one ``numpy.random.Generator``, so a (seed, scene index) pair fixes the scene on any machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialthinker.data.sim.assets import Asset

GAP_M = 0.05  # free space kept between footprints: touching boxes would read as interpenetrating at the edges
CAMERA_CLEARANCE_M = 0.8  # nothing within this radius of the camera: it would fill the frame


@dataclass(frozen=True, slots=True)
class Placed:
    """One object instance: ``position`` is the world position of the asset's bottom centre; it faces
    ``(sin yaw, 0, cos yaw)``; ``support`` is the index of the object it stands on (None: the floor)."""

    index: int
    asset: Asset
    position: tuple[float, float, float]
    yaw_rad: float
    scale: float = 1.0
    support: int | None = None

    @property
    def size_m(self) -> tuple[float, float, float]:
        return tuple(float(v) * self.scale for v in self.asset.size_m)  # type: ignore[return-value]

    def pose(self) -> np.ndarray:
        """``(4, 4)`` asset-to-world transform including the uniform scale."""
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        pose = np.array([[c, 0, s, 0], [0, 1, 0, 0], [-s, 0, c, 0], [0, 0, 0, 1]], dtype=np.float64)
        pose[:3, :3] *= self.scale
        pose[:3, 3] = self.position
        return pose

    def footprint(self, gap: float = 0.0) -> np.ndarray:
        """``(4, 2)`` world (x, z) corners of the oriented footprint, grown by ``gap`` on each side."""
        w, _, d = self.size_m
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        local = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * [w / 2 + gap, d / 2 + gap]
        x = local[:, 0] * c + local[:, 1] * s + self.position[0]
        z = -local[:, 0] * s + local[:, 1] * c + self.position[2]
        return np.stack([x, z], axis=1)

    @property
    def top_m(self) -> float:
        return self.position[1] + self.size_m[1]


@dataclass(frozen=True, slots=True)
class Camera:
    """Pinhole camera: world position, look-at target, vertical field of view and image size."""

    position: tuple[float, float, float]
    target: tuple[float, float, float]
    yfov_deg: float
    width: int
    height: int

    @property
    def fy(self) -> float:
        return (self.height / 2) / math.tan(math.radians(self.yfov_deg) / 2)

    def pose(self) -> np.ndarray:
        """``(4, 4)`` camera-to-world transform in the OpenGL convention (looks along -z, +y up)."""
        eye, target = np.asarray(self.position, dtype=np.float64), np.asarray(self.target, dtype=np.float64)
        forward = (target - eye) / np.linalg.norm(target - eye)
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        pose = np.eye(4)
        pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, up, -forward, eye
        return pose

    def world_to_cv(self) -> np.ndarray:
        """``(4, 4)`` world-to-camera transform in the OpenCV convention (x right, y down, z forward)."""
        flip = np.diag([1.0, -1.0, -1.0, 1.0])
        return flip @ np.linalg.inv(self.pose())

    def to_dict(self) -> dict[str, Any]:
        """The ``scene_3d.camera`` entry: intrinsics, pose and the frame conventions used by every 3D field."""
        fy = self.fy
        return {"width": self.width, "height": self.height, "fx": round(fy, 4), "fy": round(fy, 4),
                "cx": self.width / 2, "cy": self.height / 2, "yfov_deg": round(self.yfov_deg, 4),
                "position_world_m": [round(v, 4) for v in self.position],
                "target_world_m": [round(v, 4) for v in self.target],
                "world_to_camera": [[round(float(v), 6) for v in row] for row in self.world_to_cv()],
                "frame": "camera: x right, y down, z forward (OpenCV); world: y up, floor at y=0"}


@dataclass(frozen=True, slots=True)
class Room:
    """Box room; ``window``/``door`` are (wall, offset along the wall in m, width in m) or None."""

    width: float
    depth: float
    height: float
    floor_color: tuple[int, int, int]
    wall_color: tuple[int, int, int]
    window: tuple[str, float, float] | None
    door: tuple[str, float, float] | None


@dataclass(frozen=True, slots=True)
class Layout:
    """A complete scene: everything rendering and ground truth need."""

    room: Room
    objects: tuple[Placed, ...]
    camera: Camera


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating axis test for two convex (4, 2) polygons."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for nx, nz in zip(-edges[:, 1], edges[:, 0], strict=True):
            pa, pb = a @ (nx, nz), b @ (nx, nz)
            if pa.max() < pb.min() or pb.max() < pa.min():
                return False
    return True


def _sample_room(rng: np.random.Generator) -> Room:
    floors = [(150, 115, 80), (185, 160, 125), (120, 120, 125), (200, 195, 185)]
    walls = [(225, 220, 210), (205, 215, 225), (230, 225, 200), (215, 205, 200)]
    width, depth = float(rng.uniform(4.0, 6.0)), float(rng.uniform(4.5, 6.5))
    window = ("back", float(rng.uniform(-0.25, 0.25) * width), 1.2) if rng.random() < 0.7 else None
    door = None
    if rng.random() < 0.6:
        door = (str(rng.choice(["left", "right"])), float(rng.uniform(-0.3, 0.0) * depth), 0.9)
    return Room(width, depth, 2.7, floors[int(rng.integers(len(floors)))], walls[int(rng.integers(len(walls)))],
                window, door)


def _sample_camera(rng: np.random.Generator, room: Room, image_size: tuple[int, int]) -> Camera:
    w, d = room.width, room.depth
    eye = (float(rng.uniform(-0.2, 0.2) * w), float(rng.uniform(1.4, 1.7)), float(d / 2 - rng.uniform(0.3, 0.6)))
    target = (float(rng.uniform(-0.2, 0.2) * w), float(rng.uniform(0.3, 0.7)), float(rng.uniform(-0.3, 0.05) * d))
    return Camera(eye, target, float(rng.uniform(60.0, 70.0)), image_size[0], image_size[1])


class _Placer:
    """Accepts candidate placements that stay inside the room and clear of the camera and of each other."""

    def __init__(self, room: Room, camera: Camera) -> None:
        self.room, self.camera = room, camera
        self.objects: list[Placed] = []

    def fits_floor(self, cand: Placed) -> bool:
        poly = cand.footprint()
        inside = (np.abs(poly[:, 0]) <= self.room.width / 2 - 0.02) & (np.abs(poly[:, 1]) <= self.room.depth / 2 - 0.02)
        if not inside.all():
            return False
        cam = np.array([self.camera.position[0], self.camera.position[2]])
        if np.linalg.norm(poly.mean(axis=0) - cam) < CAMERA_CLEARANCE_M + max(cand.size_m[0], cand.size_m[2]) / 2:
            return False
        grown = cand.footprint(GAP_M)
        return not any(o.support is None and _overlaps(grown, o.footprint()) for o in self.objects)

    def fits_surface(self, cand: Placed, support: Placed) -> bool:
        # Inside the supporting top (inset by the gap) and clear of the other things on it.
        poly = cand.footprint()
        c, s = math.cos(support.yaw_rad), math.sin(support.yaw_rad)
        rel = poly - [support.position[0], support.position[2]]
        local = np.stack([rel[:, 0] * c - rel[:, 1] * s, rel[:, 0] * s + rel[:, 1] * c], axis=1)
        half = np.array([support.size_m[0], support.size_m[2]]) / 2 - GAP_M
        if (np.abs(local) > half).any():
            return False
        grown = cand.footprint(GAP_M / 2)
        return not any(o.support == support.index and _overlaps(grown, o.footprint()) for o in self.objects)

    def add(self, cand: Placed) -> None:
        self.objects.append(cand)


def _wall_pose(rng: np.random.Generator, room: Room, asset: Asset) -> tuple[float, float, float]:
    """(x, z, yaw) with the asset's back against a random visible wall, facing into the room."""
    w, _, d = asset.size_m
    wall = int(rng.integers(3))
    if wall == 0:  # back wall (z = -D/2), facing +z
        return float(rng.uniform(-room.width / 2 + w / 2, room.width / 2 - w / 2)), -room.depth / 2 + d / 2 + 0.03, 0.0
    sign = -1.0 if wall == 1 else 1.0  # left or right wall, facing the centre
    z = float(rng.uniform(-room.depth / 2 + w / 2, room.depth / 2 - w / 2 - 1.0))
    return sign * (room.width / 2 - d / 2 - 0.03), z, -sign * math.pi / 2


def _place_floor(rng: np.random.Generator, placer: _Placer, asset: Asset, tries: int = 30) -> Placed | None:
    room = placer.room
    for _ in range(tries):
        if asset.against_wall:
            x, z, yaw = _wall_pose(rng, room, asset)
        else:
            x = float(rng.uniform(-room.width / 2 + 0.4, room.width / 2 - 0.4))
            z = float(rng.uniform(-room.depth / 2 + 0.4, room.depth / 2 - 1.2))
            yaw = float(rng.integers(4)) * math.pi / 2 + float(rng.normal(0, 0.15))
        cand = Placed(len(placer.objects), asset, (x, 0.0, z), yaw, float(rng.uniform(0.92, 1.08)))
        if placer.fits_floor(cand):
            placer.add(cand)
            return cand
    return None


def _chairs_around(rng: np.random.Generator, placer: _Placer, table: Placed, chair: Asset) -> None:
    """Put chairs at the sides of a table, turned to face it (count and facing questions need such groups)."""
    w, _, d = table.size_m
    sides = [(0, d / 2 + 0.35), (0, -d / 2 - 0.35), (w / 2 + 0.35, 0), (-w / 2 - 0.35, 0)]
    for side in rng.permutation(len(sides))[: int(rng.integers(2, 5))]:
        lx, lz = sides[int(side)]
        c, s = math.cos(table.yaw_rad), math.sin(table.yaw_rad)
        x, z = table.position[0] + lx * c + lz * s, table.position[2] - lx * s + lz * c
        yaw = math.atan2(table.position[0] - x, table.position[2] - z)  # front (sin, cos) points at the table
        cand = Placed(len(placer.objects), chair, (x, 0.0, z), yaw + float(rng.normal(0, 0.1)))
        if placer.fits_floor(cand):
            placer.add(cand)


def sample_layout(rng: np.random.Generator, assets: tuple[Asset, ...], image_size: tuple[int, int] = (512, 512),
                  max_floor: int = 8) -> Layout:
    """Draw a room, 3 to ``max_floor`` floor objects (chairs grouped round tables), small objects on low tops.

    Args:
        rng: the scene's generator; the layout depends on nothing else.
        assets: the catalogue to draw from (``floor`` and ``surface`` placements).
        image_size: (W, H) of the camera.

    Returns:
        A ``Layout`` whose objects never interpenetrate (footprints are disjoint with a gap).
    """
    room = _sample_room(rng)
    camera = _sample_camera(rng, room, image_size)
    floor = [a for a in assets if a.placement == "floor"]
    small = [a for a in assets if a.placement == "surface"]
    chairs = [a for a in floor if a.label == "chair"]
    placer = _Placer(room, camera)
    for _ in range(int(rng.integers(4, max_floor + 1))):
        asset = floor[int(rng.integers(len(floor)))]
        if asset.label == "bed" and any(o.asset.label == "bed" for o in placer.objects):
            continue
        placed = _place_floor(rng, placer, asset)
        if placed is not None and asset.label in ("table", "desk") and chairs and rng.random() < 0.6:
            _chairs_around(rng, placer, placed, chairs[int(rng.integers(len(chairs)))])
    for support in list(placer.objects):
        height = support.asset.surface_height_m
        if height is None or height * support.scale > 1.2 or not small or rng.random() < 0.15:
            continue
        for _ in range(int(rng.integers(1, 4))):
            asset = small[int(rng.integers(len(small)))]
            for _try in range(15):
                # Local position on the top, then to world (the support's yaw and scale).
                lx, lz = (rng.uniform(-0.5, 0.5, size=2) * [support.size_m[0], support.size_m[2]])
                c, s = math.cos(support.yaw_rad), math.sin(support.yaw_rad)
                pos = (support.position[0] + lx * c + lz * s, support.top_m, support.position[2] - lx * s + lz * c)
                cand = Placed(len(placer.objects), asset, (float(pos[0]), float(pos[1]), float(pos[2])),
                              float(rng.uniform(-math.pi, math.pi)), float(rng.uniform(0.9, 1.1)), support.index)
                if placer.fits_surface(cand, support):
                    placer.add(cand)
                    break
    return Layout(room, tuple(placer.objects), camera)
