"""Evaluation harness: benchmark registry, loaders, answer extraction, backends, metrics, reports.

Public API::

    from spatialthinker.eval import extract_choice, EvalConfig, run_evaluation, BENCHMARKS, EvalItem, load_items

Importing this package imports neither torch nor transformers (backends import them when built).
"""

from __future__ import annotations

from typing import Any

from spatialthinker.eval.extract import extract_choice
from spatialthinker.eval.items import EvalItem, ItemRecord

__all__ = ["BENCHMARKS", "GROUPS", "BACKENDS", "EvalConfig", "EvalItem", "EvalResults", "ItemRecord",
           "compare_runs", "extract_choice", "get_benchmark", "load_items", "run_evaluation", "wilson_interval"]

_LAZY = {
    "BENCHMARKS": "registry", "GROUPS": "registry", "BACKENDS": "registry", "get_benchmark": "registry",
    "EvalConfig": "runner", "EvalResults": "runner", "run_evaluation": "runner",
    "load_items": "loaders", "wilson_interval": "metrics", "compare_runs": "report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"spatialthinker.eval.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'spatialthinker.eval' has no attribute {name!r}")
