"""Backends that need no model: ``replay`` scores outputs produced elsewhere; ``dummy`` exercises the pipeline."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from spatialthinker.eval.backends.base import BackendSettings, GenerationFailure, GenerationRequest

logger = logging.getLogger(__name__)


class ReplayBackend:
    """Outputs looked up by item id in a JSONL of ``{"id": ..., "output": ...}`` lines (``model`` = its path).

    Lines may also name their ``"benchmark"``: ids are only unique within a benchmark (CV-Bench and STVQA both
    have an item "0"), so a file covering several benchmarks must say which one each line belongs to.

    Lets a run score generations from a cluster job or another harness with our extraction and metrics. An id
    missing from the file is a ``GenerationFailure`` (an error, not a wrong answer): the run stays incomplete.
    """

    name = "replay"

    def __init__(self, settings: BackendSettings) -> None:
        path = Path(settings.model)
        if not path.is_file():
            raise FileNotFoundError(f"replay backend: --model must be a JSONL file of id/output lines; {path} is not a file.")
        self.path = path
        self.outputs: dict[tuple[str, str], str] = {}
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if "id" not in record or "output" not in record:
                    raise ValueError(f"{path}:{number}: each line needs 'id' and 'output' keys, got {sorted(record)}.")
                self.outputs[(str(record.get("benchmark", "")), str(record["id"]))] = str(record["output"])
        self.missing = 0

    def generate(self, requests: list[GenerationRequest]) -> list[str | GenerationFailure]:
        outputs: list[str | GenerationFailure] = []
        for request in requests:
            output = self.outputs.get((request.benchmark, request.item_id), self.outputs.get(("", request.item_id)))
            if output is None:
                self.missing += 1
                logger.warning("replay: no output for %s item %s in %s", request.benchmark, request.item_id, self.path)
                outputs.append(GenerationFailure(f"no output for item {request.item_id!r} in {self.path}"))
            else:
                outputs.append(output)
        return outputs

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": str(self.path), "outputs": len(self.outputs)}


class DummyBackend:
    """Fixed or echoed outputs, so the whole pipeline runs with no weights (lm-eval's ``dummy`` model).

    ``model`` is ``fixed:<text>`` (every output is ``<text>``) or ``echo`` (the output repeats the prompt, which
    shows exactly what a model would have seen).
    """

    name = "dummy"

    def __init__(self, settings: BackendSettings) -> None:
        mode, _, text = settings.model.partition(":")
        if mode not in ("fixed", "echo"):
            raise ValueError(f"dummy backend: --model must be 'fixed:<text>' or 'echo', got {settings.model!r}.")
        self.mode, self.text = mode, text

    def generate(self, requests: list[GenerationRequest]) -> list[str]:
        return [self.text if self.mode == "fixed" else r.prompt for r in requests]

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": f"dummy:{self.mode}", "text": self.text}
