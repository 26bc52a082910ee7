"""The sparse baseline reward of vanilla GRPO (R1-V style): ``0.5 · format + 0.5 · accuracy``, no gating."""

from __future__ import annotations

import re
from typing import Any

from spatialthinker.prompts import parse_ground_truth

from .terms import accuracy_reward

# The whole response is one <think> block then one <answer> block, whitespace around and between allowed.
_SPARSE_FORMAT = re.compile(r"\s*<think>.*?</think>\s*<answer>.*?</answer>\s*", re.S)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def sparse_format_reward(response: Any) -> float:
    """1.0 when the response is exactly ``<think>…</think> <answer>…</answer>`` (full match), else 0.0.

    Example:
        >>> sparse_format_reward("<think>x</think>\\n<answer>(A) a</answer>"), sparse_format_reward("hi")
        (1.0, 0.0)
    """
    # A second <answer> hidden inside a block would let the lazy regex accept two answers: count first (cheap,
    # and it keeps the regex linear on adversarial 5 MB inputs).
    if not isinstance(response, str) or response.count("<answer>") != 1 or response.count("<think>") != 1:
        return 0.0
    return float(_SPARSE_FORMAT.fullmatch(response) is not None)


def compute_sparse_reward(response: Any, ground_truth: Any) -> float:
    """``0.5 · format + 0.5 · accuracy`` (method.md §4, baseline rewards); never raises.

    Args:
        response: the model output.
        ground_truth: the full STVQA string (its ``<answer>`` is used) or just ``(X) text``.

    Returns:
        0.0, 0.5 or 1.0. Accuracy is the exact rule: strip + lower-case of the whole ``(X) text``.

    Example:
        >>> compute_sparse_reward("<think>t</think><answer>(B) behind</answer>", "(B) behind")
        1.0
    """
    if not isinstance(response, str):
        return 0.0
    _, gt_answer = parse_ground_truth(ground_truth) if isinstance(ground_truth, str) else (None, None)
    match = _ANSWER.search(response)  # the first answer block, as the R1-V reference reads it
    answer = match.group(1) if match else None
    return 0.5 * sparse_format_reward(response) + 0.5 * accuracy_reward(answer, gt_answer, "exact")
