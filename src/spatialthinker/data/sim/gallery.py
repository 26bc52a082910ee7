"""A self-contained HTML gallery of a simulated dataset: each image with its boxes and labels, and its questions.

Images are embedded as base64 data URIs (the file can be mailed or opened anywhere); every piece of text from the
data (labels, questions, options, answers) goes through ``html.escape``, since labels can come from asset files.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_STYLE = """body{font-family:sans-serif;margin:1.5em;background:#fafafa}
.scene{display:flex;gap:1.5em;margin-bottom:2em;background:#fff;padding:1em;border:1px solid #ddd}
svg{flex:none}.qa{font-size:0.9em}.qa li{margin-bottom:0.6em}.cat{color:#666;font-size:0.85em}
.ans{color:#060;font-weight:bold}"""
_PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#800000",
            "#469990")


def _svg(png: bytes, width: int, height: int, objects: Sequence[dict[str, Any]]) -> str:
    data = base64.b64encode(png).decode()
    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f'<image width="{width}" height="{height}" href="data:image/png;base64,{data}"/>']
    for i, obj in enumerate(objects):
        x1, y1, x2, y2 = (float(v) for v in obj["bbox"])
        color = _PALETTE[i % len(_PALETTE)]
        label = html.escape(f'{obj["id"]} ({obj.get("depth_m", 0):.1f} m, vis {obj.get("visible_fraction", 0):.2f})')
        parts.append(f'<rect x="{x1}" y="{y1}" width="{x2 - x1}" height="{y2 - y1}" fill="none" stroke="{color}" '
                     f'stroke-width="2"/><text x="{x1 + 2}" y="{max(y1 - 3, 10)}" fill="{color}" font-size="11">'
                     f'{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _questions(rows: Sequence[dict[str, Any]], limit: int) -> str:
    items = []
    for row in rows[:limit]:
        options = " ".join(f"({chr(65 + i)}) {html.escape(text)}" for i, text in enumerate(row["options"]))
        items.append(f'<li><span class="cat">{html.escape(row["category"])} / {html.escape(row["level"])}</span><br>'
                     f'{html.escape(row["question_only"])}<br>{options}<br>'
                     f'<span class="ans">{html.escape(row["answer_option_text_only"])}</span></li>')
    more = f"<p>... and {len(rows) - limit} more</p>" if len(rows) > limit else ""
    return f'<ol class="qa">{"".join(items)}</ol>{more}'


def write_gallery(rows: Sequence[dict[str, Any]], path: str | Path, max_images: int = 12,
                  questions_per_image: int = 12) -> Path:
    """Write the gallery of the first ``max_images`` images found in ``rows`` (STVQA rows with ``scene_3d``).

    Args:
        rows: dataset rows; rows of one image are grouped by ``image_id``.
        path: the HTML file to write.
        max_images: images shown.
        questions_per_image: questions listed under each image.

    Returns:
        The path written.
    """
    by_image: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_image.setdefault(str(row["image_id"]), []).append(row)
    sections = []
    for image_id, image_rows in list(by_image.items())[:max_images]:
        first = image_rows[0]
        scene = json.loads(first["scene_3d"]) if first.get("scene_3d") else {"camera": {}, "objects": []}
        width, height = int(scene["camera"].get("width", 512)), int(scene["camera"].get("height", 512))
        svg = _svg(first["images"]["bytes"], width, height, scene["objects"])
        questions = _questions(image_rows, questions_per_image)
        sections.append(f'<div class="scene">{svg}<div><h3>{html.escape(image_id)}</h3>{questions}</div></div>')
    body = "".join(sections) or "<p>No images.</p>"
    title = f"Simulated scenes ({len(by_image)} images, {len(rows)} questions)"
    page = (f'<!doctype html><html><head><meta charset="utf-8"><title>Simulated scenes</title><style>{_STYLE}</style>'
            f"</head><body><h1>{title}</h1>{body}</body></html>")
    target = Path(path)
    target.write_text(page, encoding="utf-8")
    return target
