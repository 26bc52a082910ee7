"""The gated dense reward of method.md §4 for one response or a batch: ``compute_reward`` / ``compute_rewards``.

``total = 1[format] · (w_f·R_f + w_c·R_c + w_a·R_a + w_s·1[R_a = 1]·R_s + w_r·1[R_a = 1]·R_rel)``.
The components in a ``RewardBreakdown`` are the values that entered the total: a gated-off term reads 0, and
``errors`` says why. Nothing here raises on model output or on a malformed ground truth.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from spatialthinker.prompts import TAGS, parse_image_size, split_response

from .config import RewardConfig
from .matching import MatchJob, MatchResult, score_batch
from .terms import (
    GroundTruth,
    accuracy_reward,
    coerce_image_size,
    count_reward,
    normalize_predicate,
    parse_for_reward,
    pred_objects,
    read_ground_truth,
    scene_options,
)

logger = logging.getLogger(__name__)
_DEFAULT = RewardConfig()


@dataclass(frozen=True, slots=True)
class RewardBreakdown:
    """The reward of one response and the telemetry trainers log with it. Every float is in [0, 1]."""

    total: float
    format: float
    count: float
    accuracy: float
    spatial: float
    relation: float = 0.0  # opt-in relation term (0 unless relation_weight > 0 and the answer is right)
    n_pred_objects: int = 0  # real number of objects in the predicted scene (0 when the scene is invalid)
    n_gt_objects: int = 0
    answer_empty: bool = True  # no <answer> tag, or only whitespace inside it
    errors: tuple[str, ...] = ()  # why a term scored 0: format failures, missing size, bad ground truth

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = list(self.errors)
        return data


# Building a frozen dataclass through its __init__ costs an object.__setattr__ detour per field, about 1 us for
# the ten fields here, paid once per response. _breakdown fills the slots directly: the same object, equality
# and hashing (scene.py builds its validated objects the same way).
_new_object = object.__new__
_BREAKDOWN_SETTERS = tuple(getattr(RewardBreakdown, name).__set__ for name in RewardBreakdown.__slots__)


def _breakdown(config: RewardConfig, fmt: float, count: float, accuracy: float, spatial: float, relation: float,
               n_pred: int, gt: GroundTruth, answer_empty: bool, errors: list[str]) -> RewardBreakdown:
    """The ``RewardBreakdown`` of already gated terms: the weighted total, clamped to [0, 1]."""
    total = (config.format_weight * fmt + config.count_weight * count + config.accuracy_weight * accuracy
             + config.spatial_weight * spatial + config.relation_weight * relation)
    values = (min(max(total, 0.0), 1.0), fmt, count, accuracy, spatial, relation, n_pred, gt.n_objects,
              answer_empty, tuple(errors[:8]))
    result = _new_object(RewardBreakdown)
    for set_field, value in zip(_BREAKDOWN_SETTERS, values):
        set_field(result, value)
    return result


@dataclass(slots=True)
class _Pending:
    """A response waiting for the batched spatial term; everything else about it is already decided."""

    fmt: float
    count: float
    accuracy: float
    n_pred: int
    gt: GroundTruth
    answer_empty: bool
    errors: list[str]
    pred_ids: list[str]
    pred_relations: list[tuple[str, str, str]]
    job: int  # index into the spatial jobs


def _prepare(response: Any, gt: GroundTruth, size: tuple[float, float] | None, config: RewardConfig,
             jobs: list[MatchJob]) -> RewardBreakdown | _Pending:
    """Parse one response and compute its cheap terms.

    Returns the finished breakdown when the spatial term is 0 without box maths (format or accuracy gate, no
    image size): most of a batch, which then costs no per-response state. Otherwise queues the matching problem
    in ``jobs`` and returns the state ``_finish`` completes once the batch is matched.
    """
    if type(response) is str:  # the hot path: tag spans only, no ParsedResponse and no observe/think copies
        spans, tags_ok, in_order, scene, errors = split_response(response, TAGS, scene_options(config))
        span = spans.get("answer")
        answer = response[span[0]:span[1]] if span is not None else None
    else:  # not text: scores 0, with the parser's reason
        parsed = parse_for_reward(response, config)
        tags_ok, in_order, scene, errors = parsed.tags_ok, parsed.in_order, parsed.scene, parsed.errors
        answer = parsed.answer
    # errors is this response's own list: extend it in place
    if config.strict_order and tags_ok and not in_order:
        errors.append("tags are not in the order observe, scene, think, answer")
    if gt.errors:
        errors.extend(gt.errors)
    # R_f, the rule of terms.format_reward on the split parts: four tags exactly once (in order if
    # strict_order) and a valid scene graph
    fmt = 1.0 if tags_ok and scene is not None and (in_order or not config.strict_order) else 0.0
    answer_empty = not (answer and answer.strip())
    n_pred = len(scene.objects) if scene is not None else 0
    if config.gating and fmt == 0.0:  # format gate: nothing else is paid, so compute nothing else
        return _breakdown(config, 0.0, 0.0, 0.0, 0.0, 0.0, n_pred, gt, answer_empty, errors)
    n_rel = len(scene.relations) if scene is not None else 0
    count = count_reward(n_pred, n_rel, gt, config)
    if config.answer_match == "exact":  # the hot path: the GT side is lower-cased once, in the cache
        accuracy = 1.0 if answer and gt.answer_key and answer.strip().lower() == gt.answer_key else 0.0
    else:
        accuracy = accuracy_reward(answer, gt.answer, config.answer_match)
    if config.gating and accuracy < 1.0:  # accuracy gate on the spatial term
        return _breakdown(config, fmt, count, accuracy, 0.0, 0.0, n_pred, gt, answer_empty, errors)
    if size is None:
        errors.append("image size missing or not positive: spatial term is 0")
        return _breakdown(config, fmt, count, accuracy, 0.0, 0.0, n_pred, gt, answer_empty, errors)
    labels, ids, boxes = pred_objects(scene, config.max_objects)
    pred_ids: list[str] = []
    pred_relations: list[tuple[str, str, str]] = []
    if config.relation_weight > 0 and scene is not None:
        pred_ids = ids
        pred_relations = [(r.subject, normalize_predicate(r.predicate), r.object) for r in scene.relations]
    jobs.append(MatchJob(labels, boxes, gt.names, gt.boxes, size[0], size[1]))
    return _Pending(fmt, count, accuracy, n_pred, gt, answer_empty, errors, pred_ids, pred_relations, len(jobs) - 1)


def _relation_score(state: _Pending, match: MatchResult) -> float:
    """Fraction of GT relations reproduced by the prediction, with predicted ids mapped through the matching."""
    gt = state.gt
    if not gt.relations:
        return 1.0 if not state.pred_relations else 0.0
    to_gt = {state.pred_ids[p]: gt.ids[g] for p, g in match.pairs}
    mapped = {(to_gt.get(s), pred, to_gt.get(o)) for s, pred, o in state.pred_relations}
    return len(gt.relations & mapped) / len(gt.relations)


def _finish(state: _Pending, match: MatchResult, config: RewardConfig) -> RewardBreakdown:
    """The breakdown of a response whose spatial term was matched (with gating on, its format and answer passed)."""
    spatial = match.score
    relation = _relation_score(state, match) if config.relation_weight > 0 else 0.0
    fmt, count, accuracy = state.fmt, state.count, state.accuracy
    if config.gating:
        if fmt < 1.0:
            count = accuracy = spatial = relation = 0.0
        elif accuracy < 1.0:
            spatial = relation = 0.0
    return _breakdown(config, fmt, count, accuracy, spatial, relation, state.n_pred, state.gt, state.answer_empty,
                      state.errors)


def _plain_size(value: Any) -> tuple[float, float] | None:
    """The common case of ``coerce_image_size`` inline: a ``(W, H)`` tuple or list of positive numbers."""
    if (type(value) is tuple or type(value) is list) and len(value) == 2:
        width, height = value
        tw, th = type(width), type(height)
        if (tw is int or tw is float) and (th is int or th is float) and 0 < width < 1e308 and 0 < height < 1e308:
            return float(width), float(height)
    return None


def compute_rewards(responses: Sequence[Any], ground_truths: Sequence[Any], image_sizes: Sequence[Any] | None,
                    config: RewardConfig | None = None) -> list[RewardBreakdown]:
    """Score a batch. Trainers call this: parsed GTs are cached, and box maths runs once for the whole batch.

    Args:
        responses: model outputs (any value; non-strings score 0).
        ground_truths: STVQA strings ``<scene>{...}</scene>\\n<answer>(X) text</answer>`` (or ``(X) text``).
        image_sizes: ``(W, H)`` per item, in any form ``coerce_image_size`` reads; None for all missing.
        config: weights and switches; defaults reproduce the paper.

    Returns:
        One ``RewardBreakdown`` per response.

    Example:
        >>> gt = '<scene>{"objects": [{"id": "cup.1", "bbox": [0, 0, 10, 10]}]}</scene>\\n<answer>(A) left</answer>'
        >>> r = compute_rewards(['<observe>o</observe><scene>{"objects": [{"id": "cup.1", "bbox": [0, 0, 10, 10]}]}'
        ...                      '</scene><think>t</think><answer>(A) left</answer>'], [gt], [(100, 100)])
        >>> round(r[0].total, 6)
        1.0
    """
    config = config or _DEFAULT
    n = len(responses)
    if len(ground_truths) != n or (image_sizes is not None and len(image_sizes) != n):
        raise ValueError(f"compute_rewards needs one ground truth and image size per response; got {n} responses, "
                         f"{len(ground_truths)} ground truths, {len(image_sizes) if image_sizes is not None else 0} sizes.")
    jobs: list[MatchJob] = []
    states = []
    truths: dict[str, GroundTruth] = {}  # GRPO repeats each ground truth once per generation
    sizes: dict[str, tuple[float, float] | None] = {}
    for index in range(n):
        raw_size = image_sizes[index] if image_sizes is not None else None
        size = _plain_size(raw_size)
        if size is None:
            if type(raw_size) is str:
                size = sizes[raw_size] if raw_size in sizes else sizes.setdefault(raw_size, coerce_image_size(raw_size))
            else:
                size = coerce_image_size(raw_size)
        truth = ground_truths[index]
        gt = truths.get(truth) if type(truth) is str else None
        if gt is None:
            gt = read_ground_truth(truth, config.max_objects)
            if type(truth) is str:
                truths[truth] = gt
        states.append(_prepare(responses[index], gt, size, config, jobs))
    if not jobs:
        return states
    matches = score_batch(jobs, config, want_pairs=config.relation_weight > 0)
    return [_finish(state, matches[state.job], config) if type(state) is _Pending else state for state in states]


def compute_reward(response: Any, ground_truth: Any, image_size: Any, config: RewardConfig | None = None) -> RewardBreakdown:
    """Score one response (see ``compute_rewards``). ``image_size``: ``(W, H)``, ``"640x480"`` or None.

    A missing or non-positive size scores the spatial term 0 and records the reason in ``errors``.

    Example:
        >>> compute_reward("no tags at all", "<answer>(A) left</answer>", (640, 480)).total
        0.0
    """
    return compute_rewards([response], [ground_truth], [image_size], config)[0]


def compute_reward_from_problem(response: Any, ground_truth: Any, problem: Any,
                                config: RewardConfig | None = None) -> RewardBreakdown:
    """Score one response, reading W and H from the prompt's ``Image size: (W x H)`` line."""
    size = parse_image_size(problem) if isinstance(problem, str) else None
    return compute_reward(response, ground_truth, size, config)
