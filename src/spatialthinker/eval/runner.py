"""Run benchmarks end to end: load items, generate (resuming), extract, score, write JSONL + summary + report."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import time
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
        resume (`bool`, defaults to `True`): skip ids already scored in ``items.jsonl`` (failed ones are retried).
        overwrite (`bool`, defaults to `False`): discard earlier results instead of resuming (also ``resume=False``).
        data_root (`str | None`): a folder with one local copy per benchmark (``<root>/<hub org>--<hub name>``,
            ``<root>/<hub name>`` or ``<root>/<benchmark>``), for suites; ``data_path`` entries win.
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
    overwrite: bool = field(default=False, metadata={"help": "Discard earlier results in --out and start over."})
    data_root: str | None = field(default=None, metadata={"help": "Folder holding one local copy per benchmark."})
    retry_backoff_s: float = field(default=1.0, metadata={"help": "First wait before retrying a failed batch."})

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
        if self.data_path and "" in paths and len({get_benchmark(n).dataset.path for n in names}) > 1:
            raise ValueError("with several benchmarks, give --data-path as NAME=PATH,NAME=PATH "
                             "(one PATH serves several benchmarks only when they share a dataset, as BLINK's tasks do).")

    def data_paths(self) -> dict[str, str]:
        """Benchmark -> local path ("" key: the one path of a single-benchmark run)."""
        if not self.data_path:
            return {}
        if "=" not in self.data_path:
            return {"": self.data_path}
        pairs = [part.split("=", 1) for part in self.data_path.split(",") if part.strip()]
        return {name.strip(): path.strip() for name, path in pairs}

    def data_path_for(self, spec: BenchmarkSpec) -> str | None:
        """The local copy of one benchmark: its ``--data-path``, else its folder under ``--data-root``, else None."""
        paths = self.data_paths()
        if spec.name in paths or "" in paths:
            return paths.get(spec.name, paths.get(""))
        if not self.data_root:
            return None
        root = Path(self.data_root)
        hub = spec.dataset.path or ""
        for candidate in (hub.replace("/", "--"), f"datasets--{hub.replace('/', '--')}", hub.split("/")[-1], spec.name):
            if candidate and (root / candidate).exists():
                return str(root / candidate)
        raise FileNotFoundError(f"--data-root {root}: no folder for {spec.name} (looked for "
                                f"{hub.replace('/', '--') or '-'}, {hub.split('/')[-1] or '-'} and {spec.name}).")


@dataclass
class EvalResults:
    """What ``run_evaluation`` returns: the summaries it wrote, keyed by benchmark and group name."""

    out_dir: str
    summaries: dict[str, dict[str, Any]]
    groups: dict[str, dict[str, Any]]
    config: dict[str, Any]

    not_evaluated: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.not_evaluated and all(s["complete"] for s in self.summaries.values())


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


def latest_records(records: list[ItemRecord], wanted: set[str] | None = None) -> list[ItemRecord]:
    """One record per id, the latest written (a retried error is replaced by its new record), in first-seen order."""
    latest: dict[str, ItemRecord] = {}
    for record in records:
        if wanted is None or record.id in wanted:
            latest[record.id] = record
    return list(latest.values())


def drop_partial_line(path: Path) -> None:
    """Cut a trailing line without newline (a run killed mid-write), so that appended records start clean."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        logger.warning("%s: dropping a partial last line left by an interrupted run", path)
        path.write_bytes(data[: data.rfind(b"\n") + 1])


# ------------------------------------------------------------------------------------------ one benchmark
def _expand(spec: BenchmarkSpec, items: list[EvalItem]) -> list[EvalItem]:
    if not spec.expand:
        return items
    expander = EXPANDERS.get(spec.expand)
    return [variant for item in items for variant in expander(item)]


def score_output(spec: BenchmarkSpec, item: EvalItem, output: Any, mode: str, style: str) -> ItemRecord:
    """Extract, score and describe one output; never raises on the output text. A ``GenerationFailure`` gives an
    error record: no answer, not scored."""
    from spatialthinker.eval.backends import GenerationFailure
    from spatialthinker.eval.scene_quality import scene_quality

    if isinstance(output, GenerationFailure):
        return ItemRecord(
            id=item.id, benchmark=spec.name, prompt_mode=mode, prompt_style=style, category=item.category,
            question=item.question, choices=list(item.choices), answer=item.answer, output="", extracted=None,
            correct=False, parse_failed=False, primary=bool(item.extra.get("primary", True)),
            group_id=item.extra.get("group_id"), tags=dict(item.extra.get("tags", {})), error=output.message)

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
                                       api_base=c.api_base, concurrency=c.concurrency, retries=c.retries,
                                       options={"backoff_s": c.retry_backoff_s})
            self.backend = create_backend(c.backend, settings)
        return self.backend

    def describe(self) -> dict[str, Any]:
        if self.backend is None:
            return {"backend": self.config.backend, "model": self.config.model}
        return self.backend.describe()


def evaluate_benchmark(spec: BenchmarkSpec, config: EvalConfig, backend: _LazyBackend,
                       progress: ProgressFn | None = None) -> dict[str, Any]:
    """Evaluate one benchmark into ``out/<name>/`` and return its summary.

    A resume first checks the folder's fingerprint (``FingerprintMismatch`` says what changed), then generates
    only the items without a record and the items whose earlier attempt failed.
    """
    from spatialthinker.eval.fingerprint import check_resume, item_hash, make_fingerprint, write_fingerprint
    from spatialthinker.eval.loaders import load_items
    from spatialthinker.eval.metrics import summarize

    spec.validate()
    mode = mode_name(config.prompt_mode or spec.prompt_style)
    style = resolve_prompt_style(mode)
    data_path = config.data_path_for(spec)
    items = _expand(spec, load_items(spec, data_path, config.limit))
    hashes = {item.id: item_hash(item) for item in items}
    max_new_tokens = config.max_new_tokens or int(spec.generation.get("max_new_tokens", 2048))
    fingerprint = make_fingerprint(items, hashes, {
        "benchmark": spec.name, "version": spec.version, "data": _data_identity(spec, data_path),
        "model": config.model, "backend": config.backend, "prompt_mode": mode, "prompt_style": style,
        "extractor": spec.extractor, "max_new_tokens": max_new_tokens, "do_sample": False, "limit": config.limit})
    directory = Path(config.out) / spec.name
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "items.jsonl"
    summary_path = directory / "summary.json"
    if config.overwrite or not config.resume:
        for stale in (log_path, summary_path, directory / "fingerprint.json"):
            stale.unlink(missing_ok=True)
    drop_partial_line(log_path)
    previous = latest_records(read_records(log_path))
    previous_summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    check_resume(directory, fingerprint, {r.id: r.item_hash for r in previous}, hashes)
    write_fingerprint(directory, fingerprint)
    done = {r.id for r in previous if not r.error}
    pending = [item for item in items if item.id not in done]
    retried = sum(1 for r in previous if r.error and r.id in hashes)
    logger.info("%s: %d items, %d already scored, %d to generate (%d earlier errors retried)", spec.name, len(items),
                len(items) - len(pending), len(pending), retried)
    with log_path.open("a", encoding="utf-8") as log:
        for start in range(0, len(pending), config.batch_size):
            batch = pending[start:start + config.batch_size]
            outputs = _generate_with_retries(backend, batch, style, max_new_tokens, spec.name, config)
            for item, output in zip(batch, outputs, strict=True):
                record = score_output(spec, item, output, mode, style)
                record.item_hash = hashes[item.id]
                log.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            log.flush()  # a killed run loses at most the batch in flight
            if progress:
                progress(spec.name, len(batch), len(pending))
    records = latest_records(read_records(log_path), set(hashes))
    summary = summarize(records, spec.aggregates, spec.official)
    described = backend.describe() if backend.backend is not None else previous_summary.get("backend", backend.describe())
    summary.update(_header(spec, config, mode, style, max_new_tokens, described, data_path))
    summary["fingerprint"] = fingerprint
    summary["complete"] = len(records) == len(items) and summary["errors"] == 0
    summary["limited"] = config.limit is not None
    summary_path.write_text(json.dumps(_jsonable(summary), indent=2, ensure_ascii=False))
    return summary


def _data_identity(spec: BenchmarkSpec, data_path: str | None) -> str:
    if data_path:
        return str(Path(data_path).resolve())
    config = f" [{spec.dataset.config}]" if spec.dataset.config else ""
    return f"hub:{spec.dataset.path}{config} @{spec.dataset.split}"


def _generate_with_retries(backend: _LazyBackend, batch: list[EvalItem], style: str, max_new_tokens: int,
                           benchmark: str, config: EvalConfig) -> list[Any]:
    """Outputs of one batch; a backend that raises is retried with exponential backoff, then every item of the
    batch becomes a ``GenerationFailure`` (recorded as an error, retried by the next run), so a crash of the
    model server loses nothing already scored."""
    from spatialthinker.eval.backends import GenerationFailure

    wait = config.retry_backoff_s
    for attempt in range(config.retries + 1):
        try:
            return _generate(backend.get(), batch, style, max_new_tokens, benchmark)
        except (OSError, RuntimeError, ValueError) as error:
            message = f"{type(error).__name__}: {error}"
            if attempt == config.retries:
                logger.error("%s: batch of %d failed after %d attempts: %s", benchmark, len(batch), attempt + 1, message)
                return [GenerationFailure(message) for _ in batch]
            logger.warning("%s: batch failed (%s); retry %d/%d in %.1fs", benchmark, message, attempt + 1,
                           config.retries, wait)
            _sleep(wait)
            wait *= 2
    raise AssertionError("unreachable")


def _sleep(seconds: float) -> None:  # replaced in tests
    time.sleep(seconds)


def _generate(backend: Any, batch: list[EvalItem], style: str, max_new_tokens: int, benchmark: str) -> list[Any]:
    from spatialthinker.eval.backends import GenerationRequest
    from spatialthinker.prompts import build_prompt

    requests = [GenerationRequest(item.id, build_prompt(style, item.question, item.choices, item.image_size()),
                                  item.pil_images(), max_new_tokens, benchmark) for item in batch]
    outputs = backend.generate(requests)
    if len(outputs) != len(requests):
        raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(requests)} requests.")
    return outputs


def _header(spec: BenchmarkSpec, config: EvalConfig, mode: str, style: str, max_new_tokens: int,
            backend: dict[str, Any], data_path: str | None) -> dict[str, Any]:
    from spatialthinker import __version__

    return {
        "schema_version": SUMMARY_SCHEMA_VERSION, "benchmark": spec.name, "version": spec.version,
        "description": spec.description, "official_metric": spec.official_metric,
        "dataset": asdict(spec.dataset), "data_path": data_path, "headline": spec.headline or spec.official or "accuracy",
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
def headline_result(summary: dict[str, Any]) -> dict[str, Any]:
    """The metric a benchmark is compared with the paper by (its ``headline``, else its official score)."""
    name = summary.get("headline") or summary["official"]["name"]
    if name == summary["official"]["name"]:
        return summary["official"]
    if name == "accuracy":
        return {"name": "accuracy", **{k: summary.get(k) for k in ("n", "correct", "accuracy", "ci95")}}
    return {"name": name, **summary.get("aggregates", {}).get(name, {"n": 0, "accuracy": None})}


def group_summary(name: str, summaries: dict[str, dict[str, Any]],
                  groups: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A group's score: the unweighted mean of its members' headline scores (the paper's BLINK avg, and its
    12-benchmark average where BLINK counts once). Members may be groups. A member without a score (not run,
    or itself partial) makes the group ``partial``: its accuracy is None and ``missing`` names the members."""
    from spatialthinker.eval.metrics import macro_mean

    groups = {} if groups is None else groups
    group = GROUPS.get(name)
    parts: dict[str, dict[str, Any]] = {}
    for member in group.members:
        if member in GROUPS:
            groups.setdefault(member, group_summary(member, summaries, groups))
            parts[member] = groups[member]["official"]
        elif member in summaries:
            parts[member] = headline_result(summaries[member])
    missing = [m for m in group.members if parts.get(m, {}).get("accuracy") is None]
    usable = [{"n": p.get("n") or 0, "accuracy": p["accuracy"]} for p in parts.values() if p.get("accuracy") is not None]
    official = macro_mean(usable)
    if missing:
        official = {"n": official["n"], "accuracy": None, "ci95": [None, None], "partial": True, "missing": missing,
                    "mean_of_available": official["accuracy"] if usable else None}
    return {"name": name, "members": {m: parts.get(m, {}).get("accuracy") for m in group.members},
            "metrics": {m: parts[m].get("name", "group mean") for m in parts},
            "official": _jsonable(official), "paper_keys": group.paper}


def run_evaluation(config: EvalConfig, progress: ProgressFn | None = None, keep_going: bool = False) -> EvalResults:
    """Evaluate every benchmark of ``config`` and write the output layout documented in docs/evaluation.md.

    With ``keep_going`` (the suite command) a benchmark whose data cannot be read is listed in run.json
    ``not_evaluated`` and the others still run; the groups it belongs to are then partial.

    Example:
        >>> # run_evaluation(EvalConfig(["cv-bench"], model="tiny", data_path="cv_bench/", limit=8))
    """
    from spatialthinker.eval.loaders import DataUnavailableError
    from spatialthinker.eval.report import format_run

    names, groups = expand_names(config.benchmarks)
    backend = _LazyBackend(config)
    summaries: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for name in names:
        try:
            summaries[name] = evaluate_benchmark(get_benchmark(name), config, backend, progress)
        except (DataUnavailableError, FileNotFoundError) as error:
            if not keep_going:
                raise
            logger.error("%s: not evaluated: %s", name, error)
            failed[name] = str(error)
    group_summaries: dict[str, dict[str, Any]] = {}
    for name in groups:
        group_summaries.setdefault(name, group_summary(name, summaries, group_summaries))
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    run = {"config": asdict(config), "benchmarks": {n: f"{n}/summary.json" for n in summaries},
           "groups": group_summaries, "not_evaluated": failed}
    (out / "run.json").write_text(json.dumps(_jsonable(run), indent=2))
    results = EvalResults(str(out), summaries, group_summaries, asdict(config), failed)
    (out / "report.md").write_text(format_run(results.summaries, results.groups))
    return results
