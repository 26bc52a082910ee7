"""Dense spatial rewards: format, count, accuracy, spatial (CIoU) and the gated total; TRL and veRL adapters.

Public names are loaded on first use (PEP 562), so ``import spatialthinker.rewards`` — which the CLI does at
start-up — costs nothing; NumPy and SciPy are imported when a reward is first computed. Nothing here imports
torch, TRL or veRL.

Example:
    >>> from spatialthinker.rewards import RewardConfig, compute_reward
    >>> compute_reward("<answer>(A) x</answer>", "<answer>(A) x</answer>", (640, 480)).format
    0.0
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RewardConfig": "config",
    "RewardBreakdown": "core",
    "compute_reward": "core",
    "compute_rewards": "core",
    "compute_reward_from_problem": "core",
    "compute_sparse_reward": "sparse",
    "sparse_format_reward": "sparse",
    "coerce_image_size": "terms",
    "accuracy_reward": "terms",
    "count_reward": "terms",
    "format_reward": "terms",
    "score_batch": "matching",
    "similarity_matrix": "similarity",
    "DenseSpatialReward": "trl",
    "SparseReward": "trl",
    "REWARDS": "registry",
    "get_reward_funcs": "registry",
    "compute_score": "verl",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spatialthinker.rewards' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
