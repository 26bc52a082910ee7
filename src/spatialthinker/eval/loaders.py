"""Load a benchmark's rows from the hub or a local path and map them into ``EvalItem``s.

Local paths may be a parquet file or directory, an Arrow file, a ``datasets.save_to_disk`` directory, a JSONL
file, or a hub cache directory (``~/.cache/huggingface/hub/datasets--org--name`` or one of its snapshots).
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spatialthinker.errors import InputError
from spatialthinker.eval.extract import answer_letter
from spatialthinker.eval.items import EvalItem
from spatialthinker.eval.registry import ITEM_HOOKS, BenchmarkSpec
from spatialthinker.prompts import LETTERS

logger = logging.getLogger(__name__)

_PREFIX = re.compile(r"^\s*\(?[A-Za-z]\s*[).:]\s*")
_SPLITS = ("train", "validation", "val", "test", "dev", "image")


class DataUnavailableError(RuntimeError):
    """The benchmark's data could not be read (offline machine, wrong path); the message says what to pass."""


# ------------------------------------------------------------------------------------------ rows
def iter_rows(spec: BenchmarkSpec, data_path: str | os.PathLike[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of the benchmark's split as dicts, from ``data_path`` when given, else from the hub."""
    if data_path is not None:
        yield from _local_rows(Path(data_path), spec)
        return
    if not spec.dataset.path:
        raise DataUnavailableError(f"benchmark {spec.name!r} has no hub dataset; pass --data-path with local files.")
    yield from _hub_rows(spec)


def _hub_rows(spec: BenchmarkSpec) -> Iterator[dict[str, Any]]:
    try:
        import datasets

        dataset = datasets.load_dataset(spec.dataset.path, spec.dataset.config, split=spec.dataset.split)
    except (OSError, ValueError, ImportError, RuntimeError) as error:  # OSError covers ConnectionError and 404s
        where = f"{spec.dataset.path}" + (f" [{spec.dataset.config}]" if spec.dataset.config else "")
        raise DataUnavailableError(
            f"could not load {where} @{spec.dataset.split} for benchmark {spec.name!r} "
            f"({type(error).__name__}: {str(error)[:200]}). On an offline machine, download it elsewhere and pass "
            f"--data-path to the parquet/arrow files, a save_to_disk directory or the hub cache directory."
        ) from error
    yield from dataset


def _local_rows(path: Path, spec: BenchmarkSpec) -> Iterator[dict[str, Any]]:
    if not path.exists():
        raise DataUnavailableError(f"--data-path {path} does not exist.")
    if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        yield from _saved_rows(path, spec)
        return
    files = [path] if path.is_file() else _data_files(path, spec)
    for file in files:
        logger.info("reading %s", file)
        yield from _file_rows(file)


def _saved_rows(path: Path, spec: BenchmarkSpec) -> Iterator[dict[str, Any]]:
    import datasets

    data = datasets.load_from_disk(str(path))
    if isinstance(data, datasets.DatasetDict):
        split = spec.dataset.split
        if split not in data:
            raise DataUnavailableError(f"{path} has splits {list(data)}, not {split!r} that {spec.name} uses.")
        data = data[split]
    yield from data


def _data_files(directory: Path, spec: BenchmarkSpec) -> list[Path]:
    """Data files under a directory, narrowed to the entry's configuration and split when names say so."""
    snapshots = directory / "snapshots"
    if snapshots.is_dir():  # a hub cache repository: read its newest snapshot
        candidates = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime)
        if candidates:
            directory = candidates[-1]
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".parquet", ".arrow", ".jsonl") and p.is_file())
    if not files:
        raise DataUnavailableError(f"no .parquet, .arrow or .jsonl files under {directory}.")
    config = spec.dataset.config
    if config:
        in_config = [f for f in files if config in f.relative_to(directory).parts or f.name.startswith(config)]
        files = in_config or files
    split = spec.dataset.split

    def split_of(file: Path) -> str | None:
        words = re.split(r"[-_./]", str(file.relative_to(directory)).lower())
        return next((s for s in _SPLITS if s in words), None)

    named = [f for f in files if split_of(f) == split]
    if named:
        return named
    if any(split_of(f) for f in files):
        raise DataUnavailableError(f"no {split!r} split among {[str(f) for f in files[:10]]} for {spec.name}.")
    return files


def _file_rows(file: Path) -> Iterator[dict[str, Any]]:
    if file.suffix == ".jsonl":
        with file.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as error:  # json counts lines within the one line it was given
                        raise InputError(f"{file}:{number}: invalid JSON ({error.msg}, character {error.pos + 1})") from None
        return
    if file.suffix == ".arrow":
        import datasets

        yield from datasets.Dataset.from_file(str(file))
        return
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(file).iter_batches(batch_size=64):
        yield from batch.to_pylist()


# ------------------------------------------------------------------------------------------ mapping
def _image_value(value: Any) -> Any:
    """HF image cells come as ``{"bytes", "path"}`` dicts from parquet and as PIL images from ``datasets``."""
    if isinstance(value, dict):
        return value.get("bytes") or value.get("path")
    return value


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:  # some exports store lists as their Python or JSON repr
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return [value]
        return list(parsed) if isinstance(parsed, (list, tuple)) else [value]
    return list(value) if value is not None else []


def _choices(spec: BenchmarkSpec, row: dict[str, Any]) -> list[str]:
    column = spec.columns.get("choices")
    if spec.choices_format == "fixed":
        return list(spec.fixed_choices)
    if spec.choices_format == "none" or column is None:
        return []
    if spec.choices_format == "columns":
        values = [row.get(c) for c in column]
        choices = [str(v) for v in values if v is not None and str(v).strip() not in ("", "nan", "None")]
    else:
        choices = [str(v) for v in _as_list(row.get(column))]
    return [_PREFIX.sub("", c, count=1).strip() for c in choices] if spec.strip_choice_prefix else choices


def _answer(spec: BenchmarkSpec, raw: Any, choices: list[str], item_id: str) -> str:
    fmt = spec.answer_format
    if fmt == "open" or (fmt != "binary_yes_no" and not choices):
        return str(raw).strip()  # an open question (hooks may still turn it into a yes/no choice)
    if fmt == "binary_yes_no":
        text = str(raw).strip().lower()
        letter = {"1": "A", "true": "A", "yes": "A", "0": "B", "false": "B", "no": "B"}.get(text)
    elif fmt == "index":
        letter = LETTERS[int(raw)] if str(raw).strip().lstrip("-").isdigit() and 0 <= int(raw) < len(choices) else None
    else:  # letter or text
        letter = answer_letter(raw, choices)
    if letter is None:
        raise ValueError(f"{spec.name} item {item_id}: answer {raw!r} is not one of the options {choices}.")
    return letter


def check_columns(spec: BenchmarkSpec, row: dict[str, Any]) -> None:
    """Fail on the first row when the data lacks a mapped column, naming what it does have."""
    needed = [spec.columns["question"], spec.columns["answer"], *spec.image_columns]
    if spec.choices_format == "list" and spec.columns.get("choices"):
        needed.append(spec.columns["choices"])
    missing = [c for c in needed if c not in row]
    if missing:
        raise DataUnavailableError(f"{spec.name}: the data has no column(s) {missing}; it has {sorted(row)}. "
                                   f"Is --data-path the right dataset and split?")


def map_row(spec: BenchmarkSpec, row: dict[str, Any], index: int) -> EvalItem:
    """One dataset row -> one ``EvalItem`` (hooks applied). Raises ``ValueError`` on an inconsistent row."""
    columns = spec.columns
    images: list[Any] = []
    for column in spec.image_columns:
        value = row.get(column)
        images.extend(_as_list(value) if isinstance(value, (list, tuple)) else [value])
    item_id = str(row[columns["id"]]) if columns.get("id") in row else str(index)
    choices = _choices(spec, row)
    category = row.get(columns.get("category", ""), "")
    extra: dict[str, Any] = {"row_index": index}
    extra["tags"] = {tag: str(row.get(column, "")) for tag, column in columns.get("tags", {}).items()}
    if columns.get("scene") in row:
        extra["scene"] = row[columns["scene"]]
    item = EvalItem(id=item_id, images=[_image_value(v) for v in images if v is not None],
                    question=str(row[columns["question"]]).strip(), choices=tuple(choices),
                    answer=_answer(spec, row[columns["answer"]], choices, item_id),
                    category="" if category is None else str(category), extra=extra)
    for hook in spec.hooks:
        item = ITEM_HOOKS.get(hook)(item)
    return item


def _keep(spec: BenchmarkSpec, item: EvalItem) -> bool:
    for key, allowed in spec.filter.items():
        value = item.category if key == "category" else item.extra["tags"].get(key, "")
        if value not in allowed:
            return False
    return True


def load_items(spec: BenchmarkSpec, data_path: str | os.PathLike[str] | None = None,
               limit: int | None = None) -> list[EvalItem]:
    """The benchmark's items (after its filter, first ``limit`` of them), in dataset order.

    Example:
        >>> # load_items(get_benchmark("cv-bench"), "CV-Bench/test.parquet", limit=10)
    """
    items: list[EvalItem] = []
    seen: set[str] = set()
    for index, row in enumerate(iter_rows(spec, data_path)):
        if index == 0:
            check_columns(spec, row)
        item = map_row(spec, row, index)
        if not _keep(spec, item):
            continue
        if item.id in seen:  # ids key the resume log, so they must be unique
            item.id = f"{item.id}@{index}"
        seen.add(item.id)
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    logger.info("%s: %d items", spec.name, len(items))
    return items
