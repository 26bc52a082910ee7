"""`spatialthinker train grpo|sft`: help texts and an end-to-end tiny run through the CLI on CPU."""

from __future__ import annotations

import json

import pytest

from _tiny import one_torch_thread  # noqa: F401  (autouse fixture)

from spatialthinker.cli import main


@pytest.mark.parametrize("command", [["train", "--help"], ["train", "grpo", "--help"], ["train", "sft", "--help"]])
def test_help(command, capsys):
    assert main(command) == 0
    assert "Usage" in capsys.readouterr().out


def test_unknown_preset_lists_known_ones(capsys):
    assert main(["train", "grpo", "--model", "x", "--dataset", "d", "--preset", "nope"]) != 0
    assert "spatialthinker_3b" in capsys.readouterr().err


def test_grpo_tiny_end_to_end(tmp_path, monkeypatch):
    pytest.importorskip("trl")
    from _tiny import write_tiny_stvqa

    monkeypatch.setenv("SPATIALTHINKER_CACHE", str(tmp_path / "cache"))  # where `--model tiny` is built
    data = write_tiny_stvqa(str(tmp_path / "data"), n=8)
    out = tmp_path / "out"
    code = main(["train", "grpo", "--model", "tiny", "--dataset", data, "--max-steps", "2", "--output", str(out),
                 "--set", "warmup_sft_steps=2",  # the preset's 40 warm-up steps are for demos, not for CI
                 "--set", "max_completion_length=32"])  # a random policy fills any budget; keep it short
    assert code == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2] and "reward/total" in records[0]
    assert (out / "checkpoint-2" / "model.safetensors").is_file()
    saved = json.loads((out / "config.json").read_text())
    assert saved["model"] == "tiny" and saved["warmup_sft_steps"] == 2 and saved["num_generations"] == 4  # preset
    assert (out / "warmup_sft" / "final" / "model.safetensors").is_file()
