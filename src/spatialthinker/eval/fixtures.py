"""Tiny synthetic stand-ins for every benchmark, with each benchmark's *real* column names and answer formats.

Used by the tests (one generic test runs over every registry entry) and by demos that need a local benchmark
offline. Each row shows a red and a blue square on a grey background; the question asks where the red one is,
so a model can in principle answer it. Images are PNG bytes in the HF parquet layout ``{"bytes", "path"}``.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = dict[str, Any]


def _scene(rng: random.Random, size: tuple[int, int] = (96, 72)) -> tuple[dict[str, Any], bool, list[dict[str, Any]]]:
    """A PNG with two squares; returns (image cell, red-is-left, GT objects in pixels)."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, (128, 128, 128))
    draw = ImageDraw.Draw(image)
    s = 16
    xs = rng.sample(range(4, width - s - 4, 4), 2)
    boxes = {}
    for (name, colour), x in zip((("red_box", (220, 30, 30)), ("blue_box", (30, 30, 220))), xs):
        y = rng.randrange(4, height - s - 4)
        draw.rectangle([x, y, x + s, y + s], fill=colour)
        boxes[name] = [x, y, x + s, y + s]
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    objects = [{"id": f"{name}.1", "bbox": box} for name, box in boxes.items()]
    return {"bytes": buffer.getvalue(), "path": None}, xs[0] < xs[1], objects


def _mc(rng: random.Random) -> tuple[dict[str, Any], list[str], int, list[dict[str, Any]]]:
    """Image, shuffled choices and the index of the right one for "where is the red box?"."""
    image, left, objects = _scene(rng)
    choices = ["left", "right"]
    rng.shuffle(choices)
    return image, choices, choices.index("left" if left else "right"), objects


Q = "Where is the red box with respect to the blue box?"
L = "ABCDE"


def _inline(choices: list[str], paren: bool = True, lower: bool = False) -> str:
    marks = [f"({c.lower() if lower else c})" if paren else f"{c}." for c in L[: len(choices)]]
    return "\n".join(f"{m} {t}" for m, t in zip(marks, choices))


def _cv_bench(i: int, rng: random.Random) -> Row:
    image, choices, k, objects = _mc(rng)
    task = ("Count", "Relation", "Depth", "Distance")[i % 4]
    source = ("ADE20K", "COCO", "Omni3D", "Omni3D")[i % 4]
    return {"idx": i, "type": "2D" if i % 4 < 2 else "3D", "task": task, "image": image, "question": Q,
            "choices": choices, "answer": f"({L[k]})", "prompt": f"{Q} Select from the following choices.\n{_inline(choices)}",
            "filename": f"img/{i}.png", "source": source, "source_dataset": source, "source_filename": f"{i}.jpg",
            "target_class": None, "target_size": None, "bbox": None}


def _blink(sub_task: str, n_images: int = 1) -> Callable[[int, random.Random], Row]:
    def row(i: int, rng: random.Random) -> Row:
        image, choices, k, _ = _mc(rng)
        images = [image] + [_scene(rng)[0] for _ in range(n_images - 1)] + [None] * (4 - n_images)
        return {"idx": f"val_{sub_task}_{i + 1}", "question": Q, "sub_task": sub_task.replace("_", " "),
                **{f"image_{j + 1}": images[j] for j in range(4)}, "choices": choices, "answer": f"({L[k]})",
                "prompt": f"{Q}\nSelect from the following choices.\n{_inline(choices)}", "explanation": ""}
    return row


def _3dsr(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    task = ("height_higher", "location_next_to", "orientation_on_the_left", "multi_object_closer_to")[i % 4]
    return {"index": f"3dsr-{i}", "image": image, "prompt": f"{Q}\nOptions:\n{_inline(choices)}", "choices": choices,
            "answer": L[k], "task": task}


def _mmvp(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    return {"image": image, "text": f"{Q} {' '.join(f'({c.lower()}) {t}' for c, t in zip(L, choices))}",
            "label": f"({L[k].lower()})"}


def _spatialbench(i: int, rng: random.Random) -> Row:
    image, left, _ = _scene(rng)
    if i % 3 == 2:
        return {"image": image, "text": "How many boxes are in the image?", "answer": "2", "category": "counting"}
    return {"image": image, "text": "Is the red box to the left of the blue box?", "answer": "Yes" if left else "No",
            "category": ("positional", "existence")[i % 2]}


def _with_prompt(question_key: str) -> Callable[[int, random.Random], Row]:
    def row(i: int, rng: random.Random) -> Row:
        image, choices, k, _ = _mc(rng)
        return {"image": image, question_key: f"{Q}\n{_inline(choices)}", "choices": choices, "answer": f"({L[k]})",
                "task": ("Depth", "Distance")[i % 2]}
    return row


def _realworldqa(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    if i % 4 == 3:
        return {"image": image, "question": "How many boxes are there? Please answer directly with a single word or number.",
                "answer": "2"}
    return {"image": image, "question": f"{Q}\n{_inline(choices, paren=False)}\nPlease answer directly with only "
            "the letter of the correct option and nothing else.", "answer": L[k]}


def _vstar(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    return {"question_id": i, "image": image, "text": f"{Q}\n{_inline(choices)}\nAnswer with the option's letter from "
            "the given choices directly.", "label": L[k], "category": ("direct_attributes", "relative_position")[i % 2]}


def _mme(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    choices = choices + ["above", "below", "behind"]
    return {"index": i, "question": Q, "image": image, "multi-choice options": [f"({c}) {t}" for c, t in zip(L, choices)],
            "answer": L[k], "category": "Spatial", "l2-category": "Position"}


def _robospatial(i: int, rng: random.Random) -> Row:
    image, left, _ = _scene(rng)
    category = ("configuration", "compatibility", "context")[i % 3]
    return {"image": image, "prompt": "Is the red box to the left of the blue box?", "answer": "yes" if left else "no",
            "options": None, "category": category}


def _hallusion(i: int, rng: random.Random) -> Row:
    image, left, _ = _scene(rng)
    return {"category": ("VD", "VS")[i % 2], "subcategory": "illusion", "visual_input": "1", "set_id": str(i // 2),
            "figure_id": "0", "sample_note": "", "question_id": str(i), "question": "Is the red box to the left of the blue box?",
            "gt_answer_details": "", "gt_answer": "1" if left else "0", "filename": f"{i}.png", "image": image}


def _stvqa(i: int, rng: random.Random) -> Row:
    image, choices, k, objects = _mc(rng)
    scene = {"objects": objects, "relationships": [{"subject": "red_box.1", "predicate": choices[k] + " of", "object": "blue_box.1"}]}
    with_options = f"{Q}\nOptions:" + "".join(f"\n({c}) {t}" for c, t in zip(L, choices))
    answer = f"({L[k]}) {choices[k]}"
    return {"image_id": str(1000 + i), "images": image, "problem": f"Image size: (96 x 72)\nQ. {with_options}",
            "question_only": Q, "question_with_options": with_options, "options": choices,
            "answer": f"<scene>{json.dumps(scene)}</scene>\n<answer>{L[k]}</answer>", "answer_only": L[k],
            "answer_text": f"<scene>{json.dumps(scene)}</scene>\n<answer>{choices[k]}</answer>",
            "answer_text_only": choices[k], "answer_option_text": f"<scene>{json.dumps(scene)}</scene>\n<answer>{answer}</answer>",
            "answer_option_text_only": answer, "category": "relation", "level": "easy", "rating": 8}


def _local_mc(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    return {"id": f"q{i}", "image": image, "question": Q, "choices": choices, "answer": L[k], "category": "relation"}


def _lego(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    return {"id": i, "image": [image, _scene(rng)[0]], "question": f"{Q}\n{_inline(choices, paren=False)}",
            "answer": L[k], "category": "rotation"}


def _mindcube(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    return {"id": f"mc{i}", "images": [image, _scene(rng)[0]], "question": f"{Q} {_inline(choices, paren=False)}",
            "gt_answer": L[k], "category": "around"}


FIXTURES: dict[str, Callable[[int, random.Random], Row]] = {
    "cv-bench": _cv_bench, "3dsrbench": _3dsr, "3dsrbench-plain": _3dsr, "mmvp": _mmvp,
    "blink-spatial": _blink("Spatial_Relation"), "blink-depth": _blink("Relative_Depth"),
    "blink-counting": _blink("Counting"), "blink-object": _blink("Object_Localization"),
    "blink-multi-view": _blink("Multi-view_Reasoning", 2), "blink-jigsaw": _blink("Jigsaw", 3),
    "spatialbench": _spatialbench, "spatialreasoner": _with_prompt("prompt"), "realworldqa": _realworldqa,
    "vstar": _vstar, "mme-realworld-lite": _mme, "robospatial": _robospatial, "hallusionbench": _hallusion,
    "stvqa": _stvqa, "local-mc": _local_mc, "lego": _lego, "mindcube": _mindcube,
}


def fixture_rows(name: str, n: int = 8, seed: int = 0) -> list[Row]:
    """``n`` synthetic rows in the real column layout of benchmark ``name`` (seeded, so reproducible)."""
    if name not in FIXTURES:
        raise KeyError(f"no fixture for benchmark {name!r}; known: {sorted(FIXTURES)}.")
    rng = random.Random(f"{name}:{seed}")
    return [FIXTURES[name](i, rng) for i in range(n)]


def write_fixture(name: str, directory: str | Path, n: int = 8, seed: int = 0) -> Path:
    """Write the fixture as ``directory/<config>/<split>-00000-of-00001.parquet`` (the hub's layout); return it.

    Example:
        >>> # path = write_fixture("cv-bench", "/tmp/cvb"); then --data-path /tmp/cvb
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spatialthinker.eval.registry import get_benchmark

    spec = get_benchmark(name)
    folder = Path(directory) / (spec.dataset.config or "default")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.dataset.split}-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(fixture_rows(name, n, seed)), path)
    return Path(directory)
