"""`spatialthinker quickstart`: the main job end to end (simulate -> SFT warm-up -> GRPO -> evaluate -> report).

One command on a CPU-only machine with no hub access: render simulated rooms into an STVQA dataset, build the
tiny offline Qwen2.5-VL, warm it up with SFT, train it with the dense spatial reward, evaluate it on held-out
questions before and after RL, and write an HTML report. ``--model`` names a real checkpoint to run the same
stages at scale on a GPU. Every stage is skipped when its output exists, so an interrupted run resumes.

Layout of ``--out`` (``runs/quickstart``)::

    data/        train.parquet, val.parquet, gallery.html      (simulated scenes)
    tiny_data/   the questions with short answers the tiny model trains on    (--model tiny only)
    model/       the tiny base model                           (--model tiny only)
    sft/         SFT warm-up: metrics.jsonl, final/
    grpo/        dense-reward GRPO: metrics.jsonl, rollouts/, final/
    eval/heldout.parquet                                       (val questions spread over the held-out scenes)
    eval/0_base, eval/1_sft, eval/2_grpo                      (held-out evaluation at each point)
    report.html  quickstart.json (timings, settings, headline numbers)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

logger = logging.getLogger(__name__)

STATE_FILE = "quickstart.json"


@dataclass
class QuickstartResult:
    """Where the run wrote things and what it measured (also saved as ``quickstart.json``)."""

    out_dir: Path
    report: Path | None
    seconds: dict[str, float] = field(default_factory=dict)  # per stage; 0.0 for a stage skipped as done
    heldout: dict[str, dict[str, Any]] = field(default_factory=dict)  # eval point -> held-out reward summary
    settings: dict[str, Any] = field(default_factory=dict)
    blind: dict[str, Any] = field(default_factory=dict)  # the held-out questions answered without the image

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "report": str(self.report) if self.report else None,
                "seconds": self.seconds, "total_seconds": self.total_seconds, "heldout": self.heldout,
                "blind_baseline": self.blind, "settings": self.settings}


def _check_settings(out: Path, settings: dict[str, Any]) -> None:
    """Refuse to resume into a directory made with other settings: the stages would mix two runs."""
    state = out / STATE_FILE
    if not state.is_file():
        return
    previous = json.loads(state.read_text()).get("settings", {})
    keys = ("preset", "model")
    changed = previous.get("preset_values") != settings["preset_values"]
    if changed or any(previous.get(k) != settings.get(k) for k in keys):
        raise ValueError(f"{out} holds a quickstart run with other settings ({ {k: previous.get(k) for k in keys} }); "
                         "choose another --out or delete that directory.")


def run_quickstart(preset: Any = "smoke", out_dir: str | Path = "runs/quickstart", model: str = "tiny",
                   on_stage: Callable[[str, str], None] | None = None) -> QuickstartResult:
    """Run (or resume) every stage and write the report.

    Args:
        preset: ``"smoke"`` (<= 3 min on 2 cores), ``"mini"`` (2400 SFT + 60 GRPO steps), or a ``Preset``.
        out_dir: run directory; stages whose output exists there are skipped.
        model: ``tiny`` (offline tiny Qwen2.5-VL built into ``out_dir/model``), a local path or a hub id.
        on_stage: called with ``(stage, "start" | "done" | "skipped")``; the CLI prints progress with it.

    Returns:
        A ``QuickstartResult``; ``quickstart.json`` in ``out_dir`` holds the same.

    Example:
        >>> run_quickstart("smoke", "runs/quickstart")  # doctest: +SKIP
    """
    from spatialthinker.pipeline import stages
    from spatialthinker.pipeline.presets import get_preset
    from spatialthinker.viz.learning import heldout_section
    from spatialthinker.viz.report import build_report

    from spatialthinker.train.inputs import check_model

    chosen = get_preset(preset)
    check_model(model)  # a bad --model fails now, not after the data is rendered
    out = Path(out_dir)
    tiny = stages.is_tiny(model)
    settings = {"preset": chosen.name, "model": model, "preset_values": chosen.to_dict()}
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings)
    result = QuickstartResult(out_dir=out, report=None, settings=settings)
    notify = on_stage or (lambda stage, status: None)

    def stage(name: str, done: Callable[[], bool], work: Callable[[], Any]) -> Any:
        if done():
            notify(name, "skipped")
            result.seconds[name] = 0.0
            return None
        notify(name, "start")
        start = time.perf_counter()
        value = work()
        result.seconds[name] = round(time.perf_counter() - start, 1)
        logger.info("stage %s finished in %.1f s", name, result.seconds[name])
        _save(out, result)
        notify(name, "done")
        return value

    data = out / "data"
    stage("data", lambda: stages.data_done(data), lambda: stages.make_data(chosen, data))
    train_data = data
    if tiny:
        train_data = out / "tiny_data"
        stage("subset", lambda: stages.data_done(train_data),
              lambda: stages.make_subset(data, train_data, chosen.max_gt_objects))
    model_path = model
    if tiny:
        model_path = str(out / "model")
        stage("model", lambda: (out / "model" / "tiny_build.json").is_file(),
              lambda: stages.make_model(model, chosen, out / "model", train_data))
    points: list[tuple[str, str]] = []  # (eval directory name, model evaluated there)
    if tiny:
        points.append(("0_base", model_path))
        sft = out / "sft"
        stage("sft", lambda: stages.final_dir(sft).is_dir(),
              lambda: stages.train_sft(model_path, train_data, chosen, sft, tiny))
        model_path = str(stages.final_dir(sft))
    points.append(("1_sft" if tiny else "0_base", model_path))
    grpo = out / "grpo"
    stage("grpo", lambda: stages.final_dir(grpo).is_dir(),
          lambda: stages.train_grpo(model_path, train_data, chosen, grpo, tiny))
    points.append(("2_grpo", str(stages.final_dir(grpo))))
    heldout_set = out / "eval" / "heldout.parquet"
    if not heldout_set.is_file():
        stages.make_heldout(train_data / "val.parquet", heldout_set, chosen.eval_limit)
    from spatialthinker.pipeline.heldout import blind_baseline

    result.blind = blind_baseline(train_data / "train.parquet", heldout_set)
    for name, path in points:
        target = out / "eval" / name
        stage(f"eval_{name}", lambda target=target: stages.eval_done(target),
              lambda target=target, path=path: stages.evaluate(path, heldout_set, chosen, target, tiny))
        for heldout in sorted(target.rglob("heldout_reward.json"))[:1]:
            result.heldout[name] = json.loads(heldout.read_text())
            summary = json.loads((heldout.parent / "summary.json").read_text())
            result.heldout[name].update({f"eval/{key}": summary.get(key) for key in ("accuracy", "ci95",
                                                                                       "parse_failure_rate")})
            result.heldout[name]["eval/box_iou"] = (summary.get("scene_quality") or {}).get("mean_iou")
            result.heldout[name]["eval/per_category"] = {
                category: {key: values.get(key) for key in ("n", "accuracy", "ci95")}
                for category, values in summary.get("per_category", {}).items()}
    shown = [data, out / "sft", grpo] + [out / "eval" / name for name, _ in points]  # not the derived subsets
    result.report = stage("report", lambda: False, lambda: build_report(
        [p for p in shown if p.is_dir()], out / "report.html", max_samples=4,
        title=f"SpatialThinker quickstart ({chosen.name}, model {model})",
        extra_sections=[heldout_section(result.heldout, result.blind)]))
    result.settings["torch_threads"] = stages.threads_note()
    _save(out, result)
    return result


def _save(out: Path, result: QuickstartResult) -> None:
    state = out / STATE_FILE
    previous = json.loads(state.read_text()) if state.is_file() else {}
    merged = result.to_dict()
    # a resumed run keeps the wall time of stages it skipped, so quickstart.json always has the full cost
    for name, seconds in previous.get("seconds", {}).items():
        if merged["seconds"].get(name, 0.0) == 0.0 and seconds:
            merged["seconds"][name] = seconds
    merged["total_seconds"] = round(sum(merged["seconds"].values()), 1)
    state.write_text(json.dumps(merged, indent=2, default=str))


def quickstart(
    preset: str = typer.Option("smoke", "--preset",
                               help="smoke (<= 3 min on 2 CPU cores) or mini (2400 SFT + 60 GRPO steps)."),
    out: Path = typer.Option(Path("runs/quickstart"), "--out", help="Run directory (finished stages are skipped)."),
    model: str = typer.Option("tiny", "--model", help="tiny (offline tiny Qwen2.5-VL), a local path or a hub id."),
    open_report: bool = typer.Option(False, "--open", help="Open the report in a browser when done."),
) -> None:
    """Simulate scenes, SFT warm-up, dense-reward GRPO, held-out evaluation before/after, HTML report."""
    from spatialthinker.pipeline.presets import PRESETS

    if preset not in PRESETS or preset == "test":
        raise typer.BadParameter(f"choose smoke or mini, got {preset!r}", param_hint="--preset")
    started = time.perf_counter()

    def progress(stage: str, status: str) -> None:
        typer.echo(f"[{time.perf_counter() - started:6.1f}s] {stage}: {status}")

    result = run_quickstart(preset, out, model, on_stage=progress)
    typer.echo(_summary_text(result))
    if open_report and result.report is not None:
        from spatialthinker.viz.cli import open_in_browser

        open_in_browser(result.report)


def _summary_text(result: QuickstartResult) -> str:
    lines = [f"\nwall time {time.strftime('%M:%S', time.gmtime(result.total_seconds))} "
             f"({', '.join(f'{k} {v:.0f}s' for k, v in result.seconds.items())})"]
    if result.heldout:
        lines.append("held-out questions (val scenes) at each point: format rate / mean dense reward / "
                     "answer accuracy [95% Wilson CI] vs chance / box IoU")
        for name, values in result.heldout.items():
            low, high = values.get("eval/ci95") or (float("nan"), float("nan"))
            lines.append(f"  {name:8s} {_number(values.get('format_rate'))} / "
                         f"{_number(values.get('mean_reward'), 3)} / "
                         f"{_number(values.get('eval/accuracy'))} [{low:.2f}, {high:.2f}] vs chance "
                         f"{_number(values.get('chance_rate'))} / {_number(values.get('eval/box_iou'), 3)}"
                         f"  (n={values.get('n', 0)})")
        if result.blind:
            lines.append(f"  without the image (best answer per question text in the training split): "
                         f"{_number(result.blind.get('accuracy'))}")
        last_name, last = list(result.heldout.items())[-1]
        per_category = last.get("eval/per_category") or {}
        chance = last.get("per_category") or {}
        if per_category:
            lines.append(f"  per category at {last_name}: " + ", ".join(
                f"{category} {_number(values.get('accuracy'))} (n={values.get('n')}, chance "
                f"{_number((chance.get(category) or {}).get('chance_rate'))})"
                for category, values in sorted(per_category.items())))
    lines.append(f"report: {result.report}")
    return "\n".join(lines)


def _number(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "n/a"


def register(app: typer.Typer) -> None:
    """Add ``quickstart`` to the root app."""
    app.command("quickstart")(quickstart)
