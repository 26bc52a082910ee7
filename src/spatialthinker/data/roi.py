"""The ground-truth RoI sub-graph of a question (data.md §4): the part of the image graph the question names.

Generated questions know what they name: ``named_subgraph(labels, image)`` keeps every instance of those
classes and the relations among them. Free text (LLM-written questions) goes through ``roi_subgraph``: the
image's class labels, singular or plural, are matched in the question as whole units, longest first, so
"wine glass" is one mention (not "wine" and "glass") and "computer tower" does not add "computer". Fixed template
phrases ("in the picture", "to the left of", "closer to the camera") are removed first, so an object labelled
"picture" enters the scene when the question is about it and not because the template says "picture". Boxes
are clipped to the image. Whole-image ground truth pushed the policy toward exhaustive, unfocused graphs
(data.md §4), hence the sub-graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from spatialthinker.data.labels import lemma, plural, singular_word
from spatialthinker.data.records import AnnotatedImage
from spatialthinker.scene import SceneGraph, SceneObject

_TOKEN = re.compile(r"[a-z]+(?:'s|s')?")
#: Words of the question templates that are never object mentions on their own in the phrases below.
TEMPLATE_WORDS: frozenset[str] = frozenset(
    "camera image picture photo frame perspective viewpoint view point position respect relation relative "
    "left right top bottom middle centre center front back side closer farther nearer larger bigger smaller".split())
#: Template phrases removed before label matching: a "picture" object is named by "the picture", not by
#: "in the picture"; a "side" object not by "on which side of".
TEMPLATE_PHRASES = re.compile(
    r"\b(?:in|of|from|within|across) (?:the|this) (?:image|picture|photo|frame|scene|view)\b"
    r"|\b(?:to|from) the (?:camera|viewer)\b|\bthe viewer(?:'s)? point of view\b|\bpoint of view\b"
    r"|\b(?:to|on|at) (?:the|its) (?:left|right|top|bottom|front|back|side)(?: side)?(?: of)?\b"
    r"|\bin front of\b|\bon top of\b|\bwhich side of\b|\bwhich (?:part|region) of the (?:image|frame)\b"
    r"|\b(?:top|bottom|middle|center|centre) (?:left|right|center|centre)\b|\bin the (?:middle|center|centre)\b"
    r"|\bperspective\b|\bviewpoint\b")
MAX_NGRAM = 3


@lru_cache(maxsize=65536)
def word_forms(phrase: str) -> tuple[str, ...]:
    """The phrase, its singular and its plural (the last word is inflected).

    Example:
        >>> sorted(word_forms("bikes")), sorted(word_forms("glasses"))
        (['bike', 'bikes'], ['glasses'])
    """
    return tuple(sorted({phrase, lemma(phrase), plural(lemma(phrase))}))


def _tokens(question: str) -> list[str]:
    text = TEMPLATE_PHRASES.sub(" | ", question.lower().replace("\u2019", "'"))
    return [t[:-2] if t.endswith("'s") else t[:-1] if t.endswith("'") else t for t in _TOKEN.findall(text)]


@lru_cache(maxsize=65536)
def question_words(question: str) -> frozenset[str]:
    """Every 1-3-word phrase of the question (template phrases removed) with its singular and plural forms.

    Example:
        >>> {"man", "men", "parking meter"} <= question_words("Is the man's bike left of the parking meters?")
        True
    """
    tokens = _tokens(question)
    words: set[str] = set()
    for size in range(1, MAX_NGRAM + 1):
        for start in range(len(tokens) - size + 1):
            words.update(word_forms(" ".join(tokens[start:start + size])))
    return frozenset(words)


def mentioned_labels(question: str, labels: Iterable[str]) -> tuple[str, ...]:
    """The labels (of one image) that the question mentions, each as a whole unit, longest labels first.

    A token covered by a longer mention is not reused: "wine glass" does not also mention "glass".

    Example:
        >>> mentioned_labels("Is the wine glass left of the computer tower?", ["glass", "wine glass", "computer", "computer tower"])
        ('computer tower', 'wine glass')
    """
    tokens = [singular_word(t) for t in _tokens(question)]
    present = set(tokens)
    used = [False] * len(tokens)
    found: list[str] = []
    for label, words in _label_words(frozenset(labels)):
        if not present.issuperset(words):
            continue
        n = len(words)
        for start in range(len(tokens) - n + 1):
            if tuple(tokens[start:start + n]) == words and not any(used[start:start + n]):
                used[start:start + n] = [True] * n
                if label not in found:
                    found.append(label)
    return tuple(sorted(found))


@lru_cache(maxsize=4096)
def _label_words(labels: frozenset[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(label, its singular words) for one image's labels, longest first (matching order of ``mentioned_labels``)."""
    ordered = sorted(labels, key=lambda lab: (-lab.count(" "), lab))
    return tuple((label, tuple(singular_word(w) for w in lemma(label).split(" "))) for label in ordered)


def named_subgraph(labels: Iterable[str], image: AnnotatedImage) -> SceneGraph:
    """Every instance of the named classes and the relations among them, boxes clipped to the image."""
    wanted = set(labels)
    keep = [o for o in image.objects if o.label in wanted]
    kept_ids = {o.id for o in keep}
    relations = tuple(r for r in image.relations if r.subject in kept_ids and r.object in kept_ids)
    return SceneGraph(tuple(SceneObject(o.id, o.bbox) for o in keep), relations).clipped(image.width, image.height)


def roi_subgraph(question: str, image: AnnotatedImage) -> SceneGraph:
    """The RoI sub-graph of free-text ``question`` on ``image``, boxes clipped to the image.

    Example:
        >>> from spatialthinker.data.records import AnnotatedImage, AnnotatedObject
        >>> image = AnnotatedImage("1", 100, 100, [AnnotatedObject("cup.1", "cup", (5, 5, 120, 20)),
        ...                                        AnnotatedObject("dog.1", "dog", (1, 1, 2, 2))])
        >>> roi_subgraph("Where is the cup?", image).to_dict()["objects"]
        [{'id': 'cup.1', 'bbox': [5, 5, 100, 20]}]
    """
    return named_subgraph(mentioned_labels(question, {o.label for o in image.objects}), image)
