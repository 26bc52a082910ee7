"""veRL custom reward hook: ``compute_score(data_source, solution_str, ground_truth, extra_info)``. No veRL import.

Point veRL's ``custom_reward_function.path`` at this file and ``name`` at ``compute_score``. It runs the same
scoring path as training with TRL; there is no second implementation.
"""

from __future__ import annotations

from typing import Any

from spatialthinker.prompts import parse_image_size

from .config import RewardConfig
from .core import compute_reward
from .sparse import compute_sparse_reward

_CONFIG = RewardConfig()


def image_size_from_extra(extra_info: Any) -> Any:
    """``extra_info["image_size"]``, else ``width``/``height`` keys, else ``Image size:`` in ``extra_info["problem"]``."""
    if not isinstance(extra_info, dict):
        return None
    if extra_info.get("image_size") is not None:
        return extra_info["image_size"]
    if extra_info.get("width") is not None and extra_info.get("height") is not None:
        return (extra_info["width"], extra_info["height"])
    problem = extra_info.get("problem") or extra_info.get("prompt")
    return parse_image_size(problem) if isinstance(problem, str) else None


def compute_score(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None,
                  config: RewardConfig | None = None, **kwargs: Any) -> dict[str, Any]:
    """Score one response for veRL; ``score`` is the gated total, the other keys are logged as metrics.

    A ``data_source`` containing ``sparse`` selects the sparse baseline reward instead.

    Example:
        >>> compute_score("stvqa", "no tags", "<answer>(A) a</answer>", {"image_size": [64, 48]})["score"]
        0.0
    """
    if isinstance(data_source, str) and "sparse" in data_source:
        return {"score": compute_sparse_reward(solution_str, ground_truth)}
    result = compute_reward(solution_str, ground_truth, image_size_from_extra(extra_info), config or _CONFIG)
    return {"score": result.total, "format": result.format, "count": result.count, "accuracy": result.accuracy,
            "spatial": result.spatial, "pred_objects": result.n_pred_objects, "gt_objects": result.n_gt_objects,
            "answer_empty": float(result.answer_empty)}
