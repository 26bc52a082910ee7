"""Questions only exact 3D makes answerable, added to the shared generators' items for simulated scenes.

The shared generators (``data.generators``) already use the 3D fields for depth order, distance to a referent,
true volume and egocentric orientation. This module adds: whether an object faces the camera (orientation, from
``yaw_deg``), which of two objects is taller in reality (size, from ``size_m`` height), how far an object is from
the camera in metres (distance, from ``depth_m``) and which object a thing rests on (reach, from the support
relation). Items are built with the shared ``make_item`` (same shuffle, RoI sub-graph and rating rules).
"""

from __future__ import annotations

from collections.abc import Iterator

from spatialthinker.data.generators.base import Context, level_from_points, make_item, pick, rate
from spatialthinker.data.records import QAItem

FACING_MARGIN_DEG = 30.0  # "towards" needs |yaw| >= 150, "away" |yaw| <= 30; sideways objects are not asked
TALLER_MIN_RATIO = 1.3
DISTANCE_BINS_M = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)  # option values of "how far" questions
DISTANCE_TOLERANCE_M = 0.25  # the true distance must lie within this of the answer bin, and far from the others
FRONTED = frozenset({"chair", "sofa", "tv", "laptop", "bed", "shelf", "cabinet", "desk"})
MAX_PER_RULE = 3

FACING_TEMPLATES = ("Is the {s} facing towards the camera or away from it?",
                    "Is the {s} turned towards the viewer or away from the viewer?")
TALLER_TEMPLATES = ("Which is taller in reality, the {a} or the {b}?",
                    "Which object is actually taller: the {a} or the {b}?")
DISTANCE_TEMPLATES = ("About how far from the camera is the {s}?",
                      "Roughly how many metres away from the camera is the {s}?")
SUPPORT_TEMPLATES = ("What is the {s} resting on?", "Which object is the {s} standing on?")


def _facing_camera(ctx: Context) -> Iterator[QAItem]:
    """Towards when the front points within 30 deg of the camera, away when within 30 deg of straight away."""
    count = 0
    for obj in ctx.image.objects:
        if count >= MAX_PER_RULE or obj.label not in FRONTED or obj.yaw_deg is None or not ctx.usable(obj):
            continue
        phrase = ctx.refer(obj)
        yaw = abs(obj.yaw_deg)
        if phrase is None or FACING_MARGIN_DEG < yaw < 180.0 - FACING_MARGIN_DEG:
            ctx.skip("orientation", "yaw_sideways")
            continue
        towards, away = "towards the camera", "away from the camera"
        answer, other = (towards, away) if yaw >= 180.0 - FACING_MARGIN_DEG else (away, towards)
        question = pick(FACING_TEMPLATES, ctx.seed, obj.id, "facing").format(s=phrase)
        item = make_item(ctx, "orientation", question, answer, [other], "easy", rate(ctx, (obj,), strong_evidence=True),
                         {"rule": "yaw_facing_camera", "yaw_deg": obj.yaw_deg})
        if item is not None:
            count += 1
            yield item


def _taller(ctx: Context) -> Iterator[QAItem]:
    """True heights differ by a ratio >= 1.3: no perspective illusion can flip the answer."""
    objects = [o for o in ctx.image.objects if o.size_m is not None and ctx.usable(o) and ctx.refer(o)]
    count = 0
    for i, a in enumerate(objects):
        for b in objects[i + 1:]:
            if count >= MAX_PER_RULE or ctx.refer(a) == ctx.refer(b):
                continue
            ha, hb = a.size_m[1], b.size_m[1]
            if max(ha, hb) < TALLER_MIN_RATIO * min(ha, hb):
                ctx.skip("size", "height_ratio_too_small")
                continue
            tall, short = (a, b) if ha > hb else (b, a)
            question = pick(TALLER_TEMPLATES, ctx.seed, a.id, b.id).format(a=ctx.refer(a), b=ctx.refer(b))
            # Harder when the taller one looks smaller in the image (it is farther away).
            looks_smaller = (tall.bbox[3] - tall.bbox[1]) < (short.bbox[3] - short.bbox[1])
            item = make_item(ctx, "size", question, ctx.refer(tall), [ctx.refer(short)],
                             level_from_points(1 + looks_smaller), rate(ctx, (a, b), strong_evidence=True),
                             {"rule": "height_3d", "height_m": {a.id: ha, b.id: hb}})
            if item is not None:
                count += 1
                yield item


def _metric_distance(ctx: Context) -> Iterator[QAItem]:
    """Distance to the camera in whole metres, asked only when the true value is within 0.25 m of a bin."""
    count = 0
    for obj in ctx.image.objects:
        if count >= MAX_PER_RULE or obj.depth_m is None or not ctx.usable(obj) or ctx.refer(obj) is None:
            continue
        nearest = min(DISTANCE_BINS_M, key=lambda b: abs(b - obj.depth_m))
        if abs(nearest - obj.depth_m) > DISTANCE_TOLERANCE_M:
            ctx.skip("distance", "metric_distance_between_bins")
            continue
        answer = f"about {nearest:g} m"
        others = sorted((b for b in DISTANCE_BINS_M if b != nearest), key=lambda b: abs(b - nearest))
        distractors = [f"about {b:g} m" for b in others]
        question = pick(DISTANCE_TEMPLATES, ctx.seed, obj.id, "metres").format(s=ctx.refer(obj))
        item = make_item(ctx, "distance", question, answer, distractors[:3], "hard",
                         rate(ctx, (obj,), strong_evidence=True), {"rule": "metric_distance_3d", "depth_m": obj.depth_m})
        if item is not None:
            count += 1
            yield item


def _support(ctx: Context) -> Iterator[QAItem]:
    """The object a small thing stands on (exact support from the layout), against other visible furniture."""
    furniture = [o for o in ctx.image.objects if ctx.usable(o) and ctx.refer(o)]
    count = 0
    for rel in ctx.image.relations:
        if rel.predicate != "on" or count >= MAX_PER_RULE:
            continue
        thing, base = ctx.image.object(rel.subject), ctx.image.object(rel.object)
        if thing is None or base is None or not (ctx.usable(thing) and ctx.usable(base)):
            continue
        if ctx.refer(thing) is None or ctx.refer(base) is None:
            continue
        others = [ctx.refer(o) for o in furniture if o.id not in (thing.id, base.id) and o.size_m and o.size_m[1] > 0.3]
        question = pick(SUPPORT_TEMPLATES, ctx.seed, thing.id, "support").format(s=ctx.refer(thing))
        item = make_item(ctx, "reach", question, ctx.refer(base), ["the floor", *others][:3], "easy",
                         rate(ctx, (thing, base), strong_evidence=True), {"rule": "support_3d", "support": base.id})
        if item is not None:
            count += 1
            yield item


def sim_questions(ctx: Context) -> list[QAItem]:
    """All 3D-only items of one simulated image, in a fixed rule order.

    Args:
        ctx: the shared generator context of the image (its objects carry the 3D fields).

    Returns:
        Items from the facing, taller, metric-distance and support rules.
    """
    items: list[QAItem] = []
    for rule in (_facing_camera, _taller, _metric_distance, _support):
        items.extend(rule(ctx))
    return items
