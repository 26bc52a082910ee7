"""Backends: OpenAI-compatible client against a local fake server, replay, dummy, vLLM (skipped without it)."""

import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from spatialthinker.eval.backends import BackendSettings, GenerationFailure, GenerationRequest, create_backend

require_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed")


class FakeServer:
    """A chat-completions endpoint on 127.0.0.1 that records payloads, fails the first ``fail_first`` calls with
    503, and tracks the peak number of requests in flight."""

    def __init__(self, fail_first: int = 0, delay_s: float = 0.0, status: int = 503):
        self.payloads, self.calls, self.in_flight, self.peak = [], 0, 0, 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.calls += 1
                    call = server.calls
                    server.in_flight += 1
                    server.peak = max(server.peak, server.in_flight)
                time.sleep(delay_s)
                with server.lock:
                    server.in_flight -= 1
                    server.payloads.append(body)
                if call <= fail_first:
                    self.send_response(status)
                    self.end_headers()
                    return
                text = body["messages"][0]["content"][-1]["text"]
                reply = json.dumps({"choices": [{"message": {"content": f"<answer>echo {text}</answer>"}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def requests(n, image=True):
    img = [Image.new("RGB", (8, 8), (255, 0, 0))] if image else []
    return [GenerationRequest(str(i), f"q{i}", img, 16) for i in range(n)]


def test_openai_greedy_payload_and_order():
    with FakeServer() as url:
        backend = create_backend("openai", BackendSettings(model="served", api_base=url, concurrency=3))
        outputs = backend.generate(requests(5))
    assert outputs == [f"<answer>echo q{i}</answer>" for i in range(5)]


def test_openai_payload_has_temperature_zero_and_image():
    server = FakeServer()
    with server as url:
        create_backend("openai", BackendSettings(model="served", api_base=url)).generate(requests(1))
    payload = server.payloads[0]
    assert payload["temperature"] == 0 and payload["max_tokens"] == 16 and payload["model"] == "served"
    assert payload["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_openai_retries_then_succeeds():
    server = FakeServer(fail_first=2)
    with server as url:
        settings = BackendSettings(model="m", api_base=url, retries=3, options={"backoff_s": 0.01}, concurrency=1)
        assert create_backend("openai", settings).generate(requests(1)) == ["<answer>echo q0</answer>"]
    assert server.calls == 3


@pytest.mark.parametrize("status, calls", [(500, 2), (401, 1)])  # 5xx is retried, 401 cannot get better
def test_openai_failure_is_a_failure_not_an_empty_answer(status, calls):
    server = FakeServer(fail_first=100, status=status)
    with server as url:
        settings = BackendSettings(model="m", api_base=url, retries=1, options={"backoff_s": 0.01})
        [output] = create_backend("openai", settings).generate(requests(1, image=False))
    assert isinstance(output, GenerationFailure) and str(status) in output.message
    assert server.calls == calls


def test_openai_concurrency_is_bounded():
    server = FakeServer(delay_s=0.05)
    with server as url:
        create_backend("openai", BackendSettings(model="m", api_base=url, concurrency=2)).generate(requests(8, image=False))
    assert server.peak <= 2 and server.calls == 8


def test_openai_needs_a_base_url(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="--api-base"):
        create_backend("openai", BackendSettings(model="m"))


def test_replay(tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text('{"id": "0", "output": "(A)"}\n\n{"id": "1", "output": "(B)"}\n')
    backend = create_backend("replay", BackendSettings(model=str(path)))
    first, second, missing = backend.generate(requests(3, image=False))
    assert (first, second) == ("(A)", "(B)")
    assert isinstance(missing, GenerationFailure) and "'2'" in missing.message  # an error, not a wrong answer
    assert backend.missing == 1


def test_replay_keys_by_benchmark_when_given(tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text('{"benchmark": "cv-bench", "id": "0", "output": "cv"}\n{"benchmark": "stvqa", "id": "0", "output": "st"}\n')
    backend = create_backend("replay", BackendSettings(model=str(path)))
    asked = [GenerationRequest("0", "q", benchmark="stvqa"), GenerationRequest("0", "q", benchmark="cv-bench")]
    assert backend.generate(asked) == ["st", "cv"]


def test_replay_rejects_bad_lines(tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text('{"item": "0"}\n')
    with pytest.raises(ValueError, match="'id' and 'output'"):
        create_backend("replay", BackendSettings(model=str(path)))


def test_dummy_modes():
    assert create_backend("dummy", BackendSettings(model="fixed:(B)")).generate(requests(2)) == ["(B)", "(B)"]
    assert create_backend("dummy", BackendSettings(model="echo")).generate(requests(1)) == ["q0"]
    with pytest.raises(ValueError, match="fixed"):
        create_backend("dummy", BackendSettings(model="random"))


def test_unknown_backend_lists_known():
    with pytest.raises(KeyError, match="transformers"):
        create_backend("hf-typo", BackendSettings(model="x"))


@require_vllm
@pytest.mark.gpu
def test_vllm_backend_generates(tiny_model_path):  # pragma: no cover - needs vLLM and a GPU
    backend = create_backend("vllm", BackendSettings(model=tiny_model_path))
    assert len(backend.generate(requests(2))) == 2


@pytest.fixture
def tiny_model_path(tmp_path):
    from spatialthinker.train.tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path / "tiny")
