"""Load a benchmark's rows from the hub or a local copy and map them into ``EvalItem``s.

A local copy is read as it was downloaded: a ``snapshot_download`` / ``huggingface-cli download`` folder, a hub
cache directory (``~/.cache/huggingface/hub/datasets--org--name``), a ``save_to_disk`` directory, or single
parquet / arrow / jsonl / csv / tsv files. Each split is read from one copy only, and the row's columns pick the
entry's layout (benchmarks.md §4 lists the real layouts; each entry cites where its layouts were checked).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spatialthinker.errors import InputError
from spatialthinker.eval.cells import ImageCellError, as_list, category_text, image_values
from spatialthinker.eval.extract import answer_letter
from spatialthinker.eval.items import EvalItem
from spatialthinker.eval.registry import ITEM_HOOKS, BenchmarkSpec, LayoutError
from spatialthinker.prompts import LETTERS

logger = logging.getLogger(__name__)

_PREFIX = re.compile(r"^\s*\(?[A-Za-z]\s*[).:]\s*")


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
    path = path.resolve()
    if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        for row in _saved_rows(path, spec):
            yield {**row, ROOTS_KEY: (path,)}
        return
    root = path if path.is_dir() else path.parent
    files = [path] if path.is_file() else data_files(_snapshot(path), spec)
    for file in files:
        logger.info("reading %s", file)
        roots = tuple(dict.fromkeys([file.parent, *file.parent.parents][: len(file.relative_to(root).parts)] + [root]))
        for row in _file_rows(file):
            yield {**row, ROOTS_KEY: roots}


#: Private key of a local row: the folders its relative image paths may start from (its file's, up to the root).
ROOTS_KEY = "__dataset_roots__"


def _saved_rows(path: Path, spec: BenchmarkSpec) -> Iterator[dict[str, Any]]:
    import datasets

    data = datasets.load_from_disk(str(path))
    if isinstance(data, datasets.DatasetDict):
        split = spec.dataset.split
        if split not in data:
            raise DataUnavailableError(f"{path} has splits {list(data)}, not {split!r} that {spec.name} uses.")
        data = data[split]
    yield from data


def _snapshot(directory: Path) -> Path:
    """A hub cache repository (``datasets--org--name``) reads its newest snapshot; other folders read as they are."""
    snapshots = directory / "snapshots"
    if snapshots.is_dir():
        candidates = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime)
        if candidates:
            return candidates[-1]
    return directory


#: Readable data files, best first: when one split is stored twice (CV-Bench's ``test_2d.parquet`` beside its raw
#: ``test_2d.jsonl``), only the first format is read, so no item is counted twice.
DATA_SUFFIXES = (".parquet", ".arrow", ".jsonl", ".tsv", ".csv")
#: Names that are a split in hub file names (``data/{split}-00000-of-00001.parquet``, ``test_2d.parquet``).
KNOWN_SPLITS = ("train", "validation", "val", "test", "dev", "image", "non_image", "combined")


def split_of(relative: Path) -> str | None:
    """The split a file belongs to by its path: a whole ``-``/``.``-separated name, or a name before ``_``.

    ``data/non_image-00000-of-00001.parquet`` is split ``non_image``, never ``image``; ``test_2d.parquet`` is
    ``test``.

    Example:
        >>> split_of(Path("data/non_image-00000-of-00001.parquet")), split_of(Path("test_3d.jsonl"))
        ('non_image', 'test')
    """
    tokens = [t for part in relative.parts for t in re.split(r"[-.]", part.lower()) if t]
    for token in tokens:
        if token in KNOWN_SPLITS:
            return token
    for token in tokens:
        head = token.split("_", 1)[0]
        if head in KNOWN_SPLITS and head != token and token not in KNOWN_SPLITS:
            return head
    return None


def data_files(directory: Path, spec: BenchmarkSpec) -> list[Path]:
    """The files of the entry's split under a dataset folder: one copy of each, narrowed by configuration."""
    files = sorted(p for p in directory.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(directory).parts))
    if not files:
        raise DataUnavailableError(f"no {', '.join(DATA_SUFFIXES)} files under {directory}.")
    # Named files (MindCube's MindCube_tinybench.jsonl among its other jsonl files) win when present; the first
    # pattern that matches decides, so a derived copy elsewhere in the tree (data/scaffold/...) is not read too.
    for pattern in spec.dataset.files:
        chosen = sorted(f for f in directory.glob(pattern) if f in files)
        if chosen:
            return _one_copy(chosen)
    config = spec.dataset.config
    if config:
        in_config = [f for f in files if config in f.relative_to(directory).parts or f.name.startswith(config)]
        files = in_config or files
    split = spec.dataset.split
    named = [f for f in files if split_of(f.relative_to(directory)) == split]
    if named:
        return _one_copy(named)
    if any(split_of(f.relative_to(directory)) for f in files):
        found = sorted({str(split_of(f.relative_to(directory))) for f in files})
        raise DataUnavailableError(f"{spec.name} reads split {split!r}, but {directory} holds splits {found} "
                                   f"(files {[str(f.relative_to(directory)) for f in files[:10]]}).")
    return _one_copy(files)


def _one_copy(files: list[Path]) -> list[Path]:
    """Drop a file when the same path in a better format exists (``x.jsonl`` beside ``x.parquet``)."""
    best: dict[Path, Path] = {}
    for file in files:
        key = file.with_suffix("")
        if key not in best or DATA_SUFFIXES.index(file.suffix) < DATA_SUFFIXES.index(best[key].suffix):
            best[key] = file
    kept = sorted(best.values())
    if len(kept) < len(files):
        logger.info("reading %s (a second copy in another format is skipped)", [f.name for f in kept])
    return kept


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
    if file.suffix in (".csv", ".tsv"):
        yield from _delimited_rows(file)
        return
    if file.suffix == ".arrow":
        import datasets

        yield from datasets.Dataset.from_file(str(file))
        return
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(file).iter_batches(batch_size=64):
        yield from batch.to_pylist()


def _delimited_rows(file: Path) -> Iterator[dict[str, Any]]:
    """CSV (MMVP's ``Questions.csv``) and TSV (VLMEvalKit's tables, whose base64 image cells are megabytes)."""
    import csv
    import sys

    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with file.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle, delimiter="\t" if file.suffix == ".tsv" else ",")


# ------------------------------------------------------------------------------------------ mapping
def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value).strip()


def _choices(spec: BenchmarkSpec, row: dict[str, Any]) -> list[str]:
    column = spec.columns.get("choices")
    if spec.choices_format == "fixed":
        return list(spec.fixed_choices)
    if spec.choices_format == "none" or column is None:
        return []
    if spec.choices_format == "columns":  # one column per option (3DSRBench's and LEGO's A..E); empty ones end the list
        choices = [_text(row.get(c)) for c in column]
        choices = [c for c in choices if c and c.lower() not in ("nan", "none")]
    else:
        choices = [_text(v) for v in as_list(row.get(column))]
    return [_PREFIX.sub("", c, count=1).strip() for c in choices] if spec.strip_choice_prefix else choices


def _answer(spec: BenchmarkSpec, raw: Any, choices: list[str], item_id: str) -> str:
    fmt = spec.answer_format
    if fmt == "open" or (fmt != "binary_yes_no" and not choices):
        return _text(raw)  # an open question (hooks may still turn it into a yes/no choice)
    if fmt == "binary_yes_no":
        text = _text(raw).lower()
        letter = {"1": "A", "true": "A", "yes": "A", "0": "B", "false": "B", "no": "B"}.get(text)
    elif fmt == "index":
        text = _text(raw)
        letter = LETTERS[int(text)] if text.isdigit() and int(text) < len(choices) else None
    else:  # letter or text
        letter = answer_letter(raw, choices)
    if letter is None:
        raise ValueError(f"{spec.name} item {item_id}: answer {raw!r} is not one of the options {choices}.")
    return letter


def _joined(row: dict[str, Any], columns: Any, separator: str) -> str:
    names = [columns] if isinstance(columns, str) else list(columns)
    return separator.join(t for t in (_text(row.get(c)) for c in names) if t)


def _images(spec: BenchmarkSpec, row: dict[str, Any], roots: tuple[Path, ...], item_id: str) -> list[Any]:
    cells: list[Any] = [row.get(column) for column in spec.image_columns]
    template = spec.columns.get("image_template")  # MMVP's official release names images by Index
    if template:
        cells.append(template.format(**{k: _text(v) for k, v in row.items() if isinstance(k, str)}))
    try:
        return [image for cell in cells for image in image_values(cell, roots)]
    except ImageCellError as error:
        raise ValueError(f"{spec.name} item {item_id}: {error}") from None


def check_columns(spec: BenchmarkSpec, row: dict[str, Any]) -> None:
    """Fail on the first row when the data matches none of the entry's layouts, naming what it does have."""
    try:
        spec.for_row(row)
    except LayoutError as error:
        raise DataUnavailableError(str(error)) from None


def map_row(spec: BenchmarkSpec, row: dict[str, Any], index: int) -> EvalItem:
    """One dataset row -> one ``EvalItem`` (layout chosen by the row's columns, hooks applied).

    Raises ``ValueError`` on an inconsistent row (answer not among the options, image file missing).
    """
    roots = tuple(row.get(ROOTS_KEY, ()))
    spec = spec.for_row(row)
    columns = spec.columns
    id_columns = columns.get("id")
    has_id = id_columns is not None and all(c in row for c in ([id_columns] if isinstance(id_columns, str) else id_columns))
    item_id = _joined(row, id_columns, "_") if has_id else str(index)
    choices = _choices(spec, row)
    extra: dict[str, Any] = {"row_index": index, "layout": spec.layout}
    extra["tags"] = {tag: _text(row.get(column)) for tag, column in columns.get("tags", {}).items()}
    if columns.get("scene") in row:
        extra["scene"] = row[columns["scene"]]
    item = EvalItem(id=item_id, images=_images(spec, row, roots, item_id),
                    question=_joined(row, columns["question"], "\n"), choices=tuple(choices),
                    answer=_answer(spec, row.get(columns["answer"]), choices, item_id),
                    category=category_text(row.get(columns.get("category", ""))), extra=extra)
    for hook in spec.hooks:
        item = ITEM_HOOKS.get(hook)(item)
    return item


def _keep(spec: BenchmarkSpec, item: EvalItem) -> bool:
    for key, allowed in spec.filter.items():
        value = item.category if key == "category" else item.extra["tags"].get(key, "")
        if value not in [str(a) for a in allowed]:
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
    imageless = 0
    layouts: dict[tuple[str, ...], BenchmarkSpec] = {}  # rows of one file share their columns: resolve once
    for index, row in enumerate(iter_rows(spec, data_path)):
        if index == 0:
            check_columns(spec, row)
        columns = tuple(sorted(str(k) for k in row))
        layout = layouts.get(columns) or layouts.setdefault(columns, spec.for_row(row))
        item = map_row(layout, row, index)
        if not _keep(layout, item):
            continue
        if layout.require_images and not item.images:
            imageless += 1
            continue
        if item.id in seen:  # ids key the resume log, so they must be unique
            item.id = f"{item.id}@{index}"
        seen.add(item.id)
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    if imageless:
        logger.warning("%s: %d rows without an image left out (text-only rows are not this split)", spec.name, imageless)
    logger.info("%s: %d items", spec.name, len(items))
    return items
