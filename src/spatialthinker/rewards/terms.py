"""The per-response reward terms that need no box maths: format, count, accuracy, plus image-size and GT reading.

Each term reads the one ``ParsedResponse`` of a completion (style.md §6.3: one validity verdict for every term)
and none of them raises on model text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from spatialthinker.prompts import TAGS, ParsedResponse, parse_ground_truth, parse_image_size, parse_response
from spatialthinker.scene import STRICT, ParseOptions, SceneGraph, as_finite_float, normalize_label

from .config import RewardConfig

_SIZE_TEXT = re.compile(r"(\d{1,7}(?:\.\d+)?)\s*[x×X*,]\s*(\d{1,7}(?:\.\d+)?)")
_LENIENT_IDS = ParseOptions(lenient_ids=True)


def coerce_image_size(value: Any) -> tuple[float, float] | None:
    """``(W, H)`` as positive finite floats from a tuple, list, array, dict or text; None when unusable.

    A missing or non-positive size cannot normalise boxes, so the caller scores the spatial term 0 (the
    reference crashed instead).

    Example:
        >>> coerce_image_size("(640 x 480)"), coerce_image_size([640, 0]), coerce_image_size(None)
        ((640.0, 480.0), None, None)
    """
    if value is None:
        return None
    if isinstance(value, dict):
        if "width" in value and "height" in value:
            value = (value.get("width"), value.get("height"))
        else:
            return coerce_image_size(value.get("image_size"))
    if isinstance(value, (str, bytes)):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if "Image size" in text:
            return parse_image_size(text)
        match = _SIZE_TEXT.search(text[:200])
        if not match:
            return None
        value = (float(match.group(1)), float(match.group(2)))
    try:
        items = list(value)  # tuples, lists, numpy arrays, tensors
    except TypeError:
        return None
    if len(items) != 2:
        return None
    width, height = (as_finite_float(item.item() if hasattr(item, "item") else item) for item in items)
    if width is None or height is None or width <= 0 or height <= 0:
        return None
    return width, height


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """A parsed STVQA ground truth, reduced to what scoring needs. Cached: GRPO repeats each GT per generation."""

    names: tuple[str, ...]  # normalised labels, graph order (capped at max_objects)
    ids: tuple[str, ...]  # object ids, same order
    boxes: tuple[tuple[float, float, float, float], ...]  # pixels, corners sorted
    n_objects: int  # real number of objects (count term)
    n_relations: int
    relations: frozenset[tuple[str, str, str]]  # (subject id, normalised predicate, object id)
    answer: str | None  # stripped, as written
    errors: tuple[str, ...]
    answer_key: str | None = None  # stripped and lower-cased: the exact-match key

    def __post_init__(self) -> None:
        object.__setattr__(self, "answer_key", self.answer.strip().lower() if self.answer else None)


def normalize_predicate(predicate: str) -> str:
    return " ".join(predicate.replace("_", " ").lower().split())


def read_ground_truth(ground_truth: Any, max_objects: int = 64) -> GroundTruth:
    """Parse (and cache) an STVQA ground truth string; never raises. A missing scene means no objects."""
    if not isinstance(ground_truth, str):
        return GroundTruth((), (), (), 0, 0, frozenset(), None, ("ground truth is not a string",))
    return _read_ground_truth(ground_truth, max_objects)


@functools.lru_cache(maxsize=8192)
def _read_ground_truth(ground_truth: str, max_objects: int) -> GroundTruth:
    scene, answer = parse_ground_truth(ground_truth)
    errors = []
    if answer is None or not answer.strip():
        errors.append("ground truth has no answer")
    if scene is None and "<scene>" in ground_truth:
        errors.append("ground truth scene is invalid: scored as a scene with no objects")
    objects = scene.objects if scene is not None else ()
    relations = scene.relations if scene is not None else ()
    kept = objects[:max_objects]
    boxes = []
    for obj in kept:
        x1, y1, x2, y2 = map(float, obj.bbox)
        boxes.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    ids = tuple([obj.id for obj in kept])
    return GroundTruth(
        names=tuple([_label(object_id) for object_id in ids]), ids=ids, boxes=tuple(boxes),
        n_objects=len(objects), n_relations=len(relations),
        relations=frozenset((r.subject, normalize_predicate(r.predicate), r.object) for r in relations),
        answer=answer.strip() if answer else None, errors=tuple(errors))


def scene_options(config: RewardConfig) -> ParseOptions:
    """The scene-graph rules the config asks for: the reference's strict ids, or lenient ids."""
    return _LENIENT_IDS if config.lenient_ids else STRICT


def parse_for_reward(response: Any, config: RewardConfig) -> ParsedResponse:
    """``parse_response`` with the scene options the config asks for."""
    return parse_response(response, TAGS, scene_options(config))


def format_reward(parsed: ParsedResponse, config: RewardConfig) -> float:
    """R_f in {0, 1}: four tags exactly once (in order if ``strict_order``) and a valid scene graph."""
    if not parsed.tags_ok or parsed.scene is None:
        return 0.0
    return 0.0 if config.strict_order and not parsed.in_order else 1.0


def _ratio(predicted: int, expected: int) -> float:
    return max(0.0, 1.0 - abs(predicted - expected) / max(expected, 1))


def count_reward(n_pred_objects: int, n_pred_relations: int, gt: GroundTruth, config: RewardConfig) -> float:
    """R_c = λ_obj·obj + (1-λ_obj)·rel, or obj alone when the GT has no relations (method.md §4).

    Example:
        >>> gt = GroundTruth((), (), (), 2, 1, frozenset(), "(A) a", ())
        >>> round(count_reward(3, 1, gt, RewardConfig()), 4)   # 0.7 * 0.5 + 0.3 * 1
        0.65
    """
    obj = _ratio(n_pred_objects, gt.n_objects)
    if gt.n_relations == 0:
        return obj
    share = config.count_object_share
    return share * obj + (1.0 - share) * _ratio(n_pred_relations, gt.n_relations)


_LETTER_IN_PARENS = re.compile(r"\(\s*([A-Za-z])\s*\)")
_BARE_LETTER = re.compile(r"^\(?\s*([A-Za-z])\s*[).:]?$")
_GT_ANSWER = re.compile(r"^\(\s*([A-Za-z])\s*\)\s*(.*)$", re.S)


def _plain(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .!?;:,'\"")


def accuracy_reward(answer: str | None, gt_answer: str | None, mode: str = "exact") -> float:
    """R_a in {0, 1}. ``exact``: strip + lower-case equality of the whole ``(X) text`` (the reference).

    ``option``: the right letter (``B``, ``(B)``, ``B.``), the exact option text (``behind``), or both
    (``(B) behind.``); naming two different letters, or the right letter with another option's text, scores 0.
    An empty answer never scores.

    Example:
        >>> accuracy_reward(" (B) Behind ", "(B) behind"), accuracy_reward("B", "(B) behind", "option")
        (1.0, 1.0)
    """
    if not answer or not gt_answer or not answer.strip():
        return 0.0
    if mode == "exact":
        return float(answer.strip().lower() == gt_answer.strip().lower())
    match = _GT_ANSWER.match(gt_answer.strip())
    gt_letter, gt_text = (match.group(1).upper(), _plain(match.group(2))) if match else (None, _plain(gt_answer))
    text = answer.strip()
    letters = {m.upper() for m in _LETTER_IN_PARENS.findall(text)}
    if len(letters) > 1:
        return 0.0
    if len(letters) == 1:
        rest = _plain(_LETTER_IN_PARENS.sub(" ", text, count=1))
        return float(letters == {gt_letter} and rest in ("", gt_text))
    bare = _BARE_LETTER.match(text)
    if bare:
        return float(bare.group(1).upper() == gt_letter)
    return float(bool(gt_text) and _plain(text) == gt_text)


def pred_objects(scene: SceneGraph | ParsedResponse | None, max_objects: int
                 ) -> tuple[list[str], list[str], list[tuple[float, ...]]]:
    """(normalised labels, ids, pixel boxes) of the first ``max_objects`` objects of a valid scene.

    Takes the scene itself, or the ``ParsedResponse`` holding it.
    """
    if isinstance(scene, ParsedResponse):
        scene = scene.scene
    if scene is None:
        return [], [], []
    kept = scene.objects[:max_objects]
    # A valid scene's boxes are already well formed (x1 <= x2, y1 <= y2; lenient parsing sorts inverted
    # corners), so they go to NumPy as they are.
    return [_label(obj.id) for obj in kept], [obj.id for obj in kept], [obj.bbox for obj in kept]


# Labels repeat across a batch ("man.1", "cup.2"): normalising each distinct id once saves a regex per object.
_label = functools.lru_cache(maxsize=65536)(normalize_label)
