"""Optional LLM stage: question generation guided by live statistics and pass@k validation by a VLM judge, through
any OpenAI-compatible ``/chat/completions`` endpoint (stdlib ``urllib`` only).

Every call is keyed (``gen:{image}:{slot}``, ``judge:{item}:{attempt}``) and its reply appended to a JSONL
checkpoint (flushed and fsynced) before it is used, so an interrupted run resumes with no item lost or
duplicated: items are rebuilt from the checkpoint in a fixed order. The API key is read from the environment
variable named in the config and never logged or written.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from spatialthinker.data.generators.base import stable_int
from spatialthinker.data.records import CATEGORIES, LEVELS, AnnotatedImage, QAItem
from spatialthinker.data.roi import mentioned_labels, named_subgraph
from spatialthinker.llm_client import ChatClient, LLMError  # noqa: F401  (LLMError is part of this module's API)

logger = logging.getLogger(__name__)
LEVEL_TARGET = {"easy": 0.4, "medium": 0.4, "hard": 0.2}  # data.md §5 step 2


@dataclass
class LLMConfig:
    """The LLM stage.

    Parameters:
        base_url (`str`): OpenAI-compatible base URL (``.../v1``).
        model (`str`): Generation model.
        judge_model (`str | None`): Validation VLM; None uses ``model``.
        api_key_env (`str`, defaults to `"OPENAI_API_KEY"`): Environment variable holding the key.
        k (`int`, defaults to `2`): Judge answers per item; kept when any matches the label.
        temperature (`float`, defaults to `0.0`): Generation temperature.
        judge_temperature (`float`, defaults to `0.7`): Judge temperature (> 0 so k answers can differ).
        per_image (`int`, defaults to `1`): Generated questions per image.
        max_retries (`int`, defaults to `5`): Retries per call (exponential backoff from ``backoff_s``).
        backoff_s (`float`, defaults to `1.0`): First retry delay.
        timeout_s (`float`, defaults to `60.0`): HTTP timeout per call.
    """

    base_url: str = field(metadata={"help": "OpenAI-compatible base URL."})
    model: str = field(metadata={"help": "Generation model."})
    judge_model: str | None = field(default=None, metadata={"help": "Judge model (default: model)."})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "Env var with the API key."})
    k: int = field(default=2, metadata={"help": "Judge answers per item."})
    temperature: float = field(default=0.0, metadata={"help": "Generation temperature."})
    judge_temperature: float = field(default=0.7, metadata={"help": "Judge temperature."})
    per_image: int = field(default=1, metadata={"help": "Generated questions per image."})
    max_retries: int = field(default=5, metadata={"help": "Retries per call."})
    backoff_s: float = field(default=1.0, metadata={"help": "First retry delay in seconds."})
    timeout_s: float = field(default=60.0, metadata={"help": "HTTP timeout per call."})

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("--llm-model is required when --llm-base-url is given.")
        if self.k < 1 or self.per_image < 0 or self.max_retries < 0:
            raise ValueError("k must be >= 1, per_image >= 0 and max_retries >= 0.")


class Checkpoint:
    """Append-only JSONL of ``{"key", "value"}`` records; a torn last line (crash mid-write) is ignored."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.records: dict[str, Any] = {}
        if self.path.is_file():
            for line in self.path.read_bytes().splitlines():
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                self.records[record["key"]] = record["value"]

    def get_or_call(self, key: str, call: Callable[[], Any]) -> Any:
        if key in self.records:
            return self.records[key]
        value = call()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(orjson.dumps({"key": key, "value": value}) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.records[key] = value
        return value


def parse_choice(text: str, options: Sequence[str]) -> str | None:
    """The single option letter a judge's reply names; None when it names none or several (never a default "A").

    The judge is read with the evaluation harness's extractor, so validation and evaluation agree on what counts
    as an answer.

    Example:
        >>> parse_choice("I think it is (B) left.", ["right", "left"]), parse_choice("Hmm, A or B?", ["a", "b"])
        ('B', None)
    """
    from spatialthinker.eval.extract import extract_choice

    return extract_choice(text, options) if isinstance(text, str) else None


def _json_object(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start:end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def generation_messages(image: AnnotatedImage, counts: Counter, levels: Counter) -> list[dict[str, str]]:
    """The generation prompt: graph, image size, live statistics and the most under-represented category/level."""
    wanted = min(CATEGORIES, key=lambda c: (counts[c], CATEGORIES.index(c)))
    total = max(1, sum(levels.values()))
    level = max(LEVELS, key=lambda lv: (LEVEL_TARGET[lv] - levels[lv] / total, -LEVELS.index(lv)))
    graph = {"objects": [{"id": o.id, "bbox": list(o.bbox)} for o in image.objects],
             "relationships": [r.to_dict() for r in image.relations]}
    system = ("You write one multiple-choice spatial question about an image from its scene graph. Use only facts "
              "the graph supports; skip parts, clothing and default-state relations; 2-4 unique options. Reply "
              'with JSON only: {"question", "options", "answer" (letter), "category", "level", "rating" (1-10)}.')
    user = (f"Image size: ({image.width} x {image.height})\nScene graph: {json.dumps(graph)}\n"
            f"Category counts so far: {dict(counts)}; level counts so far: {dict(levels)} "
            f"(target easy/medium/hard 40/40/20).\nWrite a {level} '{wanted}' question "
            f"(categories: {', '.join(CATEGORIES)}).")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def item_from_reply(reply: str, image: AnnotatedImage, seed: int, model: str) -> QAItem | None:
    """Validate a generation reply into a ``QAItem`` (re-shuffled reproducibly); None when invalid.

    Count questions are corrected against the graph: the answer must equal the number of objects of the one
    class the question names, and that number must be an option.
    """
    data = _json_object(reply)
    if data is None:
        return None
    question, options, answer = data.get("question"), data.get("options"), data.get("answer")
    category, level, rating = data.get("category"), data.get("level"), data.get("rating")
    if not (isinstance(question, str) and isinstance(options, list) and 2 <= len(options) <= 4
            and all(isinstance(o, str) and o.strip() for o in options) and len(set(options)) == len(options)
            and category in CATEGORIES and level in LEVELS and isinstance(rating, int) and 1 <= rating <= 10):
        return None
    options = [re.sub(r"^\(?[A-D]\)\s*", "", o).strip() for o in options]
    index = parse_choice(str(answer), options)
    if index is None:
        return None
    answer_index = ord(index) - 65
    if category == "count":
        counted = mentioned_labels(question, {o.label for o in image.objects})
        if len(counted) != 1:
            return None
        true_count = str(sum(o.label in counted for o in image.objects))
        if true_count not in options:
            return None
        answer_index = options.index(true_count)
    named = mentioned_labels(question, {o.label for o in image.objects})
    scene = named_subgraph(named, image)
    if not scene.objects:
        return None
    order = list(range(len(options)))
    random.Random(stable_int(seed, image.image_id, question, "llm")).shuffle(order)
    return QAItem(image.image_id, (image.width, image.height), question, [options[i] for i in order],
                  order.index(answer_index), category, level, rating, scene, {"rule": "llm_generated", "model": model},
                  named=named)


def judge_messages(item: QAItem, image_bytes: bytes) -> list[dict[str, Any]]:
    """Image + question for the judge, asking for the option letter only."""
    from spatialthinker.prompts import format_question_with_options

    url = "data:image/jpeg;base64," + base64.b64encode(image_bytes).decode()
    text = f"{format_question_with_options(item.question, item.options)}\nAnswer with the option letter only."
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": text}]}]


def run_llm_stage(images: Sequence[tuple[AnnotatedImage, Path]], existing: Sequence[QAItem], config: LLMConfig,
                  checkpoint_path: str | Path, seed: int = 0, progress: bool = False,
                  client: ChatClient | None = None) -> tuple[list[QAItem], dict[str, int]]:
    """Generate ``per_image`` questions per image and keep those a judge answers correctly in any of ``k`` tries.

    Returns the kept items (in image order) and counts (calls, retries, generated, invalid, kept, rejected).
    Raises ``LLMError`` when the endpoint keeps failing; rerunning resumes from ``checkpoint_path``.
    """
    from tqdm.auto import tqdm

    client = client or ChatClient(config.base_url, config.api_key_env, config.timeout_s,
                                       config.max_retries, config.backoff_s)
    checkpoint = Checkpoint(checkpoint_path)
    counts = Counter(i.category for i in existing)
    levels = Counter(i.level for i in existing)
    stats: Counter = Counter()
    kept: list[QAItem] = []
    for image, path in tqdm(images, desc="llm", unit="img", disable=not progress):
        for slot in range(config.per_image):
            messages = generation_messages(image, counts, levels)
            reply = checkpoint.get_or_call(f"gen:{image.image_id}:{slot}",
                                           lambda: client.chat(config.model, messages, config.temperature))
            item = item_from_reply(reply, image, seed, config.model)
            stats["generated"] += 1
            if item is None:
                stats["invalid"] += 1
                continue
            if _passes(item, path, config, checkpoint, client):
                item.evidence["judge_k"] = config.k
                kept.append(item)
                counts[item.category] += 1
                levels[item.level] += 1
            else:
                stats["rejected_by_judge"] += 1
    stats["kept"] = len(kept)
    stats.update({f"calls_{k}": v for k, v in client.calls.items()})
    logger.info("LLM stage: %s", dict(stats))
    return kept, dict(sorted(stats.items()))


def _passes(item: QAItem, path: Path, config: LLMConfig, checkpoint: Checkpoint, client: ChatClient) -> bool:
    from spatialthinker.data.export import item_id

    messages = judge_messages(item, path.read_bytes())
    for attempt in range(config.k):
        reply = checkpoint.get_or_call(
            f"judge:{item_id(item)}:{attempt}",
            lambda: client.chat(config.judge_model or config.model, messages, config.judge_temperature))
        if parse_choice(reply, item.options) == item.answer_letter:
            return True
    return False
