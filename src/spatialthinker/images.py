"""Open the image of a dataset row, whatever form the row stores it in.

Parquet rows hold HF ``Image`` structs (``{"bytes", "path"}``), some exports a one-image list, loaders raw bytes
or a path, and in-memory datasets PIL images. Training, evaluation and the viewer all read rows, so they share
this one reader instead of each guessing the forms.
"""

from __future__ import annotations

import io
from typing import Any


def open_image(value: Any) -> Any:
    """A PIL image, opened lazily: only the header is read until pixels are needed, so ``.size`` is cheap.

    Accepts a PIL image, a one-image list, an HF ``{"bytes", "path"}`` struct (bytes first), encoded bytes, or a
    file path. Callers that need pixels in a fixed mode convert themselves.

    Raises:
        ValueError: for a value that holds no image (None, an empty struct, another type).
        OSError: for bytes or a file that PIL cannot read (``FileNotFoundError`` for a missing path).

    Example:
        >>> from PIL import Image
        >>> buffer = io.BytesIO(); Image.new("RGB", (4, 3)).save(buffer, format="PNG")
        >>> open_image({"bytes": buffer.getvalue(), "path": None}).size
        (4, 3)
    """
    from PIL import Image

    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    try:
        if isinstance(value, (bytes, bytearray)):
            return Image.open(io.BytesIO(value))
        if isinstance(value, str) and value:
            return Image.open(value)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file {value} does not exist") from None
    except Image.UnidentifiedImageError:
        what = f"file {value}" if isinstance(value, str) else f"{len(value)} bytes"
        raise OSError(f"not an image PIL can read ({what})") from None
    if value is None:
        raise ValueError("no image (the value is empty)")
    raise ValueError(f"expected an image (PIL image, {{bytes, path}} struct, bytes or a path), got {type(value).__name__}")
