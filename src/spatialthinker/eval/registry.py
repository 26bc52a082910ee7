"""Benchmark entries (read from ``benchmarks/*.yaml``) and the name registries of the evaluation harness.

A benchmark is data, not code: each YAML entry names its dataset, column mapping, answer format, prompt style,
generation settings, extractor and aggregates. The few rules YAML cannot state (circular scoring, pair accuracy,
options embedded in the question text) are small named functions registered here by lazy ``module:attr`` strings,
so importing this module imports neither torch nor the functions' modules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from spatialthinker.registry import Registry

logger = logging.getLogger(__name__)

#: Prompt modes of the issue -> prompt styles of ``spatialthinker.prompts`` (the raw style names work too).
PROMPT_MODES: Registry[str] = Registry("prompt mode")
PROMPT_MODES.register("spatialthinker", "short_eval")  # short evaluation prompt with the real image size
PROMPT_MODES.register("spatialthinker-train", "training")  # the long training prompt
PROMPT_MODES.register("reasoning", "sparse")  # think/answer (sparse-reward baseline)
PROMPT_MODES.register("direct", "direct")
PROMPT_MODES.register("question_only", "question_only")

_E = "spatialthinker.eval"
EXTRACTORS: Registry[Any] = Registry("extractor")
EXTRACTORS.register("choice", f"{_E}.extract:choice_extractor")
EXTRACTORS.register("open", f"{_E}.extract:open_extractor")

ITEM_HOOKS: Registry[Any] = Registry("item hook")
ITEM_HOOKS.register("embedded_choices", f"{_E}.hooks:embedded_choices")
ITEM_HOOKS.register("pair_by_order", f"{_E}.hooks:pair_by_order")
ITEM_HOOKS.register("yes_no_choices", f"{_E}.hooks:yes_no_choices")
ITEM_HOOKS.register("stvqa_scene", f"{_E}.hooks:stvqa_scene")
ITEM_HOOKS.register("mindcube_setting", f"{_E}.hooks:mindcube_setting")
ITEM_HOOKS.register("qid_variant", f"{_E}.hooks:qid_variant")

EXPANDERS: Registry[Any] = Registry("item expander")
EXPANDERS.register("circular", f"{_E}.hooks:expand_circular")

AGGREGATES: Registry[Any] = Registry("aggregate")
AGGREGATES.register("macro_of_groups", f"{_E}.metrics:macro_of_groups")
AGGREGATES.register("macro_of_categories", f"{_E}.metrics:macro_of_categories")
AGGREGATES.register("circular", f"{_E}.metrics:circular_accuracy")
AGGREGATES.register("pairs", f"{_E}.metrics:pair_accuracy")
AGGREGATES.register("all_correct_by", f"{_E}.metrics:all_correct_by")
AGGREGATES.register("qid_variants", f"{_E}.metrics:qid_variant_accuracy")

BACKENDS: Registry[Any] = Registry("backend")
BACKENDS.register("transformers", f"{_E}.backends.hf:TransformersBackend")
BACKENDS.register("vllm", f"{_E}.backends.vllm:VLLMBackend")
BACKENDS.register("openai", f"{_E}.backends.openai:OpenAIBackend")
BACKENDS.register("replay", f"{_E}.backends.simple:ReplayBackend")
BACKENDS.register("dummy", f"{_E}.backends.simple:DummyBackend")

CHOICE_FORMATS = ("list", "columns", "fixed", "none")
ANSWER_FORMATS = ("letter", "index", "text", "binary_yes_no", "open")


@dataclass(slots=True)
class DatasetSpec:
    """Where the rows come from: a hub id with optional configuration, and the split with answers."""

    path: str | None = None  # hub id; None for local-only entries (``--data-path`` required)
    config: str | None = None
    split: str = "test"
    files: list[str] = field(default_factory=list)  # globs naming the split's files in a local copy (MindCube)


@dataclass(slots=True)
class BenchmarkSpec:
    """One benchmark entry. Every field is a YAML key; see docs/evaluation.md for the full reference.

    ``columns`` maps item fields to dataset columns: ``id``, ``images`` (list of columns; missing/None cells are
    dropped, which is how BLINK's image_1..image_4 work), ``question``, ``choices`` (a list column, or a list of
    per-option columns when ``choices_format`` is ``columns``), ``answer``, ``category`` and ``scene``.
    """

    name: str
    version: int
    dataset: DatasetSpec
    columns: dict[str, Any]
    description: str = ""
    official_metric: str = "accuracy"
    choices_format: str = "list"
    fixed_choices: list[str] = field(default_factory=list)
    strip_choice_prefix: bool = False  # "(A) left" -> "left" inside the choices list
    answer_format: str = "letter"
    prompt_style: str = "short_eval"
    generation: dict[str, Any] = field(default_factory=lambda: {"max_new_tokens": 2048, "do_sample": False})
    extractor: str = "choice"
    hooks: list[str] = field(default_factory=list)
    expand: str | None = None
    filter: dict[str, list[str]] = field(default_factory=dict)
    aggregates: list[dict[str, Any]] = field(default_factory=list)
    official: str | None = None  # name of the aggregate that is the official score; None = plain accuracy
    headline: str | None = None  # metric compared with the paper in suite tables; None = the official score
    require_images: bool = False  # drop rows without an image (HallusionBench's image split)
    paper: dict[str, str] = field(default_factory=dict)  # our metric name -> key in paper_numbers.yaml
    source: str = ""
    layout: str = "default"  # name of the layout these fields describe
    layout_source: str = ""  # where that layout was checked (repo/path), shown by `eval ls`
    detect: list[str] = field(default_factory=list)  # columns that identify this layout in a first row
    layouts: list[dict[str, Any]] = field(default_factory=list)  # other published layouts: name, detect, overrides

    def __post_init__(self) -> None:
        if isinstance(self.dataset, dict):
            self.dataset = DatasetSpec(**self.dataset)
        for layout in self.layouts:
            if "name" not in layout or "detect" not in layout:
                raise ValueError(f"{self.name}: every entry of layouts needs 'name' and 'detect' ({self.source}).")
        if self.choices_format not in CHOICE_FORMATS:
            raise ValueError(f"{self.name}: choices_format must be one of {CHOICE_FORMATS}, got {self.choices_format!r}.")
        if self.answer_format not in ANSWER_FORMATS:
            raise ValueError(f"{self.name}: answer_format must be one of {ANSWER_FORMATS}, got {self.answer_format!r}.")
        if self.choices_format == "fixed" and not self.fixed_choices:
            raise ValueError(f"{self.name}: choices_format 'fixed' needs a fixed_choices list.")
        for key in ("question", "answer"):
            if key not in self.columns:
                raise ValueError(f"{self.name}: columns must map {key!r} (from {self.source or 'the entry'}).")
        names = [n for a in self.aggregates for n in [a.get("name"), *a.get("groups", {}), *a.get("provides", [])] if n]
        if self.official is not None and self.official not in names:
            raise ValueError(f"{self.name}: official {self.official!r} is not one of its aggregates {names}.")
        if self.headline is not None and self.headline not in [*names, "accuracy"]:
            raise ValueError(f"{self.name}: headline {self.headline!r} is not 'accuracy' or one of {names}.")

    def validate(self) -> None:
        """Resolve every named component, so a typo fails at start-up rather than after generation."""
        from spatialthinker.prompts import PROMPT_STYLES

        for spec in self.all_layouts():
            PROMPT_STYLES.get(spec.prompt_style)
            EXTRACTORS.get(spec.extractor)
            for hook in spec.hooks:
                ITEM_HOOKS.get(hook)
            if spec.expand:
                EXPANDERS.get(spec.expand)
            for aggregate in spec.aggregates:
                AGGREGATES.get(aggregate["kind"])

    @property
    def image_columns(self) -> list[str]:
        images = self.columns.get("images", [])
        return [images] if isinstance(images, str) else list(images)

    def detect_columns(self) -> list[str]:
        """Columns a row must have to be read with this layout (``detect``, else every mapped column)."""
        if self.detect:
            return list(self.detect)
        needed = [*_as_columns(self.columns.get("question")), *_as_columns(self.columns.get("answer")), *self.image_columns]
        if self.choices_format == "list" and self.columns.get("choices"):
            needed.append(self.columns["choices"])
        if self.choices_format == "columns":
            needed.extend(self.columns["choices"][:2])
        return needed

    def all_layouts(self) -> list[BenchmarkSpec]:
        """This entry and each of its alternative layouts as a complete spec, in the order they are tried."""
        from dataclasses import replace

        specs = [self]
        for layout in self.layouts:
            overrides = {k: v for k, v in layout.items() if k not in ("name", "source")}
            if isinstance(overrides.get("dataset"), dict):
                overrides["dataset"] = replace(self.dataset, **overrides["dataset"])
            specs.append(replace(self, layout=layout["name"], layout_source=layout.get("source", ""), layouts=[],
                                 **overrides))
        return specs

    def for_row(self, row: dict[str, Any]) -> BenchmarkSpec:
        """The first layout (this entry's own, then ``layouts`` in order) whose columns the row has."""
        for spec in self.all_layouts():
            if all(column in row for column in spec.detect_columns()):
                return spec
        wanted = "; ".join(f"{s.layout}: {s.detect_columns()}" for s in self.all_layouts())
        raise LayoutError(f"{self.name}: the data has columns {sorted(row)}, which match none of its layouts ({wanted}). "
                          f"Is --data-path the right dataset and split?")


class LayoutError(ValueError):
    """The rows match none of a benchmark's known layouts; the message lists each layout's columns."""


def _as_columns(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@dataclass(slots=True)
class GroupSpec:
    """A named set of benchmarks whose official score is the mean of the members' official scores (BLINK avg)."""

    name: str
    members: list[str]
    description: str = ""
    paper: dict[str, str] = field(default_factory=dict)
    source: str = ""


BENCHMARKS: Registry[BenchmarkSpec] = Registry("benchmark")
GROUPS: Registry[GroupSpec] = Registry("benchmark group")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _read_entry(directory: Any, filename: str) -> dict[str, Any]:
    """Read one YAML entry, resolving ``include:`` (shared templates such as ``_blink.yaml``)."""
    data = yaml.safe_load(directory.joinpath(filename).read_text(encoding="utf-8")) or {}
    include = data.pop("include", None)
    return _merge(_read_entry(directory, include), data) if include else data


def load_entries() -> None:
    """Register every ``benchmarks/*.yaml`` entry; files starting with ``_`` are templates only."""
    directory = resources.files("spatialthinker.eval").joinpath("benchmarks")
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml") or entry.name.startswith("_"):
            continue
        data = _read_entry(directory, entry.name)
        data["source"] = f"benchmarks/{entry.name}"
        if "members" in data:
            GROUPS.register(data["name"], GroupSpec(**data))
        else:
            BENCHMARKS.register(data["name"], BenchmarkSpec(**data))


load_entries()


def get_benchmark(name: str) -> BenchmarkSpec:
    """The entry called ``name`` (raises with close names and the list of known benchmarks)."""
    return BENCHMARKS.get(name)


def expand_names(names: list[str]) -> tuple[list[str], list[str]]:
    """Split requested names into benchmarks to run (groups expanded, order kept, no repeats) and groups."""
    benchmarks: list[str] = []
    groups: list[str] = []
    for name in names:
        if name in GROUPS:
            inner, inner_groups = expand_names(GROUPS.get(name).members)
            groups.extend(g for g in [*inner_groups, name] if g not in groups)
            members = inner
        else:
            get_benchmark(name)
            members = [name]
        benchmarks.extend(m for m in members if m not in benchmarks)
    return benchmarks, groups


def mode_name(style_or_mode: str) -> str:
    """The prompt-mode name recorded with results (``short_eval`` -> ``spatialthinker``)."""
    if style_or_mode in PROMPT_MODES:
        return style_or_mode
    return next((m for m in PROMPT_MODES if PROMPT_MODES.get(m) == style_or_mode), style_or_mode)


def resolve_prompt_style(mode: str) -> str:
    """Prompt mode (``spatialthinker``) or raw style name (``short_eval``) -> prompt style name."""
    from spatialthinker.prompts import PROMPT_STYLES

    if mode in PROMPT_MODES:
        return PROMPT_MODES.get(mode)
    if mode in PROMPT_STYLES:
        return mode
    PROMPT_MODES.get(mode)  # raises, listing the modes
    raise AssertionError("unreachable")
