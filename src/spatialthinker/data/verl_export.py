"""veRL-format export of STVQA rows: ``data_source``, chat ``prompt`` with an ``<image>`` placeholder, ``images``,
``reward_model.ground_truth`` (the dense reward's ``answer_option_text``) and ``extra_info.image_size``.

Works on our rows and on loaded STVQA-7K rows alike (the image size is read from the prompt when the row has no
``image_size`` column), so the veRL reward hook (``rewards.verl.compute_score``) sees one format.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from spatialthinker.prompts import parse_image_size

logger = logging.getLogger(__name__)


def verl_row(row: Mapping[str, Any], index: int, data_source: str = "spatialthinker") -> dict[str, Any]:
    """One veRL row from one STVQA row.

    Example:
        >>> r = verl_row({"problem": "Image size: (4 x 3)\\nQ. x", "images": None, "answer_option_text": "gt",
        ...               "category": "depth", "image_id": "1"}, 0)
        >>> r["reward_model"], r["extra_info"]["image_size"]
        ({'ground_truth': 'gt', 'style': 'rule'}, [4, 3])
    """
    size = row.get("image_size") or parse_image_size(row["problem"])
    if size is None:
        raise ValueError(f"row {index} (image {row.get('image_id')}): no image_size column and no "
                         "'Image size: (W x H)' in its problem")
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": "<image>" + row["problem"]}],
        "images": [row["images"]],
        "ability": "spatial_reasoning",
        "reward_model": {"ground_truth": row["answer_option_text"], "style": "rule"},
        "extra_info": {"image_size": [int(size[0]), int(size[1])], "problem": row["problem"], "index": index,
                       "image_id": str(row.get("image_id")), "category": row.get("category")},
    }


def verl_rows(rows: Sequence[Mapping[str, Any]], data_source: str = "spatialthinker") -> list[dict[str, Any]]:
    """veRL rows for a whole split, ``extra_info.index`` counting from 0 in row order."""
    return [verl_row(row, i, data_source) for i, row in enumerate(rows)]


def write_verl(rows: Sequence[Mapping[str, Any]], path: str | Path, data_source: str = "spatialthinker") -> Path:
    """Write the veRL parquet for ``rows`` (deterministic bytes for the same rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(verl_rows(rows, data_source))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", write_statistics=False)
    logger.info("wrote %d veRL rows to %s", table.num_rows, path)
    return path
