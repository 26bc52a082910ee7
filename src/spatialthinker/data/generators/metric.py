"""Generators of the metric categories: ``depth``, ``distance`` and ``size`` (data.md §2).

The reference let an LLM guess these from 2D boxes (data.md §5). Here each question needs evidence:
- depth: 3D -> depths differ by >= 0.3 m and >= 15% of the nearer depth. 2D -> only an explicit front/behind
  predicate between the two objects (VG "behind" is annotated from the viewer's side).
- distance: 3D -> centre distances to the referent differ by a ratio >= 1.5 and >= 0.3 m. 2D -> one object is in
  contact with the referent (on/inside/holding... predicate, either direction) and the other has no relation to
  it and a box separated from the referent's by >= 15% of the image diagonal (touching objects project to
  adjoining boxes, so it cannot be touching it).
- size: 3D -> volume ratio >= 1.5 (bigger/smaller). 2D -> only *apparent* size, asked as
  such ("appears larger in the image"), from a box-area ratio >= 2.
3D fields (records.AnnotatedObject): ``depth_m`` (camera-to-object distance, else ``center_cam_m[2]``),
``center_cam_m`` (OpenCV camera frame), ``size_m`` (width, height, depth of the object, height vertical).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from spatialthinker.data.generators.base import (
    CONTACT_DIRECTIONS, GENERATORS, Context, box_gap, level_from_points, make_item, pick, rate, stable_int,
)
from spatialthinker.data.records import AnnotatedObject, QAItem
from spatialthinker.data.vocabulary import PREDICATE_DIRECTION, REACH_VERBS, is_stuff

DEPTH_MIN_M, DEPTH_MIN_REL = 0.3, 0.15
DISTANCE_MIN_RATIO, DISTANCE_MIN_M = 1.5, 0.3
VOLUME_MIN_RATIO, APPARENT_MIN_RATIO = 1.5, 2.0
MAX_PAIRS = 6  # per category and image: enough variety without one image dominating

DEPTH_TEMPLATES = (
    ("Which is closer to the camera, the {a} or the {b}?", "closer"),
    ("Which of these is nearer to the viewer: the {a} or the {b}?", "closer"),
    ("Which is farther from the camera, the {a} or the {b}?", "farther"),
    ("Which object is further away from the viewer, the {a} or the {b}?", "farther"),
)
DISTANCE_TEMPLATES = (
    "Which is closer to the {r}, the {a} or the {b}?",
    "Which of the two is nearer to the {r}: the {a} or the {b}?",
    "Measuring from the {r}, which is closer: the {a} or the {b}?",
)
SIZE_3D_TEMPLATES = (
    ("Which is bigger in real life, the {a} or the {b}?", "bigger"),
    ("{be:a} the {a} bigger or smaller than the {b}?", "comparative"),
    ("Which object is smaller, the {a} or the {b}?", "smaller"),
)
APPARENT_TEMPLATES = (
    ("Which appears larger in the image, the {a} or the {b}?", "bigger"),
    ("{do:a} the {a} look bigger or smaller than the {b} in the picture?", "comparative"),
    ("Which takes up less of the image, the {a} or the {b}?", "smaller"),
)


def _depth(obj: AnnotatedObject) -> float | None:
    if obj.depth_m is not None:
        return float(obj.depth_m)
    return float(obj.center_cam_m[2]) if obj.center_cam_m is not None else None


def _pairs(ctx: Context, objects: list[AnnotatedObject], category: str) -> list[tuple[AnnotatedObject, AnnotatedObject]]:
    """All pairs with distinct referring phrases, ordered reproducibly (so the MAX_PAIRS cut is stable)."""
    pairs = [(a, b) for i, a in enumerate(objects) for b in objects[i + 1:] if ctx.refer(a) != ctx.refer(b)]
    return sorted(pairs, key=lambda p: stable_int(ctx.seed, ctx.image.image_id, category, p[0].id, p[1].id))


def _referable(ctx: Context, require=None) -> list[AnnotatedObject]:
    return [o for o in ctx.image.objects if ctx.usable(o) and not is_stuff(o.label) and ctx.refer(o)
            and (require is None or require(o))]


@GENERATORS.register("depth")
def depth_questions(ctx: Context) -> Iterator[QAItem]:
    """Which of two objects is closer to (or farther from) the camera."""
    if ctx.has_3d:
        made = 0
        for a, b in _pairs(ctx, _referable(ctx, lambda o: _depth(o) is not None), "depth"):
            da, db = _depth(a), _depth(b)
            near, far = (a, b) if da < db else (b, a)
            diff, rel = abs(da - db), abs(da - db) / max(min(da, db), 1e-6)
            if diff < DEPTH_MIN_M or rel < DEPTH_MIN_REL:
                ctx.skip("depth", "depth_margin_too_small")
                continue
            evidence = {"rule": "depth_3d", "depth_m": {a.id: round(da, 4), b.id: round(db, 4)}}
            item = _two_choice(ctx, "depth", a, b, near, far, evidence, level_from_points((rel < 0.5) + (rel < 0.25)))
            if item is not None:
                made += 1
                yield item
            if made >= MAX_PAIRS:
                return
        return
    for rel in ctx.image.relations:
        direction = PREDICATE_DIRECTION.get(rel.predicate)
        s, o = ctx.object(rel.subject), ctx.object(rel.object)
        if direction not in ("front", "behind") or s is None or o is None or not (ctx.usable(s) and ctx.usable(o)):
            continue
        if ctx.refer(s) is None or ctx.refer(o) is None or ctx.refer(s) == ctx.refer(o):
            ctx.skip("depth", "ambiguous_reference")
            continue
        if {"front", "behind"} <= ctx.directions(s.id, o.id):
            ctx.skip("depth", "contradictory_graph")
            continue
        near, far = (s, o) if direction == "front" else (o, s)
        evidence = {"rule": "explicit_predicate", "relation": [s.id, rel.predicate, o.id], "closer": near.id}
        item = _two_choice(ctx, "depth", s, o, near, far, evidence, "medium")
        if item is not None:
            yield item


def _two_choice(ctx: Context, category: str, a: AnnotatedObject, b: AnnotatedObject, small: AnnotatedObject,
                large: AnnotatedObject, evidence: dict, level: str, templates=DEPTH_TEMPLATES,
                words=("closer", "farther"), strong: bool = True) -> QAItem | None:
    """A two-option question naming ``a`` and ``b``.

    ``small`` is the object that answers the words[0] wording ("closer", or "bigger" for size), ``large`` the
    words[1] one; a "comparative" template answers bigger/smaller about the first-named object.
    """
    template, wording = pick(templates, ctx.seed, ctx.image.image_id, category, a.id, b.id)
    first, second = (a, b) if pick((0, 1), ctx.seed, a.id, b.id, "order") == 0 else (b, a)
    question = ctx.say(template, a=first, b=second)
    referred = ctx.refer(a) != a.name or ctx.refer(b) != b.name
    rating = rate(ctx, (a, b), strong_evidence=strong, referred=referred)
    if wording == "comparative":
        answer = "bigger" if small is first else "smaller"  # for size, ``small`` is the bigger object (words[0])
        return make_item(ctx, category, question, answer, ["smaller" if answer == "bigger" else "bigger"], level,
                         rating, evidence, (a, b))
    winner = small if wording == words[0] else large
    loser = large if winner is small else small
    return make_item(ctx, category, question, ctx.refer(winner), [ctx.refer(loser)], level, rating, evidence, (a, b))


@GENERATORS.register("distance")
def distance_questions(ctx: Context) -> Iterator[QAItem]:
    """Which of two objects is closer to a referent object."""
    made = 0
    for r, a, b, evidence, level in (_distance_3d(ctx) if ctx.has_3d else _distance_2d(ctx)):
        # ``a`` is the answer: order and wording come from the unordered pair, or the wording would tell it
        pair = sorted((a.id, b.id))
        first, second = (a, b) if (pick((0, 1), ctx.seed, *pair) == 0) == (a.id == pair[0]) else (b, a)
        question = ctx.say(pick(DISTANCE_TEMPLATES, ctx.seed, r.id, *pair), r=r, a=first, b=second)
        referred = any(ctx.refer(o) != o.name for o in (r, a, b))
        item = make_item(ctx, "distance", question, ctx.refer(a), [ctx.refer(b)], level,
                         rate(ctx, (r, a, b), strong_evidence=ctx.has_3d, referred=referred), evidence, (r, a, b))
        if item is not None:
            made += 1
            yield item
        if made >= MAX_PAIRS:
            return


def _distance_3d(ctx: Context) -> Iterator[tuple]:
    """(referent, nearer, farther, evidence, level) from camera-frame centres."""
    objects = _referable(ctx, lambda o: o.center_cam_m is not None)
    for r in objects:
        others = [o for o in objects if o is not r and ctx.refer(o) != ctx.refer(r)]
        for a, b in _pairs(ctx, others, f"distance{r.id}")[:2]:
            da, db = math.dist(a.center_cam_m, r.center_cam_m), math.dist(b.center_cam_m, r.center_cam_m)
            near, far, dn, df = (a, b, da, db) if da < db else (b, a, db, da)
            if df < DISTANCE_MIN_RATIO * dn or df - dn < DISTANCE_MIN_M:
                ctx.skip("distance", "distance_margin_too_small")
                continue
            evidence = {"rule": "distance_3d", "referent": r.id, "distance_m": {near.id: round(dn, 4), far.id: round(df, 4)}}
            yield r, near, far, evidence, level_from_points(int(df < 2.5 * dn) + int(df < 1.8 * dn))


def _distance_2d(ctx: Context) -> Iterator[tuple]:
    """(referent, in-contact object, far object, evidence, level) from contact predicates and box separation."""
    diagonal = math.hypot(ctx.image.width, ctx.image.height)
    # compared objects are things: "is the road or the trash can closer to the sidewalk" compares regions
    candidates = [o for o in ctx.image.objects if ctx.usable(o) and ctx.refer(o) and not is_stuff(o.label)]
    for rel in ctx.image.relations:
        direction = PREDICATE_DIRECTION.get(rel.predicate)
        if direction not in CONTACT_DIRECTIONS and rel.predicate not in REACH_VERBS:
            continue
        a, r = ctx.object(rel.subject), ctx.object(rel.object)
        if a is None or r is None or not ctx.usable(a) or not ctx.refer(a) or is_stuff(a.label) or not ctx.refer(r) or not (
                ctx.usable(r) or is_stuff(r.label)):
            continue
        if not ctx.touching(a, r):
            ctx.skip("distance", "contact_boxes_apart")
            continue
        related = {x.subject for x in ctx.image.relations if x.object == r.id} | {
            x.object for x in ctx.image.relations if x.subject == r.id}
        far = [b for b in candidates if b.id not in related and b is not r and b is not a
               and ctx.refer(b) not in (ctx.refer(a), ctx.refer(r)) and box_gap(b.bbox, r.bbox) >= 0.15 * diagonal]
        if not far:
            ctx.skip("distance", "no_separated_object")
            continue
        b = max(far, key=lambda o: (o.area, o.id))
        evidence = {"rule": "contact_vs_separated", "contact": [a.id, rel.predicate, r.id],
                    "separated": b.id, "gap_px": round(box_gap(b.bbox, r.bbox), 2)}
        yield r, a, b, evidence, "medium"




@GENERATORS.register("size")
def size_questions(ctx: Context) -> Iterator[QAItem]:
    """Comparative size: metric in simulated scenes, apparent (image-plane) size in 2D graphs."""
    made = 0
    has_3d = ctx.has_3d
    objects = _referable(ctx, (lambda o: o.size_m is not None) if has_3d else None)
    for a, b in _pairs(ctx, objects, "size"):
        if has_3d:
            va, vb = (math.prod(o.size_m) for o in (a, b))
            ratio = max(va, vb) / max(min(va, vb), 1e-9)
            if ratio < VOLUME_MIN_RATIO:
                ctx.skip("size", "volume_ratio_too_small")
                continue
            big, small = (a, b) if va > vb else (b, a)
            evidence = {"rule": "volume_3d", "volume_m3": {a.id: round(va, 6), b.id: round(vb, 6)}}
            templates = SIZE_3D_TEMPLATES
        else:
            ratio = max(a.area, b.area) / max(min(a.area, b.area), 1e-9)
            if ratio < APPARENT_MIN_RATIO:
                ctx.skip("size", "area_ratio_too_small")
                continue
            big, small = (a, b) if a.area > b.area else (b, a)
            evidence = {"rule": "apparent_box_area", "area_px": {a.id: a.area, b.id: b.area}}
            templates = APPARENT_TEMPLATES
        level = level_from_points(int(ratio < 4.0) + int(ratio < 2.5 if has_3d else ratio < 3.0))
        item = _two_choice(ctx, "size", a, b, big, small, evidence, level, templates, ("bigger", "smaller"), has_3d)
        if item is not None:
            made += 1
            yield item
        if made >= MAX_PAIRS:
            return
