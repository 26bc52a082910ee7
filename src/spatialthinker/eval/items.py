"""The one item model every benchmark is mapped into, and the per-item result written to ``items.jsonl``."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from typing import Any

from spatialthinker.images import open_image

#: Bumped when the layout of a line in ``items.jsonl`` changes; the report/viewer code reads it.
RECORD_SCHEMA_VERSION = 2


@dataclass(slots=True)
class EvalItem:
    """One benchmark question after column mapping.

    ``answer`` is the option letter (``"B"``) when ``choices`` is non-empty; for open questions (SpatialBench's
    numeric items, RealWorldQA's free answers) ``choices`` is empty and ``answer`` is the reference text.
    ``images`` holds PIL images or encoded bytes: bytes stay undecoded until a backend needs pixels, which keeps
    loading a 2,600-item benchmark cheap. ``extra`` carries benchmark-specific fields (GT scene, pair id, variant).

    Example:
        >>> item = EvalItem("0", [], "Is the cup left of the plate?", ("left", "right"), "A", "relation")
        >>> item.answer_text
        'left'
    """

    id: str
    images: list[Any]
    question: str
    choices: tuple[str, ...]
    answer: str
    category: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answer_text(self) -> str:
        """Text of the correct option (the answer itself for open questions)."""
        if self.choices and len(self.answer) == 1 and "A" <= self.answer <= "Z":
            index = ord(self.answer) - ord("A")
            if index < len(self.choices):
                return self.choices[index]
        return self.answer

    def pil_images(self) -> list[Any]:
        """The images as RGB PIL images (decoding bytes on demand)."""
        return [to_pil(image) for image in self.images]

    def image_size(self) -> tuple[int, int]:
        """(W, H) of the first image, stated in the prompt; (0, 0) for text-only items."""
        if not self.images:
            return (0, 0)
        image = self.images[0]
        if isinstance(image, (bytes, bytearray)):
            from PIL import Image

            with Image.open(io.BytesIO(image)) as opened:  # reads the header only
                return opened.size
        return to_pil(image).size


def to_pil(image: Any) -> Any:
    """RGB PIL image from a PIL image, encoded bytes, an HF ``{"bytes", "path"}`` dict or a file path."""
    opened = open_image(image)
    return opened if opened.mode == "RGB" else opened.convert("RGB")


@dataclass(slots=True)
class ItemRecord:
    """One scored item: a line of ``items.jsonl``. Everything a report or viewer needs, nothing re-parsed later.

    ``primary`` is False for the extra variants of circular scoring (rotated options, 3DSRBench's flipped
    questions); plain accuracy counts primary records only. A record with ``error`` holds no answer at all and is
    left out of every score.
    """

    id: str
    benchmark: str
    prompt_mode: str
    prompt_style: str
    category: str
    question: str
    choices: list[str]
    answer: str
    output: str
    extracted: str | None
    correct: bool
    parse_failed: bool
    primary: bool = True
    group_id: str | None = None  # base item of a circular variant, or the MMVP pair
    tags: dict[str, str] = field(default_factory=dict)  # extra grouping fields (CV-Bench source, STVQA level)
    scene: dict[str, Any] | None = None  # scene-graph quality of this output, when measurable
    error: str | None = None  # the backend failed on this item after its retries: not scored, retried next run
    item_hash: str = ""  # content hash of the item (question, options, answer, images) this output answers
    schema_version: int = RECORD_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemRecord:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)
