"""The scene-graph synthesis pipeline: read a source, match images, generate, curate, export, write stats.

One function (``synthesize``) so the CLI handler stays a few lines and tests can run the same path in-process.
Everything is ordered by the source files and keyed by stable hashes, so the same input and seed give
byte-identical outputs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from spatialthinker.data.cooccurrence import Cooccurrence
from spatialthinker.data.curation import CurationConfig, curate
from spatialthinker.data.generators import generate_items_with_stats
from spatialthinker.data.quality import CHECKS, gate
from spatialthinker.data.readers import READERS
from spatialthinker.data.records import AnnotatedImage, QAItem

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg")


@dataclass
class SynthConfig:
    """Inputs and options of ``spatialthinker synth scene-graphs``.

    Parameters:
        source (`str`): ``vg``, ``vg150`` or ``gqa``.
        input_dir (`str`): Annotation directory (or file for vg150/gqa).
        images_dir (`str`): Directory of ``{image_id}.jpg`` / ``.png`` images.
        out_dir (`str`): Output directory (train/val parquet, stats.json, config.json).
        seed (`int`, defaults to `0`): Seed of phrasing, option order, split and tie-breaks.
        per_image (`int | None`): At most this many questions per image.
        curation (`CurationConfig`): Balancing, target size and split.
        verl (`bool`, defaults to `False`): Also write ``{split}_verl.parquet``.
        limit (`int | None`): Read at most this many images (smoke tests).
        llm (`llm.LLMConfig | None`): Optional LLM generation + pass@k judge stage (checkpoint in ``out_dir``).
    """

    source: str = field(metadata={"help": "vg | vg150 | gqa"})
    input_dir: str = field(metadata={"help": "Annotation directory or file."})
    images_dir: str = field(metadata={"help": "Directory of {image_id}.jpg/.png images."})
    out_dir: str = field(metadata={"help": "Output directory."})
    seed: int = field(default=0, metadata={"help": "Seed of everything random."})
    per_image: int | None = field(default=None, metadata={"help": "Max questions per image."})
    curation: CurationConfig = field(default_factory=CurationConfig, metadata={"help": "Balancing and split."})
    verl: bool = field(default=False, metadata={"help": "Also write the veRL format."})
    limit: int | None = field(default=None, metadata={"help": "Max images to read."})
    llm: Any = field(default=None, metadata={"help": "llm.LLMConfig enabling the optional LLM stage, or None."})

    def __post_init__(self) -> None:
        if self.source not in READERS:
            raise ValueError(f"source must be one of {sorted(READERS)}, got {self.source!r}.")
        if self.per_image is not None and self.per_image < 1:
            raise ValueError(f"per_image must be >= 1 or None, got {self.per_image}.")
        if not Path(self.images_dir).is_dir():
            raise ValueError(f"images directory {self.images_dir!r} does not exist.")
        self.curation = replace(self.curation, seed=self.seed)


@dataclass
class SynthSummary:
    """What a run did: counts, skip reasons and output files."""

    images_read: int = 0
    images_missing: int = 0
    images_rescaled: int = 0
    items_generated: int = 0
    train: int = 0
    val: int = 0
    files: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def find_image(images_dir: Path, image_id: str) -> Path | None:
    """``DIR/{image_id}.jpg`` (or .png/.jpeg), else None."""
    for suffix in IMAGE_SUFFIXES:
        path = images_dir / f"{image_id}{suffix}"
        if path.is_file():
            return path
    return None


def rescale(image: AnnotatedImage, width: int, height: int) -> AnnotatedImage:
    """The same graph in the pixel frame of a stored image of another size (VG ships resized copies)."""
    sx, sy = width / image.width, height / image.height
    objects = [replace(o, bbox=(round(o.bbox[0] * sx, 2), round(o.bbox[1] * sy, 2), round(o.bbox[2] * sx, 2),
                                round(o.bbox[3] * sy, 2))) for o in image.objects]
    return replace(image, width=width, height=height, objects=objects)


class NoImagesError(ValueError):
    """No annotated image has a readable image file: nothing can be synthesised."""


def _stored_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as stored:  # reads the header only
            return stored.size
    except OSError:
        return None


def _read_images(config: SynthConfig, summary: SynthSummary) -> list[tuple[AnnotatedImage, Path | None]]:
    """Every annotated image with its stored file (None when missing or unreadable), in source order.

    VG images that ``image_data.json`` does not list take their size from the stored file's header.
    """
    images_dir = Path(config.images_dir)
    reader = READERS[config.source]
    if config.source == "vg":
        def size_of(image_id: str) -> tuple[int, int] | None:
            path = find_image(images_dir, image_id)
            return _stored_size(path) if path is not None else None

        source = reader(config.input_dir, size_of=size_of)
    else:
        source = reader(config.input_dir)
    out: list[tuple[AnnotatedImage, Path | None]] = []
    for image in source:
        if config.limit is not None and len(out) >= config.limit:
            break
        out.append((image, find_image(images_dir, image.image_id)))
    return out


def _matched_images(images: list[tuple[AnnotatedImage, Path | None]],
                    summary: SynthSummary) -> Iterator[tuple[AnnotatedImage, Path]]:
    for image, path in images:
        size = _stored_size(path) if path is not None else None
        if size is None:
            summary.images_missing += 1
            continue
        summary.images_read += 1
        if size != (image.width, image.height):
            summary.images_rescaled += 1
            image = rescale(image, *size)
        yield image, path


def synthesize(config: SynthConfig, progress: bool = False) -> SynthSummary:
    """Run the pipeline and write ``train.parquet``, ``val.parquet``, ``stats.json`` and ``config.json``."""
    from tqdm.auto import tqdm

    from spatialthinker.data.export import item_rows, write_rows

    summary = SynthSummary()
    items: list[QAItem] = []
    skipped: Counter = Counter()
    rejects: Counter = Counter()
    paths: dict[str, Path] = {}
    matched: list[tuple[AnnotatedImage, Path]] = []
    annotated = _read_images(config, summary)
    # Plausible absent classes come from the whole input corpus, so it is read before anything is generated.
    cooccurrence = Cooccurrence.from_images(image for image, _ in annotated)
    objects = {"dropped": Counter(), "merged": Counter()}
    for image, _ in annotated:
        objects["dropped"].update(entry.split(":", 1)[0] for entry in image.dropped)
        objects["merged"].update(image.merged)
    for image, path in tqdm(_matched_images(annotated, summary), total=len(annotated), desc="scene graphs",
                            unit="img", disable=not progress):
        new_items, new_skipped = generate_items_with_stats(image, config.seed, config.per_image,
                                                           cooccurrence=cooccurrence)
        items.extend(gate(new_items, image, rejects))
        skipped.update(new_skipped)
        paths[image.image_id] = path
        if config.llm is not None:
            matched.append((image, path))
    if summary.images_read == 0:
        raise NoImagesError(
            f"no image could be read: {len(annotated)} annotated images, none found as "
            f"{Path(config.images_dir) / '<image_id>'}{{{','.join(IMAGE_SUFFIXES)}}} (or unreadable); "
            f"check --images (first expected: {annotated[0][0].image_id if annotated else 'none'})")
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    llm_stats = None
    if config.llm is not None:
        from spatialthinker.data.llm import run_llm_stage

        llm_items, llm_stats = run_llm_stage(matched, items, config.llm, out / "llm_checkpoint.jsonl",
                                             config.seed, progress)
        by_id = {image.image_id: image for image, _ in matched}
        items.extend(item for item in llm_items if gate([item], by_id[item.image_id], rejects))
    summary.items_generated = len(items)
    curated = curate(items, config.curation, skipped)
    if llm_stats is not None:
        curated.stats["llm"] = llm_stats
    for split, split_items in (("train", curated.train), ("val", curated.val)):
        rows = item_rows(split_items, paths)
        summary.files.append(str(write_rows(rows, out / f"{split}.parquet")))
        if config.verl:
            from spatialthinker.data.verl_export import write_verl

            summary.files.append(str(write_verl(rows, out / f"{split}_verl.parquet", f"spatialthinker/{config.source}")))
    summary.train, summary.val = len(curated.train), len(curated.val)
    curated.stats["images"] = {"read": summary.images_read, "missing": summary.images_missing,
                               "rescaled": summary.images_rescaled}
    curated.stats["items_generated"] = summary.items_generated
    checked = rejects.pop("checked", 0)
    curated.stats["gate"] = {"checked": checked, "passed": summary.items_generated,
                             "rejected": {name: rejects.get(name, 0) for name in CHECKS}}
    curated.stats["objects"] = {kind: dict(sorted(counts.items())) for kind, counts in objects.items()}
    summary.stats = curated.stats
    _write_json(out / "stats.json", curated.stats)
    _write_json(out / "config.json", asdict(config))
    summary.files += [str(out / "stats.json"), str(out / "config.json")]
    logger.info("synthesised %d train / %d val items from %d images (%d missing)", summary.train, summary.val,
                summary.images_read, summary.images_missing)
    return summary


def _write_json(path: Path, data: Any) -> None:
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
