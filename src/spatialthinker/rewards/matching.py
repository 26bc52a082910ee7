"""The spatial term R_s for a whole batch: box overlaps in one NumPy pass, then a one-to-one matching per response.

Box overlaps and label similarity of every (pred, GT) pair of the batch are computed in one pass; responses are then
grouped by their (P, G) shape so that, for small shapes, the assignment itself is an array operation over the
group. Hungarian (``scipy.optimize.linear_sum_assignment``) runs only for shapes too large to enumerate. The result equals the per-pair reference rule (see
``benchmarks/reward_throughput.py``, which checks it against a plain Python version).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spatialthinker.geometry import COORD_LIMIT, box_overlap, map_to_unit

from .config import RewardConfig
from .similarity import canonical_labels, similarity_matrix

# Shapes whose injective assignments number at most this many are solved by enumeration (4x4: 24, 10x3: 720):
# one vectorised argmin over a group beats a Hungarian call per response at these sizes.
_MAX_ENUMERATED = 1000


@dataclass(slots=True)
class MatchJob:
    """One response's matching problem. Boxes are pixel xyxy with sorted corners; labels are normalised."""

    pred_labels: Sequence[str]
    pred_boxes: Sequence[Sequence[float]]
    gt_labels: Sequence[str]
    gt_boxes: Sequence[Sequence[float]]
    width: float
    height: float


@dataclass(slots=True)
class MatchResult:
    score: float  # R_s in [0, 1]
    pairs: list[tuple[int, int]]  # (pred index, gt index) of the matching



@functools.lru_cache(maxsize=256)
def _injections(n_from: int, n_to: int) -> np.ndarray:
    """Every injective map of ``n_to`` slots onto distinct items of ``n_from``: ``(K, n_to)`` int array."""
    return np.asarray(list(itertools.permutations(range(n_from), n_to)), dtype=np.intp).reshape(-1, n_to)


def _n_injections(n_from: int, n_to: int) -> int:
    return math.perm(n_from, n_to)  # exact integers: 0 when n_to > n_from, no float overflow for big shapes


# Enumeration materialises (responses x assignments x pairs) costs; groups larger than this are done in chunks.
_MAX_ENUMERATION_CELLS = 2_000_000


def _assign_group(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching for a stack of equal-shape cost matrices ``(n, P, G)``.

    Returns pred and gt indices of the matched pairs, each ``(n, min(P, G))``.
    """
    n, n_pred, n_gt = cost.shape
    size = min(n_pred, n_gt)
    enumerated = _n_injections(max(n_pred, n_gt), size)
    if n > 1 and size > 1 and enumerated <= _MAX_ENUMERATED and n * enumerated * size > _MAX_ENUMERATION_CELLS:
        step = max(1, _MAX_ENUMERATION_CELLS // (enumerated * size))
        parts = [_assign_group(cost[i:i + step]) for i in range(0, n, step)]
        return np.concatenate([p for p, _ in parts]), np.concatenate([g for _, g in parts])
    if n_pred == 1 or n_gt == 1:  # one pair per response: a plain argmin, no assignment problem
        if n_pred == 1:
            return np.zeros((n, 1), np.intp), cost[:, 0, :].argmin(axis=1)[:, None]
        return cost[:, :, 0].argmin(axis=1)[:, None], np.zeros((n, 1), np.intp)
    if n_pred >= n_gt and _n_injections(n_pred, n_gt) <= _MAX_ENUMERATED:
        perms = _injections(n_pred, n_gt)  # (K, G): which prediction each GT object takes
        totals = cost[:, perms, np.arange(n_gt)].sum(axis=-1)  # (n, K)
        best = perms[totals.argmin(axis=1)]  # (n, G)
        return best, np.broadcast_to(np.arange(n_gt), best.shape)
    if n_pred < n_gt and _n_injections(n_gt, n_pred) <= _MAX_ENUMERATED:
        perms = _injections(n_gt, n_pred)  # (K, P): which GT object each prediction takes
        totals = cost[:, np.arange(n_pred), perms].sum(axis=-1)
        best = perms[totals.argmin(axis=1)]
        return np.broadcast_to(np.arange(n_pred), best.shape), best
    from scipy.optimize import linear_sum_assignment

    pred_idx, gt_idx = np.empty((n, size), np.intp), np.empty((n, size), np.intp)
    for k in range(n):
        pred_idx[k], gt_idx[k] = linear_sum_assignment(cost[k])
    return pred_idx, gt_idx


def _label_similarity(jobs: Sequence[MatchJob], members: Sequence[int], kind: str, pred_labels: list[str],
                      gt_labels: list[str]) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Label similarity of every (pred, gt) pair of the jobs, flattened in job, pred, gt order: ``(sum P·G,)``.

    For exact and lemma similarity ("same canonical label"), returns instead the integer code of each predicted
    and each GT label (``pred_labels`` and ``gt_labels``: the members' labels, flattened), so that the caller
    compares codes in one vectorised operation.
    """
    pred_canonical = canonical_labels(pred_labels, kind)
    if pred_canonical is None:  # embedding: a real-valued matrix per response
        return np.concatenate([similarity_matrix(jobs[i].pred_labels, jobs[i].gt_labels, kind).ravel() for i in members])
    gt_canonical = canonical_labels(gt_labels, kind) or []
    codes: dict[str, int] = {}  # labels -> integers, so that "same label" is one vectorised comparison
    for label in pred_canonical + gt_canonical:
        if label not in codes:
            codes[label] = len(codes)
    code = codes.__getitem__
    return (np.fromiter(map(code, pred_canonical), dtype=np.intp, count=len(pred_canonical)),
            np.fromiter(map(code, gt_canonical), dtype=np.intp, count=len(gt_canonical)))


def _pair_index(n_pred: np.ndarray, n_gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices into the stacked pred and gt boxes for every pair of every job, plus each job's first pair."""
    sizes = n_pred * n_gt
    first_pair = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pred_start = np.concatenate([[0], np.cumsum(n_pred)[:-1]])
    gt_start = np.concatenate([[0], np.cumsum(n_gt)[:-1]])
    job = np.repeat(np.arange(len(sizes)), sizes)  # (pairs,)
    k = np.arange(int(sizes.sum())) - first_pair[job]
    return pred_start[job] + k // n_gt[job], gt_start[job] + k % n_gt[job], first_pair


def score_batch(jobs: Sequence[MatchJob], config: RewardConfig, want_pairs: bool = False) -> list[MatchResult]:
    """R_s of every job (method.md §4, with fix (f) and the [0, 1] clamp); never raises on finite boxes.

    Cost of a pair: ``λ_sem (1 - sim) + λ_box (1 - B)``, B the box metric mapped to [0, 1] and clamped. The score
    is the summed B of the matched pairs over the number of GT objects (``spatial_average="gt"``) or of pairs.
    All pairs of all jobs go through the box maths in one call; only the assignment is done per (P, G) shape.

    Example:
        >>> job = MatchJob(["cup"], [(0, 0, 10, 10)], ["cup"], [(0, 0, 10, 10)], 100, 100)
        >>> score_batch([job], RewardConfig())[0].score
        1.0
    """
    results: list[MatchResult | None] = [None] * len(jobs)
    members: list[int] = []
    pred_counts: list[int] = []
    gt_counts: list[int] = []
    # One pass over the jobs gathers flat lists (boxes, sizes, labels), so that NumPy is called once per batch.
    pred_boxes: list = []
    gt_boxes: list = []
    scales: list = []
    pred_labels: list[str] = []
    gt_labels: list[str] = []
    for index, job in enumerate(jobs):
        n_pred, n_gt = len(job.pred_boxes), len(job.gt_boxes)
        if n_gt == 0:  # fix (f): nothing to localise; only an empty prediction is right
            results[index] = MatchResult(1.0 if n_pred == 0 else 0.0, [])
        elif n_pred == 0:
            results[index] = MatchResult(0.0, [])
        else:
            members.append(index)
            pred_counts.append(n_pred)
            gt_counts.append(n_gt)
            pred_boxes.extend(job.pred_boxes)
            gt_boxes.extend(job.gt_boxes)
            scales.append((job.width, job.height, job.width, job.height))
            pred_labels.extend(job.pred_labels)
            gt_labels.extend(job.gt_labels)
    if not members:
        return results  # type: ignore[return-value]
    n_pred = np.asarray(pred_counts, dtype=np.intp)
    n_gt = np.asarray(gt_counts, dtype=np.intp)
    scale = np.asarray(scales, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # Normalise by each job's stated size; clip so absurd coordinates cannot overflow the squares below.
        pred = np.clip(np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4) / np.repeat(scale, n_pred, axis=0),
                       -COORD_LIMIT, COORD_LIMIT)
        gt = np.clip(np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4) / np.repeat(scale, n_gt, axis=0),
                     -COORD_LIMIT, COORD_LIMIT)
        pred_row, gt_row, first_pair = _pair_index(n_pred, n_gt)
        box = map_to_unit(box_overlap(pred[pred_row], gt[gt_row], config.box_metric), config.box_metric)  # (pairs,)
    labels = _label_similarity(jobs, members, config.similarity, pred_labels, gt_labels)
    sim = (labels[0][pred_row] == labels[1][gt_row]) if isinstance(labels, tuple) else labels
    cost = config.lambda_sem * (1.0 - sim) + config.lambda_box * (1.0 - box)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for k, shape in enumerate(zip(n_pred.tolist(), n_gt.tolist())):
        groups[shape].append(k)
    for (p, g), ks in groups.items():
        flat = first_pair[ks][:, None] + np.arange(p * g)  # (n, P*G) positions of this group's pairs
        pred_idx, gt_idx = _assign_group(cost[flat].reshape(-1, p, g))
        matched = box[flat].reshape(-1, p, g)[np.arange(len(ks))[:, None], pred_idx, gt_idx].sum(axis=1)
        denominator = g if config.spatial_average == "gt" else min(p, g)
        scores = np.clip(matched / denominator, 0.0, 1.0).tolist()
        for row, k in enumerate(ks):
            pairs = list(zip(pred_idx[row].tolist(), gt_idx[row].tolist())) if want_pairs else []
            results[members[k]] = MatchResult(scores[row], pairs)
    return results  # type: ignore[return-value]
