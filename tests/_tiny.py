"""Helpers for training tests: the tiny STVQA-schema parquet, a one-thread torch fixture and a reward that the
policy controls (imported by GRPO through its dotted path, ``_tiny.shorter_is_better``)."""

import pytest

from spatialthinker.train.tiny import write_tiny_stvqa

__all__ = ["one_torch_thread", "shorter_is_better", "write_tiny_stvqa"]


def shorter_is_better(completions, **columns) -> list[float]:
    """1 minus the completion's length in characters over 200: a reward the policy earns by choice alone (stop
    sooner), different for almost every completion, so every group carries a gradient and GRPO must raise it."""
    from spatialthinker.rewards.trl import completion_text

    return [1.0 - len(completion_text(c)) / 200 for c in completions]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread: on the shared 2-core CI machines, two OpenMP threads competing with other processes spin
    and run ~10x slower (measured: 53 s vs 3.2 s per tiny GRPO step under load). Autouse in every module that
    imports it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
