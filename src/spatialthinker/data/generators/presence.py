"""Generators of the presence categories: ``count``, ``existence`` and ``instance_location`` (data.md §2).

Evidence rules:
- count: a class with >= 3 usable instances, countable (not stuff, parts, garments or body parts), with no
  synonym class and no plural/group label of it in the image ("bikes" next to "bike" makes a count ambiguous);
  the answer is the number of objects of that class in the graph. Simulated objects less than 30% visible make
  their class uncountable.
- existence: "yes" for a usable present class; "no" for an absent class that the input corpus shows together with
  the present classes (``cooccurrence.Cooccurrence``; the fixed ``vocabulary.CONTEXTS`` table only when a caller
  passes no corpus statistics), with no synonym, inflected form or kind of it present, anchored to the present
  object it co-occurs with most ("Is there a fork near the plate?") so the RoI sub-graph is not empty.
- instance_location: single-instance classes only; the 3x3 grid cell of the box centre, skipped when the centre is
  within 3% of a grid line or the box covers more than 40% of the image.
"""

from __future__ import annotations

from collections.abc import Iterator

from spatialthinker.data.generators.base import (
    GENERATORS, Context, article, level_from_points, make_item, pick, rate, stable_int,
)
from spatialthinker.data.records import QAItem
from spatialthinker.data.labels import head, plural
from spatialthinker.data.roi import word_forms
from spatialthinker.data.vocabulary import CONTEXTS, is_background, is_stuff, synonyms_of

COUNT_TEMPLATES = (
    "How many {p} are there in the image?",
    "How many {p} can be seen?",
    "What is the number of {p} in the picture?",
)
#: One template set for "yes" and "no" questions (separate sets would tell the answer from the wording). Each
#: names a present anchor, so that the ground-truth scene of a "no" question is not empty.
EXISTENCE_TEMPLATES = ("Besides the {r}, is there {x} in the image?", "Apart from the {r}, can you see {x} in this picture?",
                       "Other than the {r}, does the image contain {x}?")
LOCATION_TEMPLATES = (
    "In which part of the image {be:x} the {x} located?",
    "Where in the frame {be:x} the {x}?",
    "Which region of the image contains the {x}?",
)
ROWS, COLS = ("top", "middle", "bottom"), ("left", "center", "right")
GRID_MARGIN = 0.03
MAX_LOCATION_AREA = 0.4


def region_name(row: int, col: int) -> str:
    """Grid cell name: ``top left`` ... ``center`` ... ``bottom right``."""
    if row == 1 and col == 1:
        return "center"
    return f"{ROWS[row]} {COLS[col]}"


REGIONS = tuple(region_name(r, c) for r in range(3) for c in range(3))


def clip_box(box: tuple[float, ...], width: float, height: float) -> tuple[float, float, float, float]:
    """The box clipped to the image frame."""
    x1, y1, x2, y2 = box
    return min(max(x1, 0), width), min(max(y1, 0), height), min(max(x2, 0), width), min(max(y2, 0), height)


def grid_cell(cx: float, cy: float, width: float, height: float) -> tuple[int, int] | None:
    """(row, col) of a point in the 3x3 grid; None within ``GRID_MARGIN`` of a grid line (ambiguous)."""
    fx, fy = cx / width, cy / height
    for f in (fx, fy):
        if any(abs(f - line) < GRID_MARGIN for line in (1 / 3, 2 / 3)):
            return None
    return min(int(fy * 3), 2), min(int(fx * 3), 2)


def _countable(ctx: Context, label: str) -> bool:
    if is_stuff(label) or is_background(label) or ctx.synonym_present(label):
        return False
    if any(o.plural for o in ctx.by_label[label]):  # a group box ("bananas") has no count
        return False
    return not any(form in ctx.by_label for form in word_forms(label) if form != label)  # unread "cups" beside "cup"


@GENERATORS.register("count")
def count_questions(ctx: Context) -> Iterator[QAItem]:
    """How many instances of a class (>= 3 countable instances)."""
    for label, objects in sorted(ctx.by_label.items()):
        if len(objects) < 3:
            continue
        if not _countable(ctx, label) or any(o.visible_fraction is not None and o.visible_fraction < 0.3 for o in objects):
            ctx.skip("count", "not_countable")
            continue
        n = len(objects)
        question = pick(COUNT_TEMPLATES, ctx.seed, ctx.image.image_id, label).format(p=plural(label))
        distractors = [str(k) for k in (n + 1, n - 1, n + 2 if stable_int(ctx.seed, label) % 2 else n - 2) if k > 0]
        evidence = {"rule": "graph_count", "label": label, "ids": [o.id for o in objects]}
        item = make_item(ctx, "count", question, str(n), distractors, level_from_points(int(n > 4) + int(n > 7)),
                         rate(ctx, objects[:1], strong_evidence=True), evidence, objects[:1])
        if item is not None:
            yield item


@GENERATORS.register("existence")
def existence_questions(ctx: Context) -> Iterator[QAItem]:
    """One "yes" question on a present class and one "no" question on a plausible absent class."""
    present = sorted((o for o in ctx.image.objects if ctx.usable(o) and not is_stuff(o.label)),
                     key=lambda o: (-o.area, o.id))
    if not present:
        ctx.skip("existence", "no_usable_object")
        return
    target = pick(present[:5], ctx.seed, ctx.image.image_id, "existence")
    attributes = [a for a in sorted(target.attributes) if a.isalpha()]
    phrase = f"{attributes[0]} {target.label}" if attributes and stable_int(ctx.seed, target.id) % 2 else target.label
    anchors = [o for o in present if ctx.refer(o)]
    companion = next((o for o in anchors if o.label != target.label), None)
    if companion is None:
        ctx.skip("existence", "no_anchor_for_present_class")
    else:
        # the wording is keyed by the class, as for absent classes: keyed by the instance it would tell "yes"
        question = ctx.say(pick(EXISTENCE_TEMPLATES, ctx.seed, target.label), r=companion).replace("{x}", article(phrase))
        evidence = {"rule": "present_in_graph", "ids": [target.id, companion.id], "phrase": phrase}
        item = make_item(ctx, "existence", question, "yes", ["no"], "easy",
                         rate(ctx, (target, companion), strong_evidence=True), evidence, (target, companion))
        if item is not None:
            yield item
    absent = _absent_candidates(ctx)
    if not absent or not anchors:
        ctx.skip("existence", "no_plausible_absent_class")
        return
    missing, score = pick(absent[:ABSENT_SHORTLIST], ctx.seed, ctx.image.image_id, "absent")
    anchor = _anchor(ctx, missing, anchors)
    question = ctx.say(pick(EXISTENCE_TEMPLATES, ctx.seed, missing), r=anchor).replace("{x}", article(missing))
    evidence = {"rule": "absent_from_graph", "absent": missing, "anchor": anchor.id, "cooccurrence": score}
    item = make_item(ctx, "existence", question, "no", ["yes"], "medium", rate(ctx, (anchor,), strong_evidence=True),
                     evidence, (anchor,))
    if item is not None:
        yield item


#: The absent class is drawn from this many of the best co-occurring classes (variety without implausibility).
ABSENT_SHORTLIST = 5
#: An absent class must have been seen with one of the present classes in at least this many corpus images: one
#: shared image is an accident (a "pole" of a street scene proposing a traffic light to a ski slope).
MIN_SUPPORT = 2


def _absent_candidates(ctx: Context) -> list[tuple[str, float | None]]:
    """(class, co-occurrence score) of plausible absent classes, best first, that nothing present could answer."""
    labels = set(ctx.by_label)
    present_words = {w for label in labels for s in synonyms_of(label) for w in word_forms(s)}
    heads = {head(label) for label in labels}

    def answerable(c: str) -> bool:  # "Is there a glass?" is "yes" when a wine glass is present
        return (any(w in present_words for s in synonyms_of(c) for w in word_forms(s)) or c in heads
                or head(c) in labels
                or is_background(c) or is_stuff(c) or not c.replace(" ", "").isalpha())

    if ctx.cooccurrence is not None:
        return [(c, score) for c, score in ctx.cooccurrence.absent_scores(labels, MIN_SUPPORT) if not answerable(c)]
    best = max(sorted(CONTEXTS), key=lambda name: sum(any(w in present_words for w in word_forms(c))
                                                     for c in CONTEXTS[name]))
    return [(c, None) for c in CONTEXTS[best]
            if not answerable(c) and not any(c in label.split() or label in c.split() for label in labels)]


def _anchor(ctx: Context, missing: str, anchors: list) -> object:
    """The present object whose class co-occurs most with the missing class (largest first on ties)."""
    if ctx.cooccurrence is None:
        return anchors[0]
    together = ctx.cooccurrence.together
    return max(anchors, key=lambda o: (together.get(o.label, {}).get(missing, 0) / max(ctx.cooccurrence.images[o.label], 1),
                                       o.area, o.id))


@GENERATORS.register("instance_location")
def location_questions(ctx: Context) -> Iterator[QAItem]:
    """Grid region of single-instance classes."""
    width, height = ctx.image.width, ctx.image.height
    for label, objects in sorted(ctx.by_label.items()):
        obj = objects[0]
        if len(objects) != 1 or not ctx.usable(obj) or is_stuff(label) or ctx.refer(obj) != obj.name:
            continue
        if obj.area > MAX_LOCATION_AREA * width * height:
            ctx.skip("instance_location", "box_too_large")
            continue
        x1, y1, x2, y2 = clip_box(obj.bbox, width, height)  # the GT scene's box, so the answer matches it
        cell = grid_cell((x1 + x2) / 2, (y1 + y2) / 2, width, height)
        if cell is None:
            ctx.skip("instance_location", "centre_on_grid_line")
            continue
        answer = region_name(*cell)
        others = sorted((r for r in REGIONS if r != answer), key=lambda r: stable_int(ctx.seed, obj.id, r))[:3]
        adjacent = sum(_adjacent(answer, r) for r in others)
        question = ctx.say(pick(LOCATION_TEMPLATES, ctx.seed, obj.id), x=obj)
        evidence = {"rule": "box_centre_grid", "id": obj.id, "centre": [(x1 + x2) / 2, (y1 + y2) / 2]}
        item = make_item(ctx, "instance_location", question, answer, others, level_from_points(adjacent),
                         rate(ctx, (obj,), strong_evidence=True), evidence, (obj,))
        if item is not None:
            yield item


def _adjacent(a: str, b: str) -> bool:
    ia, ib = REGIONS.index(a), REGIONS.index(b)
    return max(abs(ia // 3 - ib // 3), abs(ia % 3 - ib % 3)) == 1
