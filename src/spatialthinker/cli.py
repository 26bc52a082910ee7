"""The ``spatialthinker`` command: one typer app; each area registers its own subcommands.

Subcommand modules import only typer at module level, so ``spatialthinker --help`` stays fast; the heavy work
(torch, TRL, rendering) is imported inside the command that needs it.
"""

from __future__ import annotations

import typer

from spatialthinker import __version__

app = typer.Typer(
    name="spatialthinker",
    help="Synthesise spatial VQA data, train VLMs with dense spatial rewards, evaluate on spatial benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version."),
) -> None:
    """SpatialThinker command line."""


def _register_all() -> None:
    from spatialthinker.data import cli as data_cli
    from spatialthinker.eval import cli as eval_cli
    from spatialthinker.rewards import cli as rewards_cli
    from spatialthinker.train import cli as train_cli
    from spatialthinker import quickstart
    from spatialthinker.viz import cli as viz_cli

    for module in (rewards_cli, data_cli, train_cli, eval_cli, viz_cli, quickstart):
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code so tests can call ``main([...])``."""
    try:
        # With standalone_mode=False click returns the code of ``typer.Exit(code=N)`` instead of raising it.
        result = app(args=argv, standalone_mode=False)
    except typer.Exit as done:
        return int(done.exit_code or 0)
    except SystemExit as done:  # click's usage errors
        return int(done.code or 0) if isinstance(done.code, int) else 1
    except Exception as error:  # noqa: BLE001 - the CLI's one place to turn errors into messages
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            return error.exit_code
        if isinstance(error, click.exceptions.Abort):
            return 1
        typer.echo(f"error: {error}", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
