"""``vllm`` backend (optional dependency): greedy generation through ``vllm.LLM.chat`` with images."""

from __future__ import annotations

import base64
import io
from typing import Any

from spatialthinker.eval.backends.base import BackendSettings, GenerationRequest


def image_data_url(image: Any) -> str:
    """PNG data URL of a PIL image: the form OpenAI-style chat messages (vLLM and HTTP servers) accept."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def chat_messages(request: GenerationRequest) -> list[dict[str, Any]]:
    """One user message: the images first, then the prompt (the order our transformers backend uses)."""
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": image_data_url(i)}} for i in request.images]
    content.append({"type": "text", "text": request.prompt})
    return [{"role": "user", "content": content}]


class VLLMBackend:
    """Offline vLLM engine; temperature 0 (greedy). ``options`` are passed to ``vllm.LLM`` (e.g. tensor_parallel_size)."""

    name = "vllm"

    def __init__(self, settings: BackendSettings) -> None:
        try:
            from vllm import LLM
        except ImportError as error:
            raise ImportError("the vllm backend needs vLLM: pip install vllm (on a CUDA machine).") from error
        self.settings = settings
        self.llm = LLM(model=settings.model, dtype=settings.dtype, limit_mm_per_prompt={"image": 4},
                       **{k: v for k, v in settings.options.items() if k != "backoff_s"})  # backoff is HTTP-only

    def generate(self, requests: list[GenerationRequest]) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(temperature=0.0, max_tokens=max((r.max_new_tokens for r in requests), default=1))
        results = self.llm.chat([chat_messages(r) for r in requests], params, use_tqdm=False)
        return [result.outputs[0].text if result.outputs else "" for result in results]

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.settings.model, "decoding": "greedy (temperature 0)"}
