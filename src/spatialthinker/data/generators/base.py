"""Shared machinery of the question generators: the per-image context, referring phrases, the reproducible option
shuffle, level/rating rules and item assembly with its RoI sub-graph.

Every random choice is drawn from ``stable_int`` (blake2b of the seed and the question), never from Python's
``hash`` (salted per process) or global random state, so the same input and seed give byte-identical datasets.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from spatialthinker.data.records import AnnotatedImage, AnnotatedObject, QAItem
from spatialthinker.data.labels import head
from spatialthinker.data.roi import named_subgraph
from spatialthinker.data.vocabulary import (
    COLOURS, INVERSE_DIRECTION, LABEL_CATEGORY, PREDICATE_DIRECTION, is_background, is_stuff, synonyms_of,
)
from spatialthinker.registry import Registry

Generator = Callable[["Context"], Iterator[QAItem]]
#: Category name -> generator; ``generate_items`` runs them in ``CATEGORIES`` order.
GENERATORS: Registry[Generator] = Registry("question category")

MIN_VISIBLE_FRACTION = 0.3  # simulated objects less visible than this are not asked about
MIN_AREA_FRACTION = 0.001  # boxes smaller than 0.1% of the image are too small to ask about
MIN_SIDE_PX = 8
MAX_AREA_FRACTION = 0.9
CONTACT_GAP = 0.02  # of the image diagonal: boxes further apart than this cannot be in contact
CONTACT_DIRECTIONS = frozenset({"on", "inside"})  # directions whose boxes must touch


def stable_int(*parts: Any) -> int:
    """A 64-bit integer from blake2b of the parts: the project's only source of "randomness" in synthesis.

    Example:
        >>> stable_int("q", 0) == stable_int("q", 0) != stable_int("q", 1)
        True
    """
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def pick(options: Sequence[Any], *parts: Any) -> Any:
    """Deterministically pick one of ``options`` keyed by ``parts``."""
    return options[stable_int(*parts) % len(options)]


def article(phrase: str) -> str:
    """``"a cup"`` / ``"an apple"`` (first-letter rule; good enough for class names)."""
    return f"{'an' if phrase[:1] in 'aeiou' else 'a'} {phrase}"


@dataclass
class Context:
    """One image prepared for the generators: per-class index, referring phrases, graph directions, skip counts."""

    image: AnnotatedImage
    seed: int = 0
    skipped: Counter = field(default_factory=Counter)
    cooccurrence: Any = None  # cooccurrence.Cooccurrence of the input corpus: plausible absent classes
    by_label: dict[str, list[AnnotatedObject]] = field(init=False)
    _refs: dict[str, str | None] = field(init=False, default_factory=dict)
    _by_id: dict[str, AnnotatedObject] = field(init=False, default_factory=dict)
    _usable: dict[str, bool] = field(init=False, default_factory=dict)
    _directions: dict[tuple[str, str], set[str]] = field(init=False)

    def __post_init__(self) -> None:
        self._by_id = {o.id: o for o in self.image.objects}
        self.by_label = {}
        for obj in self.image.objects:
            self.by_label.setdefault(obj.label, []).append(obj)
        self._directions = {}
        for rel in self.image.relations:
            direction = PREDICATE_DIRECTION.get(rel.predicate)
            if direction is None:
                continue
            self._directions.setdefault((rel.subject, rel.object), set()).add(direction)
            self._directions.setdefault((rel.object, rel.subject), set()).add(INVERSE_DIRECTION[direction])

    @property
    def has_3d(self) -> bool:
        return any(o.center_cam_m is not None or o.depth_m is not None for o in self.image.objects)

    def skip(self, category: str, reason: str) -> None:
        self.skipped[f"{category}:{reason}"] += 1

    def usable(self, obj: AnnotatedObject) -> bool:
        """Large and visible enough to ask about, and not a part, garment or body part (data.md §3 salience)."""
        known = self._usable.get(obj.id)
        if known is None:
            known = self._usable[obj.id] = self._is_usable(obj)
        return known

    def _is_usable(self, obj: AnnotatedObject) -> bool:
        x1, y1, x2, y2 = obj.bbox
        if x2 - x1 < MIN_SIDE_PX or y2 - y1 < MIN_SIDE_PX:
            return False
        if obj.area < MIN_AREA_FRACTION * self.image.width * self.image.height:
            return False
        if obj.visible_fraction is not None and obj.visible_fraction < MIN_VISIBLE_FRACTION:
            return False
        if obj.area >= MAX_AREA_FRACTION * self.image.width * self.image.height:
            return False  # a box of the whole frame names the scene ("picnic", "kitchen"), not an object
        return not is_background(obj.label)

    def object(self, object_id: str) -> AnnotatedObject | None:
        """The image's object with this id (a dict lookup; ``AnnotatedImage.object`` scans the list)."""
        return self._by_id.get(object_id)

    def touching(self, a: AnnotatedObject, b: AnnotatedObject) -> bool:
        """The boxes overlap or nearly touch: what "on", "in" or "holding" needs before the graph is believed
        (GQA states "trash can on sidewalk" for boxes 165 px apart)."""
        return box_gap(a.bbox, b.bbox) <= CONTACT_GAP * math.hypot(self.image.width, self.image.height)

    def directions(self, a: str, b: str) -> set[str]:
        """Directions of ``a`` relative to ``b`` that the graph states (either relation direction)."""
        return self._directions.get((a, b), set())

    def synonym_present(self, label: str) -> bool:
        """Another class that "the {label}" could also mean is in the image: a synonym (``person`` when asking
        about ``man``) or a kind of it named by head noun (``wine glass`` when asking about ``glass``)."""
        if any(other != label and other in self.by_label for other in synonyms_of(label)):
            return True
        return any(other != label and head(other) == label for other in self.by_label)

    def refer(self, obj: AnnotatedObject) -> str | None:
        """A phrase naming ``obj`` unambiguously (without article), or None.

        Unique class -> label; else, for 2-3
        instances whose boxes do not overlap horizontally, the position ("man on the left"); else a single-word
        attribute no other instance has ("red car"); else None.
        """
        if obj.id in self._refs:
            return self._refs[obj.id]
        phrase = self._refer(obj)
        self._refs[obj.id] = phrase
        return phrase

    def _refer(self, obj: AnnotatedObject) -> str | None:
        siblings = self.by_label[obj.label]
        if len(siblings) == 1 and not self.synonym_present(obj.label):
            return obj.name
        if self.synonym_present(obj.label):
            return None
        if len(siblings) <= 3:  # position first: boxes are complete, attribute annotations are not
            ordered = sorted(siblings, key=lambda o: o.bbox[0])
            if all(a.bbox[2] < b.bbox[0] for a, b in zip(ordered, ordered[1:])):
                names = ["on the left", "in the middle", "on the right"] if len(ordered) == 3 else ["on the left", "on the right"]
                return f"{obj.name} {names[ordered.index(obj)]}"
        colours = [{a for a in o.attributes if a in COLOURS} for o in siblings]
        if all(len(c) == 1 for c in colours) and len({next(iter(c)) for c in colours}) == len(siblings):
            return f"{next(iter(colours[siblings.index(obj)]))} {obj.name}"  # every instance a different colour
        return None

    def say(self, template: str, **objects: AnnotatedObject) -> str:
        """Fill a question template with referring phrases and verbs that agree with them.

        ``{s}`` is the phrase of ``objects["s"]``; ``{be:s}``, ``{do:s}``, ``{has:s}`` are "is"/"are",
        "does"/"do", "has"/"have"; ``{poss:s}`` the possessive ending ("'s", or "'" after a plural in -s);
        ``{it:s}`` "it"/"them". A plural label ("trees", "glasses") takes the plural forms.
        """
        def fill(match: re.Match) -> str:
            verb, key = match.group(1), match.group(2)
            obj = objects.get(key)
            if obj is None:  # a slot the caller fills itself
                return match.group(0)
            if verb is None:
                return self.refer(obj) or obj.name
            many = obj.plural
            if verb == "poss":
                return "'" if many and (self.refer(obj) or obj.name).endswith("s") else "'s"
            return _AGREEMENT[verb][many]

        text = _SLOT.sub(fill, template)
        return text[:1].upper() + text[1:]

    def category_of(self, obj: AnnotatedObject) -> str:
        return LABEL_CATEGORY.get(obj.label, "stuff" if is_stuff(obj.label) else obj.label)


_SLOT = re.compile(r"\{(?:(be|do|has|poss|it):)?([a-z]+)\}")
_AGREEMENT = {"be": ("is", "are"), "do": ("does", "do"), "has": ("has", "have"), "it": ("it", "them")}


def box_gap(p: tuple[float, ...], q: tuple[float, ...]) -> float:
    """Euclidean gap between two boxes (0 when they overlap)."""
    dx = max(0.0, max(p[0], q[0]) - min(p[2], q[2]))
    dy = max(0.0, max(p[1], q[1]) - min(p[3], q[3]))
    return math.hypot(dx, dy)


def level_from_points(points: int) -> str:
    """Difficulty points -> level: 0 easy, 1 medium, >= 2 hard (each generator documents its points)."""
    return ("easy", "medium", "hard")[min(max(points, 0), 2)]


def rate(ctx: Context, objects: Sequence[AnnotatedObject], strong_evidence: bool, weak: bool = False,
         referred: bool = False) -> int:
    """Usefulness rating 1-10 (documented in docs/data.md): 5, +2 strong evidence (explicit spatial predicate or
    exact 3D), +1 objects of different high-level categories, +1 every object >= 1% of the image, -2 weak
    evidence, -1 when a referring expression was needed."""
    rating = 5 + (2 if strong_evidence else 0) - (2 if weak else 0) - (1 if referred else 0)
    if len({ctx.category_of(o) for o in objects}) == len(objects) > 1:
        rating += 1
    if objects and all(o.area >= 0.01 * ctx.image.width * ctx.image.height for o in objects):
        rating += 1
    return max(1, min(10, rating))


def make_item(ctx: Context, category: str, question: str, answer: str, distractors: Sequence[str], level: str,
              rating: int, evidence: dict[str, Any], named: Sequence[AnnotatedObject] = (),
              max_options: int = 4) -> QAItem | None:
    """Assemble a ``QAItem``: unique options, reproducible shuffle, RoI sub-graph; None when the sub-graph is empty.

    ``named`` are the objects the question names: the RoI scene holds every instance of their classes and
    nothing else (data.md §4), whatever other words of the template happen to be labels ("picture", "side").
    The shuffle permutation is drawn from ``stable_int(seed, image_id, question)``.
    """
    options = [answer]
    for text in distractors:
        if text not in options and len(options) < max_options:
            options.append(text)
    if len(options) < 2:
        ctx.skip(category, "too_few_options")
        return None
    labels = tuple(dict.fromkeys(o.label for o in named))
    scene = named_subgraph(labels, ctx.image)
    if not scene.objects:
        ctx.skip(category, "empty_roi")
        return None
    order = list(range(len(options)))
    random.Random(stable_int(ctx.seed, ctx.image.image_id, question)).shuffle(order)
    shuffled = [options[i] for i in order]
    return QAItem(
        image_id=ctx.image.image_id, image_size=(ctx.image.width, ctx.image.height), question=question,
        options=shuffled, answer_index=order.index(0), category=category, level=level, rating=rating,
        scene=scene, evidence=evidence, named=labels,
    )
