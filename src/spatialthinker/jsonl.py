"""Read the JSONL logs runs write (metrics, rollouts, evaluation items), tolerating a run killed mid-write.

One reader for training (resume), the held-out scoring and the viewer, so that a torn last line means the same
everywhere: skipped, with a log line that names the file and line.
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson

logger = logging.getLogger(__name__)


def read_jsonl(path: str | Path, limit: int | None = None) -> list[dict]:
    """Rows of a JSONL file; blank or truncated lines (a run killed mid-write) are skipped with a log line."""
    rows: list[dict] = []
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                logger.warning("%s:%d: skipping a line that is not JSON", path, number)
                continue
            if isinstance(value, dict):
                rows.append(value)
            if limit is not None and len(rows) >= limit:
                break
    return rows
