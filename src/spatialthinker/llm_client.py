"""A small client for OpenAI-compatible ``/chat/completions`` endpoints (stdlib ``urllib`` only).

Shared by the data pipeline's optional LLM stage and the evaluation harness's ``openai`` backend, so both retry,
back off and treat the API key the same way: the key is read from an environment variable and never logged.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

logger = logging.getLogger(__name__)

#: Statuses worth retrying: timeouts, conflicts, rate limits and server errors. Other 4xx will not get better.
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class LLMError(RuntimeError):
    """The endpoint refused the request or kept failing after all retries."""


class ChatClient:
    """Chat-completions calls with exponential backoff and call counts (``calls``: requests, ok, retries, failed).

    Example:
        >>> client = ChatClient("http://127.0.0.1:8000/v1", max_retries=0)
        >>> client.url
        'http://127.0.0.1:8000/v1/chat/completions'
    """

    def __init__(self, base_url: str, api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 60.0,
                 max_retries: int = 5, backoff_s: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._key = os.environ.get(api_key_env, "")
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        self.calls: Counter[str] = Counter()

    def chat(self, model: str, messages: list[dict[str, Any]], temperature: float,
             max_tokens: int | None = None) -> str:
        """The first choice's text. Temperature is always sent: an unset one is the server's default, not greedy.

        Raises:
            LLMError: on a non-retryable HTTP status, or when every attempt failed.
        """
        payload: dict[str, Any] = {"model": model, "messages": messages, "temperature": temperature}
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        body = orjson.dumps(payload)
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        reason = "no attempt"
        for attempt in range(self.max_retries + 1):
            self.calls["requests"] += 1
            try:
                request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    reply = orjson.loads(response.read())
                text = reply["choices"][0]["message"].get("content") or ""
                self.calls["ok"] += 1
                return str(text)
            except urllib.error.HTTPError as error:
                if error.code not in RETRY_STATUS:
                    self.calls["failed"] += 1
                    raise LLMError(f"{self.url}: HTTP {error.code} (not retried)") from None
                reason = f"HTTP {error.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, orjson.JSONDecodeError, KeyError,
                    IndexError, TypeError, AttributeError) as error:
                reason = type(error).__name__
            if attempt < self.max_retries:
                self.calls["retries"] += 1
                delay = self.backoff_s * 2**attempt
                logger.warning("%s: %s; retry %d in %.1fs", self.url, reason, attempt + 1, delay)
                self._sleep(delay)
        self.calls["failed"] += 1
        raise LLMError(f"{self.url}: failed after {self.max_retries + 1} attempts ({reason})")
