"""Reward functions by name (``dense``, ``sparse``) or dotted import path, for ``GRPOTrainer(reward_funcs=...)``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from spatialthinker.registry import Registry, resolve_callable

from .config import RewardConfig

# Lazy entries: registering imports nothing; the adapter module loads on first lookup.
REWARDS: Registry[Callable[..., Any]] = Registry("reward")
REWARDS.register("dense", "spatialthinker.rewards.trl:DenseSpatialReward")
REWARDS.register("sparse", "spatialthinker.rewards.trl:SparseReward")


def get_reward_funcs(name: str = "dense", config: RewardConfig | None = None) -> list[Callable[..., list[float]]]:
    """Reward callables for ``GRPOTrainer(reward_funcs=...)`` by registry name or dotted import path.

    A class is instantiated (with ``config`` when its constructor takes an argument); a function is returned as is.
    An unknown name raises ``KeyError`` listing close matches and the known names (style.md §1.6).

    Example:
        >>> [reward] = get_reward_funcs("dense")
        >>> reward.__name__
        'spatial_dense'
    """
    factory = resolve_callable(name, REWARDS)
    if not isinstance(factory, type):
        return [factory]
    takes_argument = len(inspect.signature(factory).parameters) > 0
    return [factory(config) if takes_argument else factory()]
