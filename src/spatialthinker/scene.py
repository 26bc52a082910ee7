"""The one scene-graph data model: objects (``label.N`` id + pixel box) and relations, with JSON in and out.

Synthesis writes it, the reward scores it, evaluation and the viewer read it. ``SceneGraph.parse`` is the only
definition of a *valid* graph in the codebase: it never raises on model text and returns the reasons a graph was
rejected, so every reward term sees the same verdict (the reference code checked validity three slightly different
ways, one per term).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

SCHEMA_VERSION = 1

# Id patterns are applied with ``fullmatch`` (the reference's ``re.fullmatch``): ``^...$`` with ``match`` would let
# a trailing newline through (``"cup.1\n"``).
#: Object ids the reference accepts: letters/underscores, a dot, digits (``traffic_light.1``, not ``traffic light.1``).
STRICT_ID_PATTERN = re.compile(r"[a-zA-Z_]+\.\d+")
#: Lenient ids also allow spaces, hyphens and inner digits in the label (``traffic light.1``, ``t-shirt.2``).
LENIENT_ID_PATTERN = re.compile(r"[a-zA-Z_][a-zA-Z0-9_ \-]*\.\d+")
#: Ground truth is trusted data: any string is an id (``3d_glasses.1``, ``st.bernard.1``, a bare ``cup``), as in the
#: reference, which validates only the model's objects.
ANY_ID_PATTERN = re.compile(r".*", re.S)

_SUFFIX = re.compile(r"\.\d+$")
_SEPARATORS = str.maketrans({"_": " ", "-": " "})

Box = tuple[float, float, float, float]


def normalize_label(id_or_label: str) -> str:
    """Canonical class label: drop the ``.N`` suffix, ``_``/``-`` to spaces, strip, lower-case.

    Example:
        >>> normalize_label("Traffic_Light.12")
        'traffic light'
    """
    return " ".join(_SUFFIX.sub("", id_or_label).translate(_SEPARATORS).lower().split())


def load_json(text: str) -> tuple[Any, str | None]:
    """Parse JSON without ever raising: returns ``(value, None)`` or ``(None, reason)``.

    orjson is the fast path. The standard library is the fallback so that inputs orjson refuses but Python's
    ``json`` accepts (``NaN``, ``Infinity``, integers beyond 64 bits, lone surrogates) get the same verdict the
    reference implementation reached; the validators then reject the non-finite numbers themselves.
    """
    try:
        return orjson.loads(text), None
    except orjson.JSONDecodeError as error:
        # Retry with the standard library only where it reaches another verdict or a clearer reason: NaN and
        # Infinity literals, numbers too large for a double (1e999, 400 digits), escaped lone surrogates.
        # Everything else (truncated or garbled text) fails there too, and its error path is slow enough to
        # matter when a third of a batch is malformed.
        message = str(error)
        if not ("NaN" in text or "Infinity" in text or "infinity" in message or "surrogate" in message):
            return None, f"invalid JSON: {message[:120]}"
    except TypeError:
        pass
    try:
        return json.loads(text), None
    except (ValueError, RecursionError, TypeError, MemoryError) as error:  # ValueError covers JSONDecodeError
        return None, f"invalid JSON: {type(error).__name__}: {str(error)[:120]}"


def as_finite_float(value: Any) -> float | None:
    """``float(value)`` for real, finite, non-boolean numbers; None otherwise (NaN, inf, 1e999, 10**400, "3")."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class SceneObject:
    """One object of a scene: ``id`` is ``label.N``; ``bbox`` is ``[x1, y1, x2, y2]`` in pixels of the stated size."""

    id: str
    bbox: Box

    @property
    def label(self) -> str:
        """Class label as written in the id, without the ``.N`` suffix (``"traffic_light.1"`` -> ``"traffic_light"``)."""
        return self.id.rsplit(".", 1)[0]

    @property
    def name(self) -> str:
        """Normalised label used for matching and for question text (``"traffic light"``)."""
        return normalize_label(self.id)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "bbox": list(self.bbox)}


@dataclass(frozen=True, slots=True)
class Relation:
    """A directed relation ``subject --predicate--> object`` between two object ids."""

    subject: str
    predicate: str
    object: str

    def to_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "predicate": self.predicate, "object": self.object}


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """How strictly ``SceneGraph.parse`` reads a graph. The defaults are the reward's format rules (method.md §4)."""

    lenient_ids: bool = False  # also accept spaces, hyphens and inner digits in labels
    allow_extra_keys: bool = False  # the reference rejects object keys other than id/bbox
    repair_inverted_boxes: bool = False  # sort x1/x2, y1/y2 instead of rejecting an inverted box
    require_known_ids: bool = False  # relation ends must be ids of listed objects (reference: id pattern only)
    any_ids: bool = False  # any string is an id (ground truth; overrides lenient_ids)
    allow_duplicate_ids: bool = False  # keep every object of a repeated id (ground truth; the reference keeps them)


STRICT = ParseOptions()
LENIENT = ParseOptions(lenient_ids=True, allow_extra_keys=True, repair_inverted_boxes=True)
#: How ground truths are read: nothing in trusted data is dropped for its id (see docs/rewards.md).
GROUND_TRUTH = ParseOptions(allow_extra_keys=True, repair_inverted_boxes=True, any_ids=True, allow_duplicate_ids=True)


def id_pattern(options: ParseOptions) -> re.Pattern[str]:
    """The object-id pattern ``options`` ask for (applied with ``fullmatch``)."""
    if options.any_ids:
        return ANY_ID_PATTERN
    return LENIENT_ID_PATTERN if options.lenient_ids else STRICT_ID_PATTERN


@dataclass(frozen=True, slots=True)
class SceneGraph:
    """A scene graph: objects and relations. Immutable; build new graphs with ``subgraph`` / ``clipped``."""

    objects: tuple[SceneObject, ...] = ()
    relations: tuple[Relation, ...] = ()
    _index: dict[str, int] = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if type(self.objects) is not tuple:
            object.__setattr__(self, "objects", tuple(self.objects))
        if type(self.relations) is not tuple:
            object.__setattr__(self, "relations", tuple(self.relations))
        # The id index is built on first ``get``: the reward parses thousands of graphs and never looks one up.
        object.__setattr__(self, "_index", None)

    # ---------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, text: str | dict[str, Any], options: ParseOptions = STRICT) -> tuple[SceneGraph | None, list[str]]:
        """Parse the JSON inside ``<scene>...</scene>`` (or an already decoded dict).

        Never raises on model output: an invalid graph gives ``(None, reasons)``. Rules (method.md §4, with the
        project's fixes): a non-empty JSON object; ``objects``/``relationships`` missing means empty, otherwise
        lists; each object has a ``label.N`` id and a bbox of 4 finite real numbers with x1 <= x2 and y1 <= y2;
        each relation has string subject, predicate and object, the ends being ids; no duplicate object ids.

        Example:
            >>> graph, reasons = SceneGraph.parse('{"objects": [{"id": "cup.1", "bbox": [1, 2, 3, 4]}]}')
            >>> graph.objects[0].label, reasons
            ('cup', [])
        """
        if isinstance(text, str):
            data, error = load_json(text.strip())
            if error:
                return None, [error]
        else:
            data = text
        if not isinstance(data, dict) or not data:
            return None, ["scene must be a non-empty JSON object"]
        return _build_graph(data, options)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | str, options: ParseOptions = LENIENT, where: str = "scene") -> SceneGraph:
        """Parse trusted input (datasets, files); raise ``ValueError`` naming ``where`` and every problem."""
        graph, reasons = cls.parse(data, options)
        if graph is None:
            raise ValueError(f"{where}: invalid scene graph: {'; '.join(reasons[:5])}")
        return graph

    # ----------------------------------------------------------- serialising
    def to_dict(self) -> dict[str, Any]:
        return {"objects": [o.to_dict() for o in self.objects], "relationships": [r.to_dict() for r in self.relations]}

    def to_json(self) -> str:
        """STVQA serialisation: ``json.dumps`` with default separators, keys in ``objects``, ``relationships`` order."""
        return json.dumps(self.to_dict())

    # -------------------------------------------------------------- queries
    def __len__(self) -> int:
        return len(self.objects)

    def get(self, object_id: str) -> SceneObject | None:
        if self._index is None:
            object.__setattr__(self, "_index", {o.id: i for i, o in enumerate(self.objects)})
        index = self._index.get(object_id)
        return None if index is None else self.objects[index]

    @property
    def ids(self) -> list[str]:
        return [o.id for o in self.objects]

    def boxes(self) -> Any:
        """Boxes as a float64 array, shape ``(N, 4)`` xyxy pixels."""
        import numpy as np

        return np.asarray([o.bbox for o in self.objects], dtype=np.float64).reshape(-1, 4)

    def subgraph(self, keep_ids: set[str] | list[str]) -> SceneGraph:
        """Objects in ``keep_ids`` (in graph order) and the relations whose both ends are kept."""
        keep = set(keep_ids)
        objects = [o for o in self.objects if o.id in keep]
        relations = [r for r in self.relations if r.subject in keep and r.object in keep]
        return SceneGraph(tuple(objects), tuple(relations))

    def clipped(self, width: float, height: float) -> SceneGraph:
        """Boxes clipped to the image ``[0, W] x [0, H]``; integer boxes stay integers."""
        def clip(value: float, high: float) -> float:
            return type(value)(min(max(value, 0), high)) if isinstance(value, int) else min(max(value, 0.0), high)

        objects = tuple(
            SceneObject(o.id, (clip(o.bbox[0], width), clip(o.bbox[1], height), clip(o.bbox[2], width), clip(o.bbox[3], height)))
            for o in self.objects
        )
        return SceneGraph(objects, self.relations)


_BIG = 1e308  # |v| < _BIG: finite and convertible to float (larger finite values take the slow path)
# Building a frozen dataclass through its __init__ costs a __setattr__ detour per field; the validated fast path
# fills the slots directly (same object, same equality and hashing).
_new_object = object.__new__
_set_id = SceneObject.id.__set__  # type: ignore[attr-defined]
_set_bbox = SceneObject.bbox.__set__  # type: ignore[attr-defined]
_set_subject = Relation.subject.__set__  # type: ignore[attr-defined]
_set_predicate = Relation.predicate.__set__  # type: ignore[attr-defined]
_set_target = Relation.object.__set__  # type: ignore[attr-defined]
_set_objects = SceneGraph.objects.__set__  # type: ignore[attr-defined]
_set_relations = SceneGraph.relations.__set__  # type: ignore[attr-defined]
_set_index = SceneGraph._index.__set__  # type: ignore[attr-defined]

# Ids known to match each pattern: the same few ids ("man.1") recur across a whole batch, and a set membership test
# is cheaper than a regex match. Only valid ids are remembered; an invalid one is re-checked by the slow path,
# which names the reason anyway.
_VALID_IDS: dict[re.Pattern[str], set[str]] = {}


def _valid_ids(pattern: re.Pattern[str]) -> set[str]:
    known = _VALID_IDS.setdefault(pattern, set())
    if len(known) > 100_000:  # bounded: model output may invent endless ids
        known.clear()
    return known


def _check_id(known: set[str], pattern: re.Pattern[str], object_id: str) -> bool:
    """Whether ``object_id`` matches ``pattern``, remembering it in ``known`` when it does."""
    if pattern.fullmatch(object_id) is None:
        return False
    known.add(object_id)
    return True


def _build_graph(data: dict[str, Any], options: ParseOptions) -> tuple[SceneGraph | None, list[str]]:
    """Validate a decoded scene dict into a ``SceneGraph`` (or the list of reasons it is invalid)."""
    reasons: list[str] = []
    raw_objects = data.get("objects", [])
    raw_relations = data.get("relationships", [])
    if not isinstance(raw_objects, list):
        reasons.append("'objects' must be a list")
        raw_objects = []
    if not isinstance(raw_relations, list):
        reasons.append("'relationships' must be a list")
        raw_relations = []
    pattern = id_pattern(options)
    known = _valid_ids(pattern)
    unique = not options.allow_duplicate_ids
    extra_ok = options.allow_extra_keys
    big = _BIG
    objects: list[SceneObject] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_objects):
        # Fast path for a well-formed object (the common case, so it avoids function calls); anything else goes
        # through _parse_object, which gives the exact reason or applies a lenient repair.
        # (len 2 with both keys present means exactly {"id", "bbox"}; a missing key fails the type checks.)
        if type(raw) is dict and (extra_ok or len(raw) == 2):
            object_id, bbox = raw.get("id"), raw.get("bbox")
            if (type(object_id) is str and type(bbox) is list and len(bbox) == 4 and not (unique and object_id in seen)
                    and (object_id in known or _check_id(known, pattern, object_id))):
                x1, y1, x2, y2 = bbox
                t1, t2, t3, t4 = type(x1), type(y1), type(x2), type(y2)
                # `type is` rather than isinstance(): bool is an int subclass and must be refused (fix (a)).
                # The exact int/float comparisons are False for NaN: only finite values that convert to float
                # (|v| < 1e308) with ordered corners pass. Anything else takes the slow path for its verdict.
                if ((t1 is float or t1 is int) and (t2 is float or t2 is int) and (t3 is float or t3 is int)
                        and (t4 is float or t4 is int) and -big < x1 <= x2 < big and -big < y1 <= y2 < big):
                    seen.add(object_id)
                    obj = _new_object(SceneObject)
                    _set_id(obj, object_id)
                    _set_bbox(obj, (x1, y1, x2, y2))
                    objects.append(obj)
                    continue
        obj, problem = _parse_object(raw, pattern, options)
        if problem:
            reasons.append(f"objects[{index}]: {problem}")
            if len(reasons) > 20:
                break
            continue
        if unique and obj.id in seen:
            reasons.append(f"objects[{index}]: duplicate id {obj.id!r}")
            continue
        seen.add(obj.id)
        objects.append(obj)
    relations: list[Relation] = []
    for index, raw in enumerate(raw_relations):
        if reasons and len(reasons) > 20:
            break
        if type(raw) is not dict and not isinstance(raw, dict):
            reasons.append(f"relationships[{index}]: must be an object")
            continue
        subject, predicate, target = raw.get("subject"), raw.get("predicate"), raw.get("object")
        if not (type(subject) is str and type(predicate) is str and type(target) is str):
            if not (isinstance(subject, str) and isinstance(predicate, str) and isinstance(target, str)):
                reasons.append(f"relationships[{index}]: subject, predicate and object must be strings")
                continue
        if not ((subject in known or _check_id(known, pattern, subject))
                and (target in known or _check_id(known, pattern, target))):
            reasons.append(f"relationships[{index}]: subject and object must be object ids")
            continue
        if options.require_known_ids and (subject not in seen or target not in seen):
            reasons.append(f"relationships[{index}]: refers to an unknown object id")
            continue
        relation = _new_object(Relation)
        _set_subject(relation, subject)
        _set_predicate(relation, predicate)
        _set_target(relation, target)
        relations.append(relation)
    if reasons:
        return None, reasons
    graph = _new_object(SceneGraph)  # what SceneGraph(tuple(objects), tuple(relations)) builds, minus __init__
    _set_objects(graph, tuple(objects))
    _set_relations(graph, tuple(relations))
    _set_index(graph, None)
    return graph, []


def _parse_object(raw: Any, pattern: re.Pattern[str], options: ParseOptions) -> tuple[SceneObject | None, str | None]:
    if not isinstance(raw, dict):
        return None, "must be an object"
    if not options.allow_extra_keys and set(raw) - {"id", "bbox"}:
        return None, f"unexpected keys {sorted(set(raw) - {'id', 'bbox'})[:3]} (only 'id' and 'bbox' are allowed)"
    object_id, bbox = raw.get("id"), raw.get("bbox")
    if not isinstance(object_id, str) or not pattern.fullmatch(object_id):
        return None, f"id must look like 'label.N', got {str(object_id)[:40]!r}"
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return None, "bbox must be a list of 4 numbers"
    floats = [as_finite_float(v) for v in bbox]
    if any(v is None for v in floats):
        return None, "bbox values must be finite real numbers"
    x1, y1, x2, y2 = bbox
    if floats[0] > floats[2] or floats[1] > floats[3]:
        if not options.repair_inverted_boxes:
            return None, "bbox must satisfy x1 <= x2 and y1 <= y2"
        x1, x2 = (x2, x1) if floats[0] > floats[2] else (x1, x2)
        y1, y2 = (y2, y1) if floats[1] > floats[3] else (y1, y2)
    return SceneObject(object_id, (x1, y1, x2, y2)), None
