"""``--use-vllm``: the flags reach TRL's GRPOConfig as TRL 1.16 documents them, and a missing vLLM stops the run
before anything is loaded or written. vLLM itself cannot be installed on these machines (no GPU)."""

from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("trl")

from spatialthinker.train.config import GRPORecipe  # noqa: E402


def test_server_mode_flags_reach_grpo_config(tmp_path):
    """Server mode: TRL connects to a running `trl vllm-serve`; ``vllm_server_base_url`` overrides host/port."""
    args = GRPORecipe(model="tiny", dataset="unused", output_dir=str(tmp_path), use_vllm=True, vllm_mode="server",
                      vllm_server_base_url="http://gen-node:8000").to_trl()
    assert (args.use_vllm, args.vllm_mode, args.vllm_server_base_url) == (True, "server", "http://gen-node:8000")


def test_colocate_mode_is_the_default_and_sizes_vllm_on_the_training_gpus(tmp_path):
    args = GRPORecipe(model="tiny", dataset="unused", output_dir=str(tmp_path), use_vllm=True,
                      vllm_gpu_memory_utilization=0.25, vllm_tensor_parallel_size=2).to_trl()
    assert (args.vllm_mode, args.vllm_gpu_memory_utilization, args.vllm_tensor_parallel_size) == ("colocate", 0.25, 2)
    assert args.vllm_server_base_url is None


def test_unknown_vllm_mode_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="vllm_mode must be colocate or server"):
        GRPORecipe(model="tiny", dataset="unused", output_dir=str(tmp_path), vllm_mode="remote")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
def test_use_vllm_without_vllm_fails_before_any_work(tmp_path, capsys):
    from spatialthinker.cli import main

    from spatialthinker.train.tiny import write_tiny_stvqa

    out = tmp_path / "run"
    data = write_tiny_stvqa(tmp_path / "data", n=4)
    code = main(["train", "grpo", "--model", "tiny", "--dataset", data, "--output", str(out),
                 "--use-vllm", "--vllm-mode", "server", "--vllm-server-base-url", "http://gen-node:8000"])
    assert code == 2  # an input error: one line, before any work
    assert "vLLM is not installed (`pip install vllm`" in capsys.readouterr().err
    assert not out.exists()  # nothing was written, nothing was built
