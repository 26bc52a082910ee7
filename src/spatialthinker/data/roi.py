"""The ground-truth RoI sub-graph of a question (data.md §4): the part of the image graph the question names.

Tokenise the question, lower-case, drop possessive 's, add singular and plural forms (``inflect``; the
reference also used WordNet noun lemmas, which are not available offline, so the singular form stands in for the
lemma); keep every object whose class label is in that word set (all its instances) and every relation whose
two ends are kept; clip boxes to the image. Whole-image ground truth pushed the policy toward exhaustive,
unfocused graphs (data.md §4), hence the sub-graph.
"""

from __future__ import annotations

import re
from functools import lru_cache

from spatialthinker.data.records import AnnotatedImage
from spatialthinker.scene import SceneGraph, SceneObject

_TOKEN = re.compile(r"[a-z]+(?:'s|s')?")
#: Words of the question templates that are never object mentions (a "camera" or "image" object in the graph
#: must not enter a depth question's sub-graph just because the template says "closer to the camera").
TEMPLATE_WORDS: frozenset[str] = frozenset(
    "camera image picture photo frame perspective viewpoint view point position respect relation relative "
    "left right top bottom middle centre center front back side closer farther nearer larger bigger smaller".split())
MAX_NGRAM = 3


@lru_cache(maxsize=1)
def _engine():  # inflect's engine is slow to build; one per process
    import inflect

    return inflect.engine()


@lru_cache(maxsize=65536)
def word_forms(phrase: str) -> tuple[str, ...]:
    """The phrase, its singular and its plural (inflect inflects the last word of a multi-word phrase).

    Example:
        >>> sorted(word_forms("bikes"))
        ['bike', 'bikes']
    """
    engine = _engine()
    forms = {phrase}
    singular = engine.singular_noun(phrase)
    if singular:
        forms.add(singular)
    else:
        forms.add(engine.plural_noun(phrase))
    return tuple(sorted(f for f in forms if f))


@lru_cache(maxsize=65536)
def question_words(question: str) -> frozenset[str]:
    """Every 1-3-word phrase of the question with its singular and plural forms (template words dropped).

    Example:
        >>> {"man", "men", "parking meter"} <= question_words("Is the man's bike left of the parking meters?")
        True
    """
    tokens = [t[:-2] if t.endswith("'s") else t[:-1] if t.endswith("'") else t
              for t in _TOKEN.findall(question.lower().replace("\u2019", "'"))]
    words: set[str] = set()
    for size in range(1, MAX_NGRAM + 1):
        for start in range(len(tokens) - size + 1):
            gram = tokens[start:start + size]
            if size == 1 and gram[0] in TEMPLATE_WORDS:
                continue
            words.update(word_forms(" ".join(gram)))
    return frozenset(words)


def roi_subgraph(question: str, image: AnnotatedImage) -> SceneGraph:
    """The RoI sub-graph of ``question`` on ``image``, boxes clipped to the image.

    Example:
        >>> from spatialthinker.data.records import AnnotatedImage, AnnotatedObject
        >>> image = AnnotatedImage("1", 100, 100, [AnnotatedObject("cup.1", "cup", (5, 5, 120, 20)),
        ...                                        AnnotatedObject("dog.1", "dog", (1, 1, 2, 2))])
        >>> roi_subgraph("Where is the cup?", image).to_dict()["objects"]
        [{'id': 'cup.1', 'bbox': [5, 5, 100, 20]}]
    """
    words = question_words(question)
    keep = [o for o in image.objects if o.label in words]
    kept_ids = {o.id for o in keep}
    relations = tuple(r for r in image.relations if r.subject in kept_ids and r.object in kept_ids)
    return SceneGraph(tuple(SceneObject(o.id, o.bbox) for o in keep), relations).clipped(image.width, image.height)
