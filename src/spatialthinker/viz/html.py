"""Static HTML building blocks of the report: page shell, tables, image tags, sample and rollout cards.

Everything a dataset or a model wrote (questions, options, ids, completions, metric names, file names) passes
through ``esc`` before it reaches the page: model output is untrusted, and a completion such as
``<script>…</script>`` or ``"><img onerror=…>`` must read as text. Images are embedded as ``data:`` URIs of bytes
we encoded ourselves, and the page loads no external script, style sheet or font, so it opens offline and can be
mailed as one file.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from PIL import Image

from spatialthinker.prompts import parse_ground_truth, parse_response
from spatialthinker.viz.draw import draw_comparison, draw_scene_graph, encode_image

#: Longer completions are cut in the page (the full text stays in the rollout file).
COMPLETION_CHARS = 4000
#: No scripts, no network: only inline styles and data: images may load (defence in depth behind escaping).
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2329}
header{background:#1d2329;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b8c0c8;font-size:13px}
nav{padding:8px 24px;background:#e9edf1;font-size:14px}nav a{margin-right:16px;color:#0b5cad}
main{padding:8px 24px 40px}section{margin-top:18px}h2{font-size:18px;border-bottom:1px solid #ccd3da;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 6px}.grid{display:flex;flex-wrap:wrap;gap:14px}
.card{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:10px;width:360px;box-sizing:border-box}
.card.wide{width:760px;display:flex;gap:12px}.card img{max-width:100%;border-radius:3px}
.meta{font-size:12px;color:#57606a;margin:4px 0}.q{font-size:13px;white-space:pre-wrap;margin:6px 0}
.ans{font-size:13px;font-weight:600;color:#0a7d33}
pre{white-space:pre-wrap;word-break:break-word;font-size:12px;background:#f3f4f6;padding:6px;border-radius:4px;
max-height:260px;overflow:auto;margin:4px 0}
table{border-collapse:collapse;font-size:13px;background:#fff}td,th{border:1px solid #d8dee4;padding:3px 8px;text-align:left}
th{background:#eef1f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b42318}.good{color:#0a7d33}.small{font-size:12px}details summary{cursor:pointer;font-size:12px;color:#0b5cad}
.plot img{max-width:100%;background:#fff;border:1px solid #d8dee4}
"""


def esc(value: Any) -> str:
    """HTML-escape any value's text, quotes included (safe in element content and in quoted attributes).

    Example:
        >>> esc('"><img src=x onerror=alert(1)>')
        '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'
    """
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A number with 3 significant decimals, a dash for a missing value, anything else as escaped text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return esc(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return esc(value)


def img_tag(data: bytes, mime: str = "image/jpeg", alt: str = "") -> str:
    """An ``<img>`` with the bytes inline as a base64 ``data:`` URI (base64 has no characters to escape)."""
    return f'<img alt="{esc(alt)}" src="data:{esc(mime)};base64,{base64.b64encode(data).decode("ascii")}">'


def pil_tag(image: Image.Image, alt: str = "") -> str:
    return img_tag(encode_image(image), "image/jpeg", alt)


def table(headers: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A plain table; numeric cells are right-aligned and rounded."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{fmt(c)}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
            else f"<td>{fmt(c)}</td>"
            for c in row
        ) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document; ``sections`` are ``(anchor, heading, inner html)`` in order."""
    nav = "".join(f'<a href="#{esc(anchor)}">{esc(heading)}</a>' for anchor, heading, _ in sections)
    body = "".join(f'<section id="{esc(anchor)}"><h2>{esc(heading)}</h2>{inner}</section>'
                   for anchor, heading, inner in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header><nav>{nav}</nav><main>{body}</main></body></html>\n"
    )


def scene_list(graph: Any) -> str:
    """A scene graph as text: one line per object (id and box), one per relation triple."""
    if graph is None:
        return '<p class="meta">no scene graph</p>'
    objects = "".join(f"<li>{esc(o.id)} {esc([round(float(v), 1) for v in o.bbox])}</li>" for o in graph.objects[:30])
    relations = "".join(f"<li>{esc(r.subject)} <b>{esc(r.predicate)}</b> {esc(r.object)}</li>"
                        for r in graph.relations[:30])
    return (f'<div class="small">objects<ul>{objects}</ul>'
            + (f"relations<ul>{relations}</ul>" if relations else "") + "</div>")


def facts_3d(scene_3d: dict[str, Any] | None) -> str:
    """Exact simulator facts per object (depth, size, yaw, visibility), when the dataset has a ``scene_3d``."""
    if not scene_3d or not isinstance(scene_3d.get("objects"), list):
        return ""
    rows = []
    for obj in scene_3d["objects"][:12]:
        if not isinstance(obj, dict):
            continue
        size = obj.get("size_m")
        size_text = " x ".join(f"{float(v):.2f}" for v in size) if isinstance(size, list) and all(
            isinstance(v, (int, float)) for v in size) else ""
        rows.append([obj.get("id", ""), obj.get("depth_m", ""), size_text, obj.get("yaw_deg", ""),
                     obj.get("visible_fraction", "")])
    if not rows:
        return ""
    return ("<details><summary>3D ground truth</summary>"
            + table(["id", "depth (m)", "size w x h x d (m)", "yaw (deg)", "visible"], rows) + "</details>")


def sample_card(sample: Any) -> str:
    """A dataset question: image with its GT scene graph drawn, question and options, answer, category."""
    picture = ""
    if sample.image is not None and sample.scene is not None:
        picture = pil_tag(draw_scene_graph(sample.image, sample.scene, sample.frame_size), sample.image_id)
    elif sample.image is not None:
        picture = pil_tag(sample.image, sample.image_id)
    return (
        f'<div class="card">{picture}'
        f'<p class="meta">{esc(sample.source)} · image {esc(sample.image_id)} · {esc(sample.category)} · '
        f'{esc(sample.level)}</p>'
        f'<p class="q">{esc(sample.question)}</p><p class="ans">answer: {esc(sample.answer)}</p>'
        f"<details><summary>scene graph</summary>{scene_list(sample.scene)}</details>{facts_3d(sample.scene_3d)}</div>"
    )


def _reward_rows(reward: Any) -> list[list[Any]]:
    if isinstance(reward, (int, float)) and not isinstance(reward, bool):
        return [["total", float(reward)]]
    if not isinstance(reward, dict):
        return []
    return [[key, value] for key, value in reward.items() if isinstance(value, (int, float, str, bool))][:16]


def rollout_card(record: dict[str, Any], image: Image.Image | None) -> str:
    """A sampled completion: image with predicted vs GT boxes, the completion text, and its reward breakdown.

    The predicted graph is read with ``prompts.parse_response``, the parser the reward uses, so a box the reward
    rejected is not drawn and the card lists the parser's reasons instead.
    """
    completion = record.get("completion")
    completion = completion if isinstance(completion, str) else str(completion or "")
    parsed = parse_response(completion)
    gt_scene, gt_answer = parse_ground_truth(record.get("ground_truth") or "")
    size = record.get("image_size")
    frame = tuple(float(v) for v in size[:2]) if isinstance(size, (list, tuple)) and len(size) >= 2 else None
    picture = pil_tag(draw_comparison(image, gt_scene, parsed.scene, frame)) if image is not None else (
        '<p class="meta">image not found</p>')
    shown = completion if len(completion) <= COMPLETION_CHARS else completion[:COMPLETION_CHARS] + " […]"
    errors = "".join(f"<li>{esc(e)}</li>" for e in parsed.errors[:6])
    verdict = ('<span class="good">format ok</span>' if parsed.tags_ok and parsed.in_order and not parsed.errors
               else f'<span class="bad">format problems</span><ul class="small">{errors}</ul>')
    predicted = parsed.answer if parsed.answer is not None else "—"
    predicted = predicted if len(predicted) <= 80 else predicted[:79] + "…"
    question = record.get("question") or record.get("prompt") or ""
    question = question if isinstance(question, str) else str(question)
    return (
        f'<div class="card wide"><div style="width:340px;flex:none">{picture}</div><div style="flex:1;min-width:0">'
        f'<p class="meta">step {esc(record.get("step", "?"))} · image {esc(record.get("image_id", "?"))}</p>'
        f"<details><summary>prompt</summary><pre>{esc(question[-1500:])}</pre></details>"
        f'<p class="ans">GT answer: {esc(gt_answer or "")} · predicted: {esc(predicted)}</p>'
        f"<pre>{esc(shown)}</pre>{verdict}{table(['reward', 'value'], _reward_rows(record.get('reward')))}</div></div>"
    )
