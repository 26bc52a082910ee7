"""The quality gate: named checks every generated item passes before export, with reject counts per check.

A reviewer rejects an item for a wrong ground-truth scene, broken English, duplicate options, boxes that are
not in the image or an answer the geometry contradicts. Each of those is a check here, run on the finished
item against its image, so a defect a generator change lets through is counted (``stats.json: gate``) and
never exported. Checks recompute from the item and the graph; they do not trust the generator's evidence.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable

from spatialthinker.data.records import AnnotatedImage, QAItem
from spatialthinker.data.roi import mentioned_labels
from spatialthinker.data.vocabulary import PREDICATE_DIRECTION, REACH_VERBS

Check = Callable[[QAItem, AnnotatedImage], bool]


def scene_matches_named(item: QAItem, image: AnnotatedImage) -> bool:
    """The GT scene holds every instance of the classes the question names and nothing else, and the question
    mentions exactly those classes of the image (a label inside the template would need to be in the scene)."""
    named = set(item.named)
    if not named or not item.scene.objects:
        return False
    scene_ids = {o.id for o in item.scene.objects}
    expected = {o.id for o in image.objects if o.label in named}
    if scene_ids != expected:
        return False
    return set(mentioned_labels(item.question, {o.label for o in image.objects})) == named


_SINGULAR_VERB = r"\b(?:is|does|has|was) the "
_PLURAL_VERB = r"\b(?:are|do|have|were) the "
_SINGULAR_AFTER = r" (?:is|does|has|was)\b"
_PLURAL_AFTER = r" (?:are|do|have|were)\b"


def agreement(item: QAItem, image: AnnotatedImage) -> bool:
    """Verbs agree with the named objects: no "is the trees" / "are the tree" / "the glasses's"."""
    question = item.question.lower()
    for obj in image.objects:
        if obj.label not in item.named:
            continue
        name = re.escape(obj.name)
        wrong = _SINGULAR_VERB if obj.plural else _PLURAL_VERB
        if re.search(wrong + r"(?:\w+ )?" + name + r"\b(?! of)", question):
            return False
        after = _PLURAL_AFTER if not obj.plural else _SINGULAR_AFTER
        if re.search(r"\bthe (?:\w+ )?" + name + after, question):  # "where the girls is", "the man are"
            return False
        if obj.plural and name.endswith("s") and re.search(name + r"'s\b", question):
            return False
    return True


def unique_options(item: QAItem, image: AnnotatedImage) -> bool:
    """2-4 options, distinct after case and spacing are ignored."""
    keys = [" ".join(o.lower().split()) for o in item.options]
    return 2 <= len(keys) <= 4 and len(set(keys)) == len(keys) and all(keys)


def boxes_in_image(item: QAItem, image: AnnotatedImage) -> bool:
    """Every GT box lies inside the image and has a positive area."""
    width, height = item.image_size
    return all(0 <= o.bbox[0] < o.bbox[2] <= width and 0 <= o.bbox[1] < o.bbox[3] <= height
               for o in item.scene.objects)


def answer_geometry(item: QAItem, image: AnnotatedImage) -> bool:
    """Where the geometry decides the answer, the answer is what the boxes and the graph say."""
    from spatialthinker.data.generators.base import CONTACT_DIRECTIONS, box_gap
    from spatialthinker.data.generators.presence import clip_box, grid_cell, region_name

    evidence, objects = item.evidence, {o.id: o for o in image.objects}
    rule = evidence.get("rule")
    if rule == "box_gap_x":
        s, o = objects[evidence["subject"]], objects[evidence["object"]]
        truth = "left" if s.bbox[2] <= o.bbox[0] else "right" if o.bbox[2] <= s.bbox[0] else None
        return truth == item.answer_text
    if rule == "box_centre_grid":
        x1, y1, x2, y2 = clip_box(objects[evidence["id"]].bbox, image.width, image.height)
        cell = grid_cell((x1 + x2) / 2, (y1 + y2) / 2, image.width, image.height)
        return cell is not None and region_name(*cell) == item.answer_text
    if rule == "graph_count":
        return item.answer_text == str(sum(o.label == evidence["label"] for o in image.objects))
    if rule == "present_in_graph":
        return item.answer_text == "yes" and all(i in objects for i in evidence["ids"])
    if rule == "absent_from_graph":
        return item.answer_text == "no" and evidence["absent"] not in {o.label for o in image.objects}
    if rule == "apparent_box_area":
        a, b = (objects[i] for i in evidence["area_px"])
        return max(a.area, b.area) >= 2.0 * min(a.area, b.area)
    if rule == "explicit_predicate":
        subject, predicate, target = evidence["relation"]
        stated = any(r.subject == subject and r.predicate == predicate and r.object == target for r in image.relations)
        contact = PREDICATE_DIRECTION.get(predicate) in CONTACT_DIRECTIONS or predicate in REACH_VERBS
        return stated and (not contact or _touching(objects[subject], objects[target], image))
    if rule == "contact_vs_separated":
        a, _, r = evidence["contact"]
        far = objects[evidence["separated"]]
        diagonal = math.hypot(image.width, image.height)
        return _touching(objects[a], objects[r], image) and box_gap(far.bbox, objects[r].bbox) >= 0.15 * diagonal
    return True  # 3D and LLM rules: decided by the simulator / the judge, not by 2D geometry


def _touching(a, b, image: AnnotatedImage) -> bool:
    from spatialthinker.data.generators.base import CONTACT_GAP, box_gap

    return box_gap(a.bbox, b.bbox) <= CONTACT_GAP * math.hypot(image.width, image.height)


#: The gate, in the order reported; a failing item counts once under every check it fails.
CHECKS: dict[str, Check] = {
    "scene_matches_named": scene_matches_named,
    "agreement": agreement,
    "unique_options": unique_options,
    "boxes_in_image": boxes_in_image,
    "answer_geometry": answer_geometry,
}


def failed_checks(item: QAItem, image: AnnotatedImage) -> list[str]:
    """Names of the checks ``item`` fails (empty when it passes)."""
    return [name for name, check in CHECKS.items() if not check(item, image)]


def gate(items: Iterable[QAItem], image: AnnotatedImage, rejects: Counter | None = None) -> list[QAItem]:
    """The items that pass every check; each reject is counted in ``rejects`` under each check it fails.

    Example:
        >>> from spatialthinker.data.records import AnnotatedObject
        >>> from spatialthinker.data.generators import generate_items
        >>> image = AnnotatedImage("7", 300, 200, [AnnotatedObject(f"cup.{i}", "cup", (10 + 60 * i, 10, 50 + 60 * i, 60))
        ...                                         for i in range(1, 4)])
        >>> rejects = Counter()
        >>> [i.answer_text for i in gate(generate_items(image, categories=["count"]), image, rejects)], rejects
        (['3'], Counter({'checked': 1}))
    """
    kept = []
    for item in items:
        failed = failed_checks(item, image)
        if rejects is not None:
            rejects["checked"] += 1
            rejects.update(failed)
        if not failed:
            kept.append(item)
    return kept
