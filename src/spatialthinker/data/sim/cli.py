"""`spatialthinker synth sim`: render simulated scenes and write an STVQA dataset with exact 3D ground truth."""

from __future__ import annotations

import typer


def register(synth_app: typer.Typer) -> None:
    """Add ``sim`` to the ``synth`` group."""
