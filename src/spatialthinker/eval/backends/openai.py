"""``openai`` backend: any OpenAI-compatible chat-completions server, over the standard library's urllib.

Temperature is always sent as 0 (greedy), requests are retried with exponential backoff on 429/5xx and network
errors, and at most ``concurrency`` requests are in flight (thread pool), so a rate-limited API is not flooded.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from spatialthinker.eval.backends.base import BackendSettings, GenerationRequest
from spatialthinker.eval.backends.vllm import chat_messages

logger = logging.getLogger(__name__)

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIBackend:
    """``model`` is the served model name; ``api_base`` (or ``$OPENAI_BASE_URL``) the server's ``/v1`` URL."""

    name = "openai"

    def __init__(self, settings: BackendSettings) -> None:
        base = settings.api_base or os.environ.get("OPENAI_BASE_URL")
        if not base:
            raise ValueError("openai backend: pass --api-base http://host:port/v1 (or set OPENAI_BASE_URL).")
        self.url = base.rstrip("/") + "/chat/completions"
        self.settings = settings
        self.api_key = os.environ.get(settings.api_key_env, "")
        self.backoff_s = float(settings.options.get("backoff_s", 1.0))

    def _payload(self, request: GenerationRequest) -> bytes:
        return json.dumps({"model": self.settings.model, "messages": chat_messages(request),
                           "temperature": 0, "max_tokens": request.max_new_tokens}).encode("utf-8")

    def _post(self, request: GenerationRequest) -> str:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = self._payload(request)
        for attempt in range(self.settings.retries + 1):
            try:
                http = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(http, timeout=self.settings.timeout_s) as response:
                    body = json.loads(response.read().decode("utf-8"))
                return str(body["choices"][0]["message"].get("content") or "")
            except urllib.error.HTTPError as error:
                if error.code not in _RETRY_STATUS:
                    logger.error("openai: item %s failed with HTTP %s: %s", request.item_id, error.code, error.reason)
                    return ""
                reason = f"HTTP {error.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                reason = type(error).__name__
            except (KeyError, IndexError, ValueError) as error:  # a 200 with a body we cannot read
                logger.error("openai: item %s: malformed response (%s)", request.item_id, error)
                return ""
            if attempt < self.settings.retries:
                delay = self.backoff_s * 2**attempt
                logger.warning("openai: item %s: %s, retry %d in %.1fs", request.item_id, reason, attempt + 1, delay)
                time.sleep(delay)
        logger.error("openai: item %s: giving up after %d attempts", request.item_id, self.settings.retries + 1)
        return ""

    def generate(self, requests: list[GenerationRequest]) -> list[str]:
        with ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency)) as pool:
            return list(pool.map(self._post, requests))

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.settings.model, "url": self.url, "temperature": 0,
                "concurrency": self.settings.concurrency, "retries": self.settings.retries}
