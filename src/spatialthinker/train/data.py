"""Turn STVQA-schema rows (STVQA-7K from the hub or disk, or our synthesized parquet) into TRL training rows.

No conversion step: the loader reads the STVQA columns as they are and adds what TRL needs -- a conversational
``prompt`` with an image placeholder, a single ``image`` and the ``image_size`` [W, H] the reward normalises by.
The ground-truth columns pass through untouched, so the reward reads exactly what the dataset states.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import os
import re
from collections.abc import Sequence
from typing import Any

from spatialthinker.errors import InputError
from spatialthinker.images import open_image
from spatialthinker.prompts import LETTERS, build_prompt, parse_ground_truth

log = logging.getLogger(__name__)

#: Columns each use needs (data.md §1). ``problem`` is the full training prompt, used verbatim for dense GRPO.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "grpo": ("images", "problem", "answer_option_text", "answer_option_text_only"),
    "grpo_other_style": ("images", "question_only", "options", "answer_option_text", "answer_option_text_only"),
    "sft": ("images", "question_only", "options", "answer_option_text", "answer_option_text_only"),
}
#: Columns kept next to the TRL columns (they reach the reward as keyword arguments and the rollout log).
PASSTHROUGH = ("image_id", "problem", "answer_option_text", "answer_option_text_only", "category")


def _parquet_files(source: str, split: str) -> list[str]:
    """Parquet files of ``split`` under a directory; all files when none is named after any split."""
    files = sorted(glob.glob(os.path.join(source, "**", "*.parquet"), recursive=True))
    if not files:
        raise FileNotFoundError(f"no .parquet files under {source}.")

    def named(path: str, name: str) -> bool:
        parts = os.path.relpath(path, source).split(os.sep)
        return parts[-1].startswith(f"{name}-") or parts[-1] == f"{name}.parquet" or name in parts[:-1]

    chosen = [f for f in files if named(f, split)]
    if chosen:
        return chosen
    if any(named(f, other) for f in files for other in ("train", "val", "validation", "test")):
        raise ValueError(f"{source} has parquet files for other splits but none for split {split!r}.")
    return files


def load_stvqa(source: str, split: str = "train", max_samples: int | None = None) -> Any:
    """Load STVQA rows from a parquet file, a directory of parquet files, or a hub id; returns a ``Dataset``.

    Example:
        >>> ds = load_stvqa("data/stvqa_tiny", split="train")  # doctest: +SKIP
    """
    from datasets import load_dataset

    files = local_parquet_files(source, split)
    if files:
        _check_parquet_files(files, source)
        dataset = load_dataset("parquet", data_files={split: files}, split=split)
    else:
        dataset = load_dataset(source, split=split)  # hub id (needs network or a warm HF cache)
        if len(dataset) == 0:
            raise InputError(f"--dataset {source}: split {split!r} has no rows")
    if max_samples is not None:
        dataset = dataset.select(range(min(max_samples, len(dataset))))
    return dataset


def local_parquet_files(source: str, split: str) -> list[str]:
    """The parquet files a local ``--dataset`` names (empty for a hub id); errors name the path."""
    if os.path.isfile(source):
        return [source]
    if not os.path.isdir(source):
        return []
    try:
        return _parquet_files(source, split)
    except (FileNotFoundError, ValueError) as error:
        raise InputError(f"--dataset {error}") from None


def required_columns(kind: str, prompt_style: str) -> str:
    """The ``REQUIRED_COLUMNS`` entry a recipe needs: ``kind`` is grpo or sft."""
    if kind == "grpo":
        return "grpo" if prompt_style == "training" else "grpo_other_style"
    return "sft" if prompt_style != "training" else "grpo"


def check_local_dataset(source: str, split: str, use: str) -> None:
    """Check a local STVQA parquet dataset with pyarrow alone (seconds, before datasets/TRL/model imports).

    Each file is readable parquet, together they hold rows, the columns ``use`` needs are there with text where
    text is expected, and every image opens and passes an integrity check. Errors name the file, row and column.
    A hub id is not checked here (its rows arrive with ``load_stvqa``, which checks them the same way).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = local_parquet_files(source, split)
    _check_parquet_files(files, source)
    for path in files:
        schema = pq.read_schema(path)
        missing = [c for c in REQUIRED_COLUMNS[use] if c not in schema.names]
        if missing:
            raise InputError(f"{path}: lacks column(s) {missing} needed for {use.split('_')[0]} training; it has "
                             f"{schema.names} (STVQA schema, data.md §1)")
        for column in TEXT_COLUMNS:
            if column in REQUIRED_COLUMNS[use] and not (pa.types.is_string(schema.field(column).type)
                                                        or pa.types.is_large_string(schema.field(column).type)):
                raise InputError(f"{path}: column {column!r} must hold strings, it holds {schema.field(column).type}")
        row = 0
        for batch in pq.ParquetFile(path).iter_batches(columns=["images"], batch_size=64):
            for value in batch.column(0).to_pylist():
                _image_size_or_error(value, f"{path}: row {row}, column 'images'")
                row += 1


def _check_parquet_files(files: list[str], source: str) -> None:
    """Every file is readable parquet and together they hold rows; else an error naming the file.

    Why here: ``datasets`` reports a broken file as "Parquet magic bytes not found" without its name, and no rows
    as "An error occurred while generating the dataset". The footer read is cheap (no row data).
    """
    import pyarrow.parquet as pq

    rows = 0
    for path in files:
        if not path.endswith(".parquet"):
            raise InputError(f"--dataset {path}: expected a .parquet file (STVQA schema, data.md §1)")
        try:
            rows += pq.read_metadata(path).num_rows
        except Exception as error:  # noqa: BLE001 - pyarrow raises several types for a broken file
            raise InputError(f"{path}: not a readable parquet file ({error})") from None
    if rows == 0:
        raise InputError(f"{source}: the parquet file(s) hold no rows")


#: Columns that must hold text, and the column that must hold a list of option strings (data.md §1).
TEXT_COLUMNS = ("problem", "question_only", "answer_option_text", "answer_option_text_only")


def _source(dataset: Any) -> str:
    """The file(s) a dataset was read from, for messages."""
    files = sorted({f.get("filename", "") for f in getattr(dataset, "cache_files", None) or []} - {""})
    return ", ".join(files[:2]) + (" ..." if len(files) > 2 else "") if files else "dataset"


def check_columns(dataset: Any, use: str, source: str | None = None) -> None:
    """Raise an InputError naming every missing column, or a text column of another type, before training starts."""
    source = source or _source(dataset)
    missing = [c for c in REQUIRED_COLUMNS[use] if c not in dataset.column_names]
    if missing:
        raise InputError(f"{source}: lacks column(s) {missing} needed for {use.split('_')[0]} training; it has "
                         f"{dataset.column_names} (STVQA schema, data.md §1)")
    for column in TEXT_COLUMNS:
        feature = dataset.features.get(column) if column in REQUIRED_COLUMNS[use] else None
        dtype = getattr(feature, "dtype", None)
        if feature is not None and dtype not in ("string", "large_string"):
            raise InputError(f"{source}: column {column!r} must hold strings, it holds {dtype or type(feature).__name__}")
    if len(dataset) == 0:
        raise InputError(f"{source}: no rows")


def _image_size_or_error(value: Any, where: str) -> tuple[int, int]:
    """``(W, H)`` of an image value after an integrity check, or an InputError that starts with ``where``.

    ``verify`` reads the whole file without decoding pixels (cheap), so a truncated PNG fails here, at start-up,
    instead of as "Truncated File Read" inside a training step.
    """
    try:
        image = open_image(value)
        size = (int(image.width), int(image.height))
        image.verify()
    except (FileNotFoundError, ValueError) as error:
        raise InputError(f"{where}: {error}") from None
    except (OSError, SyntaxError) as error:  # PIL raises SyntaxError for some broken headers
        raise InputError(f"{where}: broken or truncated image ({error})") from None
    if size[0] <= 0 or size[1] <= 0:
        raise InputError(f"{where}: image size {size[0]}x{size[1]} is empty")
    return size


def _row_image_size(row: dict[str, Any], index: int, source: str) -> tuple[int, int]:
    return _image_size_or_error(row["images"], f"{source}: row {index}, column 'images'")


def _image_struct(image: Any) -> dict[str, Any]:
    """The image as an HF ``Image`` struct; re-encoded as PNG only when it came decoded."""
    if isinstance(image, list):
        image = image[0] if image else None
    if isinstance(image, dict):
        return {"bytes": image.get("bytes"), "path": image.get("path")}
    if isinstance(image, str):
        return {"bytes": None, "path": image}
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def _raw_images(dataset: Any) -> Any:
    """Stop datasets from decoding images during ``map`` (we read only the header for the size)."""
    from datasets import Image

    feature = dataset.features.get("images")
    if isinstance(feature, Image):
        return dataset.cast_column("images", Image(decode=False))
    return dataset


def _user_prompt(row: dict[str, Any], style: str, size: tuple[int, int]) -> str:
    if style == "training":
        return row["problem"]  # verbatim: it already states the original image size and the options
    return build_prompt(style, row["question_only"], list(row["options"]), size)


def prepare_grpo_dataset(dataset: Any, prompt_style: str = "training", source: str | None = None) -> Any:
    """STVQA rows -> GRPO rows: ``prompt`` (messages with an image part), ``image``, ``image_size`` + GT columns.

    ``source`` (the ``--dataset`` value) names the data in error messages.
    """
    from datasets import Image

    source = source or _source(dataset)
    check_columns(dataset, required_columns("grpo", prompt_style), source)
    dataset = _raw_images(dataset)
    keep = [c for c in PASSTHROUGH if c in dataset.column_names]

    def convert(row: dict[str, Any], index: int) -> dict[str, Any]:
        size = list(_row_image_size(row, index, source))
        text = _user_prompt(row, prompt_style, tuple(size))
        return {"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}],
                "image": _image_struct(row["images"]), "image_size": size}

    prepared = dataset.map(convert, with_indices=True, remove_columns=[c for c in dataset.column_names if c not in keep])
    return prepared.cast_column("image", Image())


_LETTERED = re.compile(r"\s*\(([A-Z])\)\s*(.*?)\s*", re.S)


def _reasoning(answer: str, options: Sequence[str] = ()) -> str:
    """The think step of a GT-built response: a verdict on each option, then the chosen letter.

    Why this shape: the answer ``(B) ball`` names the letter first, so a model that must emit it straight away
    has to judge the image and look up the letter in one token. ``(A) cone: no. (B) ball: yes. So (B).`` judges
    each option beside its own text, and the letter is then copied from the line that says yes, a few tokens
    back. Measured on the tiny model (docs/training.md, "Learning in miniature"): with the verdicts given, it
    picks the right letter for 160 of 160 held-out questions after 150 steps, where "The answer is ball,
    option (B)." left it at chance after 300. Without options (a free-form answer) it states the answer.
    """
    match = _LETTERED.fullmatch(answer)
    if match is None or not options:
        return f"The answer is {answer}."
    letter = match.group(1)
    return f"{option_verdicts(options, LETTERS.index(letter))} So ({letter})."


def option_verdicts(options: Sequence[str], chosen: int) -> str:
    """``(A) cone: no. (B) ball: yes.``: each option with its letter, "yes" for the ``chosen`` (0-based) one."""
    return " ".join(f"({LETTERS[i]}) {option}: {'yes' if i == chosen else 'no'}." for i, option in enumerate(options))


def _in_question_order(scene: Any, question: str) -> Any:
    """The scene with its objects in the order the question names them (the rest after, in their order).

    Why: the matching that scores boxes ignores order, but a model learning to write the scene must choose one;
    "the order the question names them" is one it can learn by copying, where the ground truth's own order
    (annotation ids) cannot be read off anything it sees.
    """
    import dataclasses

    text = question.lower()

    def first_mention(obj: Any) -> int:
        position = text.find(obj.label.replace("_", " ").lower())
        return position if position >= 0 else len(text)

    ordered = tuple(sorted(scene.objects, key=first_mention))  # sorted is stable: ties keep the GT order
    return scene if ordered == tuple(scene.objects) else dataclasses.replace(scene, objects=ordered)


def labels_in_image(row: dict[str, Any]) -> list[str]:
    """Every class the image shows, sorted, from the row's ``scene_3d`` (simulated data); empty without one.

    Why: naming what the image shows is what a tiny model learns first from pixels ("I see ball, cone." right for
    0.82 of held-out images after 600 steps), and a later step can then copy from that list instead of asking the
    image about a class named in the question, which it does not learn in that time (docs/training.md,
    "Learning in miniature").
    """
    try:
        objects = json.loads(row.get("scene_3d") or "{}").get("objects") or []
        return sorted({str(obj["label"]).replace("_", " ") for obj in objects})
    except (AttributeError, KeyError, TypeError, ValueError):
        return []


def question_facts(row: dict[str, Any]) -> str:
    """The fact an answer rests on, stated before the verdicts where a one-step check gives it: "cylinder: yes."
    for an existence question (the class asked about, and whether the image shows it; empty otherwise).

    Why: a verdict on "(A) no" / "(B) yes" needs the asked class, its presence and the option text at once; the
    tiny model learned none of it in 800 steps, but with the class list observed first and this fact written
    before the verdicts it answered 0.93 of held-out existence questions after 750 steps (docs/training.md).
    """
    if row.get("category") != "existence":
        return ""
    try:
        evidence = json.loads(row.get("evidence") or "{}")
    except (TypeError, ValueError):
        return ""
    label = (evidence.get("phrase") or evidence.get("absent")) if isinstance(evidence, dict) else None
    answer = str(row.get("answer_text_only") or "").strip().lower()
    return f"{str(label).replace('_', ' ')}: {answer}." if label and answer in ("yes", "no") else ""


def sft_target(row: dict[str, Any], target: str) -> str:
    """What SFT teaches: the bare answer (paper baseline), or a full response built from the GT (format warm-up).

    Both full responses reason the same way, so dense and sparse GRPO start from one chain: what the image
    shows (``labels_in_image``; the question's objects when the row has no full scene), the fact the answer
    rests on (``question_facts``), a verdict per option, the letter.
    """
    answer = row["answer_option_text_only"]
    if target == "answer":
        return answer
    options = [str(option) for option in (row.get("options") or [])]
    seen = ", ".join(labels_in_image(row))
    facts = question_facts(row)
    if target == "sparse":
        think = " ".join(filter(None, (f"I see {seen}." if seen else "", facts, _reasoning(answer, options))))
        return f"<think> {think} </think>\n<answer>{answer}</answer>"
    scene, gt_answer = parse_ground_truth(row["answer_option_text"])
    if scene is not None:
        scene = _in_question_order(scene, str(row.get("question_only") or ""))
    names = seen or ", ".join(obj.label.replace("_", " ") for obj in (scene.objects if scene else ()))
    scene_json = scene.to_json() if scene is not None else '{"objects": [], "relationships": []}'
    final = gt_answer or answer
    think = " ".join(filter(None, (facts, _reasoning(final, options))))
    return (f"<observe> I see {names or 'the scene'}. </observe>\n<scene>{scene_json}</scene>\n"
            f"<think> {think} </think>\n<answer>{final}</answer>")


def prepare_sft_dataset(dataset: Any, target: str = "answer", prompt_style: str = "direct",
                        source: str | None = None) -> Any:
    """STVQA rows -> prompt/completion rows with an ``images`` list, for TRL's SFTTrainer.

    ``target="dense+sparse"`` yields every row twice: the dense response after ``prompt_style`` and the
    think/answer response after the sparse prompt, so one model can start both dense and sparse GRPO.
    """
    from datasets import Image, Sequence, concatenate_datasets

    source = source or _source(dataset)
    if target == "dense+sparse":
        return concatenate_datasets([prepare_sft_dataset(dataset, "dense", prompt_style, source),
                                     prepare_sft_dataset(dataset, "sparse", "sparse", source)])
    check_columns(dataset, required_columns("sft", prompt_style), source)
    dataset = _raw_images(dataset)

    def convert(row: dict[str, Any], index: int) -> dict[str, Any]:
        text = _user_prompt(row, prompt_style, _row_image_size(row, index, source))
        return {"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}],
                "completion": [{"role": "assistant", "content": [{"type": "text", "text": sft_target(row, target)}]}],
                "images": [_image_struct(row["images"])]}

    prepared = dataset.map(convert, with_indices=True, remove_columns=dataset.column_names)
    return prepared.cast_column("images", Sequence(Image()))


__all__ = ["REQUIRED_COLUMNS", "check_columns", "check_local_dataset", "load_stvqa", "prepare_grpo_dataset",
           "prepare_sft_dataset", "sft_target"]
