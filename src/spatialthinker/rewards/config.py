"""``RewardConfig``: every weight and switch of the dense spatial reward, validated once at start-up."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOX_METRICS = ("ciou", "iou", "giou")
SPATIAL_AVERAGES = ("gt", "matched")
SIMILARITIES = ("exact", "lemma", "embedding")
ANSWER_MATCHES = ("exact", "option")
_WEIGHT_FIELDS = ("format_weight", "count_weight", "accuracy_weight", "spatial_weight", "relation_weight")


@dataclass(frozen=True)
class RewardConfig:
    """Weights and switches of the dense spatial reward (method.md §4). The defaults reproduce the paper.

    Parameters:
        > Term weights (total = format gate x weighted sum; the maximum is the sum of the weights, kept <= 1)
        format_weight (`float`, defaults to `0.1`): Weight of the format term R_f.
        count_weight (`float`, defaults to `0.2`): Weight of the count term R_c.
        accuracy_weight (`float`, defaults to `0.5`): Weight of the answer term R_a.
        spatial_weight (`float`, defaults to `0.2`):
            Weight of the box term R_s. Paid only when the answer is right: ungated, the policy learned to spam
            boxes and STVQA accuracy collapsed from 74.9% to 23.7% (method.md §4).
        relation_weight (`float`, defaults to `0.0`):
            Opt-in relation term (the reference computes a relation matching and throws it away). Fraction of GT
            relations whose subject and object are matched to predicted objects that carry the same predicate.
            Gated like the spatial term. To use it, lower another weight so the weights still sum to at most 1.
        > Count term
        count_object_share (`float`, defaults to `0.7`):
            λ_obj; the relation share is 1 - λ_obj. The paper's ablation: 0.7/0.3 beat 1.0/0.0 (76.0 vs 74.9).
        > Matching (spatial term)
        lambda_sem (`float`, defaults to `2.0`): Weight of label dissimilarity in the Hungarian cost.
        lambda_box (`float`, defaults to `1.0`): Weight of box dissimilarity in the Hungarian cost.
        box_metric (`str`, defaults to `"ciou"`): `"ciou"` (reference), `"iou"` (paper text) or `"giou"`.
        spatial_average (`str`, defaults to `"gt"`):
            `"gt"`: mean over all GT objects, unmatched ones scoring 0 (reference); `"matched"`: mean over matched
            pairs (paper text).
        similarity (`str`, defaults to `"exact"`):
            Label similarity. `"exact"`: 1 when normalised labels are equal, else 0 (fast, reproducible).
            `"lemma"`: exact after singularising every word and mapping a small synonym table (sofa = couch).
            `"embedding"`: cosine of MiniLM sentence embeddings, needs the `semantic` extra (slow, needs torch).
        max_objects (`int`, defaults to `64`):
            Objects per side that enter matching. A response with 20,000 boxes must not stall a training step;
            the count term still sees the real number, so spam is still penalised there.
        > Answer and format
        answer_match (`str`, defaults to `"exact"`):
            `"exact"`: strip + lower-case, whole `(X) text` (reference). `"option"`: the letter or the exact
            option text, exactly one option named (accepts `B`, `behind`, `(B) behind.`).
        strict_order (`bool`, defaults to `False`): Require observe -> scene -> think -> answer order (paper).
        lenient_ids (`bool`, defaults to `False`): Accept ids with spaces and hyphens (`traffic light.1`).
        gating (`bool`, defaults to `True`):
            Lexicographic gates: everything is multiplied by 1[format], and the spatial (and relation) term by
            1[accuracy = 1]. Turn off only for ablations.

    Note:
        Fields are frozen so that one config can be shared by reward workers and hashed into caches.
    """

    format_weight: float = field(default=0.1, metadata={"help": "Weight of the format term."})
    count_weight: float = field(default=0.2, metadata={"help": "Weight of the object/relation count term."})
    accuracy_weight: float = field(default=0.5, metadata={"help": "Weight of the exact-match answer term."})
    spatial_weight: float = field(default=0.2, metadata={"help": "Weight of the box term (gated on accuracy)."})
    relation_weight: float = field(default=0.0, metadata={"help": "Weight of the opt-in relation term (0 = off)."})
    count_object_share: float = field(default=0.7, metadata={"help": "Object share of the count term; rest is relations."})
    lambda_sem: float = field(default=2.0, metadata={"help": "Label-dissimilarity weight in the matching cost."})
    lambda_box: float = field(default=1.0, metadata={"help": "Box-dissimilarity weight in the matching cost."})
    box_metric: str = field(default="ciou", metadata={"help": "ciou | iou | giou"})
    spatial_average: str = field(default="gt", metadata={"help": "gt (mean over GT objects) | matched (mean over pairs)"})
    similarity: str = field(default="exact", metadata={"help": "exact | lemma | embedding"})
    max_objects: int = field(default=64, metadata={"help": "Objects per side entering matching (count sees all)."})
    answer_match: str = field(default="exact", metadata={"help": "exact | option"})
    strict_order: bool = field(default=False, metadata={"help": "Require observe, scene, think, answer order."})
    lenient_ids: bool = field(default=False, metadata={"help": "Allow spaces and hyphens in object ids."})
    gating: bool = field(default=True, metadata={"help": "Format gate on everything, accuracy gate on spatial."})

    def __post_init__(self) -> None:
        for name in _WEIGHT_FIELDS + ("count_object_share", "lambda_sem", "lambda_box"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
        if self.count_object_share > 1.0:
            raise ValueError(f"count_object_share must be in [0, 1] (relations get the rest), got {self.count_object_share}.")
        total = sum(getattr(self, name) for name in _WEIGHT_FIELDS)
        if total > 1.0 + 1e-9:
            raise ValueError(
                f"The term weights sum to {total:g}, but the reward must stay in [0, 1]. Lower one of "
                f"{', '.join(_WEIGHT_FIELDS)} (e.g. with relation_weight=0.1 use spatial_weight=0.1).")
        if self.lambda_sem == 0 and self.lambda_box == 0:
            raise ValueError("lambda_sem and lambda_box are both 0: the matching cost would be constant. Set one > 0.")
        for name, allowed in (("box_metric", BOX_METRICS), ("spatial_average", SPATIAL_AVERAGES),
                              ("similarity", SIMILARITIES), ("answer_match", ANSWER_MATCHES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}.")
        if isinstance(self.max_objects, bool) or not isinstance(self.max_objects, int) or self.max_objects < 1:
            raise ValueError(f"max_objects must be an integer >= 1 (64 is plenty for STVQA), got {self.max_objects!r}.")
        for name in ("strict_order", "lenient_ids", "gating"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}.")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RewardConfig:
        """Build from a mapping; unknown keys raise ``ValueError`` naming the known ones."""
        if not isinstance(data, dict):
            raise ValueError(f"a reward config must be a mapping of field names to values, got {type(data).__name__}.")
        unknown = sorted(set(data) - set(cls.field_names()))
        if unknown:
            import difflib

            hints = [f"{key!r} (did you mean {difflib.get_close_matches(key, cls.field_names(), n=1)[0]!r}?)"
                     if difflib.get_close_matches(key, cls.field_names(), n=1) else repr(key) for key in unknown]
            raise ValueError(f"unknown RewardConfig key(s): {', '.join(hints)}. Known: {', '.join(cls.field_names())}.")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> RewardConfig:
        """Read a ``.yaml``/``.yml``/``.json`` file of RewardConfig fields (a top-level ``reward:`` key is allowed)."""
        text = Path(path).read_text(encoding="utf-8")
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        if isinstance(data, dict) and set(data) == {"reward"}:
            data = data["reward"]
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
