"""Deterministic question generators for the nine STVQA categories (data.md §2), one registry entry per category.

``generate_items(image)`` runs every registered generator on one ``AnnotatedImage`` and returns the questions its
graph honestly supports. Each category module documents its evidence rule; each item records its evidence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from spatialthinker.data.generators import metric, presence, relational  # noqa: F401  (registers the generators)
from spatialthinker.data.cooccurrence import Cooccurrence
from spatialthinker.data.generators.base import GENERATORS, Context, stable_int
from spatialthinker.data.records import CATEGORIES, AnnotatedImage, QAItem

__all__ = ["GENERATORS", "generate_items", "generate_items_with_stats", "MAX_PER_CATEGORY"]

#: At most this many questions per category and image before ``per_image`` selection (keeps big graphs from
#: flooding one category with near-identical pairs).
MAX_PER_CATEGORY = 8


def generate_items_with_stats(image: AnnotatedImage, seed: int = 0, per_image: int | None = None,
                              categories: Sequence[str] | None = None,
                              max_per_category: int = MAX_PER_CATEGORY,
                              cooccurrence: Cooccurrence | None = None) -> tuple[list[QAItem], Counter]:
    """Like ``generate_items`` and also the ``Counter`` of skipped candidates (``"category:reason"`` keys).

    ``cooccurrence`` (statistics of the whole input corpus) picks plausible absent classes for existence
    questions; without it the fixed ``vocabulary.CONTEXTS`` table does.
    """
    wanted = list(CATEGORIES if categories is None else categories)
    for name in wanted:
        GENERATORS.get(name)  # unknown names raise with the list of known ones
    ctx = Context(image, seed, cooccurrence=cooccurrence)
    items: list[QAItem] = []
    seen: set[str] = set()
    for name in (c for c in CATEGORIES if c in wanted):
        produced = []
        for item in GENERATORS.get(name)(ctx):
            if item.question in seen:
                ctx.skip(name, "duplicate_question")
                continue
            seen.add(item.question)
            produced.append(item)
        if len(produced) > max_per_category:
            ctx.skipped[f"{name}:over_category_cap"] += len(produced) - max_per_category
            produced = _top(produced, max_per_category, seed)
        items.extend(produced)
    if per_image is not None and len(items) > per_image:
        ctx.skipped["all:over_per_image"] += len(items) - per_image
        items = _top(items, per_image, seed)
    return items, ctx.skipped


def _top(items: list[QAItem], k: int, seed: int) -> list[QAItem]:
    """The ``k`` best by rating, ties broken by a stable hash of the question; original order kept."""
    ranked = sorted(range(len(items)), key=lambda i: (-items[i].rating, stable_int(seed, items[i].question)))
    keep = set(ranked[:k])
    return [item for i, item in enumerate(items) if i in keep]


def generate_items(image: AnnotatedImage, seed: int = 0, per_image: int | None = None,
                   categories: Sequence[str] | None = None, cooccurrence: Cooccurrence | None = None) -> list[QAItem]:
    """All questions the graph of ``image`` supports (at most ``per_image``, chosen by rating then stable hash).

    Args:
        image: an annotated image from any reader or the simulator (3D fields are used where present).
        seed: changes phrasings, option order and tie-breaks reproducibly.
        per_image: cap on questions per image; None keeps all (after the per-category cap).
        categories: subset of ``records.CATEGORIES``; None runs all nine.
        cooccurrence: class co-occurrence of the input corpus (plausible absent classes for existence).
    Returns:
        The items in category order, each with its RoI scene graph and evidence.
    Example:
        >>> from spatialthinker.data.records import AnnotatedImage, AnnotatedObject
        >>> objs = [AnnotatedObject(f"cup.{i}", "cup", (10 + 60 * i, 10, 50 + 60 * i, 60)) for i in range(1, 4)]
        >>> [i.answer_text for i in generate_items(AnnotatedImage("7", 300, 200, objs), categories=["count"])]
        ['3']
    """
    return generate_items_with_stats(image, seed, per_image, categories, cooccurrence=cooccurrence)[0]
