"""Decode the cells of a benchmark row into what an ``EvalItem`` holds: images, lists and category text.

Published benchmarks store the same thing in many ways (benchmarks.md §4):

- images as HF ``Image`` structs ``{"bytes", "path"}`` (parquet), PIL images (``datasets``), raw bytes, **base64
  strings** (MME-RealWorld-lite-lmms-eval's ``bytes`` column, VLMEvalKit TSVs such as 3DSRBench's), a **string
  holding a list of base64 images** (LEGO-Puzzles), or **paths relative to the dataset folder** (V*Bench's
  ``test_questions.jsonl``, MindCube's jsonl, CV-Bench's raw jsonl, MMVP's ``MMVP Images/``);
- lists as lists, or as their JSON / Python text (MindCube's category tags, LEGO's image list).

Relative paths are resolved against the folder the data was read from, never the working directory, so an
evaluation gives the same items wherever the process runs.
"""

from __future__ import annotations

import ast
import base64
import binascii
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}$")
_DATA_URL = re.compile(r"^data:image/[\w.+-]+;base64,", re.I)
#: Shorter strings are paths or ids: the smallest real image (a 1x1 PNG) is 68 bytes, 92 base64 characters.
_MIN_BASE64 = 64
#: Leading bytes of the image formats benchmarks ship (PNG, JPEG, GIF, BMP, WebP/RIFF, TIFF): decoded base64
#: that starts otherwise was a long path or id that happened to use only base64 characters.
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*")


class ImageCellError(ValueError):
    """An image cell that is neither image data nor a file under the dataset folder."""


def parse_list_text(value: str) -> list[Any] | None:
    """The list a string spells (JSON or Python literal), or None when it is not a list."""
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(parsed, (list, tuple)):
            return list(parsed)
    return None


def as_list(value: Any) -> list[Any]:
    """A cell as a list: lists stay, list text is parsed, None is empty, anything else is a one-element list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "tolist") and not isinstance(value, (bytes, str)):  # numpy arrays from pandas-written parquet
        return list(value.tolist())
    if isinstance(value, str):
        parsed = parse_list_text(value)
        return parsed if parsed is not None else [value]
    return [value]


def category_text(value: Any) -> str:
    """Category cell -> text; a list of tags (MindCube) becomes ``"a/b"``, not the text of a Python list."""
    if value is None:
        return ""
    items = as_list(value) if isinstance(value, (list, tuple, str)) else [value]
    return "/".join(str(v).strip() for v in items if v is not None and str(v).strip())


def decode_base64(text: str) -> bytes | None:
    """Image bytes of a base64 string (optionally a ``data:image/...;base64,`` URL); None when it is not base64."""
    body = _DATA_URL.sub("", text.strip(), count=1)
    if len(body) < _MIN_BASE64 or not _BASE64.match(body[:4096]):
        return None
    try:
        data = base64.b64decode(body, validate=False)
    except (binascii.Error, ValueError):
        return None
    return data if data.startswith(_IMAGE_MAGIC) else None


def _resolve_path(text: str, roots: Sequence[Path]) -> str:
    path = Path(text).expanduser()
    if path.is_absolute():
        if path.is_file():
            return str(path)
        raise ImageCellError(f"image file {path} does not exist.")
    for root in roots:
        candidate = root / path
        if candidate.is_file():
            return str(candidate)
    where = ", ".join(str(r) for r in roots) or "(no dataset folder: the data came from the hub)"
    raise ImageCellError(f"image path {text!r} is not a file under {where}.")


def image_values(cell: Any, roots: Sequence[Path] = ()) -> list[Any]:
    """Every image a cell holds, as PIL images, encoded bytes or absolute paths (None and empty cells: none).

    Raises:
        ImageCellError: for a path that names no file under any of ``roots``, or a value of another type.
    """
    if cell is None:
        return []
    if isinstance(cell, (list, tuple)) or (hasattr(cell, "tolist") and not isinstance(cell, (bytes, str))):
        return [image for part in as_list(cell) for image in image_values(part, roots)]
    if isinstance(cell, dict):
        data = cell.get("bytes")
        if data:
            return image_values(data, roots)
        return image_values(cell.get("path"), roots) if cell.get("path") else []
    if isinstance(cell, (bytes, bytearray)):
        return [bytes(cell)] if cell else []
    if isinstance(cell, str):
        text = cell.strip()
        if not text or text.lower() in ("nan", "none"):
            return []
        listed = parse_list_text(text)
        if listed is not None:
            return [image for part in listed for image in image_values(part, roots)]
        data = decode_base64(text) if not _looks_like_path(text) else None
        return [data] if data is not None else [_resolve_path(text, roots)]
    if hasattr(cell, "size") and hasattr(cell, "mode"):  # a PIL image
        return [cell]
    raise ImageCellError(f"cannot read an image from a {type(cell).__name__} cell.")


def _looks_like_path(text: str) -> bool:
    """Short strings, or strings ending in an image suffix, are paths; base64 never contains '.'."""
    return len(text) < _MIN_BASE64 or "." in text[-6:]
