"""`spatialthinker eval` (run benchmarks), `eval suite` (the paper's suite beside its published numbers),
`eval report` (compare runs), `eval ls` and `eval validate`."""

from __future__ import annotations

from typing import Optional

import typer

eval_app = typer.Typer(help="Evaluate models on spatial benchmarks and compare runs.", invoke_without_command=True,
                       no_args_is_help=False)


@eval_app.callback()
def run(
    ctx: typer.Context,
    benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help="NAME[,NAME]: benchmarks or groups (see `eval ls`)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Checkpoint path / hub id / tiny; served name (openai); JSONL (replay); fixed:TEXT|echo (dummy)."),
    backend: str = typer.Option("transformers", "--backend", help="transformers | vllm | openai | replay | dummy"),
    prompt_mode: Optional[str] = typer.Option(None, "--prompt-mode", help="spatialthinker | spatialthinker-train | reasoning | direct | question_only (default: the entry's)."),
    out: str = typer.Option("runs/eval", "--out", "-o", help="Output directory (resumes when it holds a run)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N items of each benchmark."),
    data_path: Optional[str] = typer.Option(None, "--data-path", help="Local data: PATH, or NAME=PATH,NAME=PATH."),
    batch_size: int = typer.Option(8, "--batch-size", help="Items per generate call."),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="Override the entry's limit (2048)."),
    dtype: str = typer.Option("auto", "--dtype", help="Model dtype (transformers, vllm)."),
    device: Optional[str] = typer.Option(None, "--device", help="transformers device (default: cuda if available)."),
    api_base: Optional[str] = typer.Option(None, "--api-base", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1."),
    concurrency: int = typer.Option(4, "--concurrency", help="Concurrent HTTP requests (openai)."),
    retries: int = typer.Option(4, "--retries", help="Retries (exponential backoff) of a failed request or batch before it is recorded as an error."),
    no_resume: bool = typer.Option(False, "--no-resume", help="Start over instead of skipping scored items."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Discard earlier results in --out (other data, model or settings) and start over."),
    data_root: Optional[str] = typer.Option(None, "--data-root", help="Folder with one local copy per benchmark (org--name, name or benchmark)."),
) -> None:
    """Run benchmarks (when no subcommand is given): spatialthinker eval --benchmark cv-bench --model PATH."""
    if ctx.invoked_subcommand is not None:
        return
    if benchmark is None or model is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0 if benchmark is None and model is None else 2)
    from spatialthinker.eval.runner import EvalConfig, run_evaluation

    config = EvalConfig(benchmarks=benchmark, model=model, backend=backend, prompt_mode=prompt_mode, out=out,
                        limit=limit, data_path=data_path, batch_size=batch_size, max_new_tokens=max_new_tokens,
                        dtype=dtype, device=device, api_base=api_base, concurrency=concurrency, resume=not no_resume,
                        overwrite=overwrite, data_root=data_root, retries=retries)
    results = _run_with_progress(config, run_evaluation)
    from spatialthinker.eval.report import format_run

    typer.echo(format_run(results.summaries, results.groups))
    typer.echo(f"results in {results.out_dir}/ (report.md, run.json, <benchmark>/summary.json, items.jsonl)")
    raise typer.Exit(0 if results.complete else 1)


def _run_with_progress(config, run_evaluation):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.advance(tasks[name], done)

        return run_evaluation(config, progress)


@eval_app.command("suite")
def suite(
    model: str = typer.Option(..., "--model", "-m", help="As for `eval`: checkpoint, served name, replay JSONL, dummy mode."),
    backend: str = typer.Option("transformers", "--backend", help="transformers | vllm | openai | replay | dummy"),
    prompt_mode: Optional[str] = typer.Option(None, "--prompt-mode", help="Recorded in the table; default: each entry's."),
    group: str = typer.Option("paper-12", "--group", help="The suite to run (a group of `eval ls`)."),
    out: str = typer.Option("runs/paper-12", "--out", "-o", help="Output directory (resumes when it holds a run)."),
    data_root: Optional[str] = typer.Option(None, "--data-root", help="Folder with one local copy per benchmark."),
    data_path: Optional[str] = typer.Option(None, "--data-path", help="NAME=PATH,NAME=PATH for single benchmarks."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N items of each benchmark (smoke test)."),
    batch_size: int = typer.Option(8, "--batch-size", help="Items per generate call."),
    api_base: Optional[str] = typer.Option(None, "--api-base", help="OpenAI-compatible base URL."),
    paper_model: Optional[list[str]] = typer.Option(None, "--paper-model", help="Published columns (default Qwen2.5-VL-7B, SpatialThinker-7B)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Discard earlier results in --out and start over."),
) -> None:
    """Run the paper's benchmark suite and write comparison.md: our headline scores beside the published ones.

    A benchmark whose data cannot be read is listed as not evaluated and the average is marked partial."""
    from pathlib import Path

    from spatialthinker.eval.report import DEFAULT_PAPER_MODELS
    from spatialthinker.eval.runner import EvalConfig, run_evaluation
    from spatialthinker.eval.suite import suite_table

    config = EvalConfig(benchmarks=[group], model=model, backend=backend, prompt_mode=prompt_mode, out=out,
                        limit=limit, data_path=data_path, batch_size=batch_size, api_base=api_base,
                        overwrite=overwrite, data_root=data_root)
    results = _run_with_progress(config, lambda c, p: run_evaluation(c, p, keep_going=True))
    table = suite_table(out, group, list(paper_model or DEFAULT_PAPER_MODELS))
    (Path(out) / "comparison.md").write_text(table, encoding="utf-8")
    typer.echo(table)
    typer.echo(f"comparison in {out}/comparison.md")
    raise typer.Exit(0 if results.complete else 1)


@eval_app.command("report")
def report(
    dirs: list[str] = typer.Argument(..., help="Output directories of `spatialthinker eval`."),
    paper: bool = typer.Option(False, "--paper", help="Add the paper's numbers (see --paper-model)."),
    paper_model: Optional[list[str]] = typer.Option(None, "--paper-model", help="Paper model column(s); repeatable."),
    output: Optional[str] = typer.Option(None, "--output", help="Also write the table to this markdown file."),
) -> None:
    """Compare runs side by side (score [95% CI] per benchmark, metric and run)."""
    from spatialthinker.eval.report import DEFAULT_PAPER_MODELS, compare_runs

    models = list(paper_model or (DEFAULT_PAPER_MODELS if paper else []))
    table = compare_runs(dirs, models)
    if output:
        from pathlib import Path

        Path(output).write_text(table)
    typer.echo(table)


@eval_app.command("ls")
def ls() -> None:
    """List benchmarks and groups with dataset, default prompt style and official metric."""
    from spatialthinker.eval.registry import BENCHMARKS, GROUPS

    for name in BENCHMARKS:
        spec = BENCHMARKS.get(name)
        where = spec.dataset.path or "(local: --data-path)"
        config = f" [{spec.dataset.config}]" if spec.dataset.config else ""
        layouts = ", ".join(s.layout for s in spec.all_layouts())
        typer.echo(f"{name:20} v{spec.version}  {where}{config} @{spec.dataset.split}  style={spec.prompt_style}  "
                   f"official={spec.official or 'accuracy'}  layouts: {layouts}")
    for name in GROUPS:
        typer.echo(f"{name:20} group: mean of {', '.join(GROUPS.get(name).members)}")


@eval_app.command("validate")
def validate(
    benchmark: Optional[str] = typer.Option(None, "--benchmark", "-b", help="NAME[,NAME]; default: every entry."),
    data_path: Optional[str] = typer.Option(None, "--data-path", help="Also load this local data (one benchmark)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Rows to load with --data-path."),
) -> None:
    """Check entries (every named prompt style, extractor, hook and aggregate exists); with --data-path, load
    the data and print item counts per category, so a column mismatch shows before any generation."""
    from collections import Counter

    from spatialthinker.eval.loaders import load_items
    from spatialthinker.eval.registry import BENCHMARKS, expand_names

    names = expand_names(benchmark.split(","))[0] if benchmark else BENCHMARKS.names()
    if data_path and len(names) != 1:
        raise typer.BadParameter("--data-path needs exactly one --benchmark.")
    for name in names:
        spec = BENCHMARKS.get(name)
        spec.validate()
        line = f"{name}: ok"
        if data_path:
            items = load_items(spec, data_path, limit)
            counts = Counter(item.category for item in items)
            layouts = sorted({str(item.extra.get("layout")) for item in items})
            line += f", {len(items)} items " + ", ".join(f"{c or '-'}={k}" for c, k in sorted(counts.items()))
            line += f" (layout: {'; '.join(layouts)})"
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add ``eval`` (with ``report`` and ``ls``) to the root app."""
    app.add_typer(eval_app, name="eval")
