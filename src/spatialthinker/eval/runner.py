"""Run benchmarks end to end: load items, generate (resuming), extract, score, write JSONL + summary + report."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spatialthinker.eval.extract import is_correct
from spatialthinker.eval.items import EvalItem, ItemRecord
from spatialthinker.eval.registry import (EXPANDERS, EXTRACTORS, GROUPS, BenchmarkSpec, expand_names,
                                          get_benchmark, mode_name, resolve_prompt_style)

logger = logging.getLogger(__name__)

SUMMARY_SCHEMA_VERSION = 1
ProgressFn = Callable[[str, int, int], None]  # (benchmark, newly done, total to generate)


@dataclass
class EvalConfig:
    """Everything that decides a run; saved in every summary.json.

    Parameters:
        benchmarks (`list[str]`): registry names or group names (``blink``), run in order.
        model (`str`): checkpoint path / hub id / ``tiny`` (transformers, vllm), served name (openai), JSONL (replay).
        backend (`str`, defaults to `"transformers"`): ``transformers``, ``vllm``, ``openai``, ``replay``, ``dummy``.
        prompt_mode (`str | None`): ``spatialthinker``, ``spatialthinker-train``, ``reasoning``, ``direct``,
            ``question_only`` (or a raw prompt style); None uses each entry's ``prompt_style``.
        out (`str`): output directory; one sub-directory per benchmark.
        limit (`int | None`): first N items per benchmark (smoke tests); the summary says the run was limited.
        data_path (`str | None`): local data for a single benchmark, or ``name=path,name=path`` for several.
        batch_size (`int`, defaults to `8`), max_new_tokens (`int | None`, entry default 2048).
        resume (`bool`, defaults to `True`): skip ids already scored in ``items.jsonl``.
    """

    benchmarks: list[str]
    model: str
    backend: str = field(default="transformers", metadata={"help": "transformers | vllm | openai | replay | dummy"})
    prompt_mode: str | None = field(default=None, metadata={"help": "Prompt mode; default: each entry's style."})
    out: str = field(default="runs/eval", metadata={"help": "Output directory."})
    limit: int | None = field(default=None, metadata={"help": "Evaluate only the first N items of each benchmark."})
    data_path: str | None = field(default=None, metadata={"help": "Local data: PATH, or NAME=PATH,NAME=PATH."})
    batch_size: int = field(default=8, metadata={"help": "Items per generate call."})
    max_new_tokens: int | None = field(default=None, metadata={"help": "Override the entry's max_new_tokens."})
    dtype: str = field(default="auto", metadata={"help": "Model dtype (transformers, vllm)."})
    device: str | None = field(default=None, metadata={"help": "Device for transformers (default cuda if present)."})
    api_base: str | None = field(default=None, metadata={"help": "OpenAI-compatible base URL (…/v1)."})
    concurrency: int = field(default=4, metadata={"help": "Concurrent HTTP requests (openai)."})
    retries: int = field(default=4, metadata={"help": "Retries per HTTP request (openai)."})
    resume: bool = field(default=True, metadata={"help": "Skip items already scored in items.jsonl."})

    def __post_init__(self) -> None:
        if isinstance(self.benchmarks, str):
            self.benchmarks = [b.strip() for b in self.benchmarks.split(",") if b.strip()]
        if not self.benchmarks:
            raise ValueError("name at least one benchmark (see `spatialthinker eval ls`).")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}.")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}.")
        names, _ = expand_names(self.benchmarks)  # unknown names fail here, listing the known ones
        if self.prompt_mode is not None:
            resolve_prompt_style(self.prompt_mode)
        paths = self.data_paths()
        if self.data_path and len(names) > 1 and "" in paths:
            raise ValueError("with several benchmarks, give --data-path as NAME=PATH,NAME=PATH.")

    def data_paths(self) -> dict[str, str]:
        """Benchmark -> local path ("" key: the one path of a single-benchmark run)."""
        if not self.data_path:
            return {}
        if "=" not in self.data_path:
            return {"": self.data_path}
        pairs = [part.split("=", 1) for part in self.data_path.split(",") if part.strip()]
        return {name.strip(): path.strip() for name, path in pairs}


@dataclass
class EvalResults:
    """What ``run_evaluation`` returns: the summaries it wrote, keyed by benchmark and group name."""

    out_dir: str
    summaries: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, Any]]
    config: dict[str, Any]

    @property
    def complete(self) -> bool:
        return all(s["complete"] for s in self.summaries.values())


# ------------------------------------------------------------------------------------------ resume log
def read_records(path: Path) -> list[ItemRecord]:
    """Records of an ``items.jsonl``; a truncated last line (a killed run) is ignored, not fatal."""
    records: list[ItemRecord] = []
    if not path.exists():
        return records
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                records.append(ItemRecord.from_dict(json.loads(line)))
            except (ValueError, TypeError) as error:
                logger.warning("%s:%d: unreadable line skipped (%s)", path, number, error)
    return records


def drop_partial_line(path: Path) -> None:
    """Cut a trailing line without newline (a run killed mid-write), so that appended records start clean."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        logger.warning("%s: dropping a partial last line left by an interrupted run", path)
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def _check_compatible(records: list[ItemRecord], previous: dict[str, Any], config: EvalConfig, mode: str,
                      path: Path) -> None:
    """A resumed log must come from the same prompt mode, model and backend, or its counts would mix runs."""
    other = {r.prompt_mode for r in records} - {mode}
    if other:
        raise ValueError(f"{path} holds results of prompt mode {sorted(other)}, not {mode!r}; "
                         f"use another --out (one prompt mode per output directory).")
    before = previous.get("config", {})
    for key in ("model", "backend"):
        if records and key in before and before[key] != getattr(config, key):
            raise ValueError(f"{path.parent} was run with {key} {before[key]!r}, not {getattr(config, key)!r}; "
                             f"use another --out or --no-resume.")


# ------------------------------------------------------------------------------------------ one benchmark
def _expand(spec: BenchmarkSpec, items: list[EvalItem]) -> list[EvalItem]:
    if not spec.expand:
        return items
    expander = EXPANDERS.get(spec.expand)
    return [variant for item in items for variant in expander(item)]


def score_output(spec: BenchmarkSpec, item: EvalItem, output: str, mode: str, style: str) -> ItemRecord:
    """Extract, score and describe one output; never raises on the output text."""
    from spatialthinker.eval.scene_quality import scene_quality

    extracted = EXTRACTORS.get(spec.extractor)(output, item)
    gt_scene = item.extra.get("gt_scene")
    return ItemRecord(
        id=item.id, benchmark=spec.name, prompt_mode=mode, prompt_style=style, category=item.category,
        question=item.question, choices=list(item.choices), answer=item.answer, output=output,
        extracted=extracted, correct=is_correct(extracted, item), parse_failed=extracted is None,
        primary=bool(item.extra.get("primary", True)), group_id=item.extra.get("group_id"),
        tags=dict(item.extra.get("tags", {})), scene=scene_quality(output, gt_scene) if gt_scene else None)


class _LazyBackend:
    """Builds the backend on first use, so a fully resumed run never loads a model."""

    def __init__(self, config: EvalConfig) -> None:
        self.config, self.backend = config, None

    def get(self) -> Any:
        if self.backend is None:
            from spatialthinker.eval.backends import BackendSettings, create_backend

            c = self.config
            settings = BackendSettings(model=c.model, batch_size=c.batch_size, dtype=c.dtype, device=c.device,
                                       api_base=c.api_base, concurrency=c.concurrency, retries=c.retries)
            self.backend = create_backend(c.backend, settings)
        return self.backend

    def describe(self) -> dict[str, Any]:
        if self.backend is None:
            return {"backend": self.config.backend, "model": self.config.model}
        return self.backend.describe()


def evaluate_benchmark(spec: BenchmarkSpec, config: EvalConfig, backend: _LazyBackend,
                       progress: ProgressFn | None = None) -> dict[str, Any]:
    """Evaluate one benchmark into ``out/<name>/`` and return its summary."""
    from spatialthinker.eval.loaders import load_items
    from spatialthinker.eval.metrics import summarize

    spec.validate()
    mode = mode_name(config.prompt_mode or spec.prompt_style)
    style = resolve_prompt_style(mode)
    paths = config.data_paths()
    items = _expand(spec, load_items(spec, paths.get(spec.name, paths.get("")), config.limit))
    directory = Path(config.out) / spec.name
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "items.jsonl"
    summary_path = directory / "summary.json"
    drop_partial_line(log_path)
    previous = read_records(log_path) if config.resume else []
    previous_summary = json.loads(summary_path.read_text()) if config.resume and summary_path.exists() else {}
    if not config.resume and log_path.exists():
        log_path.unlink()
    _check_compatible(previous, previous_summary, config, mode, log_path)
    done = {r.id for r in previous}
    pending = [item for item in items if item.id not in done]
    logger.info("%s: %d items, %d already scored, %d to generate", spec.name, len(items), len(items) - len(pending), len(pending))
    max_new_tokens = config.max_new_tokens or int(spec.generation.get("max_new_tokens", 2048))
    with log_path.open("a", encoding="utf-8") as log:
        for start in range(0, len(pending), config.batch_size):
            batch = pending[start:start + config.batch_size]
            outputs = _generate(backend.get(), batch, style, max_new_tokens, spec.name)
            for item, output in zip(batch, outputs, strict=True):
                log.write(json.dumps(score_output(spec, item, output, mode, style).to_dict(), ensure_ascii=False) + "\n")
            log.flush()  # a killed run loses at most the batch in flight
            if progress:
                progress(spec.name, len(batch), len(pending))
    wanted = {item.id for item in items}
    records = list({r.id: r for r in reversed(read_records(log_path)) if r.id in wanted}.values())[::-1]
    summary = summarize(records, spec.aggregates, spec.official)
    described = backend.describe() if backend.backend is not None else previous_summary.get("backend", backend.describe())
    summary.update(_header(spec, config, mode, style, max_new_tokens, described, paths))
    summary["complete"] = len(records) == len(items)
    summary["limited"] = config.limit is not None
    summary_path.write_text(json.dumps(_jsonable(summary), indent=2, ensure_ascii=False))
    return summary


def _generate(backend: Any, batch: list[EvalItem], style: str, max_new_tokens: int, benchmark: str) -> list[str]:
    from spatialthinker.eval.backends import GenerationRequest
    from spatialthinker.prompts import build_prompt

    requests = [GenerationRequest(item.id, build_prompt(style, item.question, item.choices, item.image_size()),
                                  item.pil_images(), max_new_tokens, benchmark) for item in batch]
    outputs = backend.generate(requests)
    if len(outputs) != len(requests):
        raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(requests)} requests.")
    return outputs


def _header(spec: BenchmarkSpec, config: EvalConfig, mode: str, style: str, max_new_tokens: int,
            backend: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    from spatialthinker import __version__

    return {
        "schema_version": SUMMARY_SCHEMA_VERSION, "benchmark": spec.name, "version": spec.version,
        "description": spec.description, "official_metric": spec.official_metric,
        "dataset": asdict(spec.dataset), "data_path": paths.get(spec.name, paths.get("")),
        "prompt_mode": mode, "prompt_style": style, "extractor": spec.extractor,
        "generation": {**spec.generation, "max_new_tokens": max_new_tokens, "do_sample": False},
        "backend": backend, "paper_keys": spec.paper, "config": asdict(config),
        "spatialthinker_version": __version__, "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _jsonable(value: Any) -> Any:
    """NaN (empty slices) becomes null so that summary.json is strict JSON that every reader accepts."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------ a run
def group_summary(name: str, summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A group's official score: the unweighted mean of its members' official scores (the paper's BLINK avg)."""
    from spatialthinker.eval.metrics import macro_mean

    group = GROUPS.get(name)
    parts = {m: summaries[m]["official"] for m in group.members if m in summaries}
    usable = [{"n": p["n"], "accuracy": p["accuracy"]} for p in parts.values() if p.get("accuracy") is not None]
    return {"name": name, "members": {m: p.get("accuracy") for m, p in parts.items()},
            "official": _jsonable(macro_mean(usable)), "paper_keys": group.paper}


def run_evaluation(config: EvalConfig, progress: ProgressFn | None = None) -> EvalResults:
    """Evaluate every benchmark of ``config`` and write the output layout documented in docs/evaluation.md.

    Example:
        >>> # run_evaluation(EvalConfig(["cv-bench"], model="tiny", data_path="cv_bench/", limit=8))
    """
    from spatialthinker.eval.report import format_run

    names, groups = expand_names(config.benchmarks)
    backend = _LazyBackend(config)
    summaries = {name: evaluate_benchmark(get_benchmark(name), config, backend, progress) for name in names}
    group_summaries = {name: group_summary(name, summaries) for name in groups}
    out = Path(config.out)
    run = {"config": asdict(config), "benchmarks": {n: f"{n}/summary.json" for n in names}, "groups": group_summaries}
    (out / "run.json").write_text(json.dumps(_jsonable(run), indent=2))
    results = EvalResults(str(out), summaries, group_summaries, asdict(config))
    (out / "report.md").write_text(format_run(results.summaries, results.groups))
    return results
