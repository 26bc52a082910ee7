"""Recognise and read what the report shows: synthesis output (STVQA parquet), training runs, evaluation runs.

A directory is classified by the files it holds, not by a name, so ``spatialthinker view`` works on any output
directory and on a parent of several (the quickstart's run directory). Reading is bounded (first rows, last
rollout files) because a report must open in a second even for a 7K-row dataset or a 75-step run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from PIL import Image, UnidentifiedImageError

from spatialthinker.data.records import STVQA_COLUMNS
from spatialthinker.images import open_image
from spatialthinker.prompts import parse_ground_truth, parse_image_size
from spatialthinker.scene import SceneGraph

logger = logging.getLogger(__name__)

#: Columns a parquet file needs to count as an STVQA dataset (the rest are optional for the viewer).
REQUIRED_COLUMNS = ("image_id", "images", "question_with_options", "answer_option_text")
IMAGE_PATH_KEYS = ("image_path", "image", "images")
#: Directories never shown on their own: per-scene shards the simulator merges into train/val, and saved models.
SKIP_DIRS = ("shards", "final", "model", "warmup_sft")
DATASET_KEYS = ("dataset", "dataset_path", "train_dataset", "data_path", "dataset_dir")


@dataclass(slots=True)
class RunDir:
    """What one directory holds: any of synthesis parquet files, a training run, an evaluation run."""

    path: Path
    parquets: list[Path] = field(default_factory=list)
    metrics: Path | None = None
    rollouts: list[Path] = field(default_factory=list)
    summaries: list[Path] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        kinds = []
        if self.parquets:
            kinds.append("synth")
        if self.metrics or self.rollouts:
            kinds.append("train")
        if self.summaries:
            kinds.append("eval")
        return kinds


@dataclass(slots=True)
class Sample:
    """One question of a dataset, ready to draw: image, text, GT scene (stated frame) and optional 3D facts."""

    image_id: str
    image: Image.Image | None
    question: str
    answer: str
    category: str
    level: str
    scene: SceneGraph | None
    frame_size: tuple[float, float] | None
    scene_3d: dict[str, Any] | None
    source: str


def is_stvqa_parquet(path: Path) -> bool:
    """True when the parquet's schema has the STVQA columns the viewer needs."""
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except (OSError, ValueError) as error:  # pyarrow raises ArrowInvalid (a ValueError) on non-parquet files
        logger.warning("%s: not readable as parquet (%s)", path, error)
        return False
    return all(column in names for column in REQUIRED_COLUMNS)


def is_eval_summary(path: Path) -> bool:
    """True for an evaluation's ``summary.json`` (other areas write files of that name too, e.g. synthesis counts)."""
    try:
        value = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return False
    return isinstance(value, dict) and "benchmark" in value and ("accuracy" in value or "official" in value)


def inspect_dir(path: Path) -> RunDir:
    """Classify one directory by its immediate contents (plus ``rollouts/`` and ``config.json``)."""
    run = RunDir(path=path)
    run.parquets = sorted(p for p in path.glob("*.parquet") if is_stvqa_parquet(p))
    metrics = path / "metrics.jsonl"
    run.metrics = metrics if metrics.is_file() else None
    run.rollouts = sorted((path / "rollouts").glob("*.jsonl")) if (path / "rollouts").is_dir() else []
    run.summaries = sorted(p for p in [path / "summary.json"] if p.is_file() and is_eval_summary(p))
    config = path / "config.json"
    if config.is_file():
        try:
            loaded = orjson.loads(config.read_bytes())
            run.config = loaded if isinstance(loaded, dict) else {}
        except orjson.JSONDecodeError:
            logger.warning("%s: not JSON, ignored", config)
    return run


def discover(paths: list[Path], depth: int = 3) -> list[RunDir]:
    """Every directory under ``paths`` (down to ``depth`` levels) that holds something the report can show."""
    found: list[RunDir] = []
    seen: set[Path] = set()

    def visit(path: Path, level: int) -> None:
        resolved = path.resolve()
        if resolved in seen or not path.is_dir():
            return
        seen.add(resolved)
        run = inspect_dir(path)
        if run.kinds:
            found.append(run)
        if level < depth:
            for child in sorted(p for p in path.iterdir() if p.is_dir() and p.name not in SKIP_DIRS
                                and not p.name.startswith((".", "checkpoint"))):
                visit(child, level + 1)

    for path in paths:
        if not path.is_dir():
            raise FileNotFoundError(f"not a directory: {path}")
        visit(path, 0)
    return found


def decode_image(value: Any) -> Image.Image | None:
    """A PIL image from an HF ``Image`` struct (``{"bytes", "path"}``), raw bytes or a path; None if unreadable."""
    try:
        return open_image(value).convert("RGB")
    except (ValueError, FileNotFoundError):
        return None  # no image in the record, or a path that is not there: shown without an image
    except (OSError, UnidentifiedImageError) as error:
        logger.warning("could not decode an image: %s", error)
    return None


def read_rows(path: Path, limit: int, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` rows of a parquet file as dicts (reads one batch, not the whole file)."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    wanted = None if columns is None else [c for c in columns if c in parquet.schema_arrow.names]
    for batch in parquet.iter_batches(batch_size=max(1, limit), columns=wanted):
        return batch.to_pylist()[:limit]
    return []


def _sample(row: dict[str, Any], source: str) -> Sample:
    scene, _ = parse_ground_truth(row.get("answer_option_text") or "")
    image = decode_image(row.get("images"))
    frame = parse_image_size(row.get("problem") or "") or (image.size if image else None)
    scene_3d = row.get("scene_3d")
    if isinstance(scene_3d, (str, bytes)):
        try:
            scene_3d = orjson.loads(scene_3d)
        except orjson.JSONDecodeError:
            scene_3d = None
    return Sample(
        image_id=str(row.get("image_id", "")),
        image=image,
        question=str(row.get("question_with_options") or row.get("question_only") or ""),
        answer=str(row.get("answer_option_text_only") or row.get("answer_only") or ""),
        category=str(row.get("category") or ""),
        level=str(row.get("level") or ""),
        scene=scene,
        frame_size=frame,
        scene_3d=scene_3d if isinstance(scene_3d, dict) else None,
        source=source,
    )


def load_samples(parquet: Path, limit: int) -> list[Sample]:
    """Up to ``limit`` samples of a dataset, preferring one per category so the section shows the variety."""
    columns = list(STVQA_COLUMNS) + ["scene_3d"]
    rows = read_rows(parquet, max(limit * 8, 32), columns)
    chosen, seen = [], set()
    for row in rows:  # first pass: one row per category
        if row.get("category") not in seen:
            seen.add(row.get("category"))
            chosen.append(row)
    chosen += [row for row in rows if row not in chosen]
    return [_sample(row, parquet.name) for row in chosen[:limit]]


class ImageResolver:
    """Finds the image of a rollout or evaluation record.

    Records carry an ``image_path`` (absolute, or relative to the run, its parent or the working directory), or
    only an ``image_id``; ids are looked up in the known datasets (the synthesis directories in the report and the
    dataset named in a training run's ``config.json``). A record whose image can't be found is shown without one.
    """

    def __init__(self, datasets: list[Path]) -> None:
        self.datasets = [p for p in dict.fromkeys(datasets) if p.is_file()]
        self._cache: dict[str, Image.Image | None] = {}

    def resolve(self, record: dict[str, Any], base: Path) -> Image.Image | None:
        for key in IMAGE_PATH_KEYS:
            value = record.get(key)
            if isinstance(value, dict):
                found = decode_image(value)
                if found is not None:
                    return found
                value = value.get("path")
            if isinstance(value, list) and value:
                value = value[0]
            if isinstance(value, str) and value:
                for candidate in (Path(value), base / value, base.parent / value):
                    if candidate.is_file():
                        return decode_image(str(candidate))
        image_id = record.get("image_id")
        return self.by_id(str(image_id)) if image_id is not None else None

    def by_id(self, image_id: str) -> Image.Image | None:
        if image_id not in self._cache:
            self._cache[image_id] = self._search(image_id)
        return self._cache[image_id]

    def _search(self, image_id: str) -> Image.Image | None:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        for dataset in self.datasets:
            table = pq.read_table(dataset, columns=["image_id"])
            matches = pc.indices_nonzero(pc.equal(table["image_id"].cast("string"), image_id)).to_pylist()
            if matches:
                row = pq.read_table(dataset, columns=["images"]).slice(matches[0], 1).to_pylist()[0]
                return decode_image(row.get("images"))
        return None


def dataset_paths(config: dict[str, Any], base: Path) -> list[Path]:
    """Parquet files named by a training config (a file, or a directory holding ``*.parquet``)."""
    found: list[Path] = []
    for key in DATASET_KEYS:
        value = config.get(key)
        if not isinstance(value, str):
            continue
        for path in (Path(value), base / value, base.parent / value):
            if path.is_file() and path.suffix == ".parquet":
                found.append(path)
            elif path.is_dir():
                found.extend(sorted(path.glob("*.parquet")))
    return found
