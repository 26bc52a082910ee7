"""In-memory records of the data pipeline: an annotated image (any source) and a generated question item.

Readers (Visual Genome, VG150, GQA, the simulator) produce ``AnnotatedImage``; question generators turn one into
``QAItem``s; export writes ``QAItem.to_row()`` as an STVQA row. The ground-truth scene of an item is a
``scene.SceneGraph``, the same type the reward scores, so a generated item trains and scores with no converter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spatialthinker.prompts import (
    format_answer,
    format_ground_truth,
    format_question_with_options,
    letter,
    training_prompt,
)
from spatialthinker.scene import Relation, SceneGraph

CATEGORIES: tuple[str, ...] = (
    "relation", "reach", "size", "orientation", "instance_location", "depth", "distance", "count", "existence",
)
LEVELS: tuple[str, ...] = ("easy", "medium", "hard")

#: The STVQA-7K columns, in order (data.md §1). Exports write exactly these first, then any extras.
STVQA_COLUMNS: tuple[str, ...] = (
    "image_id", "images", "problem", "question_only", "question_with_options", "options", "answer", "answer_only",
    "answer_text", "answer_text_only", "answer_option_text", "answer_option_text_only", "category", "level", "rating",
)


@dataclass(slots=True)
class AnnotatedObject:
    """One annotated object of an image, with optional exact 3D ground truth (simulated scenes only).

    ``id`` is ``label.N`` (unique in the image), ``label`` the clean class name, ``bbox`` xyxy pixels.
    """

    id: str
    label: str
    bbox: tuple[float, float, float, float]
    attributes: tuple[str, ...] = ()
    source_id: str | None = None  # id in the source annotation (VG object_id, GQA key, ...)
    # 3D ground truth (camera frame, metres); None for 2D sources.
    bbox_full: tuple[float, float, float, float] | None = None
    visible_fraction: float | None = None
    center_cam_m: tuple[float, float, float] | None = None
    size_m: tuple[float, float, float] | None = None
    yaw_deg: float | None = None
    depth_m: float | None = None
    #: The annotation named a group or a plural-only noun ("trees", "glasses"): plural agreement, never counted.
    plural: bool = False

    @property
    def name(self) -> str:
        """The noun phrase that names this object in a question: the class label, in the plural for a group."""
        if not self.plural:
            return self.label
        from spatialthinker.data.labels import plural

        return plural(self.label)

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.bbox
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


@dataclass(slots=True)
class AnnotatedImage:
    """One image and its scene graph from any source; relations use object ids and raw predicates."""

    image_id: str
    width: int
    height: int
    objects: list[AnnotatedObject]
    relations: list[Relation] = field(default_factory=list)
    source: str = "unknown"  # vg | vg150 | gqa | sim
    image_path: str | None = None
    camera: dict[str, Any] | None = None  # simulator camera intrinsics/extrinsics
    #: Source objects a reader could not keep, as ``"reason:source_id:label"`` (reasons: ``label_not_id_safe``,
    #: ``outside_image``).
    dropped: list[str] = field(default_factory=list)
    #: Source objects folded into another, by reason (``repeated_id``, ``merged_object_ids``, ``iou_duplicate``), and
    #: labels rewritten (``plural_form``, ``alias_spelling``, ``synset_alias``).
    merged: dict[str, int] = field(default_factory=dict)

    def object(self, object_id: str) -> AnnotatedObject | None:
        return next((o for o in self.objects if o.id == object_id), None)

    def scene_graph(self) -> SceneGraph:
        """The whole-image graph as the shared ``SceneGraph`` type."""
        from spatialthinker.scene import SceneObject

        return SceneGraph(tuple(SceneObject(o.id, o.bbox) for o in self.objects), tuple(self.relations))


@dataclass(slots=True)
class QAItem:
    """A generated multiple-choice question with its ground-truth RoI scene graph.

    ``options`` are already in their final (shuffled) order and ``answer_index`` points into them.
    ``evidence`` records why the graph supports the answer (the rule and the numbers it used).
    """

    image_id: str
    image_size: tuple[int, int]  # (W, H) of the stored image; boxes are in this frame
    question: str
    options: list[str]
    answer_index: int
    category: str
    level: str
    rating: int
    scene: SceneGraph
    evidence: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # extra columns (e.g. scene_3d)
    #: Class labels the question names; the RoI scene holds their instances and nothing else (not exported).
    named: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}, got {self.category!r}")
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")
        if not 2 <= len(self.options) <= 4 or len(set(self.options)) != len(self.options):
            raise ValueError(f"need 2-4 unique options, got {self.options!r}")
        if not 0 <= self.answer_index < len(self.options):
            raise ValueError(f"answer_index {self.answer_index} out of range for {len(self.options)} options")

    @property
    def answer_letter(self) -> str:
        return letter(self.answer_index)

    @property
    def answer_text(self) -> str:
        return self.options[self.answer_index]

    @property
    def ground_truth(self) -> str:
        """``answer_option_text``: the SpatialThinker reward's ground truth."""
        return format_ground_truth(self.scene, self.answer_letter, self.answer_text)

    def to_row(self, image: dict[str, Any] | None = None) -> dict[str, Any]:
        """The STVQA row (data.md §1) plus extra columns. ``image`` is the ``{"bytes", "path"}`` struct."""
        scene_json = self.scene.to_json()
        answer_option = format_answer(self.answer_letter, self.answer_text)
        row: dict[str, Any] = {
            "image_id": str(self.image_id),
            "images": image,
            "problem": training_prompt(self.question, self.options, self.image_size),
            "question_only": self.question,
            "question_with_options": format_question_with_options(self.question, self.options),
            "options": list(self.options),
            "answer": f"<scene>{scene_json}</scene>\n<answer>{self.answer_letter}</answer>",
            "answer_only": self.answer_letter,
            "answer_text": f"<scene>{scene_json}</scene>\n<answer>{self.answer_text}</answer>",
            "answer_text_only": self.answer_text,
            "answer_option_text": self.ground_truth,
            "answer_option_text_only": answer_option,
            "category": self.category,
            "level": self.level,
            "rating": int(self.rating),
        }
        row.update(self.extras)
        return row
