"""Prompt styles (registered by name), the answer/ground-truth string formats, and response parsing.

Tag names are defined here once; rewards, evaluation and the viewer import them. Published numbers depend on the
prompt (prompt mode alone moves one 7B model on CV-Bench by 20 points), so every style is fixed text, registered
under a stable name, and recorded with every result.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from spatialthinker.registry import Registry
from spatialthinker.scene import GROUND_TRUTH, STRICT, ParseOptions, SceneGraph

TAGS: tuple[str, ...] = ("observe", "scene", "think", "answer")
SPARSE_TAGS: tuple[str, ...] = ("think", "answer")
LETTERS = string.ascii_uppercase

# ---------------------------------------------------------------------------------------------- prompt texts
TRAINING_INSTRUCTION = """\
You are looking at one image and must answer a multiple-choice question about where things are.
Work in four steps and write each inside its own tag, in this order:
1. <observe> Describe what you see and name the objects that matter for the question. </observe>
2. <scene> Write a scene graph of those objects as JSON: an "objects" list whose entries have an "id" of the \
form label.number (for example "cup.1"; use underscores instead of spaces) and a "bbox" [x1, y1, x2, y2] in \
pixels of the stated image size, and a "relationships" list of {"subject", "predicate", "object"} entries that \
connect object ids. </scene>
3. <think> Reason step by step over the scene graph to decide the answer. </think>
4. <answer> The chosen option as (letter) option text, copied exactly from the options. </answer>

Worked example, for a 640 x 480 photo and the question "Is the lamp to the left or to the right of the sofa?" \
with options (A) left and (B) right:
<observe> A living room: a grey sofa in the middle and a floor lamp beside it on the right. </observe>
<scene> {"objects": [{"id": "sofa.1", "bbox": [120, 210, 430, 400]}, {"id": "lamp.1", "bbox": [470, 90, 540, \
390]}], "relationships": [{"subject": "lamp.1", "predicate": "right of", "object": "sofa.1"}]} </scene>
<think> The lamp's box starts at x = 470, past the sofa's right edge at x = 430, so the lamp is to the right \
of the sofa. </think>
<answer> (B) right </answer>"""

SHORT_EVAL_INSTRUCTION = (
    "Look at the image and answer the question. First write what you observe in <observe> </observe>, then a "
    "JSON scene graph of the relevant objects (ids like label.1, boxes [x1, y1, x2, y2] in pixels) and their "
    "relationships in <scene> </scene>, then your reasoning in <think> </think>, and finally the answer as "
    "(option) answer in <answer> </answer>."
)

SPARSE_INSTRUCTION = (
    "Answer the question about the image. Think it through inside <think> </think>, then give the chosen "
    "option as (option) answer inside <answer> </answer>."
)

DIRECT_INSTRUCTION = "Answer with the option's letter and text, for example (A) left."


def letter(index: int) -> str:
    """Option letter for a 0-based index (``0`` -> ``"A"``)."""
    return LETTERS[index]


def format_options(options: Sequence[str]) -> str:
    """``"Options:\\n(A) left\\n(B) right"``."""
    return "Options:" + "".join(f"\n({letter(i)}) {text}" for i, text in enumerate(options))


def format_question_with_options(question: str, options: Sequence[str]) -> str:
    """The STVQA ``question_with_options`` column: question, ``\\nOptions:``, one ``\\n(A) text`` line each."""
    return f"{question}\n{format_options(options)}" if options else question


def format_image_size(image_size: tuple[int, int]) -> str:
    width, height = image_size
    return f"Image size: ({int(width)} x {int(height)})"


def training_prompt(question: str, options: Sequence[str], image_size: tuple[int, int]) -> str:
    """Long training prompt (method.md §3.1): instruction, worked example, image size, question and options."""
    return (f"{TRAINING_INSTRUCTION}\n\n{format_image_size(image_size)}\n\nNow answer the following question:\n"
            f"Q. {format_question_with_options(question, options)}")


def short_eval_prompt(question: str, options: Sequence[str], image_size: tuple[int, int]) -> str:
    """Short evaluation prompt (method.md §3.2) with the *real* image size."""
    return f"{SHORT_EVAL_INSTRUCTION}\n\n{format_image_size(image_size)}\n\nQ. {format_question_with_options(question, options)}"


def sparse_prompt(question: str, options: Sequence[str], image_size: tuple[int, int] | None = None) -> str:
    """R1-V style think/answer prompt of the sparse-reward baseline (method.md §3.3)."""
    return f"{SPARSE_INSTRUCTION}\n\nQ. {format_question_with_options(question, options)}"


def direct_prompt(question: str, options: Sequence[str], image_size: tuple[int, int] | None = None) -> str:
    """Question and options with a one-line instruction to answer directly."""
    return f"{format_question_with_options(question, options)}\n{DIRECT_INSTRUCTION}"


def question_only_prompt(question: str, options: Sequence[str], image_size: tuple[int, int] | None = None) -> str:
    """The bare question and its options, no instruction."""
    return format_question_with_options(question, options)


PromptBuilder = Callable[[str, Sequence[str], tuple[int, int]], str]
PROMPT_STYLES: Registry[PromptBuilder] = Registry("prompt style")
PROMPT_STYLES.register("training", training_prompt)
PROMPT_STYLES.register("short_eval", short_eval_prompt)
PROMPT_STYLES.register("sparse", sparse_prompt)
PROMPT_STYLES.register("direct", direct_prompt)
PROMPT_STYLES.register("question_only", question_only_prompt)


def build_prompt(style: str, question: str, options: Sequence[str], image_size: tuple[int, int]) -> str:
    """Build the prompt of a registered ``style`` (see ``PROMPT_STYLES.names()``)."""
    return PROMPT_STYLES.get(style)(question, options, image_size)


# ------------------------------------------------------------------------------------ answers and sizes
_IMAGE_SIZE = re.compile(r"Image size:\s*\(?\s*(\d{1,6}(?:\.\d+)?)\s*[x×X*,]\s*(\d{1,6}(?:\.\d+)?)\s*\)?")


def parse_image_size(prompt: str) -> tuple[float, float] | None:
    """Read the last ``Image size: (W x H)`` of a prompt; None when absent or not positive.

    Example:
        >>> parse_image_size("...\\nImage size: (640 x 480)\\n...")
        (640.0, 480.0)
    """
    if not isinstance(prompt, str):
        return None
    matches = _IMAGE_SIZE.findall(prompt[-20000:]) or _IMAGE_SIZE.findall(prompt)
    if not matches:
        return None
    width, height = float(matches[-1][0]), float(matches[-1][1])
    return (width, height) if width > 0 and height > 0 else None


def format_answer(answer_letter: str, option_text: str) -> str:
    """``(X) text``: the answer string the policy must produce."""
    return f"({answer_letter}) {option_text}"


def format_ground_truth(scene: SceneGraph, answer_letter: str, option_text: str) -> str:
    """STVQA ``answer_option_text``: ``<scene>{SG}</scene>\\n<answer>(X) T</answer>``."""
    return f"<scene>{scene.to_json()}</scene>\n<answer>{format_answer(answer_letter, option_text)}</answer>"


# ------------------------------------------------------------------------------------ response parsing
@dataclass(slots=True)
class ParsedResponse:
    """A response split into its tags. Built once per completion; every reward term reads it.

    ``contents[tag]`` is the text inside the tag when the tag occurs exactly once, opened before it is closed;
    otherwise None. ``scene`` is the validated graph (None when missing or invalid, reasons in ``errors``).
    """

    contents: dict[str, str | None]
    tags_ok: bool
    in_order: bool
    scene: SceneGraph | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def answer(self) -> str | None:
        return self.contents.get("answer")


def _tag_span(text: str, tag: str) -> tuple[int, int] | None:
    """``(start, end)`` of the content of ``<tag>...</tag>`` when both occur exactly once and in that order."""
    opening, closing = f"<{tag}>", f"</{tag}>"
    start = text.find(opening)
    if start < 0 or text.find(opening, start + 1) >= 0:
        return None
    end = text.find(closing)
    if end < 0 or text.find(closing, end + 1) >= 0 or end < start:
        return None
    return start + len(opening), end


@functools.lru_cache(maxsize=32)
def _tag_pattern(tags: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("<(/?)(" + "|".join(re.escape(tag) for tag in tags) + ")>")


@functools.lru_cache(maxsize=32)
def _tag_tokens(tags: tuple[str, ...]) -> tuple[tuple[str, str, str, int, int], ...] | None:
    """``(tag, "<tag>", "</tag>", len("<tag>"), len("</tag>"))`` per tag for the in-order fast path.

    None (no fast path) when tags repeat or a tag name holds ``<`` or ``>``: the proof in ``_ordered_spans``
    needs each token to hold exactly one ``<``, at its start.
    """
    if len(set(tags)) != len(tags) or any("<" in tag or ">" in tag for tag in tags):
        return None
    return tuple((tag, f"<{tag}>", f"</{tag}>", len(tag) + 2, len(tag) + 3) for tag in tags)


def _ordered_spans(text: str, tags: tuple[str, ...]) -> dict[str, tuple[int, int]] | None:
    """The spans of a well-formed response, or None when the fast proof does not apply.

    Well-formed completions hold each tag once, in order, and no other ``<``. This walks the text from ``<`` to
    ``<`` (``find`` of one character is a C ``memchr``) and requires each one to start the next expected token,
    and no ``<`` after the last. Then the tokens are all the ``<`` of the text, so no tag can occur a second time,
    and ``_tag_spans`` would return the same spans. It costs about a third of the regex pass on a long response.
    """
    tokens = _tag_tokens(tags)
    if tokens is None:
        return None
    spans: dict[str, tuple[int, int]] = {}
    find, startswith = text.find, text.startswith
    position = 0
    for tag, opening, closing, opening_length, closing_length in tokens:
        start = find("<", position)
        if start < 0 or not startswith(opening, start):
            return None
        start += opening_length
        end = find("<", start)
        if end < 0 or not startswith(closing, end):
            return None
        spans[tag] = (start, end)
        position = end + closing_length
    return spans if find("<", position) < 0 else None


def _tag_spans(text: str, tags: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Content spans of the tags that occur exactly once, opened before closed; one regex pass over ``text``.

    (One pass instead of four ``find``s per tag: the reward parses every completion of every step.)
    """
    if len(text) > 50_000:  # long (possibly adversarial) text: C-speed finds, whatever the number of tags in it
        spans = {tag: _tag_span(text, tag) for tag in tags}
        return {tag: span for tag, span in spans.items() if span is not None}
    opens: dict[str, int] = {}
    closes: dict[str, int] = {}
    repeated: set[str] = set()
    for match in _tag_pattern(tags).finditer(text):
        slash, tag = match.groups()
        seen = closes if slash else opens
        if tag in seen:
            repeated.add(tag)
        seen[tag] = match.start() if slash else match.end()
    return {tag: (opens[tag], closes[tag]) for tag in opens
            if tag in closes and tag not in repeated and opens[tag] <= closes[tag]}


def _tag_contents(text: str, tag: str) -> str | None:
    """Content of ``<tag>...</tag>`` when both occur exactly once and in that order."""
    span = _tag_span(text, tag)
    return None if span is None else text[span[0]:span[1]]


def parse_response(text: str, tags: Sequence[str] = TAGS, scene_options: ParseOptions = STRICT) -> ParsedResponse:
    """Split ``text`` into its tags and validate the scene graph. Never raises.

    ``tags_ok``: every tag occurs exactly once, opened before it is closed (the reference rule, any order).
    ``in_order``: additionally each tag closes before the next one opens (the paper's stricter rule).

    Example:
        >>> p = parse_response('<observe>x</observe><scene>{"objects": []}</scene><think>y</think><answer>(A) a</answer>')
        >>> p.tags_ok, p.answer, len(p.scene.objects)
        (True, '(A) a', 0)
    """
    if not isinstance(text, str):
        return ParsedResponse({tag: None for tag in tags}, False, False, None, ["response is not a string"])
    spans, tags_ok, in_order, scene, errors = split_response(text, tuple(tags), scene_options)
    contents: dict[str, str | None] = {}
    for tag in tags:
        span = spans.get(tag)
        contents[tag] = None if span is None else text[span[0]:span[1]]
    return ParsedResponse(contents, tags_ok, in_order, scene, errors)


def split_response(text: str, tags: tuple[str, ...], scene_options: ParseOptions = STRICT
                   ) -> tuple[dict[str, tuple[int, int]], bool, bool, SceneGraph | None, list[str]]:
    """``parse_response`` without building the tag texts: ``(spans, tags_ok, in_order, scene, errors)``.

    ``spans`` maps each well-formed tag to the ``(start, end)`` of its content. The reward calls this directly
    because it reads only the scene and answer texts; slicing the long observe/think texts and building a
    ``ParsedResponse`` per completion was a measurable share of its time. ``text`` must be a string.
    """
    errors: list[str] = []
    spans = _ordered_spans(text, tags)
    if spans is not None:  # every tag once, in order (the common case): nothing to check per tag
        tags_ok = in_order = True
    else:
        spans = _tag_spans(text, tags)
        in_order = True
        previous_end = -1
        for tag in tags:
            span = spans.get(tag)
            if span is None:
                errors.append(f"<{tag}> must occur exactly once with its closing tag")
                continue
            in_order = in_order and previous_end < span[0]
            previous_end = span[1]
        tags_ok = not errors
        in_order = tags_ok and in_order
    scene = None
    span = spans.get("scene") if "scene" in tags else None
    if span is not None:
        scene, reasons = SceneGraph.parse(text[span[0]:span[1]], scene_options)
        if reasons:
            errors.extend(f"scene: {reason}" for reason in reasons[:5])
    return spans, tags_ok, in_order, scene, errors


def parse_ground_truth(ground_truth: str) -> tuple[SceneGraph | None, str | None]:
    """Split an STVQA ground truth into its scene graph and answer; never raises.

    Missing parts are None. The GT is trusted data, not model output: any string is an object id and repeated
    ids, extra keys and inverted boxes are kept (``GROUND_TRUTH`` options, like the reference), so no GT object is
    dropped for how it is named. A bare ``(X) T`` string without tags is taken as the answer alone.
    """
    if not isinstance(ground_truth, str):
        return None, None
    scene_text = last_tag_contents(ground_truth, "scene")
    answer = last_tag_contents(ground_truth, "answer")
    if answer is None and scene_text is None:
        answer = ground_truth.strip() or None
    scene = SceneGraph.parse(scene_text, GROUND_TRUTH)[0] if scene_text is not None else None
    return scene, answer


def last_tag_contents(text: str, tag: str) -> str | None:
    """Content of the last ``<tag>...</tag>`` pair (used for ground truths and evaluation, not for the format)."""
    closing = text.rfind(f"</{tag}>")
    if closing < 0:
        return None
    opening = text.rfind(f"<{tag}>", 0, closing)
    return None if opening < 0 else text[opening + len(tag) + 2:closing]


def last_answer(text: str) -> str:
    """Text of the last ``<answer>…</answer>``, or the whole output when untagged (evaluation's extraction input)."""
    if not isinstance(text, str):
        return ""
    inside = last_tag_contents(text, "answer")
    return (inside if inside is not None else text).strip()
