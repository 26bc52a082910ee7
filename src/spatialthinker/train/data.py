"""Turn STVQA-schema rows (STVQA-7K from the hub or disk, or our synthesized parquet) into TRL training rows.

No conversion step: the loader reads the STVQA columns as they are and adds what TRL needs -- a conversational
``prompt`` with an image placeholder, a single ``image`` and the ``image_size`` [W, H] the reward normalises by.
The ground-truth columns pass through untouched, so the reward reads exactly what the dataset states.
"""

from __future__ import annotations

import glob
import io
import logging
import os
import re
from typing import Any

from spatialthinker.images import open_image
from spatialthinker.prompts import build_prompt, parse_ground_truth

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

    if os.path.isfile(source):
        dataset = load_dataset("parquet", data_files={split: [source]}, split=split)
    elif os.path.isdir(source):
        dataset = load_dataset("parquet", data_files={split: _parquet_files(source, split)}, split=split)
    else:
        dataset = load_dataset(source, split=split)  # hub id (needs network or a warm HF cache)
    if max_samples is not None:
        dataset = dataset.select(range(min(max_samples, len(dataset))))
    return dataset


def check_columns(dataset: Any, use: str, source: str = "dataset") -> None:
    """Raise a ValueError naming every missing column (and what is there) before any training starts."""
    missing = [c for c in REQUIRED_COLUMNS[use] if c not in dataset.column_names]
    if missing:
        raise ValueError(f"{source} lacks column(s) {missing} needed for {use.split('_')[0]} training. It has "
                         f"{dataset.column_names}. Datasets must follow the STVQA schema (docs: data.md §1).")


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


def prepare_grpo_dataset(dataset: Any, prompt_style: str = "training") -> Any:
    """STVQA rows -> GRPO rows: ``prompt`` (messages with an image part), ``image``, ``image_size`` + GT columns."""
    from datasets import Image

    check_columns(dataset, "grpo" if prompt_style == "training" else "grpo_other_style")
    dataset = _raw_images(dataset)
    keep = [c for c in PASSTHROUGH if c in dataset.column_names]

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        image = open_image(row["images"])
        size = [int(image.width), int(image.height)]
        text = _user_prompt(row, prompt_style, tuple(size))
        return {"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}],
                "image": _image_struct(row["images"]), "image_size": size}

    prepared = dataset.map(convert, remove_columns=[c for c in dataset.column_names if c not in keep])
    return prepared.cast_column("image", Image())


_LETTERED = re.compile(r"\s*\(([A-Z])\)\s*(.*?)\s*", re.S)


def _reasoning(answer: str) -> str:
    """The think step of a GT-built response: the option text first, then its letter.

    Why this order: the answer ``(B) left`` names the letter first, so a model that must emit it straight away
    has to decide and look up the letter in one token; saying ``left`` first splits that into choosing the text
    (from the image) and copying the letter that precedes it in the prompt's options (a copy a small model learns
    quickly).
    """
    match = _LETTERED.fullmatch(answer)
    if match is None:
        return f"The answer is {answer}."
    return f"The answer is {match.group(2)}, option ({match.group(1)})."


def sft_target(row: dict[str, Any], target: str) -> str:
    """What SFT teaches: the bare answer (paper baseline), or a full response built from the GT (format warm-up)."""
    answer = row["answer_option_text_only"]
    if target == "answer":
        return answer
    if target == "sparse":
        return f"<think> {_reasoning(answer)} </think>\n<answer>{answer}</answer>"
    scene, gt_answer = parse_ground_truth(row["answer_option_text"])
    names = ", ".join(obj.label.replace("_", " ") for obj in (scene.objects if scene else ()))
    scene_json = scene.to_json() if scene is not None else '{"objects": [], "relationships": []}'
    final = gt_answer or answer
    return (f"<observe> I see {names or 'the scene'}. </observe>\n<scene>{scene_json}</scene>\n"
            f"<think> {_reasoning(final)} </think>\n<answer>{final}</answer>")


def prepare_sft_dataset(dataset: Any, target: str = "answer", prompt_style: str = "direct") -> Any:
    """STVQA rows -> prompt/completion rows with an ``images`` list, for TRL's SFTTrainer.

    ``target="dense+sparse"`` yields every row twice: the dense response after ``prompt_style`` and the
    think/answer response after the sparse prompt, so one model can start both dense and sparse GRPO.
    """
    from datasets import Image, Sequence, concatenate_datasets

    if target == "dense+sparse":
        return concatenate_datasets([prepare_sft_dataset(dataset, "dense", prompt_style),
                                     prepare_sft_dataset(dataset, "sparse", "sparse")])
    check_columns(dataset, "sft" if prompt_style != "training" else "grpo")
    dataset = _raw_images(dataset)

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        image = open_image(row["images"])
        text = _user_prompt(row, prompt_style, (image.width, image.height))
        return {"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}],
                "completion": [{"role": "assistant", "content": [{"type": "text", "text": sft_target(row, target)}]}],
                "images": [_image_struct(row["images"])]}

    prepared = dataset.map(convert, remove_columns=dataset.column_names)
    return prepared.cast_column("images", Sequence(Image()))


__all__ = ["REQUIRED_COLUMNS", "check_columns", "load_stvqa", "prepare_grpo_dataset",
           "prepare_sft_dataset", "sft_target"]
