"""`spatialthinker synth ...` subcommands: scene-graph synthesis (this module) and simulated scenes (data.sim)."""

from __future__ import annotations

import typer

synth_app = typer.Typer(help="Synthesise spatial VQA datasets in the STVQA schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``synth`` and its subcommands to the root app."""
    from spatialthinker.data.sim import cli as sim_cli

    sim_cli.register(synth_app)
    app.add_typer(synth_app, name="synth")
