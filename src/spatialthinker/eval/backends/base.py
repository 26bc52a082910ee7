"""The backend contract: requests in, one output per request out, in the same order.

An output is the model's text, or a ``GenerationFailure`` when the backend could not get one (an HTTP 401 or
500 after its retries, an id missing from a replay file). A failure is never an answer: the runner records it as
an error, leaves it out of every score, marks the run incomplete and asks for it again on the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class GenerationRequest:
    """One prompt to complete. ``images`` are PIL images, in the order they appear in the chat message."""

    item_id: str
    prompt: str
    images: list[Any] = field(default_factory=list)
    max_new_tokens: int = 2048
    benchmark: str = ""  # lets replay tell apart equal item ids of different benchmarks


@dataclass(frozen=True, slots=True)
class GenerationFailure:
    """No output for a request, and why (shown in items.jsonl ``error`` and in the summary)."""

    message: str


@dataclass(slots=True)
class BackendSettings:
    """What every backend may need; each reads only its own fields.

    ``model`` is a checkpoint path or hub id (transformers, vLLM), a served model name (openai), a JSONL path
    (replay) or a dummy mode (``fixed:TEXT``, ``echo``). Decoding is always greedy: published numbers are greedy
    and the reference's API backends silently sampled at the provider default temperature.
    """

    model: str
    batch_size: int = 8
    dtype: str = "auto"
    device: str | None = None
    api_base: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 4
    retries: int = 4
    timeout_s: float = 120.0
    options: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """A registered backend: built once per run from ``BackendSettings``."""

    name: str

    def generate(self, requests: list[GenerationRequest]) -> list[str | GenerationFailure]:
        """One output per request, same order. A request that fails gives a ``GenerationFailure``, never ``""``
        and never an exception that loses the rest of the batch (an exception fails the whole batch)."""

    def describe(self) -> dict[str, Any]:
        """Settings recorded in summary.json (model, decoding)."""


def create_backend(name: str, settings: BackendSettings) -> Backend:
    """Build the backend registered as ``name`` (``transformers``, ``vllm``, ``openai``, ``replay``, ``dummy``)."""
    from spatialthinker.eval.registry import BACKENDS

    return BACKENDS.get(name)(settings)
