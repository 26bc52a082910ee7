"""`spatialthinker view DIR...`: build the HTML report for output directories and open it in a browser."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer


def can_open_browser() -> bool:
    """False on a headless Linux box (no X11/Wayland display), where ``webbrowser`` would start a text browser
    or hang; macOS and Windows always have a desktop to open it on."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def open_in_browser(path: Path) -> bool:
    """Open ``path`` in the default browser when there is a display; returns whether it tried."""
    if not can_open_browser():
        return False
    import webbrowser

    return webbrowser.open(path.resolve().as_uri())


def view(
    dirs: list[Path] = typer.Argument(..., help="Output directories of synth, train, eval or quickstart runs."),
    out: Path = typer.Option(None, "--out", "-o", help="HTML file to write (default: FIRST_DIR/report.html)."),
    no_open: bool = typer.Option(False, "--no-open", help="Only write the file; do not open a browser."),
    max_samples: int = typer.Option(6, help="Dataset questions shown per parquet file."),
    max_rollouts: int = typer.Option(4, help="Completions shown from the first and the last rollout file."),
) -> None:
    """Build a static, offline HTML report (samples, rollouts, curves, evaluation) and open it."""
    from spatialthinker.cli_values import check_counts
    from spatialthinker.errors import InputError

    check_counts(0, max_samples=max_samples, max_rollouts=max_rollouts)
    for folder in dirs:
        if not folder.is_dir():
            raise InputError(f"{folder}: {'not a folder' if folder.exists() else 'no such folder'} (view reads "
                             "output folders of synth, train, eval or quickstart)")
    if out is not None and out.is_dir():
        raise InputError(f"--out {out}: is a folder; give the HTML file to write")
    from spatialthinker.viz.report import build_report

    target = out or dirs[0] / "report.html"
    path = build_report(dirs, target, max_samples=max_samples, max_rollouts=max_rollouts)
    typer.echo(f"report: {path}")
    if not no_open and not open_in_browser(path):
        typer.echo("(no display found: open the file above in a browser)")


def register(app: typer.Typer) -> None:
    """Add ``view`` to the root app."""
    app.command("view")(view)
