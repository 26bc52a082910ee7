"""The few benchmark rules YAML cannot express, as small named functions (registered in ``registry.py``).

Item hooks take a mapped ``EvalItem`` and return it changed; expanders turn one item into the variants that
circular scoring needs. Each docstring says which benchmark needs the rule and why.
"""

from __future__ import annotations

import re
from dataclasses import replace

from spatialthinker.eval.extract import answer_letter, normalize_text
from spatialthinker.eval.items import EvalItem
from spatialthinker.prompts import LETTERS, parse_ground_truth

_LINE_OPTION = re.compile(r"(?m)^[ \t]*\(?([A-Ja-j])[.):][ \t]+(.+?)[ \t]*$")
_PAREN_OPTION = re.compile(r"\(([A-Ja-j])\)\s*")
_DOT_OPTION = re.compile(r"(?:^|(?<=\s))([A-J])[.):]\s+")  # inline "A. x B. y" (MindCube), "A: x, B: y" (MMStar)
_HEADER = re.compile(r"(?is)\s*(?:options|choices)\s*:?\s*$")
# Instructions benchmarks append to the question; our prompt styles add their own, so they are removed.
_INSTRUCTION = re.compile(
    r"(?is)\s*(?:please\s+)?(?:answer|respond|select|choose)\b[^\n]*?\b(?:letter|directly|option|choices?)\b[^\n]*$")


def _sequential(letters: list[str]) -> bool:
    return len(letters) >= 2 and [l.upper() for l in letters] == list(LETTERS[: len(letters)])


def split_embedded_choices(text: str) -> tuple[str, list[str]]:
    """Split "question + options" text into the question and the option texts ([] when none are found).

    Handles one option per line (``A. text`` / ``(A) text`` / ``A) text``), inline ``(a) Open (b) Closed``
    (MMVP) and inline ``A. x B. y`` (MindCube). Options must run A, B, C… from A, so stray parentheses in a question are not taken for options.

    Example:
        >>> split_embedded_choices("Is the door open? (a) Open (b) Closed")
        ('Is the door open?', ['Open', 'Closed'])
    """
    body = _INSTRUCTION.sub("", text.strip())
    lines = list(_LINE_OPTION.finditer(body))
    if _sequential([m.group(1) for m in lines]):
        question = body[: lines[0].start()]
        choices = [m.group(2) for m in lines]
    else:
        marks = list(_PAREN_OPTION.finditer(body))
        if not _sequential([m.group(1) for m in marks]):
            marks = list(_DOT_OPTION.finditer(body))
        if not _sequential([m.group(1) for m in marks]):
            return text.strip(), []
        question = body[: marks[0].start()]
        ends = [m.start() for m in marks[1:]] + [len(body)]
        choices = [body[m.end():end] for m, end in zip(marks, ends)]
    choices = [_INSTRUCTION.sub("", c).strip().rstrip(",;").strip() for c in choices]
    return _HEADER.sub("", question).strip(), choices


def embedded_choices(item: EvalItem) -> EvalItem:
    """Options written inside the question text (MMVP, V*Bench, RealWorldQA, MindCube, LEGO).

    When the dataset also has a choices column, the embedded copy is only removed from the question (otherwise
    the prompt would list the options twice). Items with no options stay open questions.
    """
    question, choices = split_embedded_choices(item.question)
    if item.choices:
        return replace(item, question=question if choices else item.question)
    if not choices:
        return item
    letter = answer_letter(item.answer, choices)
    if letter is None:
        raise ValueError(f"item {item.id}: answer {item.answer!r} matches none of the embedded options {choices}")
    return replace(item, question=question, choices=tuple(choices), answer=letter)


def yes_no_choices(item: EvalItem) -> EvalItem:
    """Yes/no questions without a choices column (SpatialBench, RoboSpatial): choices become (Yes, No).

    Numeric answers stay open questions and are scored by number (SpatialBench counting).
    """
    if item.choices or normalize_text(item.answer) not in ("yes", "no"):
        return item
    return replace(item, choices=("Yes", "No"), answer="A" if normalize_text(item.answer) == "yes" else "B")


def pair_by_order(item: EvalItem) -> EvalItem:
    """MMVP pairs: rows 2k and 2k+1 (dataset order) ask the same question of two images."""
    item.extra["group_id"] = f"pair{int(item.extra['row_index']) // 2}"
    return item


def mindcube_setting(item: EvalItem) -> EvalItem:
    """MindCube's setting (among / around / rotation) is the first ``_`` word of its id; ``aroundnew`` is around.

    Its ``category`` column is a list of finer tags, kept as the ``tags`` tag (lmms-eval ``mindcube/utils.py``
    scores by the id's setting).
    """
    setting = item.id.split("_", 1)[0].lower()
    setting = "around" if setting == "aroundnew" else setting
    item.extra.setdefault("tags", {})["tags"] = item.category
    item.category = setting if setting in ("among", "around", "rotation") else "other"
    return item


_QID = re.compile(r"^(?P<base>.+?)(?P<flip>-flip)?(?:-(?P<rotation>\d+))?$")


def qid_variant(item: EvalItem) -> EvalItem:
    """3DSRBench's own variants: ``qid`` ``X`` (the question), ``X-1..3`` (options rotated), ``X-flip`` and
    ``X-flip-1..3`` (the benchmark's curated flipped question).

    Only the plain question is primary (plain accuracy counts each question once); ``group_id`` is the base qid
    and the ``flip`` / ``rotation`` tags let the aggregates group variants as VLMEvalKit and lmms-eval do
    (lmms-eval ``3dsrbench/utils.py``).
    """
    qid = item.extra.get("tags", {}).get("qid") or item.id
    match = _QID.match(qid)
    base, flip, rotation = match["base"], bool(match["flip"]), match["rotation"] or "0"
    item.extra["group_id"] = base
    item.extra["primary"] = not flip and rotation == "0"
    item.extra["tags"].update(qid=qid, base_qid=base, flip="1" if flip else "0", rotation=rotation)
    return item


def stvqa_scene(item: EvalItem) -> EvalItem:
    """STVQA's ``answer_option_text`` holds the GT scene graph; keep it for scene-graph quality."""
    raw = item.extra.pop("scene", None)
    if isinstance(raw, str):
        scene, _ = parse_ground_truth(raw if "<scene>" in raw else f"<scene>{raw}</scene>")
        if scene is not None:
            item.extra["gt_scene"] = scene
    return item


# ------------------------------------------------------------------------------------------ expanders
def _rotations(item: EvalItem) -> list[EvalItem]:
    k = len(item.choices)
    if k < 2 or len(item.answer) != 1:
        return [item]
    answer = LETTERS.index(item.answer)
    variants = []
    for r in range(k):
        choices = item.choices[r:] + item.choices[:r]  # option i moves to (i - r) mod k
        extra = {**item.extra, "group_id": item.id, "primary": r == 0}
        variants.append(replace(item, id=item.id if r == 0 else f"{item.id}#r{r}", choices=choices,
                                answer=LETTERS[(answer - r) % k], extra=extra))
    return variants


def expand_circular(item: EvalItem) -> list[EvalItem]:
    """One variant per rotation of the options: only a model that follows the content, not a position, passes."""
    return _rotations(item)
