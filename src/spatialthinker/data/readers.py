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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from spatialthinker.data.labels import canonical, lemma
from spatialthinker.data.records import AnnotatedImage, AnnotatedObject
from spatialthinker.errors import InputError
from spatialthinker.data.vocabulary import clean_predicate
from spatialthinker.scene import Relation

logger = logging.getLogger(__name__)

_NON_LETTERS = re.compile(r"[^a-z ]")
_PUNCTUATION = re.compile(r"[-_\"().,;:!?/]")  # separators and stray quotes annotators typed around names
ID_PATTERN = re.compile(r"^[a-zA-Z_]+\.\d+$")


def clean_label(raw: str) -> str | None:
    """Lower-case, hyphens/underscores to spaces, collapse spaces; None when the label cannot form an id.

    Example:
        >>> clean_label("  Parking_Meter "), clean_label("T-Shirt"), clean_label("7up")
        ('parking meter', 't shirt', None)
    """
    text = " ".join(_PUNCTUATION.sub(" ", str(raw).lower().replace("'", "")).split())
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
    names: tuple[str, ...] = ()  # every name the annotation offers (VG ``names``); ``label`` is the first
    synset: str | None = None  # first WordNet synset of the annotation (VG ``synsets``), e.g. "bicycle.n.01"
    plural: bool = False


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _synset_lemma(synset: str | None) -> str | None:
    """``"parking_meter.n.01"`` -> ``"parking meter"``; None for no or malformed synsets."""
    if not synset or synset.count(".") < 2:
        return None
    return clean_label(synset.rsplit(".", 2)[0])


def best_alias(names: Iterable[str], synset: str | None, frequency: Mapping[str, int] | None = None) -> str | None:
    """The best-spelled clean class label among an object's names, or None when none can form an id.

    Preference: the name whose lemma is the synset's lemma (WordNet spells it right), then the name used most
    often in the corpus (a typo such as "pluged" is rarer than "plugged"), then the annotation's order.

    Example:
        >>> best_alias(["pluged", "plugged"], None, {"plugged": 3, "pluged": 1})
        'plugged'
        >>> best_alias(["bikes", "bicycle"], "bicycle.n.01")
        'bicycle'
    """
    clean = [c for c in (clean_label(n) for n in names) if c]
    if not clean:
        return None
    target = _synset_lemma(synset)
    frequency = frequency or {}
    ranked = sorted(range(len(clean)), key=lambda i: (lemma(clean[i]) != target, -frequency.get(lemma(clean[i]), 0), i))
    return clean[ranked[0]]


def _canonical_objects(raw_objects: Iterable[RawObject], frequency: Mapping[str, int] | None,
                       dropped: list[str], merged: Counter) -> list[RawObject]:
    """Clean labels: best alias, singular lemma (plural remembered), one label per synset among one-word names."""
    objects: list[RawObject] = []
    counted: set[str] = set()  # VG repeats an object in every relation it takes part in: count it once
    for raw in raw_objects:
        names = raw.names or (raw.label,)
        label = best_alias(names, raw.synset, frequency)
        first = raw.source_id not in counted
        counted.add(raw.source_id)
        if label is None:
            if first:
                dropped.append(f"label_not_id_safe:{raw.source_id}:{raw.label!r}")
            continue
        class_label, group = canonical(label)
        if first:
            merged["alias_spelling"] += label != clean_label(names[0])
            merged["plural_form"] += class_label != label
        objects.append(RawObject(raw.source_id, class_label, raw.box, list(raw.attributes), raw.aliases, names,
                                 raw.synset, group or raw.plural))
    # One synset, several one-word classes ("bike" and "bicycle"): one class, named by the synset's lemma when
    # an object uses it, else by the label used most often.
    by_synset: dict[str, list[RawObject]] = {}
    for obj in objects:
        if obj.synset and " " not in obj.label:
            by_synset.setdefault(obj.synset, []).append(obj)
    renamed: set[str] = set()
    for synset, group in by_synset.items():
        labels = Counter(o.label for o in group)
        if len(labels) < 2:
            continue
        target = _synset_lemma(synset)
        name = target if target in labels else min(labels, key=lambda k: (-(frequency or {}).get(k, labels[k]), k))
        for obj in group:
            if obj.label != name:
                obj.label = name
                merged["synset_alias"] += obj.source_id not in renamed
                renamed.add(obj.source_id)
    return objects


def build_image(image_id: str, width: int, height: int, raw_objects: Iterable[RawObject],
                raw_relations: Iterable[tuple[str, str, str]], source: str, dedupe_iou: float = 0.7,
                frequency: Mapping[str, int] | None = None) -> AnnotatedImage:
    """Clean, merge, number and link raw objects and relations into one ``AnnotatedImage``.

    Labels: the best-spelled alias (``best_alias``), folded to its singular lemma with the group flag kept
    ("ducks" -> class "duck", plural), one class per synset among one-word labels. Merging: an id seen twice
    keeps its first box and unions attributes; ids in another object's ``merged_object_ids`` collapse into it;
    same-class boxes with IoU >= ``dedupe_iou`` collapse (VG annotates one man several times, which would make
    counts and "which man" questions wrong). Boxes are clipped to the image; an object with no area left inside
    it is dropped (``outside_image``). Numbering: per class from 1, ordered by box (x1, y1, x2, y2, source id), so
    ids do not depend on file order. ``frequency`` (lemma -> uses in the corpus) ranks aliases.
    """
    canonical_map: dict[str, RawObject] = {}
    alias: dict[str, str] = {}
    dropped: list[str] = []
    merged: Counter = Counter()
    folded_ids: set[str] = set()  # source ids folded into another object (VG repeats objects per relation)
    for raw in _canonical_objects(raw_objects, frequency, dropped, merged):
        key = alias.get(raw.source_id, raw.source_id)
        if key != raw.source_id and raw.source_id not in folded_ids:
            folded_ids.add(raw.source_id)
            merged["merged_object_ids"] += 1
        if key in canonical_map:
            canonical_map[key].attributes.extend(a for a in raw.attributes if a not in canonical_map[key].attributes)
        else:
            canonical_map[key] = raw
        for other in raw.aliases:
            if other != key:
                alias[other] = key
                if other in canonical_map:  # seen before its merge target: fold it in now
                    folded = canonical_map.pop(other)
                    folded_ids.add(other)
                    merged["merged_object_ids"] += 1
                    target = canonical_map[key]
                    target.attributes.extend(a for a in folded.attributes if a not in target.attributes)
    inside: list[RawObject] = []
    for obj in canonical_map.values():
        x1, y1, x2, y2 = obj.box
        box = (min(max(x1, 0), width), min(max(y1, 0), height), min(max(x2, 0), width), min(max(y2, 0), height))
        if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
            dropped.append(f"outside_image:{obj.source_id}:{obj.label!r}")
            continue
        obj.box = box
        inside.append(obj)
    ordered = sorted(inside, key=lambda o: (*o.box, o.source_id))
    kept: list[RawObject] = []
    for obj in ordered:
        twin = next((k for k in kept if k.label == obj.label and _iou(k.box, obj.box) >= dedupe_iou), None)
        if twin is None:
            kept.append(obj)
        else:
            merged["iou_duplicate"] += 1
            alias[obj.source_id] = twin.source_id
            twin.attributes.extend(a for a in obj.attributes if a not in twin.attributes)
            twin.plural = twin.plural or obj.plural
    counters: dict[str, int] = {}
    objects: list[AnnotatedObject] = []
    id_of: dict[str, str] = {}
    for obj in kept:
        counters[obj.label] = counters.get(obj.label, 0) + 1
        object_id = f"{obj.label.replace(' ', '_')}.{counters[obj.label]}"
        id_of[obj.source_id] = object_id
        objects.append(AnnotatedObject(object_id, obj.label, obj.box, tuple(obj.attributes), obj.source_id,
                                       plural=obj.plural))
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
        logger.info("image %s: dropped %d objects: %s", image_id, len(dropped), dropped[:5])
    image = AnnotatedImage(str(image_id), int(width), int(height), objects, relations, source=source)
    image.dropped = dropped
    image.merged = {k: v for k, v in sorted(merged.items()) if v}
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
    names = item.get("names")
    names = tuple(n for n in names if isinstance(n, str)) if isinstance(names, list) else ()
    if isinstance(item.get("name"), str):
        names = (item["name"], *(n for n in names if n != item["name"]))
    synsets = item.get("synsets")
    synset = synsets[0] if isinstance(synsets, list) and synsets and isinstance(synsets[0], str) else None
    return RawObject(str(item["object_id"]), _vg_name(item, where), _xywh_box(item, where),
                     [" ".join(str(a).lower().split()) for a in attributes if isinstance(a, str)],
                     tuple(str(m) for m in item.get("merged_object_ids") or ()), names, synset)


def _as_image_list(data: Any, path: Path) -> list[Mapping[str, Any]]:
    """VG files hold one image object or a list of them."""
    images = [data] if isinstance(data, Mapping) else data
    if not isinstance(images, list) or not all(isinstance(i, Mapping) for i in images):
        raise InputError(f"{path}: expected an image object or a list of image objects")
    return images


def read_visual_genome(input_dir: str | Path, relationships: str = "relationships.json",
                       objects: str = "objects.json", attributes: str = "attributes.json",
                       image_data: str = "image_data.json", dedupe_iou: float = 0.7,
                       size_of: Callable[[str], tuple[int, int] | None] | None = None) -> Iterator[AnnotatedImage]:
    """Read Visual Genome v1.2/1.4 files from ``input_dir`` (data.md §6); missing optional files are skipped.

    Objects are the union of ``objects.json``, ``attributes.json`` and the relationship ends; image sizes come
    from ``image_data.json``, else from ``size_of(image_id)`` (the pipeline reads the stored image's header).
    Aliases are ranked by how often the corpus uses each name. Yields images in the order of the first file
    that lists them.

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
    frequency = name_frequency(obj for slot in per_image.values() for obj in {o.source_id: o for o in slot["objects"]}.values())
    for image_id, slot in per_image.items():
        size = sizes.get(image_id) or (size_of(image_id) if size_of is not None else None)
        if size is None:
            raise InputError(f"{root / image_data}: image {image_id}: field width/height missing (no entry, and no "
                             f"image file to read the size from)")
        yield build_image(image_id, size[0], size[1], slot["objects"], slot["relations"], "vg", dedupe_iou, frequency)


def name_frequency(objects: Iterable[RawObject]) -> Counter:
    """Lemma -> number of objects of the corpus that the annotation names so (ranks spellings of aliases)."""
    counts: Counter = Counter()
    for obj in objects:
        for name in set(obj.names or (obj.label,)):
            clean = clean_label(name)
            if clean:
                counts[lemma(clean)] += 1
    return counts


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
