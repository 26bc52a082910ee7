"""Two-process data-parallel training on CPU (gloo), launched as a user would: ``accelerate launch`` with
configs/accelerate/ddp.yaml and ``--num_processes 2``. Slow (about 3 minutes on 2 cores).

What must hold under a multi-process launch, and what each check guards against:
- the processes form one group and split the data (epoch advances twice as fast as one process on the same
  per-device batch), instead of N independent runs writing into one folder;
- every completion of a rollout batch is scored once, by the process that generated it, and processes that share
  a group sample different completions;
- metrics.jsonl, rollouts and config.json are written once, by the main process;
- a 2-process run stopped at a checkpoint resumes, in the same setting, to the result of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")

from _tiny import write_tiny_stvqa  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DDP_CONFIG = ROOT / "configs" / "accelerate" / "ddp.yaml"
SCORED_CLI = Path(__file__).resolve().parent / "_scored_cli.py"
PROCESSES = 2
PER_DEVICE = 2      # 2 completions per process per micro-step: one group of 4 is split across the two processes
GENERATIONS = 4
SHRINK = ["--set", "min_pixels=3136", "--set", "max_pixels=12544", "--set", "dtype=float32",
          "--set", "report_to=none", "--set", f"per_device_train_batch_size={PER_DEVICE}"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(entry: list[str], args: list[str], scored_dir: Path | None = None, timeout: int = 600) -> str:
    """``accelerate launch --config_file ddp.yaml --num_processes 2`` of ``entry`` + ``args``; returns the output."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    env.pop("ACCELERATE_USE_CPU", None)  # the recipes must pick CPU data parallel themselves
    if scored_dir is not None:
        env["SCORED_DIR"] = str(scored_dir)
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(DDP_CONFIG),
               "--num_processes", str(PROCESSES), "--mixed_precision", "no",
               "--main_process_port", str(_free_port()), *entry, *args]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return output


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[str, str]:
    from spatialthinker.train.tiny import build_tiny_vlm

    root = tmp_path_factory.mktemp("mp")
    return build_tiny_vlm(str(root / "vlm"), seed=0, size="small"), write_tiny_stvqa(str(root / "data"), n=8)


@pytest.fixture(scope="module")
def sft_run(tiny, tmp_path_factory) -> Path:
    """A 2-process SFT run through the CLI: 60 steps teach the tiny model the think/answer format, so GRPO's
    rewards spread within a group and its gradients are not all zero."""
    model, data = tiny
    out = tmp_path_factory.mktemp("sft2") / "run"
    launch(["-m", "spatialthinker.cli"],
           ["train", "sft", "--model", model, "--dataset", data, "--output", str(out), "--max-steps", "60",
            "--target", "sparse", "--set", "prompt_style=sparse", "--set", "learning_rate=0.003",
            "--set", "lr_scheduler_type=constant", "--set", "save_steps=100", *SHRINK])
    return out


def test_sft_two_processes_split_the_data_and_write_once(sft_run):
    records = _records(sft_run / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 61))  # one record per step: only the main process writes
    # 8 rows, 2 per process per step: each step consumes 4 rows, so one epoch every 2 steps (1 process: every 4).
    assert records[1]["epoch"] == pytest.approx(1.0) and records[-1]["epoch"] == pytest.approx(30.0)
    assert records[-1]["loss"] < records[0]["loss"]
    assert json.loads((sft_run / "config.json").read_text())["recipe"] == "SFTRecipe"
    assert (sft_run / "final" / "model.safetensors").is_file() and (sft_run / "final" / "tokenizer.json").is_file()
    assert {p.name for p in (sft_run / "checkpoint-60").glob("rng_state_*.pth")} == {"rng_state_0.pth",
                                                                                    "rng_state_1.pth"}


def _grpo(model: str, data: str, out: Path, steps: int, resume: bool = False) -> str:
    args = ["train", "grpo", "--model", model, "--dataset", data, "--output", str(out), "--max-steps", str(steps),
            "--reward", "sparse", "--set", f"num_generations={GENERATIONS}", "--set", "max_completion_length=48",
            "--set", "learning_rate=0.001", "--set", "warmup_sft_steps=2", "--set", "warmup_sft_learning_rate=0.001",
            "--set", "rollouts_per_step=2", "--set", "save_steps=2", *SHRINK]
    return launch([str(SCORED_CLI)], args + (["--resume"] if resume else []), scored_dir=out / "scored")


@pytest.fixture(scope="module")
def grpo_runs(sft_run, tiny, tmp_path_factory) -> dict[str, Path]:
    """4 GRPO steps straight, and 2 steps then a resume to 4, each as 2 processes with a 2-step warm-up SFT."""
    _, data = tiny
    start = str(sft_run / "final")
    root = tmp_path_factory.mktemp("grpo2")
    straight, split = root / "straight", root / "split"
    _grpo(start, data, straight, 4)
    _grpo(start, data, split, 2)
    _grpo(start, data, split, 4, resume=True)
    return {"straight": straight, "split": split}


def test_grpo_two_processes_score_every_completion_once(grpo_runs):
    out = grpo_runs["straight"]
    calls = {rank: _records(out / "scored" / f"rank{rank}.jsonl") for rank in range(PROCESSES)}
    for rank, records in calls.items():
        # one reward call per optimizer step on each process, on its own share of the group
        assert [r["step"] for r in records] == [1, 2, 3, 4], rank
        assert all(len(r["completions"]) == PER_DEVICE for r in records)
    for step in range(4):
        ids = calls[0][step]["image_id"] + calls[1][step]["image_id"]
        assert len(ids) == GENERATIONS and len(set(ids)) == 1  # the whole group, scored once, split over 2
        # per-process seeding: the two halves of one group are different samples
        assert calls[0][step]["completions"] != calls[1][step]["completions"]
    assert any(len(set(c["rewards"])) > 1 or c["rewards"][0] > 0 for rs in calls.values() for c in rs)


def test_grpo_two_processes_write_metrics_and_rollouts_once(grpo_runs):
    out = grpo_runs["straight"]
    records = _records(out / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all("reward/total" in r and "loss" in r for r in records)
    main_scored = _records(out / "scored" / "rank0.jsonl")
    for step in range(1, 5):
        rollouts = _records(out / "rollouts" / f"step_{step:06d}.jsonl")
        # rollouts_per_step=2 records, written by the main process from the completions it scored
        assert len(rollouts) == 2 and {r["step"] for r in rollouts} == {step}
        assert [r["completion"] for r in rollouts] == main_scored[step - 1]["completions"]
    warm = _records(out / "warmup_sft" / "metrics.jsonl")
    assert [r["step"] for r in warm] == [1, 2]


def test_grpo_two_processes_resume_to_the_uninterrupted_result(grpo_runs):
    straight, split = grpo_runs["straight"], grpo_runs["split"]
    a, b = _records(straight / "metrics.jsonl"), _records(split / "metrics.jsonl")
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    assert [r["loss"] for r in a] == pytest.approx([r["loss"] for r in b], rel=1e-3, abs=1e-5)
    assert [r["reward/total"] for r in a] == pytest.approx([r["reward/total"] for r in b], abs=1e-6)
    wa, wb = _weights(straight / "final"), _weights(split / "final")
    assert max(float((wa[k] - wb[k]).abs().max()) for k in wa) < 1e-4
    moved = _weights(straight / "warmup_sft" / "final")
    assert sum(not torch.equal(moved[k], wa[k]) for k in wa) > 0  # GRPO changed the weights
