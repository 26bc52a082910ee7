"""TRL ``GRPOTrainer`` reward callables (``reward_funcs=``); does not import TRL.

Classes, not closures: veRL/Ray and multiprocessing pickle reward functions, and TRL names metrics after
``__name__`` (style.md §1.5). Dataset columns arrive as keyword arguments, one list entry per completion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spatialthinker.prompts import parse_image_size

from .config import RewardConfig
from .core import compute_rewards
from .sparse import compute_sparse_reward, sparse_format_reward


def completion_text(completion: Any) -> str:
    """A completion as text: strings pass through; chat lists give their last message's (text) content."""
    if isinstance(completion, str):
        return completion
    content = completion[-1].get("content") if isinstance(completion, (list, tuple)) and completion and \
        isinstance(completion[-1], dict) else None
    if isinstance(content, list):  # multimodal content parts: join the text parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _column(columns: dict[str, Any], names: tuple[str, ...], n: int) -> list[Any]:
    """The first present column of ``names`` as a list of length ``n`` (padded with None)."""
    values = next((list(columns[name]) for name in names if columns.get(name) is not None), [])
    return (values + [None] * n)[:n]


def _sizes(columns: dict[str, Any], prompts: Any, n: int) -> list[Any]:
    """Per item: the ``image_size`` column, else ``Image size: (W x H)`` in ``problem``, else in the prompt."""
    sizes, problems = _column(columns, ("image_size",), n), _column(columns, ("problem",), n)
    prompt_list = _column({"p": prompts}, ("p",), n)
    return [size if size is not None else parse_image_size(problem) or parse_image_size(completion_text(prompt))
            for size, problem, prompt in zip(sizes, problems, prompt_list)]


_METRICS = (("format", "format"), ("count", "count"), ("accuracy", "accuracy"), ("spatial", "spatial"),
            ("pred_objects", "n_pred_objects"), ("gt_objects", "n_gt_objects"), ("empty_answer_rate", "answer_empty"))


class DenseSpatialReward:
    """The gated dense spatial reward with TRL's reward-function signature.

    Example:
        >>> reward = DenseSpatialReward()
        >>> reward(completions=["no tags"], answer_option_text=["<answer>(A) a</answer>"], image_size=[(64, 48)])
        [0.0]
    """

    __name__ = "spatial_dense"

    def __init__(self, config: RewardConfig | None = None) -> None:
        self.config = config or RewardConfig()

    def __call__(self, prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                 log_metric: Callable[[str, float], None] | None = None,
                 log_extra: Callable[[str, list], None] | None = None, **columns: Any) -> list[float]:
        texts = [completion_text(c) for c in completions or []]
        n = len(texts)
        truths = _column(columns, ("answer_option_text", "ground_truth", "solution"), n)
        results = compute_rewards(texts, truths, _sizes(columns, prompts, n), self.config)
        if n and log_metric is not None:  # TRL logs these next to the reward mean
            for name, key in _METRICS:
                log_metric(f"spatial/{name}", sum(float(getattr(r, key)) for r in results) / n)
            log_metric("spatial/format_fail_rate", sum(r.format < 1.0 for r in results) / n)
        if log_extra is not None:
            for key in ("format", "count", "accuracy", "spatial"):
                log_extra(f"spatial/{key}", [getattr(r, key) for r in results])
            log_extra("spatial/errors", ["; ".join(r.errors[:2]) for r in results])
        return [r.total for r in results]


class SparseReward:
    """The sparse baseline (0.5·format + 0.5·accuracy) with TRL's reward-function signature."""

    __name__ = "spatial_sparse"

    def __call__(self, prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                 log_metric: Callable[[str, float], None] | None = None, **columns: Any) -> list[float]:
        texts = [completion_text(c) for c in completions or []]
        truths = _column(columns, ("answer_option_text_only", "answer_option_text", "ground_truth", "solution"),
                         len(texts))
        if texts and log_metric is not None:
            log_metric("sparse/format", sum(sparse_format_reward(t) for t in texts) / len(texts))
        return [compute_sparse_reward(t, g) for t, g in zip(texts, truths)]


# The name -> reward registry lives in rewards/registry.py; re-exported here for trainer code that reads it from TRL's
# adapter module.
from .registry import REWARDS, get_reward_funcs  # noqa: E402

__all__ = ["DenseSpatialReward", "SparseReward", "REWARDS", "get_reward_funcs", "completion_text"]
