"""SweetHome3D furniture (Debian ``sweethome3d-furniture``): fetch, unpack and index into an asset catalogue.

Fetched only on request (``--assets sweethome3d`` or ``fetch_sweethome()``), never by the default tests: the
package is ~120 MB. ``apt-get download`` needs no root; ``dpkg -x`` unpacks without installing; the ``.sh3f``
libraries inside are zip files holding OBJ models and a properties catalogue (English name, size in cm, creator).
Names are mapped to clean Visual-Genome-style labels; models with no matching label are left out.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from spatialthinker.data.sim.assets import Asset

logger = logging.getLogger(__name__)

PACKAGE = "sweethome3d-furniture"
SURFACE_LABELS = frozenset({"cup", "bottle", "vase", "book", "laptop", "tv", "bowl", "clock", "teddy bear", "plant",
                            "lamp"})
#: (pattern on the English name, clean label, category); first match wins, so specific patterns come first.
LABEL_RULES: tuple[tuple[str, str, str], ...] = (
    (r"teddy", "teddy bear", "toy"), (r"\b(tv|television)\b", "tv", "electronics"),
    (r"laptop|notebook computer", "laptop", "electronics"), (r"bedside|night ?stand", "nightstand", "furniture"),
    (r"arm ?chair", "armchair", "furniture"), (r"\bchair|stool", "chair", "furniture"),
    (r"sofa|couch|settee", "sofa", "furniture"), (r"\bdesk", "desk", "furniture"), (r"\btable", "table", "furniture"),
    (r"\bbed\b|bunk", "bed", "furniture"), (r"lamp|lampshade", "lamp", "furniture"),
    (r"plant|flower|cactus|\btree\b|bonsai", "plant", "decor"), (r"book ?case|shelf|shelves", "shelf", "furniture"),
    (r"cabinet|cupboard|dresser|wardrobe|chest of drawers|sideboard", "cabinet", "furniture"),
    (r"\bbottle", "bottle", "tableware"), (r"\bmug\b|\bcup\b", "cup", "tableware"), (r"\bvase", "vase", "decor"),
    (r"\bbook", "book", "decor"), (r"\bclock", "clock", "decor"), (r"\bbowl", "bowl", "tableware"),
)
#: Names that match a rule but are not what the label means indoors (table football, sun loungers, garden sets ...).
EXCLUDE = re.compile(r"football|soccer|billiard|pool table|ping|tennis|garden|outdoor|lounger|deck|swing|toilet|sink")
_Z_UP = "1 0 0 0 0 1 0 -1 0"  # the one model rotation we map (z-up files); other rotations are skipped


def cache_dir() -> Path:
    """``$SPATIALTHINKER_CACHE/assets`` or ``~/.cache/spatialthinker/assets``."""
    root = os.environ.get("SPATIALTHINKER_CACHE") or str(Path.home() / ".cache" / "spatialthinker")
    return Path(root) / "assets"


def _index_path() -> Path:
    return cache_dir() / "sweethome3d" / "index.json"


def sweethome_available() -> bool:
    """True when the catalogue was fetched and indexed before (``auto`` then prefers it)."""
    return _index_path().exists()


def fetch_sweethome(deb: str | Path | None = None) -> Path:
    """Download (unless ``deb`` is given), unpack and index the package; returns the index path.

    Raises:
        RuntimeError: when apt-get or dpkg is missing or the download fails (the message says what to do).
    """
    root = cache_dir() / "sweethome3d"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if deb is None:
            if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
                raise RuntimeError("SweetHome3D assets need apt-get and dpkg (Debian/Ubuntu); use --assets fallback")
            result = subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"apt-get download {PACKAGE} failed (try apt-get update): {result.stderr[-400:]}")
            deb = next(Path(tmp).glob(f"{PACKAGE}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(Path(tmp) / "x")], check=True)
        for library in sorted((Path(tmp) / "x").rglob("*.sh3f")):
            with zipfile.ZipFile(library) as archive:
                archive.extractall(root / library.stem)
    entries = [e for lib in sorted(p for p in root.iterdir() if p.is_dir()) for e in _read_library(lib)]
    _index_path().write_text(json.dumps(entries, indent=1))
    logger.info("indexed %d SweetHome3D models into %s", len(entries), root)
    return _index_path()


def _properties(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().encode("latin-1").decode("unicode_escape", errors="replace")
    return values


def _read_library(library: Path) -> list[dict[str, Any]]:
    """Catalogue entries of one unpacked library that map to a clean label and a usable model."""
    props = _properties(library / "PluginFurnitureCatalog.properties")
    licence = "CC0-1.0" if "CC-0" in library.name else "CC-BY-3.0"
    entries = []
    for key in sorted((k for k in props if k.startswith("name#")), key=lambda k: int(k.split("#")[1])):
        n = key.split("#")[1]
        name, model = props[key], props.get(f"model#{n}", "")
        rule = next((r for r in LABEL_RULES if re.search(r[0], name.lower())), None)
        rotation = props.get(f"modelRotation#{n}", "").strip()
        if rule is None or EXCLUDE.search(name.lower()) or props.get(f"doorOrWindow#{n}") == "true":
            continue
        if not model.endswith(".obj"):
            continue
        if rotation and rotation != _Z_UP and rotation != "1 0 0 0 1 0 0 0 1":
            continue
        size_cm = [float(props.get(f"{dim}#{n}", 0) or 0) for dim in ("width", "height", "depth")]
        if min(size_cm) <= 0.5:
            continue
        entries.append({"key": f"sh3d/{library.name}/{n}", "name": name, "label": rule[1], "category": rule[2],
                        "size_m": [round(v / 100, 4) for v in size_cm], "mesh_path": str(library / model.lstrip("/")),
                        "mesh_up": "z" if rotation == _Z_UP else "y", "licence": licence,
                        "author": props.get(f"creator#{n}", "unknown")})
    return entries


def sweethome_assets(fetch: bool = True) -> tuple[Asset, ...]:
    """The SweetHome3D catalogue as assets (fetching it first when allowed and missing).

    Returns:
        Assets sorted by key; small items (height < 0.6 m) of tabletop labels go on surfaces, the rest on the floor.
    """
    if not sweethome_available():
        if not fetch:
            raise FileNotFoundError(f"no SweetHome3D index at {_index_path()}; "
                                    "run `spatialthinker synth sim --assets sweethome3d`")
        fetch_sweethome()
    assets = []
    for entry in json.loads(_index_path().read_text()):
        if not Path(entry["mesh_path"]).exists():
            continue
        w, h, d = entry["size_m"]
        small = entry["label"] in SURFACE_LABELS and h < 0.6
        surface = h if entry["label"] in ("table", "desk", "cabinet", "nightstand") else None
        assets.append(Asset(key=entry["key"], label=entry["label"], category=entry["category"], size_m=(w, h, d),
                            placement="surface" if small else "floor", surface_height_m=surface,
                            against_wall=entry["label"] in ("bed", "sofa", "shelf", "cabinet"),
                            mesh_path=entry["mesh_path"], mesh_up=entry["mesh_up"], licence=entry["licence"],
                            author=entry["author"], source="sweethome3d"))
    return tuple(sorted(assets, key=lambda a: a.key))
