"""``openai`` backend: any OpenAI-compatible chat-completions server, over the standard library's urllib.

Temperature is always sent as 0 (greedy), requests are retried with exponential backoff on 429/5xx and network
errors, and at most ``concurrency`` requests are in flight (thread pool), so a rate-limited API is not flooded.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from spatialthinker.eval.backends.base import BackendSettings, GenerationFailure, GenerationRequest
from spatialthinker.eval.backends.vllm import chat_messages
from spatialthinker.llm_client import ChatClient, LLMError

logger = logging.getLogger(__name__)


class OpenAIBackend:
    """``model`` is the served model name; ``api_base`` (or ``$OPENAI_BASE_URL``) the server's ``/v1`` URL."""

    name = "openai"

    def __init__(self, settings: BackendSettings) -> None:
        base = settings.api_base or os.environ.get("OPENAI_BASE_URL")
        if not base:
            raise ValueError("openai backend: pass --api-base http://host:port/v1 (or set OPENAI_BASE_URL).")
        self.settings = settings
        self.client = ChatClient(base, settings.api_key_env, settings.timeout_s, settings.retries,
                                 float(settings.options.get("backoff_s", 1.0)))
        self.url = self.client.url

    def _post(self, request: GenerationRequest) -> str | GenerationFailure:
        """One item's output; a request that still fails after the client's retries (with backoff) is a failure,
        recorded as an error, never an empty answer scored wrong."""
        try:
            return self.client.chat(self.settings.model, chat_messages(request), temperature=0,
                                    max_tokens=request.max_new_tokens)
        except LLMError as error:
            logger.error("openai: item %s: %s", request.item_id, error)
            return GenerationFailure(str(error))

    def generate(self, requests: list[GenerationRequest]) -> list[str | GenerationFailure]:
        with ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency)) as pool:
            return list(pool.map(self._post, requests))

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.settings.model, "url": self.url, "temperature": 0,
                "concurrency": self.settings.concurrency, "retries": self.settings.retries}
