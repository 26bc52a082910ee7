"""Write items as STVQA parquet files (data.md §1) and read STVQA-7K copies back into the same in-memory rows.

Files carry exactly ``records.STVQA_COLUMNS`` first (images as ``{bytes, path}`` structs declared as an HF
``Image`` feature in the schema metadata), then the extra columns ``item_id``, ``image_size``, ``evidence`` and any
``QAItem.extras``. Rows are written in the order given, with no timestamps, so the same items give the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from spatialthinker.data.records import STVQA_COLUMNS, QAItem

logger = logging.getLogger(__name__)

ImageSource = bytes | str | Path
_STRING_COLUMNS = ("image_id", "problem", "question_only", "question_with_options", "answer", "answer_only",
                   "answer_text", "answer_text_only", "answer_option_text", "answer_option_text_only", "category",
                   "level")


def item_id(item: QAItem) -> str:
    """Deterministic id of an item (image and question), stable across runs and resumptions."""
    return hashlib.blake2b(f"{item.image_id}\x1f{item.question}".encode(), digest_size=8).hexdigest()


def image_struct(image_id: str, source: ImageSource) -> dict[str, Any]:
    """The ``{"bytes", "path"}`` struct of an HF ``Image`` column; ``path`` is the file name only (no local dirs)."""
    if isinstance(source, (bytes, bytearray)):
        return {"bytes": bytes(source), "path": f"{image_id}.jpg"}
    path = Path(source)
    return {"bytes": path.read_bytes(), "path": path.name}


def item_rows(items: Sequence[QAItem], images: Mapping[str, ImageSource]) -> list[dict[str, Any]]:
    """STVQA rows (plus extras) of ``items``; extras that are not strings are stored as JSON strings."""
    cache: dict[str, dict[str, Any]] = {}
    rows = []
    for item in items:
        if item.image_id not in cache:
            if item.image_id not in images:
                raise KeyError(f"no image for image_id {item.image_id!r}; drop its items before export")
            cache[item.image_id] = image_struct(item.image_id, images[item.image_id])
        row = item.to_row(cache[item.image_id])
        for key in item.extras:
            if not isinstance(row[key], str):
                row[key] = orjson.dumps(row[key], option=orjson.OPT_SORT_KEYS).decode()
        row["item_id"] = item_id(item)
        row["image_size"] = [int(item.image_size[0]), int(item.image_size[1])]
        row["evidence"] = orjson.dumps(item.evidence, option=orjson.OPT_SORT_KEYS).decode()
        rows.append(row)
    return rows


def _schema(extra_columns: Sequence[str]) -> Any:
    """Arrow schema: STVQA columns, then ``item_id``, ``image_size``, ``evidence`` and sorted extras (strings)."""
    import pyarrow as pa

    types = {name: pa.string() for name in _STRING_COLUMNS}
    types.update(images=pa.struct([("bytes", pa.binary()), ("path", pa.string())]), options=pa.list_(pa.string()),
                 rating=pa.int64(), item_id=pa.string(), image_size=pa.list_(pa.int64()), evidence=pa.string())
    names = [*STVQA_COLUMNS, "item_id", "image_size", "evidence", *extra_columns]
    features: dict[str, Any] = {}
    for name in names:
        kind = types.get(name, pa.string())
        if name == "images":
            features[name] = {"_type": "Image"}
        elif pa.types.is_list(kind):
            dtype = "int64" if kind == pa.list_(pa.int64()) else "string"
            features[name] = {"feature": {"dtype": dtype, "_type": "Value"}, "_type": "List"}
        else:
            features[name] = {"dtype": "int64" if kind == pa.int64() else "string", "_type": "Value"}
    metadata = {b"huggingface": orjson.dumps({"info": {"features": features}})}
    return pa.schema([(name, types.get(name, pa.string())) for name in names], metadata=metadata)


def write_rows(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write STVQA rows (as made by ``item_rows``) to one parquet file, deterministically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = {*STVQA_COLUMNS, "item_id", "image_size", "evidence"}
    extras = sorted({key for row in rows for key in row} - base)
    schema = _schema(extras)
    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    table = pa.Table.from_pydict(columns, schema=schema)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=512, write_statistics=False)
    logger.info("wrote %d rows to %s", len(rows), path)
    return path


def write_stvqa(items: Sequence[QAItem], images: Mapping[str, ImageSource], out_dir: str | Path,
                split_name: str = "train") -> Path:
    """Write ``OUT/{split_name}.parquet`` in the STVQA schema.

    Args:
        items: the split's items, in output order.
        images: image id -> encoded image bytes or a file path (its bytes are stored unchanged).
        out_dir: output directory (created).
        split_name: ``train`` or ``val`` (any name works).
    Returns:
        The parquet path; ``datasets.load_dataset("parquet", data_files=...)`` loads ``images`` as HF Image.
    """
    return write_rows(item_rows(items, images), Path(out_dir) / f"{split_name}.parquet")


# -------------------------------------------------------------------------------------------- loading
def _candidate_files(root: Path, split: str) -> list[Path]:
    """Parquet/arrow files of ``split`` in a local copy: flat, hub layout, ``save_to_disk`` or the hub cache."""
    patterns = (f"{split}.parquet", f"data/{split}-*.parquet", f"{split}-*.parquet", f"**/{split}-*.parquet",
                f"{split}/*.arrow", f"**/{split}/*.arrow", f"**/{split}-*.arrow")
    for pattern in patterns:
        found = sorted(root.glob(pattern))
        if found:
            return found
    return []


def _hub_cache_dir(hub_id: str) -> Path | None:
    import os

    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    cache = Path(os.environ.get("HF_HUB_CACHE", home / "hub")) / f"datasets--{hub_id.replace('/', '--')}"
    return cache if cache.is_dir() else None


def load_stvqa(path_or_hub_id: str | Path, split: str = "train") -> list[dict[str, Any]]:
    """Read a local STVQA-7K (or our export) into rows: the same dicts ``item_rows`` makes.

    Accepts a parquet/arrow file, a directory (flat ``train.parquet``, hub layout ``data/train-*.parquet``,
    ``save_to_disk`` arrow shards) or a hub id (``OX-PIXL/STVQA-7K``) that is already in the local hub cache.
    Raises ``FileNotFoundError`` with what to do when nothing local is found (these machines are offline).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path_or_hub_id)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = _candidate_files(path, split)
    else:
        cache = _hub_cache_dir(str(path_or_hub_id)) if "/" in str(path_or_hub_id) else None
        files = _candidate_files(cache, split) if cache else []
    if not files:
        raise FileNotFoundError(
            f"No local copy of {path_or_hub_id!r} split {split!r}. This machine is offline: download the dataset "
            f"elsewhere (e.g. `huggingface-cli download --repo-type dataset OX-PIXL/STVQA-7K --local-dir DIR`) "
            f"and pass DIR, a parquet file, or a `save_to_disk` directory.")
    rows: list[dict[str, Any]] = []
    for file in files:
        if file.suffix == ".arrow":
            with pa.memory_map(str(file)) as source:
                try:
                    table = pa.ipc.open_stream(source).read_all()
                except pa.ArrowInvalid:
                    table = pa.ipc.open_file(source).read_all()
        else:
            table = pq.read_table(file)
        rows.extend(table.to_pylist())
    missing = [c for c in STVQA_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"{files[0]}: not in the STVQA schema, missing columns {missing}")
    return rows
