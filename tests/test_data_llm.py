"""Optional LLM stage against a local fake OpenAI-compatible server: generation, pass@k judge, retries, resume."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spatialthinker.data.llm import Checkpoint, LLMConfig, LLMError, parse_choice, run_llm_stage
from spatialthinker.data.readers import read_gqa

SECRET = "sk-test-never-written"


class FakeServer:
    """Answers generation calls with an existence question about the graph's first object and judge calls with
    the right letter (or a non-answer for questions about a ``tent``). ``fail_after`` turns it into a 500 server."""

    def __init__(self):
        self.ok_calls = 0
        self.fail_after = None
        self.seen_auth = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.seen_auth.add(self.headers.get("Authorization"))
                if server.fail_after is not None and server.ok_calls >= server.fail_after:
                    self.send_response(500)
                    self.end_headers()
                    return
                server.ok_calls += 1
                reply = server.reply(body)
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reply(self, body):
        content = body["messages"][-1]["content"]
        if body["model"] == "gen":
            assert body["temperature"] == 0.0
            graph = json.loads(content.split("Scene graph: ", 1)[1].split("\n", 1)[0])
            label = graph["objects"][0]["id"].rsplit(".", 1)[0].replace("_", " ")
            return "```json\n" + json.dumps({"question": f"Is there a {label} in the image?", "options": ["yes", "no"],
                                             "answer": "A", "category": "existence", "level": "easy",
                                             "rating": 6}) + "\n```"
        assert body["model"] == "judge" and body["temperature"] == 0.7
        text = content[-1]["text"]
        if "tent" in text:
            return "It could be A or B, hard to say."  # must not be read as "A"
        letter = next(line[1] for line in text.splitlines() if line.endswith(") yes"))
        return f"The answer is ({letter})."

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


@pytest.fixture
def gqa_images(shared_data_dir, tmp_path):
    from PIL import Image

    pairs = []
    for image in read_gqa(os.path.join(shared_data_dir, "gqa")):
        path = tmp_path / f"{image.image_id}.jpg"
        Image.new("RGB", (image.width, image.height)).save(path)
        pairs.append((image, path))
    return pairs


def _config(server, **kw):
    return LLMConfig(base_url=server.url, model="gen", judge_model="judge", api_key_env="TEST_LLM_KEY", k=2,
                     max_retries=1, backoff_s=0.0, **kw)


def test_parse_choice_never_defaults():
    assert parse_choice("(C) behind", ["a", "b", "behind"]) == "C"
    assert parse_choice("Answer: B", ["x", "y"]) == "B"
    assert parse_choice("b", ["x", "y"]) == "B"
    assert parse_choice("left", ["right", "left"]) == "B"
    assert parse_choice("I am not sure.", ["x", "y"]) is None
    assert parse_choice("(A) or (B)", ["x", "y"]) is None
    assert parse_choice("A very long explanation about nothing", ["x", "y"]) is None


def test_generation_and_pass_at_k(server, gqa_images, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", SECRET)
    items, stats = run_llm_stage(gqa_images, [], _config(server), tmp_path / "ck.jsonl")
    labels = [image.objects[0].label for image, _ in gqa_images]
    kept_labels = [label for label in labels if label != "tent"]
    assert [i.question for i in items] == [f"Is there a {label} in the image?" for label in kept_labels]
    assert all(i.answer_text == "yes" and i.scene.objects for i in items)
    assert stats["generated"] == 3 and stats["kept"] == len(kept_labels)
    assert stats.get("rejected_by_judge", 0) == 3 - len(kept_labels)
    assert server.seen_auth == {f"Bearer {SECRET}"}
    assert SECRET not in (tmp_path / "ck.jsonl").read_text()


def test_interrupted_run_resumes_without_loss_or_duplicates(server, gqa_images, tmp_path):
    reference, _ = run_llm_stage(gqa_images, [], _config(server), tmp_path / "full.jsonl")
    total_calls = server.ok_calls
    server.ok_calls, server.fail_after = 0, 3
    with pytest.raises(LLMError):
        run_llm_stage(gqa_images, [], _config(server), tmp_path / "part.jsonl")
    assert len(Checkpoint(tmp_path / "part.jsonl").records) == 3
    with open(tmp_path / "part.jsonl", "ab") as handle:  # a torn line from a crash mid-write is ignored
        handle.write(b'{"key": "gen:tor')
    server.fail_after = None
    resumed, stats = run_llm_stage(gqa_images, [], _config(server), tmp_path / "part.jsonl")
    assert server.ok_calls == total_calls  # the calls before the interruption were not repeated
    assert [(i.question, i.options, i.answer_index) for i in resumed] == \
        [(i.question, i.options, i.answer_index) for i in reference]
    assert stats["calls_ok"] == total_calls - 3


def test_cli_runs_the_llm_stage(server, shared_data_dir, gqa_images, tmp_path, capsys):
    from spatialthinker.cli import main

    images = gqa_images[0][1].parent
    code = main(["synth", "scene-graphs", "--source", "gqa", "--input-dir", os.path.join(shared_data_dir, "gqa"),
                 "--images", str(images), "--out", str(tmp_path / "out"), "--val-fraction", "0",
                 "--llm-base-url", server.url, "--llm-model", "gen", "--llm-judge-model", "judge",
                 "--llm-api-key-env", "TEST_LLM_KEY"])
    assert code == 0
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["llm"]["generated"] == 3 and stats["counts"]["train"]["evidence_rule"]["llm_generated"] >= 1
    assert "llm" in capsys.readouterr().out
