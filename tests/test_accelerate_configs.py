"""configs/accelerate/*.yaml read by accelerate itself, and the launch checks of spatialthinker.train.distributed.

FSDP and DeepSpeed need CUDA GPUs, so here they are checked as far as a CPU allows: accelerate parses each file
(an unknown key is an error there), builds the FSDP plugin from the environment its launcher exports, and builds
the DeepSpeed plugin from the file's deepspeed_config (no deepspeed install needed). The 2-process DDP run itself is
tests/test_multiprocess.py (slow).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("accelerate")
torch = pytest.importorskip("torch")

from accelerate.commands.config.config_args import load_config_from_file  # noqa: E402
from accelerate.utils import DistributedType  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "accelerate"
EXPECTED = {"ddp.yaml": DistributedType.MULTI_GPU, "fsdp.yaml": DistributedType.FSDP,
            "zero3.yaml": DistributedType.DEEPSPEED}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accelerate_parses_each_config(name):
    config = load_config_from_file(str(CONFIGS / name))
    assert config.distributed_type == EXPECTED[name]
    # the presets' batch geometry (docs/training.md) assumes 4 processes on one machine, in bf16
    assert (config.num_processes, config.num_machines, config.mixed_precision) == (4, 1, "bf16")


def test_every_config_is_tested():
    assert {p.name for p in CONFIGS.glob("*.yaml")} == set(EXPECTED)


def test_fsdp_config_becomes_an_fsdp2_plugin_with_loadable_checkpoints(monkeypatch):
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_multi_gpu_env

    args = launch_command_parser().parse_args(["--config_file", str(CONFIGS / "fsdp.yaml"), "train.py"])
    args, _, _ = _validate_launch_command(args)
    for key, value in prepare_multi_gpu_env(args).items():  # what `accelerate launch` exports to each process
        if key.startswith(("FSDP_", "ACCELERATE_USE_FSDP")):
            monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True
    assert plugin.cpu_ram_efficient_loading is True
    # a full state dict: checkpoint-N/ and final/ must load with from_pretrained (resume and the output contract)
    assert "FULL_STATE_DICT" in str(plugin.state_dict_type)


def test_zero3_config_becomes_a_stage3_deepspeed_plugin():
    from accelerate.utils import DeepSpeedPlugin

    config = load_config_from_file(str(CONFIGS / "zero3.yaml"))
    plugin = DeepSpeedPlugin(**config.deepspeed_config)  # a misspelled key would be a TypeError here
    zero = plugin.deepspeed_config["zero_optimization"]
    assert zero["stage"] == 3 and zero["offload_optimizer"]["device"] == zero["offload_param"]["device"] == "none"
    assert zero["stage3_gather_16bit_weights_on_model_save"] is True  # final/ holds loadable 16-bit weights
    assert plugin.zero3_init_flag is True


@pytest.mark.parametrize("flag,name", [("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed")])
def test_sharded_configs_stop_clearly_without_cuda(monkeypatch, flag, name):
    from spatialthinker.train.distributed import launch_trl_overrides

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv(flag, "true")
    with pytest.raises(RuntimeError, match=f"asks for {name}, which needs CUDA GPUs.*ddp.yaml"):
        launch_trl_overrides()


def test_cpu_processes_get_gloo_data_parallel(monkeypatch):
    from spatialthinker.train.distributed import launch_trl_overrides

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for flag in ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED", "ACCELERATE_USE_CPU"):
        monkeypatch.delenv(flag, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert launch_trl_overrides() == {"use_cpu": True}
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert launch_trl_overrides() == {}


def test_a_group_smaller_than_the_launch_is_an_error(monkeypatch):
    from types import SimpleNamespace

    from spatialthinker.train.distributed import check_launch

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="2 processes were launched.*group of 1"):
        check_launch(SimpleNamespace(world_size=1, distributed_state=None))
    check_launch(SimpleNamespace(world_size=2, distributed_state=None))
