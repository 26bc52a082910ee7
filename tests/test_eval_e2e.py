"""End to end: the tiny offline Qwen2.5-VL of the training code, evaluated on a local fixture benchmark."""

import json

import pytest

from spatialthinker.cli import main
from spatialthinker.eval.fixtures import write_fixture

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory):
    from spatialthinker.train.tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm"))


def test_tiny_model_on_stvqa_fixture(tiny_vlm, tmp_path):
    data = write_fixture("stvqa", tmp_path / "data", n=4)
    out = tmp_path / "out"
    argv = ["eval", "--benchmark", "stvqa", "--model", tiny_vlm, "--backend", "transformers", "--prompt-mode",
            "spatialthinker", "--data-path", str(data), "--out", str(out), "--limit", "4",
            "--batch-size", "2",  # two batches: exercises left padding across calls
            "--max-new-tokens", "12"]  # a random model never stops; 12 tokens keep this under ~10 s on CPU
    assert main(argv) == 0
    summary = json.loads((out / "stvqa" / "summary.json").read_text())
    assert summary["n"] == 4 and summary["complete"] and summary["prompt_mode"] == "spatialthinker"
    assert summary["backend"]["backend"] == "transformers" and summary["backend"]["decoding"] == "greedy"
    assert summary["generation"]["max_new_tokens"] == 12
    records = [json.loads(line) for line in open(out / "stvqa" / "items.jsonl")]
    assert len(records) == 4 and all(isinstance(r["output"], str) and r["output"] for r in records)
    # whatever the random model wrote, each record is scored consistently: correct only with a parsed letter
    assert all(r["parse_failed"] == (r["extracted"] is None) and (not r["correct"] or r["extracted"]) for r in records)
    # a rerun finds everything scored and does not load the model again
    assert main(argv) == 0
    assert len(open(out / "stvqa" / "items.jsonl").readlines()) == 4
    again = json.loads((out / "stvqa" / "summary.json").read_text())
    assert again["backend"] == summary["backend"] and again["correct"] == summary["correct"]
