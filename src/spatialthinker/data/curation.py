"""Curation of generated items: de-duplication, train/val split by image, category balancing, top-rated selection
and the ``stats.json`` summary (data.md §5 step 4, with a split by image so no image is in both splits).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from spatialthinker.data.generators.base import stable_int
from spatialthinker.data.records import CATEGORIES, LEVELS, QAItem


@dataclass
class CurationConfig:
    """How generated items become a dataset.

    Parameters:
        target (`int | None`, defaults to `None`): Total items over both splits; None keeps every item (no balancing).
        relation_percent (`float`, defaults to `50.0`): Share of ``relation`` items when balancing; the rest is split
            equally over the other eight categories (STVQA-7K: relation ~52%).
        val_fraction (`float`, defaults to `0.1`): Fraction of *images* put in the validation split.
        seed (`int`, defaults to `0`): Seed of the split and of rating tie-breaks.
    """

    target: int | None = field(default=None, metadata={"help": "Total items; None keeps all."})
    relation_percent: float = field(default=50.0, metadata={"help": "Percent of relation items when balancing."})
    val_fraction: float = field(default=0.1, metadata={"help": "Fraction of images in the val split."})
    seed: int = field(default=0, metadata={"help": "Seed of the split and tie-breaks."})

    def __post_init__(self) -> None:
        if self.target is not None and self.target < 1:
            raise ValueError(f"target must be a positive number of items or None, got {self.target}.")
        if not 0.0 <= self.relation_percent <= 100.0:
            raise ValueError(f"relation_percent must be in [0, 100], got {self.relation_percent}.")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}.")


@dataclass
class Curated:
    """The two splits and the statistics written to ``stats.json``."""

    train: list[QAItem]
    val: list[QAItem]
    stats: dict[str, Any]


def question_key(item: QAItem) -> tuple[str, str]:
    """Duplicate key: the same question (case and spacing ignored) about the same image."""
    return item.image_id, " ".join(item.question.lower().split())


def is_val_image(image_id: str, val_fraction: float, seed: int) -> bool:
    """Reproducible image-level split: a stable hash of the image id, never the item order."""
    return stable_int(seed, "split", image_id) % 1_000_000 < val_fraction * 1_000_000


def quotas(total: int, relation_percent: float) -> dict[str, int]:
    """Items per category for ``total``: ``relation_percent`` relation, the rest equal (remainder to the first).

    Example:
        >>> quotas(100, 50)["relation"], quotas(100, 50)["count"]
        (50, 7)
    """
    relation = round(total * relation_percent / 100)
    others = [c for c in CATEGORIES if c != "relation"]
    share, extra = divmod(total - relation, len(others))
    result = {"relation": relation}
    result.update({c: share + (1 if i < extra else 0) for i, c in enumerate(others)})
    return result


def top_rated(items: Sequence[QAItem], k: int, seed: int) -> list[QAItem]:
    """The ``k`` highest-rated items, ties broken by a stable hash, returned in their original order."""
    ranked = sorted(range(len(items)), key=lambda i: (-items[i].rating, stable_int(seed, items[i].image_id, items[i].question)))
    keep = set(ranked[:k])
    return [item for i, item in enumerate(items) if i in keep]


def _balance(items: list[QAItem], total: int, config: CurationConfig, dropped: Counter) -> list[QAItem]:
    by_category: dict[str, list[QAItem]] = {c: [] for c in CATEGORIES}
    for item in items:
        by_category[item.category].append(item)
    chosen: set[int] = set()
    for category, quota in quotas(total, config.relation_percent).items():
        pool = by_category[category]
        if len(pool) < quota:
            dropped[f"{category}:shortfall"] += quota - len(pool)
        dropped[f"{category}:over_quota"] += max(0, len(pool) - quota)
        chosen.update(id(item) for item in top_rated(pool, quota, config.seed))
    return [item for item in items if id(item) in chosen]


def curate(items: Iterable[QAItem], config: CurationConfig | None = None,
           skipped: Mapping[str, int] | None = None) -> Curated:
    """De-duplicate, split by image, balance each split and compute the statistics.

    Args:
        items: generated items, in a deterministic order (the output order follows it).
        config: see ``CurationConfig``.
        skipped: generator skip counts (``"category:reason"``) to carry into ``stats["skipped"]``.
    Returns:
        ``Curated(train, val, stats)``; ``stats["dropped"]`` counts what curation removed and why
        (``shortfall`` counts quota places no item could fill).
    Example:
        >>> curate([]).stats["counts"]["train"]["total"]
        0
    """
    config = config or CurationConfig()
    dropped: Counter = Counter()
    unique: list[QAItem] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        key = question_key(item)
        if key in seen:
            dropped["all:duplicate"] += 1
            continue
        seen.add(key)
        unique.append(item)
    train = [i for i in unique if not is_val_image(i.image_id, config.val_fraction, config.seed)]
    val = [i for i in unique if is_val_image(i.image_id, config.val_fraction, config.seed)]
    if config.target is not None:
        val_target = round(config.target * config.val_fraction)
        train = _balance(train, config.target - val_target, config, dropped)
        val = _balance(val, val_target, config, dropped) if val_target else []
    stats = {
        "config": asdict(config),
        "counts": {"train": split_stats(train), "val": split_stats(val)},
        "skipped": dict(sorted(Counter(skipped or {}).items())),
        "dropped": dict(sorted(dropped.items())),
    }
    return Curated(train, val, stats)


def split_stats(items: Sequence[QAItem]) -> dict[str, Any]:
    """Counts per category, level and category x level, answer-letter and option-count distributions, images."""
    return {
        "total": len(items),
        "images": len({i.image_id for i in items}),
        "category": {c: n for c in CATEGORIES if (n := sum(i.category == c for i in items))},
        "level": {lv: n for lv in LEVELS if (n := sum(i.level == lv for i in items))},
        "category_level": {f"{c}/{lv}": n for c in CATEGORIES for lv in LEVELS
                           if (n := sum(i.category == c and i.level == lv for i in items))},
        "answer_letter": dict(sorted(Counter(i.answer_letter for i in items).items())),
        "num_options": {str(k): v for k, v in sorted(Counter(len(i.options) for i in items).items())},
        "evidence_rule": dict(sorted(Counter(str(i.evidence.get("rule")) for i in items).items())),
    }
