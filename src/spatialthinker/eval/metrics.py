"""Scoring of item records: accuracy with Wilson intervals, parse failures, per-category and official aggregates,
and scene-graph quality. Extraction happens earlier (``extract.py``); this module only counts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from spatialthinker.eval.items import ItemRecord

Z_95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Chosen over the normal interval because benchmark slices are small (BLINK depth has 124 items) and accuracies
    sit near 0 or 1, where the normal interval leaves [0, 1] and under-covers.

    Example:
        >>> [round(x, 4) for x in wilson_interval(8, 10)]
        [0.4902, 0.9433]
    """
    if n <= 0:
        return (float("nan"), float("nan"))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportion(successes: int, n: int) -> dict[str, Any]:
    """``{"n", "correct", "accuracy", "ci95"}`` for one binomial count (accuracy NaN when n is 0)."""
    low, high = wilson_interval(successes, n)
    return {"n": n, "correct": successes, "accuracy": successes / n if n else float("nan"), "ci95": [low, high]}


def macro_mean(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Unweighted mean of several accuracies, with an approximate 95% interval.

    Official scores such as CV-Bench's are macro means, which are not binomial. A single part keeps its Wilson
    interval; otherwise the interval is normal around the mean, with each part's variance taken at the
    Agresti-Coull estimate ``p~ = (k + z^2/2) / (n + z^2)`` so that a part at 0% or 100% still has width.
    """
    parts = [p for p in parts if p.get("n") and p.get("accuracy") is not None]
    if not parts:
        return {"n": 0, "accuracy": float("nan"), "ci95": [float("nan"), float("nan")]}
    if len(parts) == 1 and "correct" in parts[0]:
        return dict(parts[0])
    k = len(parts)
    mean = sum(p["accuracy"] for p in parts) / k
    variance = 0.0
    for part in parts:
        n_tilde = part["n"] + Z_95**2
        p_tilde = (part["accuracy"] * part["n"] + Z_95**2 / 2) / n_tilde
        variance += p_tilde * (1 - p_tilde) / n_tilde
    half = Z_95 * math.sqrt(variance) / k
    return {"n": sum(p["n"] for p in parts), "accuracy": mean, "ci95": [max(0.0, mean - half), min(1.0, mean + half)]}


def _field(record: ItemRecord, by: str) -> str:
    return record.category if by == "category" else str((record.tags or {}).get(by, ""))


def _accuracy_by(records: Iterable[ItemRecord], by: str = "category") -> dict[str, dict[str, Any]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        if record.primary:
            count = counts[_field(record, by)]
            count[0] += int(record.correct)
            count[1] += 1
    return {key: proportion(correct, n) for key, (correct, n) in sorted(counts.items())}


# ------------------------------------------------------------------------------------------ aggregates
# Each aggregate takes the benchmark's records and its YAML parameters and returns named results.

def macro_of_groups(records: list[ItemRecord], name: str, groups: dict[str, list[str]], by: str = "category",
                    match: str = "exact", require_all: bool = False, **_: Any) -> dict[str, dict[str, Any]]:
    """Accuracy of each group as the macro mean of its members, and ``name`` = mean of the groups.

    CV-Bench's official score (its README; lmms-eval ``cv_bench/utils.py``): 2D = mean of the ADE20K and COCO
    source accuracies, 3D = Omni3D accuracy, overall = mean of 2D and 3D. With ``require_all`` the overall score
    exists only when every group has items: with the 3D part missing, ``name`` is marked ``partial`` (accuracy
    None, ``missing`` lists the groups) instead of silently equalling the 2D accuracy. With ``match: prefix``
    members are prefixes of the field value (3DSRBench's ``location_above`` rolls up into ``location``).
    """
    by_value = _accuracy_by(records, by)
    results: dict[str, dict[str, Any]] = {}
    for group, members in groups.items():
        if match == "prefix":
            parts = [_pool([by_value[v] for v in by_value if v.startswith(m)]) for m in members]
        else:
            parts = [by_value[m] for m in members if m in by_value]
        results[group] = macro_mean(parts)
    missing = [g for g in groups if not results[g].get("n")]
    if require_all and missing:
        results[name] = {"n": sum(results[g]["n"] for g in groups), "accuracy": None, "ci95": [None, None],
                         "partial": True, "missing": missing}
        return results
    results[name] = macro_mean([results[g] for g in groups])
    return results


def _pool(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return proportion(sum(p["correct"] for p in parts), sum(p["n"] for p in parts))


def macro_of_categories(records: list[ItemRecord], name: str, by: str = "category", **_: Any) -> dict[str, dict[str, Any]]:
    """Unweighted mean over the categories present (every category counts the same, whatever its size)."""
    return {name: macro_mean(list(_accuracy_by(records, by).values()))}


def _all_correct_by_group(records: list[ItemRecord]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for record in records:
        groups[record.group_id or record.id].append(record.correct)
    return groups


def circular_accuracy(records: list[ItemRecord], name: str, **_: Any) -> dict[str, dict[str, Any]]:
    """CircularEval over the ``circular`` expander's variants: an item counts only if every rotation is right."""
    groups = _all_correct_by_group(records)
    return {name: proportion(sum(all(v) for v in groups.values()), len(groups))}


def pair_accuracy(records: list[ItemRecord], name: str, size: int = 2, **_: Any) -> dict[str, dict[str, Any]]:
    """MMVP pair accuracy: a pair (same question, two images) counts only when both are right.

    Incomplete pairs (cut by ``--limit``) are left out rather than counted as half a pair.
    """
    groups = {k: v for k, v in _all_correct_by_group(records).items() if len(v) == size}
    return {name: proportion(sum(all(v) for v in groups.values()), len(groups))}


def _matches(record: ItemRecord, conditions: dict[str, Any]) -> bool:
    return bool(conditions) and all(_field(record, key) == str(value) for key, value in conditions.items())


def all_correct_by(records: list[ItemRecord], name: str, keys: list[str], exclude: dict[str, Any] | None = None,
                   **_: Any) -> dict[str, dict[str, Any]]:
    """Share of groups (records with equal ``keys`` fields) whose every record is right.

    HallusionBench's official consistency metrics (lmms-eval ``hallusion_bench/utils.py``): qAcc groups by
    category, subcategory, set_id and question_id (one question asked of several figures); fAcc by category,
    subcategory, set_id and figure_id (every question of one figure), leaving out VS rows of figure 0, which
    have no figure (``exclude: {category: VS, figure_id: "0"}``). Every record counts, primary or not.
    """
    groups: dict[tuple[str, ...], list[bool]] = defaultdict(list)
    for record in records:
        if not _matches(record, exclude or {}):
            groups[tuple(_field(record, key) for key in keys)].append(record.correct)
    return {name: proportion(sum(all(v) for v in groups.values()), len(groups))}


def qid_variant_accuracy(records: list[ItemRecord], prefix: str = "", **_: Any) -> dict[str, dict[str, Any]]:
    """3DSRBench's four official numbers from the benchmark's own variant rows (tags set by ``qid_variant``).

    As VLMEvalKit and lmms-eval (``3dsrbench/utils.py``) define them: ``vanilla`` = plain questions only;
    ``circular`` = a question (and, separately, its flipped question) counts when all option rotations are right;
    ``flip`` = a question and its flipped version, at the same rotation, both right; ``flip_circular`` = every
    variant of the base question right. ``all_rows`` is the mean over every row (lmms-eval's ``vanilla_accuracy``).
    """
    def grouped(key: Callable[[ItemRecord], tuple[str, ...]]) -> dict[str, Any]:
        groups: dict[tuple[str, ...], list[bool]] = defaultdict(list)
        for record in records:
            groups[key(record)].append(record.correct)
        return proportion(sum(all(v) for v in groups.values()), len(groups))

    def tag(record: ItemRecord, name: str) -> str:
        return str((record.tags or {}).get(name, ""))

    plain = [r for r in records if tag(r, "flip") == "0" and tag(r, "rotation") == "0"]
    return {
        f"{prefix}vanilla": proportion(sum(r.correct for r in plain), len(plain)),
        f"{prefix}circular": grouped(lambda r: (tag(r, "base_qid"), tag(r, "flip"))),
        f"{prefix}flip": grouped(lambda r: (tag(r, "base_qid"), tag(r, "rotation"))),
        f"{prefix}flip_circular": grouped(lambda r: (tag(r, "base_qid"),)),
        f"{prefix}all_rows": proportion(sum(r.correct for r in records), len(records)),
    }


# ------------------------------------------------------------------------------------------ summary
def summarize(records: list[ItemRecord], aggregates: Sequence[dict[str, Any]] = (), official: str | None = None) -> dict[str, Any]:
    """Overall and per-category accuracy, parse-failure rate, aggregates and scene-graph quality of one benchmark.

    Plain accuracy counts primary records only (one per dataset item); the official score is the named aggregate
    or, without one, the plain accuracy.
    """
    from spatialthinker.eval.registry import AGGREGATES

    errors = [r for r in records if r.error]
    records = [r for r in records if not r.error]
    primary = [r for r in records if r.primary]
    failures = sum(r.parse_failed for r in primary)
    overall = proportion(sum(r.correct for r in primary), len(primary))
    results: dict[str, dict[str, Any]] = {}
    for spec in aggregates:
        params = {k: v for k, v in spec.items() if k != "kind"}
        results.update(AGGREGATES.get(spec["kind"])(records, **params))
    summary = {
        **overall,
        "parse_failures": failures,
        "errors": len(errors),
        "parse_failure_rate": failures / len(primary) if primary else float("nan"),
        "n_records": len(records),
        "per_category": _accuracy_by(records),
        "aggregates": results,
        "official": {"name": official or "accuracy", **(results[official] if official else overall)},
    }
    scenes = [r.scene for r in primary if r.scene]
    if scenes:
        summary["scene_quality"] = scene_summary(scenes)
    return summary


def scene_summary(scenes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean of per-item scene metrics over the items whose output could be scored against a GT scene."""
    valid = [s for s in scenes if s.get("valid")]
    keys = ("mean_iou", "recall_50", "precision_50", "label_accuracy")
    out: dict[str, Any] = {"n": len(scenes), "valid_rate": len(valid) / len(scenes)}
    for key in keys:
        # an invalid or missing graph scores 0 rather than disappearing, so bad formats cannot raise the mean
        out[key] = sum(float(s.get(key, 0.0)) for s in scenes) / len(scenes)
    return out
