"""The ``spatialthinker`` command: one typer app; each area registers its own subcommands.

Subcommand modules import only typer at module level, so ``spatialthinker --help`` stays fast; the heavy work
(torch, TRL, rendering) is imported inside the command that needs it.
"""

from __future__ import annotations

import typer

from spatialthinker import __version__
from spatialthinker.errors import InputError

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


#: Every registry, by the kind name ``spatialthinker ls KIND`` takes: (module, attribute).
_REGISTRIES: dict[str, tuple[str, str]] = {
    "prompt-styles": ("spatialthinker.prompts", "PROMPT_STYLES"),
    "rewards": ("spatialthinker.rewards.registry", "REWARDS"),
    "categories": ("spatialthinker.data.generators", "GENERATORS"),
    "benchmarks": ("spatialthinker.eval.registry", "BENCHMARKS"),
    "benchmark-groups": ("spatialthinker.eval.registry", "GROUPS"),
    "prompt-modes": ("spatialthinker.eval.registry", "PROMPT_MODES"),
    "extractors": ("spatialthinker.eval.registry", "EXTRACTORS"),
    "backends": ("spatialthinker.eval.registry", "BACKENDS"),
    "aggregates": ("spatialthinker.eval.registry", "AGGREGATES"),
}


def registry_names(kind: str) -> list[str]:
    """Names registered under ``kind`` (a key of ``_REGISTRIES``); unknown kinds raise with the list."""
    import importlib

    if kind not in _REGISTRIES:
        raise KeyError(f"unknown registry {kind!r}; available: {', '.join(_REGISTRIES)}")
    module_name, attribute = _REGISTRIES[kind]
    return getattr(importlib.import_module(module_name), attribute).names()


@app.command("ls")
def list_registry(
    kind: str = typer.Argument(None, help=f"One of: {', '.join(_REGISTRIES)}. Omit to list every registry."),
) -> None:
    """List what is registered: prompt styles, rewards, question categories, benchmarks, backends, ..."""
    kinds = [kind] if kind else list(_REGISTRIES)
    for name in kinds:
        try:
            names = registry_names(name)
        except KeyError as error:
            typer.echo(f"error: {error.args[0]}", err=True)
            raise typer.Exit(code=2) from None
        typer.echo(f"{name}: {', '.join(names)}")


def _register_all() -> None:
    from spatialthinker.data import cli as data_cli
    from spatialthinker.eval import cli as eval_cli
    from spatialthinker.rewards import cli as rewards_cli
    from spatialthinker.train import cli as train_cli
    from spatialthinker import quickstart
    from spatialthinker.pipeline import cli as pipeline_cli
    from spatialthinker.viz import cli as viz_cli

    for module in (rewards_cli, data_cli, train_cli, eval_cli, viz_cli, quickstart, pipeline_cli):
        module.register(app)


_register_all()


def _is_click_exception(error: Exception) -> bool:
    """A ClickException of whichever click raised it (click itself, or the copy typer vendors)."""
    return any(cls.__name__ == "ClickException" for cls in type(error).__mro__) and hasattr(error, "show")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code so tests can call ``main([...])``."""
    try:
        # With standalone_mode=False click returns the code of ``typer.Exit(code=N)`` instead of raising it.
        result = app(args=argv, standalone_mode=False)
    except typer.Exit as done:
        return int(done.exit_code or 0)
    except SystemExit as done:  # click's usage errors
        return int(done.code or 0) if isinstance(done.code, int) else 1
    except InputError as error:  # the user's mistake: one line naming the culprit, exit 2 like click's usage errors
        typer.echo(f"error: {error}", err=True)
        return 2
    except Exception as error:  # noqa: BLE001 - the CLI's one place to turn errors into messages
        import click

        # typer >= 0.20 raises its own vendored click's exceptions (typer.BadParameter is not a click one)
        if isinstance(error, click.exceptions.ClickException) or _is_click_exception(error):
            error.show()
            return error.exit_code
        if isinstance(error, (click.exceptions.Abort, typer.Abort)):
            return 1
        typer.echo(f"error: {error}", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
