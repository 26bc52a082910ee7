"""Helpers for training tests: the tiny STVQA-schema parquet (PIL-drawn coloured rectangles, real boxes)."""

from spatialthinker.train.tiny import write_tiny_stvqa

__all__ = ["write_tiny_stvqa"]
