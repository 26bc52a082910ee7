"""Generators of the relational categories: ``relation``, ``reach`` and ``orientation`` (data.md §2).

Evidence rules (what the graph must state before a question is asked):
- relation: an explicit graph predicate with a direction (above/below/left/right/front/behind/on/inside/near/far;
  possession, clothing, body-part and part relations are skipped), or image-plane left/right from two boxes
  separated horizontally by >= 5% of the width. Distractors are only directions that contradict the answer and
  that the graph does not state for the pair.
- reach: an explicit interaction predicate (holding, carrying, touching, riding, ...); distractors deny contact.
- orientation: an explicit facing predicate (facing, looking at, watching) in 2D; in simulated scenes the
  subject's yaw, with the direction to the other object >= 15 degrees away from any quadrant boundary.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from spatialthinker.data.generators.base import (
    CONTACT_DIRECTIONS, GENERATORS, Context, level_from_points, make_item, pick, rate, stable_int,
)
from spatialthinker.data.records import QAItem
from spatialthinker.data.vocabulary import (
    CONTRADICTS, DIRECTION_TEXT, NO_CONTACT_ANSWERS, PREDICATE_DIRECTION, PREDICATE_GROUPS, REACH_VERBS,
    is_stuff,
)

RELATION_TEMPLATES = (
    "Where {be:s} the {s} with respect to the {o}?",
    "What is the position of the {s} relative to the {o}?",
    "How {be:s} the {s} positioned in relation to the {o}?",
    "Which option best describes where the {s} {be:s} with respect to the {o}?",
)
LEFT_RIGHT_TEMPLATES = (
    "In the image, {be:s} the {s} to the left or to the right of the {o}?",
    "Seen from the camera, on which side of the {o} {be:s} the {s}?",
    "From the viewer's point of view, {be:s} the {s} left or right of the {o}?",
)
REACH_TEMPLATES = (
    "What {be:s} the {s} doing with the {o}?",
    "How {be:s} the {s} interacting with the {o}?",
    "Which best describes the {s}{poss:s} physical contact with the {o}?",
)
ORIENTATION_TEMPLATES = (
    "From the {s}{poss:s} perspective, where {be:o} the {o}?",
    "If you were the {s}, where would the {o} be?",
    "Relative to the direction the {s} is facing, where {be:o} the {o}?",
)
FACING_FRONT = frozenset({"facing", "looking at", "watching", "facing towards", "facing toward", "looking toward",
                          "looking towards", "staring at"})
ORIENTATION_TEXT = {"front": "in front of it", "behind": "behind it", "left": "to its left", "right": "to its right"}
#: Classes whose front is undefined: no orientation questions from their yaw.
SYMMETRIC_LABELS = frozenset("ball bottle vase plant lamp table bowl box cup mug pot apple orange tree sphere cube "
                             "cylinder can jar basket bucket barrel stool clock".split())
ORIENTATION_MARGIN_DEG = 15.0
MAX_DERIVED_LEFT_RIGHT = 6
#: Directions whose converse is exact: "A left of B" is "B right of A" (on/inside have no exact converse).
EXACT_INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above", "front": "behind",
                 "behind": "front", "near": "near", "far": "far"}
#: Directions that mean nothing against a region (sky, snow, ground): GQA states "ski to the right of snow".
STUFF_FREE_DIRECTIONS = frozenset({"left", "right", "inside"})


@GENERATORS.register("relation")
def relation_questions(ctx: Context) -> Iterator[QAItem]:
    """Questions on explicit directional predicates, then image-plane left/right from separated boxes."""
    asked: set[frozenset[str]] = set()
    for rel in ctx.image.relations:
        direction = PREDICATE_DIRECTION.get(rel.predicate)
        s, o = ctx.object(rel.subject), ctx.object(rel.object)
        if direction is None or s is None or o is None or not (ctx.usable(s) or is_stuff(s.label)):
            ctx.skip("relation", "no_direction_or_salience")
            continue
        if not ctx.usable(o) and not is_stuff(o.label) or is_stuff(s.label) and is_stuff(o.label):
            ctx.skip("relation", "salience")
            continue
        s_ref, o_ref = ctx.refer(s), ctx.refer(o)
        pair = frozenset({s.id, o.id})
        if s_ref is None or o_ref is None or s_ref == o_ref or pair in asked:
            ctx.skip("relation", "ambiguous_reference" if pair not in asked else "duplicate_pair")
            continue
        if direction in STUFF_FREE_DIRECTIONS and (is_stuff(s.label) or is_stuff(o.label)):
            # "the ski to the right of the snow", "the trees inside the snow": regions have no side or inside
            ctx.skip("relation", "direction_to_stuff")
            continue
        if direction in CONTACT_DIRECTIONS and not ctx.touching(s, o):
            ctx.skip("relation", "contact_boxes_apart")
            continue
        stated = ctx.directions(s.id, o.id)
        if any(c in stated for c in CONTRADICTS[direction]):
            ctx.skip("relation", "contradictory_graph")
            continue
        evidence = {"rule": "explicit_predicate", "relation": [s.id, rel.predicate, o.id], "direction": direction}
        if direction in EXACT_INVERSE and _subject_rank(ctx, o) < _subject_rank(ctx, s):
            # Which of the two the question is about depends on the pair alone, never on how the graph states
            # the relation: graphs state most relations one way ("cup on table", the simulator's "A left of B"
            # from the left object), so asking about the stated subject would let the wording give the answer.
            s, o, s_ref, o_ref, direction = o, s, o_ref, s_ref, EXACT_INVERSE[direction]
            stated = ctx.directions(s.id, o.id)
            evidence.update(direction=direction, asked_about="object")
        distractors = [DIRECTION_TEXT[d] for d in CONTRADICTS[direction] if d not in stated]
        question = ctx.say(pick(RELATION_TEMPLATES, ctx.seed, s.id, o.id), s=s, o=o)
        referred = s_ref != s.name or o_ref != o.name
        points = (len(distractors) >= 2) + referred + (direction in ("front", "behind", "inside"))
        item = make_item(ctx, "relation", question, DIRECTION_TEXT[direction], distractors, level_from_points(points),
                         rate(ctx, (s, o), strong_evidence=True, referred=referred), evidence, (s, o))
        if item is not None:
            asked.add(pair)
            yield item
    yield from _left_right(ctx, asked)


def _left_right(ctx: Context, asked: set[frozenset[str]]) -> Iterator[QAItem]:
    """Image-plane left/right: honest from 2D boxes when they are separated horizontally."""
    width = ctx.image.width
    candidates = sorted((o for o in ctx.image.objects if ctx.usable(o) and not is_stuff(o.label)
                         and ctx.refer(o) is not None), key=lambda o: (-o.area, o.id))[:8]
    made = 0
    for i, a in enumerate(candidates):
        for b in candidates[i + 1:]:
            left, right = (a, b) if a.bbox[2] <= b.bbox[0] else (b, a) if b.bbox[2] <= a.bbox[0] else (None, None)
            if left is None or frozenset({a.id, b.id}) in asked or ctx.refer(a) == ctx.refer(b):
                continue
            gap = right.bbox[0] - left.bbox[2]
            if gap < 0.05 * width:
                ctx.skip("relation", "left_right_gap_too_small")
                continue
            s, o = (a, b) if stable_int_even(ctx, a.id, b.id) else (b, a)
            answer = "left" if s is left else "right"
            question = ctx.say(pick(LEFT_RIGHT_TEMPLATES, ctx.seed, s.id, o.id), s=s, o=o)
            referred = ctx.refer(s) != s.name or ctx.refer(o) != o.name
            evidence = {"rule": "box_gap_x", "subject": s.id, "object": o.id, "left": left.id, "right": right.id,
                        "gap_px": round(float(gap), 2)}
            item = make_item(ctx, "relation", question, answer, ["right" if answer == "left" else "left"],
                             level_from_points(int(referred) + (gap < 0.15 * width)),
                             rate(ctx, (s, o), strong_evidence=False, referred=referred), evidence, (s, o))
            if item is not None:
                asked.add(frozenset({a.id, b.id}))
                made += 1
                yield item
                if made >= MAX_DERIVED_LEFT_RIGHT:
                    return


def _subject_rank(ctx: Context, obj) -> int:
    """A reproducible per-image rank of an object; of a pair, the lower rank is the question's subject."""
    return stable_int(ctx.seed, ctx.image.image_id, obj.id, "subject")


def stable_int_even(ctx: Context, a: str, b: str) -> bool:
    """Which of the pair is the subject: a reproducible coin flip, so answers are not always "left"."""
    return stable_int(ctx.seed, ctx.image.image_id, a, b, "subject") % 2 == 0


@GENERATORS.register("reach")
def reach_questions(ctx: Context) -> Iterator[QAItem]:
    """Interaction questions from explicit interaction predicates between two salient objects."""
    for rel in ctx.image.relations:
        verb = REACH_VERBS.get(rel.predicate)
        s, o = ctx.object(rel.subject), ctx.object(rel.object)
        if verb is None or s is None or o is None or not ctx.usable(s) or not ctx.usable(o):
            continue
        s_ref, o_ref = ctx.refer(s), ctx.refer(o)
        if s_ref is None or o_ref is None:
            ctx.skip("reach", "ambiguous_reference")
            continue
        if not ctx.touching(s, o):
            ctx.skip("reach", "contact_boxes_apart")
            continue
        question = ctx.say(pick(REACH_TEMPLATES, ctx.seed, s.id, o.id), s=s, o=o)
        referred = s_ref != s.name or o_ref != o.name
        evidence = {"rule": "explicit_predicate", "relation": [s.id, rel.predicate, o.id]}
        pronoun = "them" if o.plural else "it"
        item = make_item(ctx, "reach", question, f"{verb} {pronoun}",
                         [text.replace(" it", f" {pronoun}") for text in NO_CONTACT_ANSWERS],
                         level_from_points(1 + referred), rate(ctx, (s, o), strong_evidence=True, referred=referred),
                         evidence, (s, o))
        if item is not None:
            yield item


@GENERATORS.register("orientation")
def orientation_questions(ctx: Context) -> Iterator[QAItem]:
    """Orientation from explicit facing predicates (2D) or from the subject's yaw (simulated scenes)."""
    if ctx.has_3d:
        yield from _orientation_3d(ctx)
        return
    facing = set(PREDICATE_GROUPS["FACING_ORIENTATION"])
    for rel in ctx.image.relations:
        s, o = ctx.object(rel.subject), ctx.object(rel.object)
        if rel.predicate not in facing or s is None or o is None or not ctx.usable(s) or not ctx.usable(o):
            continue
        s_ref, o_ref = ctx.refer(s), ctx.refer(o)
        if s_ref is None or o_ref is None:
            ctx.skip("orientation", "ambiguous_reference")
            continue
        if s.plural:  # a group has no single front
            ctx.skip("orientation", "group_subject")
            continue
        answer = "front" if rel.predicate in FACING_FRONT else "behind"
        question = ctx.say(pick(ORIENTATION_TEMPLATES, ctx.seed, s.id, o.id), s=s, o=o)
        evidence = {"rule": "explicit_predicate", "relation": [s.id, rel.predicate, o.id]}
        other = "behind" if answer == "front" else "front"
        item = make_item(ctx, "orientation", question, ORIENTATION_TEXT[answer], [ORIENTATION_TEXT[other]],
                         "medium", rate(ctx, (s, o), strong_evidence=True), evidence, (s, o))
        if item is not None:
            yield item


def egocentric_direction(yaw_deg: float, subject_xz: tuple[float, float], target_xz: tuple[float, float]) -> tuple[str, float]:
    """Direction of a target from a subject facing ``yaw_deg`` and the angle's distance to the nearest boundary.

    Camera frame (OpenCV): x right, z forward, seen from above. ``yaw_deg`` is the heading of the subject's
    front, measured from +z toward +x (0: facing away from the camera, 180: facing the camera).

    Example:
        >>> egocentric_direction(0.0, (0.0, 2.0), (0.0, 4.0))
        ('front', 45.0)
    """
    dx, dz = target_xz[0] - subject_xz[0], target_xz[1] - subject_xz[1]
    bearing = math.degrees(math.atan2(dx, dz))  # from +z toward +x
    relative = (bearing - yaw_deg + 180.0) % 360.0 - 180.0  # (-180, 180]: 0 ahead, +90 to its right
    names = (("front", 0.0), ("right", 90.0), ("behind", 180.0), ("left", -90.0))
    name, centre = min(names, key=lambda nc: abs((relative - nc[1] + 180.0) % 360.0 - 180.0))
    offset = abs((relative - centre + 180.0) % 360.0 - 180.0)
    return name, 45.0 - offset


def _orientation_3d(ctx: Context) -> Iterator[QAItem]:
    objects = [o for o in ctx.image.objects if ctx.usable(o) and o.center_cam_m is not None and ctx.refer(o)]
    for s in objects:
        if s.yaw_deg is None or s.label in SYMMETRIC_LABELS or "symmetric" in s.attributes or s.plural:
            continue
        for o in objects:
            if o is s or ctx.refer(o) == ctx.refer(s):
                continue
            direction, margin = egocentric_direction(s.yaw_deg, (s.center_cam_m[0], s.center_cam_m[2]),
                                                     (o.center_cam_m[0], o.center_cam_m[2]))
            if margin < ORIENTATION_MARGIN_DEG:
                ctx.skip("orientation", "angle_near_boundary")
                continue
            question = ctx.say(pick(ORIENTATION_TEMPLATES, ctx.seed, s.id, o.id), s=s, o=o)
            distractors = [text for name, text in ORIENTATION_TEXT.items() if name != direction]
            evidence = {"rule": "yaw_3d", "subject": s.id, "object": o.id, "yaw_deg": s.yaw_deg,
                        "direction": direction, "margin_deg": round(margin, 2)}
            item = make_item(ctx, "orientation", question, ORIENTATION_TEXT[direction], distractors,
                             level_from_points(1 + (margin < 30.0)), rate(ctx, (s, o), strong_evidence=True), evidence,
                             (s, o))
            if item is not None:
                yield item
