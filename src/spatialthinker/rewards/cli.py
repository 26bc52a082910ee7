"""`spatialthinker score`: the reward breakdown of one response (or of the built-in demo set) as a table and JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

# The demo: one ground truth and the kinds of response a GRPO policy produces early in training.
DEMO_SIZE = (640, 480)
_MAN, _BIKE = {"id": "man.1", "bbox": [96, 120, 250, 430]}, {"id": "bike.1", "bbox": [300, 250, 600, 440]}
_REL = {"subject": "man.1", "predicate": "left of", "object": "bike.1"}
DEMO_GROUND_TRUTH = (f"<scene>{json.dumps({'objects': [_MAN, _BIKE], 'relationships': [_REL]})}</scene>\n"
                     "<answer>(A) left of the bike</answer>")


def _demo_response(objects: list[dict], answer: str = "(A) left of the bike", relations: list | None = None) -> str:
    scene = json.dumps({"objects": objects, "relationships": [_REL] if relations is None else relations})
    return (f"<observe>A man stands next to a bicycle.</observe>\n<scene>{scene}</scene>\n"
            f"<think>The man's box ends at x=250, before the bike starts at x=300.</think>\n<answer>{answer}</answer>")


def demo_responses() -> dict[str, str]:
    """Named example responses scored against ``DEMO_GROUND_TRUTH`` by ``spatialthinker score --demo``."""
    jittered = [{"id": "man.1", "bbox": [104, 110, 262, 420]}, {"id": "bike.1", "bbox": [290, 262, 590, 450]}]
    spam = [{"id": f"{o['id'].split('.')[0]}.{i + 1}", "bbox": o["bbox"]} for i in range(20) for o in (_MAN, _BIKE)]
    return {
        "perfect": _demo_response([_MAN, _BIKE]),
        "jittered boxes": _demo_response(jittered),
        "missing object": _demo_response([_MAN], relations=[]),
        "wrong answer": _demo_response([_MAN, _BIKE], "(B) right of the bike"),
        "letter only": _demo_response([_MAN, _BIKE], "A"),
        "box spam (40)": _demo_response(spam),
        "broken format": _demo_response([_MAN, _BIKE]).replace("</think>", ""),
        "NaN box": _demo_response([_MAN, _BIKE]).replace("[96, 120, 250, 430]", "[NaN, 120, 250, 430]"),
    }


def _fail(message: str) -> None:
    """Report a usage error and exit with status 2 (click's convention for bad arguments)."""
    typer.echo(f"error: {message}", err=True)
    # SystemExit rather than typer.Exit: with standalone_mode=False click turns Exit into a return value, which
    # spatialthinker.cli.main does not propagate, so the status would be lost.
    raise SystemExit(2)


def _read_text(path: str, what: str) -> str:
    if path == "-":
        return sys.stdin.read()
    file = Path(path)
    if not file.is_file():
        _fail(f"--{what}: file {path!r} does not exist.")
    return file.read_text(encoding="utf-8", errors="replace")


def _config(path: str | None) -> Any:
    from spatialthinker.rewards.config import RewardConfig

    if path is None:
        return RewardConfig()
    if not Path(path).is_file():
        _fail(f"--config: file {path!r} does not exist.")
    try:
        return RewardConfig.from_file(path)
    except (ValueError, TypeError) as error:  # unknown keys and invalid values, with the fix in the message
        _fail(f"--config: {error}")


def _size(text: str | None) -> tuple[float, float] | None:
    """``--image-size`` read whole: ``WxH`` with two positive integers (``-5x10``, ``1e3x96``, ``96x96x96`` refused)."""
    from spatialthinker.cli_values import parse_size
    from spatialthinker.errors import InputError

    if text is None:
        return None
    try:
        width, height = parse_size(text, "--image-size")
    except InputError as error:
        _fail(str(error))
    return float(width), float(height)


def _table(rows: dict[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("response", "total", "format", "count", "accuracy", "spatial", "objects", "note"):
        table.add_column(column, justify="left" if column in ("response", "note") else "right", no_wrap=True,
                         overflow="ellipsis", max_width=36 if column == "note" else None)
    for name, r in rows.items():
        table.add_row(name, f"{r.total:.3f}", f"{r.format:.0f}", f"{r.count:.3f}", f"{r.accuracy:.0f}",
                      f"{r.spatial:.3f}", f"{r.n_pred_objects}/{r.n_gt_objects}", (r.errors[0] if r.errors else "")[:60])
    console = Console()
    console.width = max(console.width, 120)  # pipes and CI report 80 columns; the notes need more
    console.print(table)


def score(
    response: str = typer.Option(None, "--response", help="File with the model response, or - for stdin."),
    ground_truth: str = typer.Option(None, "--ground-truth", help="File with the STVQA ground truth string."),
    image_size: str = typer.Option(None, "--image-size", help="Stated image size, WIDTHxHEIGHT (e.g. 640x480)."),
    config: str = typer.Option(None, "--config", help="YAML/JSON file of RewardConfig fields."),
    as_json: bool = typer.Option(False, "--json", help="Print only JSON (for scripts)."),
    demo: bool = typer.Option(False, "--demo", help="Score built-in example responses against one ground truth."),
) -> None:
    """Score responses with the dense spatial reward and print the breakdown (table and JSON)."""
    from spatialthinker.rewards.core import compute_rewards

    reward_config = _config(config)
    if demo:
        examples = demo_responses()
        results = compute_rewards(list(examples.values()), [DEMO_GROUND_TRUTH] * len(examples),
                                  [_size(image_size) or DEMO_SIZE] * len(examples), reward_config)
        rows = dict(zip(examples, results))
        if not as_json:
            _table(rows, f"Dense spatial reward, demo responses (image {DEMO_SIZE[0]}x{DEMO_SIZE[1]})")
        typer.echo(json.dumps({name: r.to_dict() for name, r in rows.items()}, indent=None if not as_json else 2))
        return
    if response is None or ground_truth is None:
        _fail("give --response and --ground-truth (or --demo).")
    size = _size(image_size)
    result = compute_rewards([_read_text(response, "response")], [_read_text(ground_truth, "ground-truth")],
                             [size], reward_config)[0]
    if not as_json:
        _table({Path(response).name if response != "-" else "stdin": result}, "Dense spatial reward")
    typer.echo(json.dumps(result.to_dict(), indent=2))


def register(app: typer.Typer) -> None:
    """Add this area's subcommands to the root app."""
    app.command("score")(score)
