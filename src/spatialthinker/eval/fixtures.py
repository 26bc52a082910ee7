"""Tiny synthetic stand-ins for every benchmark, written in each benchmark's *real* on-disk layout.

One builder per benchmark reproduces what a user has after downloading it (benchmarks.md §4): the file names and
split files (CV-Bench's parquet *and* raw jsonl + ``img/``, HallusionBench's ``image`` and ``non_image`` parquet,
MMVP's ``Questions.csv`` + ``MMVP Images/``, V*Bench's ``test_questions.jsonl`` with relative paths, 3DSRBench's
VLMEvalKit TSV with base64 images and its own ``-flip`` rows, MindCube's jsonl among other jsonl files, LEGO's
A..E columns with a string list of base64 images, MME-RealWorld-lite's base64 ``bytes`` column), the column
names and the cell types. Each row shows a red and a blue square; the question asks where the red one is.
Used by the tests and by offline demos (``write_fixture(name, folder)`` then ``--data-path folder``).
"""

from __future__ import annotations

import base64
import csv
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


_3DSR_TASKS = ("height_higher", "location_next_to", "orientation_on_the_left", "multi_object_closer_to")


def _3dsr_plain(i: int, rng: random.Random) -> Row:
    """Reference copy (one row per question): image / prompt / choices / answer / task."""
    image, choices, k, _ = _mc(rng)
    return {"image": image, "prompt": f"{Q}\nOptions:\n{_inline(choices)}", "choices": choices, "answer": L[k],
            "task": _3DSR_TASKS[i % 4]}


def _3dsr_variants(i: int, rng: random.Random) -> list[Row]:
    """One question as the benchmark ships it: X, X-1 (options rotated), X-flip, X-flip-1 (its flipped question)."""
    image, choices, k, _ = _mc(rng)
    cell = base64.b64encode(image["bytes"]).decode("ascii")
    qid = f"Q{i:07d}"
    flipped = "Where is the blue box with respect to the red box?"
    rows = []
    for flip, question, right in (("", Q, choices[k]), ("-flip", flipped, "right" if choices[k] == "left" else "left")):
        for rotation in (0, 1):
            options = choices[rotation:] + choices[:rotation]
            suffix = flip + (f"-{rotation}" if rotation else "")
            rows.append({"index": len(rows) + 4 * i, "qid": qid + suffix, "question": question, "A": options[0],
                         "B": options[1], "C": "", "D": "", "answer": L[options.index(right)],
                         "category": _3DSR_TASKS[i % 4], "image": cell, "image_source": "coco",
                         "image_url": f"http://images.cocodataset.org/{i}.jpg"})
    return rows


def _mmvp(i: int, rng: random.Random) -> Row:
    """Official Questions.csv row; the image is ``MMVP Images/<Index>.jpg`` (written by ``_write_mmvp``)."""
    _, choices, k, _ = _mc(rng)
    return {"Index": str(i + 1), "Question": Q, "Options": " ".join(f"({c.lower()}) {t}" for c, t in zip(L, choices)),
            "Correct Answer": f"({L[k].lower()})"}


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


def _mmstar(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    options = ", ".join(f"{c}: {t}" for c, t in zip(L, choices))
    return {"index": i, "question": f"{Q}\nOptions: {options}", "image": image, "answer": L[k],
            "category": "fine-grained perception", "l2_category": "localization", "meta_info": {"source": "fixture"}}


def _realworldqa(i: int, rng: random.Random) -> Row:
    image, choices, k, _ = _mc(rng)
    if i % 4 == 3:
        return {"image": image, "question": "How many boxes are there? Please answer directly with a single word or number.",
                "answer": "2"}
    return {"image": image, "question": f"{Q}\n{_inline(choices, paren=False)}\nPlease answer directly with only "
            "the letter of the correct option and nothing else.", "answer": L[k]}


def _vstar(i: int, rng: random.Random) -> Row:
    """Raw test_questions.jsonl row: the image is a path relative to the dataset folder."""
    _, choices, k, _ = _mc(rng)
    category = ("direct_attributes", "relative_position")[i % 2]
    return {"image": f"{category}/sa_{4690 + i}.jpg", "text": f"{Q}\n{_inline(choices)}\nAnswer with the option's "
            "letter from the given choices directly.", "category": category, "question_id": i, "label": L[k]}


def _mme(i: int, rng: random.Random) -> Row:
    """lmms-eval copy: the image is a base64 string in column ``bytes``."""
    image, choices, k, _ = _mc(rng)
    choices = choices + ["above", "below", "behind"]
    return {"index": i, "question": Q, "bytes": base64.b64encode(image["bytes"]).decode("ascii"),
            "multi-choice options": [f"({c}) {t}" for c, t in zip(L, choices)], "answer": L[k],
            "category": "Perception/Autonomous_Driving", "l2-category": "Position"}


def _robospatial(i: int, rng: random.Random) -> Row:
    image, left, _ = _scene(rng)
    category = ("configuration", "compatibility", "context")[i % 3]
    return {"image": image, "prompt": "Is the red box to the left of the blue box?", "answer": "yes" if left else "no",
            "options": None, "category": category}


def _hallusion(i: int, rng: random.Random) -> Row:
    """Two questions (question_id 0, 1) asked of two figures (figure_id 0, 1) per set: question_id repeats."""
    image, left, _ = _scene(rng)
    return {"category": "VD", "subcategory": "illusion", "visual_input": "1", "set_id": str(i // 4),
            "figure_id": str((i // 2) % 2), "sample_note": "boxes", "question_id": str(i % 2),
            "question": "Is the red box to the left of the blue box?", "gt_answer_details": "",
            "gt_answer": "1" if left else "0", "filename": f"./hallusion_bench/VD/illusion/{i}.png", "image": image}


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
    """Original layout: A..E columns (unused ones empty), a letter, the images as a string list of base64."""
    image, choices, k, _ = _mc(rng)
    images = [base64.b64encode(cell["bytes"]).decode("ascii") for cell in (image, _scene(rng)[0])]
    return {"index": i, "question": Q, **{c: (choices[j] if j < len(choices) else "") for j, c in enumerate(L)},
            "answer": L[k], "category": "rotation", "image": str(images)}


def _mindcube(i: int, rng: random.Random) -> Row:
    """Raw jsonl row: images are paths relative to the dataset folder (written by ``_write_mindcube``)."""
    _, choices, k, _ = _mc(rng)
    setting = ("among", "aroundnew", "rotation")[i % 3]
    return {"id": f"{setting}_group{i}_q0", "images": [f"other_all_image/{setting}/{i}_{j}.png" for j in range(2)],
            "question": f"{Q} {_inline(choices, paren=False)}", "gt_answer": L[k], "category": ["self", setting]}


# ------------------------------------------------------------------------------------------ writers
def _png(rng: random.Random, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_scene(rng)[0]["bytes"])


def _parquet(rows: list[Row], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def _jsonl(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _hub(split: str, folder: str = "data") -> Callable[[str, list[Row], Path, random.Random], None]:
    """The hub's parquet layout: ``<folder>/<split>-00000-of-00001.parquet``."""
    def write(name: str, rows: list[Row], directory: Path, rng: random.Random) -> None:
        _parquet(rows, directory / folder / f"{split}-00000-of-00001.parquet")
    return write


def _write_cv_bench(name: str, rows: list[Row], directory: Path, rng: random.Random) -> None:
    """test_2d/test_3d parquet (HF Image) and the same rows as raw jsonl with ``img/`` files: two copies."""
    for part in ("2D", "3D"):
        chosen = [r for r in rows if r["type"] == part]
        if not chosen:
            continue
        _parquet(chosen, directory / f"test_{part.lower()}.parquet")
        raw = []
        for row in chosen:
            (directory / row["filename"]).parent.mkdir(parents=True, exist_ok=True)
            (directory / row["filename"]).write_bytes(row["image"]["bytes"])
            raw.append({k: v for k, v in row.items() if k != "image"})
        _jsonl(raw, directory / f"test_{part.lower()}.jsonl")


def _write_blink(name: str, rows: list[Row], directory: Path, rng: random.Random) -> None:
    """``<Task>/val-*.parquet`` and ``<Task>/test-*.parquet`` (test answers hidden)."""
    from spatialthinker.eval.registry import get_benchmark

    folder = directory / str(get_benchmark(name).dataset.config)
    _parquet(rows, folder / "val-00000-of-00001.parquet")
    _parquet([{**r, "answer": "hidden"} for r in rows], folder / "test-00000-of-00001.parquet")


def _write_hallusion(name: str, rows: list[Row], directory: Path, rng: random.Random) -> None:
    """``data/image-*.parquet`` plus ``data/non_image-*.parquet`` (text-only rows: image None, visual_input "0")."""
    _parquet(rows, directory / "data" / "image-00000-of-00001.parquet")
    text_only = [{**r, "visual_input": "0", "figure_id": "0", "category": "VS", "image": None} for r in rows[:2]]
    _parquet(text_only, directory / "data" / "non_image-00000-of-00001.parquet")


def _write_mmvp(name: str, rows: list[Row], directory: Path, rng: random.Random) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "Questions.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        _png(rng, directory / "MMVP Images" / f"{row['Index']}.jpg")


def _write_vstar(name: str, rows: list[Row], directory: Path, rng: random.Random) -> None:
    _jsonl(rows, directory / "test_questions.jsonl")
    for row in rows:
        _png(rng, directory / row["image"])


def _write_mindcube(name: str, rows: list[Row], directory: Path, rng: random.Random) -> None:
    """MindCube_tinybench.jsonl beside the other jsonl files of the release (which must not be read)."""
    _jsonl(rows, directory / "data" / "raw" / "MindCube_tinybench.jsonl")
    _jsonl(rows[:1], directory / "data" / "raw" / "MindCube_train.jsonl")
    _jsonl(rows[:1], directory / "data" / "scaffold" / "all" / "MindCube_tinybench.jsonl")  # a derived copy
    for row in rows:
        for path in row["images"]:
            _png(rng, directory / "data" / path)


def _write_3dsr(name: str, rows: list[Row], directory: Path, rng: random.Random) -> None:
    """VLMEvalKit's TSV: one file, base64 images, the variant rows of every question."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "3dsrbench_v1_vlmevalkit_circular.tsv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)


def _write_single(filename: str) -> Callable[[str, list[Row], Path, random.Random], None]:
    def write(name: str, rows: list[Row], directory: Path, rng: random.Random) -> None:
        _parquet(rows, directory / filename)
    return write


#: benchmark -> (row builder, writer of the real layout)
FIXTURES: dict[str, tuple[Callable[[int, random.Random], Row | list[Row]], Callable[..., None]]] = {
    "cv-bench": (_cv_bench, _write_cv_bench),
    "3dsrbench": (_3dsr_variants, _write_3dsr),
    "3dsrbench-plain": (_3dsr_plain, _hub("test")),
    "mmvp": (_mmvp, _write_mmvp),
    "blink-spatial": (_blink("Spatial_Relation"), _write_blink),
    "blink-depth": (_blink("Relative_Depth"), _write_blink),
    "blink-counting": (_blink("Counting"), _write_blink),
    "blink-object": (_blink("Object_Localization"), _write_blink),
    "blink-multi-view": (_blink("Multi-view_Reasoning", 2), _write_blink),
    "blink-jigsaw": (_blink("Jigsaw", 3), _write_blink),
    "spatialbench": (_spatialbench, _hub("train")),
    "spatialreasoner": (_with_prompt("prompt"), _hub("train")),
    "realworldqa": (_realworldqa, _hub("test")),
    "vstar": (_vstar, _write_vstar),
    "mme-realworld-lite": (_mme, _hub("train")),
    "robospatial": (_robospatial, _hub("train")),
    "hallusionbench": (_hallusion, _write_hallusion),
    "stvqa": (_stvqa, _hub("val")),
    "local-mc": (_local_mc, _hub("test")),
    "lego": (_lego, _hub("train")),
    "mindcube": (_mindcube, _write_mindcube),
    "mmstar": (_mmstar, _write_single("mmstar.parquet")),
}


def fixture_rows(name: str, n: int = 8, seed: int = 0) -> list[Row]:
    """The rows of ``n`` synthetic questions in the real column layout of benchmark ``name`` (seeded).

    3DSRBench gives four rows per question (its own rotated and flipped variants).
    """
    if name not in FIXTURES:
        raise KeyError(f"no fixture for benchmark {name!r}; known: {sorted(FIXTURES)}.")
    rng = random.Random(f"{name}:{seed}")
    rows: list[Row] = []
    for i in range(n):
        made = FIXTURES[name][0](i, rng)
        rows.extend(made if isinstance(made, list) else [made])
    return rows


def write_fixture(name: str, directory: str | Path, n: int = 8, seed: int = 0) -> Path:
    """Write ``n`` questions of benchmark ``name`` into ``directory`` as its download is laid out; return it.

    Example:
        >>> # path = write_fixture("cv-bench", "/tmp/cvb"); then --data-path /tmp/cvb
    """
    rows = fixture_rows(name, n, seed)
    directory = Path(directory)
    FIXTURES[name][1](name, rows, directory, random.Random(f"{name}:{seed}:files"))
    return directory
