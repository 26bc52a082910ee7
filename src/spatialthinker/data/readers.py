"""Readers of human-annotated scene graphs (Visual Genome, VG150 hub form, GQA) into ``AnnotatedImage``.

All three share one cleaning path (``build_image``): labels lower-cased and made id-safe, boxes converted to xyxy,
merged and duplicate objects collapsed, ids ``label.N`` numbered per class in a stable order, predicates
cleaned. Malformed input raises ``ValueError`` naming the file, the image and the field, because a silently
skipped object changes the answers of every question about its image.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from spatialthinker.data.records import AnnotatedImage, AnnotatedObject
from spatialthinker.errors import InputError
from spatialthinker.data.vocabulary import clean_predicate
from spatialthinker.scene import Relation

logger = logging.getLogger(__name__)

_NON_LETTERS = re.compile(r"[^a-z ]")
ID_PATTERN = re.compile(r"^[a-zA-Z_]+\.\d+$")


def clean_label(raw: str) -> str | None:
    """Lower-case, hyphens/underscores to spaces, collapse spaces; None when the label cannot form an id.

    Example:
        >>> clean_label("  Parking_Meter "), clean_label("T-Shirt"), clean_label("7up")
        ('parking meter', 't shirt', None)
    """
    text = " ".join(str(raw).lower().replace("-", " ").replace("_", " ").replace("'", "").split())
    if not text or _NON_LETTERS.search(text):
        return None
    return text


@dataclass(slots=True)
class RawObject:
    """An object as read from a source, before cleaning and numbering."""

    source_id: str
    label: str
    box: tuple[float, float, float, float]  # xyxy pixels
    attributes: list[str] = field(default_factory=list)
    aliases: tuple[str, ...] = ()  # merged object ids that refer to this object


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def build_image(image_id: str, width: int, height: int, raw_objects: Iterable[RawObject],
                raw_relations: Iterable[tuple[str, str, str]], source: str, dedupe_iou: float = 0.7) -> AnnotatedImage:
    """Clean, merge, number and link raw objects and relations into one ``AnnotatedImage``.

    Merging: an id seen twice keeps its first box and unions attributes; ids in another object's
    ``merged_object_ids`` collapse into it; same-label boxes with IoU >= ``dedupe_iou`` collapse (VG annotates
    one man several times, which would make counts and "which man" questions wrong). Numbering: per class from 1,
    ordered by box (x1, y1, x2, y2, source id), so ids do not depend on file order.
    """
    canonical: dict[str, RawObject] = {}
    alias: dict[str, str] = {}
    dropped: list[str] = []
    for raw in raw_objects:
        label = clean_label(raw.label)
        if label is None:
            dropped.append(f"{raw.source_id}:{raw.label!r}")
            continue
        key = alias.get(raw.source_id, raw.source_id)
        if key in canonical:
            canonical[key].attributes.extend(a for a in raw.attributes if a not in canonical[key].attributes)
        else:
            canonical[key] = RawObject(key, label, raw.box, list(raw.attributes))
        for merged in raw.aliases:
            if merged != key:
                alias[merged] = key
                if merged in canonical:  # seen before its merge target: fold it in now
                    folded = canonical.pop(merged)
                    canonical[key].attributes.extend(a for a in folded.attributes if a not in canonical[key].attributes)
    ordered = sorted(canonical.values(), key=lambda o: (*o.box, o.source_id))
    kept: list[RawObject] = []
    for obj in ordered:
        twin = next((k for k in kept if k.label == obj.label and _iou(k.box, obj.box) >= dedupe_iou), None)
        if twin is None:
            kept.append(obj)
        else:
            alias[obj.source_id] = twin.source_id
            twin.attributes.extend(a for a in obj.attributes if a not in twin.attributes)
    counters: dict[str, int] = {}
    objects: list[AnnotatedObject] = []
    id_of: dict[str, str] = {}
    for obj in kept:
        counters[obj.label] = counters.get(obj.label, 0) + 1
        object_id = f"{obj.label.replace(' ', '_')}.{counters[obj.label]}"
        id_of[obj.source_id] = object_id
        x1, y1, x2, y2 = obj.box
        box = (min(max(x1, 0), width), min(max(y1, 0), height), min(max(x2, 0), width), min(max(y2, 0), height))
        objects.append(AnnotatedObject(object_id, obj.label, box, tuple(obj.attributes), obj.source_id))
    relations: list[Relation] = []
    seen: set[tuple[str, str, str]] = set()
    for subject, predicate, target in raw_relations:
        s = id_of.get(alias.get(subject, subject))
        o = id_of.get(alias.get(target, target))
        pred = clean_predicate(predicate)
        if s is None or o is None or s == o or not pred or (s, pred, o) in seen:
            continue
        seen.add((s, pred, o))
        relations.append(Relation(s, pred, o))
    if dropped:
        logger.info("image %s: dropped %d objects whose label cannot form an id: %s", image_id, len(dropped), dropped[:5])
    image = AnnotatedImage(str(image_id), int(width), int(height), objects, relations, source=source)
    image.dropped = dropped
    return image


# -------------------------------------------------------------------------------------------- helpers
def _load_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise InputError(f"{path}: invalid JSON: {error}") from None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: missing or not a number (got {value!r})")
    return float(value) if isinstance(value, float) else value


def _image_size(entry: Mapping[str, Any], where: str) -> tuple[int, int]:
    """``(width, height)`` of an annotation entry: positive whole numbers (a 0 would divide boxes by zero later)."""
    sizes = []
    for field_name in ("width", "height"):
        value = _number(entry.get(field_name), f"{where}.{field_name}")
        if not math.isfinite(value) or value <= 0 or value != int(value):
            raise InputError(f"{where}.{field_name}: expected a positive whole number of pixels, got {value!r}")
        sizes.append(int(value))
    return sizes[0], sizes[1]


def _xywh_box(item: Mapping[str, Any], where: str) -> tuple[float, float, float, float]:
    if not isinstance(item, Mapping):
        raise InputError(f"{where}: must be an object")
    x, y = _number(item.get("x"), f"{where}.x"), _number(item.get("y"), f"{where}.y")
    w, h = _number(item.get("w"), f"{where}.w"), _number(item.get("h"), f"{where}.h")
    if w < 0 or h < 0:
        raise InputError(f"{where}.w/h: negative box size ({w}, {h})")
    return (x, y, x + w, y + h)


def _vg_name(item: Mapping[str, Any], where: str) -> str:
    name = item.get("name")
    if name is None and isinstance(item.get("names"), list) and item["names"]:
        name = item["names"][0]
    if not isinstance(name, str):
        raise InputError(f"{where}.name: missing (need 'name' or a non-empty 'names')")
    return name


def _vg_object(item: Mapping[str, Any], where: str) -> RawObject:
    if not isinstance(item, Mapping) or "object_id" not in item:
        raise InputError(f"{where}.object_id: missing")
    attributes = item.get("attributes") or []
    return RawObject(str(item["object_id"]), _vg_name(item, where), _xywh_box(item, where),
                     [" ".join(str(a).lower().split()) for a in attributes if isinstance(a, str)],
                     tuple(str(m) for m in item.get("merged_object_ids") or ()))


def _as_image_list(data: Any, path: Path) -> list[Mapping[str, Any]]:
    """VG files hold one image object or a list of them."""
    images = [data] if isinstance(data, Mapping) else data
    if not isinstance(images, list) or not all(isinstance(i, Mapping) for i in images):
        raise InputError(f"{path}: expected an image object or a list of image objects")
    return images


def read_visual_genome(input_dir: str | Path, relationships: str = "relationships.json",
                       objects: str = "objects.json", attributes: str = "attributes.json",
                       image_data: str = "image_data.json", dedupe_iou: float = 0.7) -> Iterator[AnnotatedImage]:
    """Read Visual Genome v1.2/1.4 files from ``input_dir`` (data.md §6); missing optional files are skipped.

    Objects are the union of ``objects.json``, ``attributes.json`` and the relationship ends; image sizes come
    from ``image_data.json``. Yields images in the order of the first file that lists them.

    Example:
        >>> image = next(read_visual_genome("../shared/data/visual_genome"))  # doctest: +SKIP
        >>> image.width, image.height
        (800, 600)
    """
    root = Path(input_dir)
    per_image: dict[str, dict[str, list]] = {}
    for name, kind in ((objects, "objects"), (attributes, "attributes"), (relationships, "relationships")):
        path = root / name
        if not path.is_file():
            continue
        for entry in _as_image_list(_load_json(path), path):
            image_id = str(entry.get("image_id", entry.get("id", "")))
            if not image_id:
                raise InputError(f"{path}: an entry has no image_id")
            slot = per_image.setdefault(image_id, {"objects": [], "relations": []})
            items = entry.get(kind)
            if not isinstance(items, list):
                raise InputError(f"{path}: image {image_id}: field {kind!r} must be a list")
            for index, item in enumerate(items):
                where = f"{path}: image {image_id}: {kind}[{index}]"
                if kind != "relationships":
                    slot["objects"].append(_vg_object(item, where))
                    continue
                if not isinstance(item, Mapping):
                    raise InputError(f"{where}: must be an object")
                subject = _vg_object(item.get("subject"), f"{where}.subject")
                target = _vg_object(item.get("object"), f"{where}.object")
                predicate = item.get("predicate")
                if not isinstance(predicate, str):
                    raise InputError(f"{where}.predicate: missing or not a string")
                slot["objects"].extend((subject, target))
                slot["relations"].append((subject.source_id, predicate, target.source_id))
    if not per_image:
        raise InputError(f"{root}: no {relationships}, {objects} or {attributes} found")
    sizes = _vg_sizes(root / image_data)
    for image_id, slot in per_image.items():
        if image_id not in sizes:
            raise InputError(f"{root / image_data}: image {image_id}: field width/height missing (no entry)")
        width, height = sizes[image_id]
        yield build_image(image_id, width, height, slot["objects"], slot["relations"], "vg", dedupe_iou)


def _vg_sizes(path: Path) -> dict[str, tuple[int, int]]:
    if not path.is_file():
        return {}
    sizes: dict[str, tuple[int, int]] = {}
    for index, entry in enumerate(_as_image_list(_load_json(path), path)):
        image_id = str(entry.get("image_id", entry.get("id")))
        where = f"{path}: image {image_id}: entry [{index}]"
        sizes[image_id] = _image_size(entry, where)
    return sizes


def read_gqa(path: str | Path, dedupe_iou: float = 0.7) -> Iterator[AnnotatedImage]:
    """Read a GQA ``scene_graphs.json`` ({image_id: {width, height, objects: {id: {...}}}}).

    Example:
        >>> [i.image_id for i in read_gqa("../shared/data/gqa/scene_graphs.json")]  # doctest: +SKIP
        ['2353884', '2320168', '2410046']
    """
    path = Path(path)
    if path.is_dir():
        path = path / "scene_graphs.json"
    data = _load_json(path)
    if not isinstance(data, Mapping):
        raise InputError(f"{path}: expected an object keyed by image id")
    for image_id, graph in data.items():
        where = f"{path}: image {image_id}"
        if not isinstance(graph, Mapping) or not isinstance(graph.get("objects"), Mapping):
            raise InputError(f"{where}: field 'objects' missing or not an object")
        width, height = _image_size(graph, where)
        raw_objects, raw_relations = [], []
        for object_id, item in graph["objects"].items():
            at = f"{where}: objects[{object_id}]"
            name = item.get("name") if isinstance(item, Mapping) else None
            if not isinstance(name, str):
                raise InputError(f"{at}.name: missing or not a string")
            attributes = [" ".join(str(a).lower().split()) for a in item.get("attributes") or []]
            raw_objects.append(RawObject(str(object_id), name, _xywh_box(item, at), attributes))
            for index, relation in enumerate(item.get("relations") or []):
                if not isinstance(relation, Mapping) or not isinstance(relation.get("name"), str):
                    raise InputError(f"{at}.relations[{index}].name: missing or not a string")
                raw_relations.append((str(object_id), relation["name"], str(relation.get("object"))))
        yield build_image(str(image_id), int(width), int(height), raw_objects, raw_relations, "gqa", dedupe_iou)


def read_vg150(source: str | Path | Iterable[Mapping[str, Any]], dedupe_iou: float = 0.7) -> Iterator[AnnotatedImage]:
    """Read the VG150 hub form: rows with ``image_id``, ``objects`` and ``relationships`` (JSON strings or lists).

    ``source`` is a parquet/JSONL/JSON file, a directory of them, or an iterable of row dicts. The size comes
    from ``width``/``height`` columns or else from the ``image`` column ({bytes} struct or PIL image).
    """
    for index, (row, origin) in enumerate(_vg150_rows(source)):
        image_id = str(row.get("image_id", index))
        where = f"{origin}: image {image_id}"
        width, height = _vg150_size(row, where)
        objects = _maybe_json(row.get("objects"), f"{where}.objects")
        relations = _maybe_json(row.get("relationships", []), f"{where}.relationships")
        raw_objects = []
        for j, item in enumerate(objects):
            at = f"{where}.objects[{j}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                raise InputError(f"{at}.id: missing or not a string")
            box = item.get("bbox")
            if not isinstance(box, (list, tuple)) or len(box) != 4:
                raise InputError(f"{at}.bbox: must be 4 numbers [x1, y1, x2, y2]")
            coords = tuple(_number(v, f"{at}.bbox") for v in box)
            raw_objects.append(RawObject(item["id"], item["id"].rsplit(".", 1)[0], coords))  # type: ignore[arg-type]
        raw_relations = []
        for j, rel in enumerate(relations):
            if not isinstance(rel, Mapping) or not all(isinstance(rel.get(k), str) for k in ("subject", "predicate", "object")):
                raise InputError(f"{where}.relationships[{j}]: subject, predicate and object must be strings")
            raw_relations.append((rel["subject"], rel["predicate"], rel["object"]))
        yield build_image(image_id, width, height, raw_objects, raw_relations, "vg150", dedupe_iou)


def _maybe_json(value: Any, where: str) -> list[Any]:
    if isinstance(value, (str, bytes)):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            raise InputError(f"{where}: invalid JSON string: {error}") from None
    if not isinstance(value, list):
        raise InputError(f"{where}: must be a list (or a JSON string of one)")
    return value


def _vg150_size(row: Mapping[str, Any], where: str) -> tuple[int, int]:
    if row.get("width") is not None and row.get("height") is not None:
        return _image_size(row, where)
    image = row.get("image")
    if image is None:
        raise InputError(f"{where}.width/height: missing and no 'image' column to read the size from")
    if hasattr(image, "size"):
        return tuple(image.size)  # type: ignore[return-value]
    import io

    from PIL import Image

    data = image.get("bytes") if isinstance(image, Mapping) else image
    if data is None and isinstance(image, Mapping) and image.get("path"):
        return Image.open(image["path"]).size
    try:
        return Image.open(io.BytesIO(data)).size
    except (OSError, TypeError) as error:
        raise InputError(f"{where}.image: cannot read the image size: {error}") from None


def _vg150_rows(source: str | Path | Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], str]]:
    if not isinstance(source, (str, Path)):
        for row in source:
            yield row, "rows"
        return
    path = Path(source)
    files = sorted(p for p in path.iterdir() if p.suffix in {".parquet", ".jsonl", ".json"}) if path.is_dir() else [path]
    for file in files:
        if file.suffix == ".parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(file).iter_batches(batch_size=256):
                for row in batch.to_pylist():
                    yield row, str(file)
        elif file.suffix == ".jsonl":
            for line_no, line in enumerate(file.read_bytes().splitlines(), 1):
                if line.strip():
                    try:
                        yield orjson.loads(line), f"{file}:{line_no}"
                    except orjson.JSONDecodeError as error:
                        raise InputError(f"{file}:{line_no}: invalid JSON: {error}") from None
        else:
            for row in _as_image_list(_load_json(file), file):
                yield row, str(file)


READERS = {"vg": read_visual_genome, "vg150": read_vg150, "gqa": read_gqa}
