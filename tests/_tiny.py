"""Helpers for training tests: the tiny STVQA-schema parquet and a one-thread torch fixture."""

import pytest

from spatialthinker.train.tiny import write_tiny_stvqa

__all__ = ["one_torch_thread", "write_tiny_stvqa"]


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
