"""`spatialthinker quickstart`: the main job end to end (simulate -> SFT warm-up -> GRPO -> evaluate -> report)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``quickstart`` to the root app."""
