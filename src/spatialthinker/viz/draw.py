"""Draw ground-truth and predicted scene graphs (boxes, labels, relation edges) over an image with PIL.

Boxes live in the frame the prompt *states* (``Image size: (W x H)``), which need not be the stored image's size,
so every drawing function takes that frame and rescales. Images are enlarged to a readable display size first:
simulated images can be 128 px wide, where a 1 px outline and a label would cover the object.
Predicted boxes come from model output and may be absurd (10**9, far outside the frame); they are clipped to a
margin around the canvas so drawing never fails and an out-of-frame box still shows up at the border.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from spatialthinker.scene import SceneGraph

logger = logging.getLogger(__name__)

#: Ground truth is drawn solid green, predictions dashed magenta: the two must be told apart at a glance, and
#: the pair stays distinguishable for the common red-green colour-vision deficiencies (magenta vs green).
GT_COLOUR = (0, 200, 83)
PRED_COLOUR = (236, 64, 222)
EDGE_COLOUR = (255, 193, 7)
LABEL_CHARS = 22  # longer labels are cut: a model can emit a 5 MB "id"


@dataclass(frozen=True, slots=True)
class Layer:
    """One scene graph to draw: its boxes, its colour, whether dashed, and its legend name."""

    graph: SceneGraph
    colour: tuple[int, int, int]
    name: str
    dashed: bool = False
    relations: bool = False


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType: bitmap font, fixed size
        return ImageFont.load_default()


def to_display(image: Image.Image, min_side: int = 320, max_side: int = 512) -> Image.Image:
    """RGB copy scaled so its longer side lies in ``[min_side, max_side]`` (readable labels, small files)."""
    image = image.convert("RGB")
    longest = max(image.size)
    target = min(max(longest, min_side), max_side)
    if target == longest:
        return image.copy()
    scale = target / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS)


def _scaled_box(bbox: Sequence[float], sx: float, sy: float, canvas: tuple[int, int]) -> tuple[float, float, float, float]:
    """Map a stated-frame box onto the canvas, clipped to a 4 px margin outside it."""
    width, height = canvas
    x1, y1, x2, y2 = (float(v) for v in bbox)
    clip_x = lambda v: min(max(v * sx, -4.0), width + 4.0)  # noqa: E731 - two tiny local helpers
    clip_y = lambda v: min(max(v * sy, -4.0), height + 4.0)  # noqa: E731
    return clip_x(x1), clip_y(y1), clip_x(x2), clip_y(y2)


def _dashed_rectangle(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], colour, width: int) -> None:
    x1, y1, x2, y2 = box
    dash = 6
    for start, end in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)), ((x1, y2), (x1, y1))):
        length = max(abs(end[0] - start[0]), abs(end[1] - start[1]))
        steps = max(1, int(length // dash))
        for i in range(0, steps, 2):
            t0, t1 = i / steps, min(1.0, (i + 1) / steps)
            p0 = (start[0] + (end[0] - start[0]) * t0, start[1] + (end[1] - start[1]) * t0)
            p1 = (start[0] + (end[0] - start[0]) * t1, start[1] + (end[1] - start[1]) * t1)
            draw.line([p0, p1], fill=colour, width=width)


def _label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, colour, font, canvas: tuple[int, int]) -> None:
    """A filled tag with dark text, kept inside the canvas."""
    text = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left + 4, bottom - top + 4
    x = min(max(xy[0], 0), max(0, canvas[0] - w))
    y = min(max(xy[1] - h, 0), max(0, canvas[1] - h))
    draw.rectangle([x, y, x + w, y + h], fill=colour)
    draw.text((x + 2 - left, y + 2 - top), text, fill=(0, 0, 0), font=font)


def _draw_relations(draw: ImageDraw.ImageDraw, layer: Layer, sx: float, sy: float, canvas, font) -> None:
    """Scene-graph edges: a line from subject centre to object centre, the predicate at its midpoint."""
    for relation in layer.graph.relations[:12]:
        subject, target = layer.graph.get(relation.subject), layer.graph.get(relation.object)
        if subject is None or target is None:
            continue
        a = _scaled_box(subject.bbox, sx, sy, canvas)
        b = _scaled_box(target.bbox, sx, sy, canvas)
        ca, cb = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2), ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        draw.line([ca, cb], fill=EDGE_COLOUR, width=2)
        draw.ellipse([cb[0] - 4, cb[1] - 4, cb[0] + 4, cb[1] + 4], fill=EDGE_COLOUR)  # arrow head: the object end
        _label(draw, ((ca[0] + cb[0]) / 2, (ca[1] + cb[1]) / 2 + 8), relation.predicate, EDGE_COLOUR, font, canvas)


def draw_layers(
    image: Image.Image,
    layers: Sequence[Layer],
    frame_size: tuple[float, float] | None = None,
    legend: bool = True,
    max_boxes: int = 40,
) -> Image.Image:
    """Draw each layer's boxes (and optionally relation edges) on a display-sized copy of ``image``.

    Args:
        image: the stored image.
        layers: graphs to draw, bottom first.
        frame_size: ``(W, H)`` the boxes refer to; defaults to the image's own size.
        legend: add a strip under the image naming each layer.
        max_boxes: boxes drawn per layer (box spam would otherwise paint the image over).

    Returns:
        A new RGB image.

    Example:
        >>> from spatialthinker.scene import SceneObject
        >>> g = SceneGraph((SceneObject("cup.1", (10, 10, 50, 40)),))
        >>> draw_layers(Image.new("RGB", (64, 64)), [Layer(g, GT_COLOUR, "ground truth")]).width
        320
    """
    canvas_image = to_display(image)
    frame_w, frame_h = frame_size or image.size
    sx = canvas_image.width / max(float(frame_w), 1e-6)
    sy = canvas_image.height / max(float(frame_h), 1e-6)
    canvas = canvas_image.size
    draw = ImageDraw.Draw(canvas_image)
    font = _font(max(11, canvas[0] // 36))
    for layer in layers:
        if layer.relations:
            _draw_relations(draw, layer, sx, sy, canvas, font)
        for obj in layer.graph.objects[:max_boxes]:
            box = _scaled_box(obj.bbox, sx, sy, canvas)
            if layer.dashed:
                _dashed_rectangle(draw, box, layer.colour, 2)
            else:
                draw.rectangle(box, outline=layer.colour, width=3)
            _label(draw, (box[0], box[1]), obj.id, layer.colour, font, canvas)
        if len(layer.graph.objects) > max_boxes:
            logger.info("%s: drew %d of %d boxes", layer.name, max_boxes, len(layer.graph.objects))
    return _with_legend(canvas_image, layers, font) if legend and layers else canvas_image


def _with_legend(image: Image.Image, layers: Sequence[Layer], font) -> Image.Image:
    height = 22
    out = Image.new("RGB", (image.width, image.height + height), (255, 255, 255))
    out.paste(image, (0, 0))
    draw = ImageDraw.Draw(out)
    x, y = 6, image.height + 5
    for layer in layers:
        box = (x, y, x + 22, y + 12)
        if layer.dashed:
            _dashed_rectangle(draw, box, layer.colour, 2)
        else:
            draw.rectangle(box, outline=layer.colour, width=3)
        text = f"{layer.name} ({len(layer.graph.objects)})"
        draw.text((x + 28, y - 1), text, fill=(40, 40, 40), font=font)
        x += 40 + int(draw.textlength(text, font=font))
    return out


def draw_comparison(
    image: Image.Image,
    ground_truth: SceneGraph | None,
    prediction: SceneGraph | None,
    frame_size: tuple[float, float] | None = None,
) -> Image.Image:
    """Ground-truth boxes (solid green) and predicted boxes (dashed magenta) on one image, with a legend."""
    layers = []
    if ground_truth is not None:
        layers.append(Layer(ground_truth, GT_COLOUR, "ground truth"))
    if prediction is not None:
        layers.append(Layer(prediction, PRED_COLOUR, "predicted", dashed=True))
    return draw_layers(image, layers, frame_size)


def draw_scene_graph(image: Image.Image, graph: SceneGraph, frame_size: tuple[float, float] | None = None) -> Image.Image:
    """A ground-truth scene graph over its image: boxes, labels, and relation edges labelled with the predicate."""
    return draw_layers(image, [Layer(graph, GT_COLOUR, "ground truth", relations=True)], frame_size)


def encode_image(image: Image.Image, fmt: str = "JPEG", quality: int = 85) -> bytes:
    """Encode for embedding in a report: JPEG keeps a page of 30 photos to a few MB; PNG for plots."""
    buffer = io.BytesIO()
    if fmt.upper() == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()
