"""Strict readers for command-line values: a size is ``WxH`` of two positive integers, a count is a whole number.

Why strict: lenient parsing hid mistakes (``-5x10`` read as 5x10, ``1e3x96`` as 3x96, ``96x96x96`` as 96x96). Every
reader raises ``InputError`` naming the option and what was expected, which the CLI prints as one line (exit 2).
"""

from __future__ import annotations

import re

from spatialthinker.errors import InputError

_SIZE = re.compile(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*|\s*\(\s*(\d+)\s*[xX×]\s*(\d+)\s*\)\s*")  # 640x480 or (640 x 480)


def parse_size(text: str, option: str) -> tuple[int, int]:
    """``"640x480"`` (or the prompt's ``"(640 x 480)"``) -> ``(640, 480)``; signs, exponents, decimals, a third side
    and zero are refused.

    Example:
        >>> parse_size("640x480", "--image-size")
        (640, 480)
    """
    match = _SIZE.fullmatch(text)
    sides = [int(side) for side in match.groups() if side is not None] if match else []
    if len(sides) != 2 or min(sides) <= 0:
        raise InputError(f"{option} {text!r}: expected WIDTHxHEIGHT, two positive integers such as 640x480")
    return sides[0], sides[1]


def check_counts(minimum: int = 0, **counts: int | float | None) -> None:
    """Each named value is at least ``minimum`` (None means not given); names become ``--flag-names`` in messages."""
    for name, value in counts.items():
        if value is not None and value < minimum:
            wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise InputError(f"--{name.replace('_', '-')}: expected {wanted}, got {value}")


def check_fraction(option: str, value: float, low_open: bool = False, high_open: bool = True) -> None:
    """``value`` lies in [0, 1) by default (``low_open``/``high_open`` exclude the ends)."""
    below = value <= 0 if low_open else value < 0
    above = value >= 1 if high_open else value > 1
    if below or above:
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise InputError(f"{option}: expected a number in {interval}, got {value}")
