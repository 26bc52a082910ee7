"""Recipes, presets and the veRL launch config: parse, validate, translate to TRL; clear errors. No training."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spatialthinker.train.config import GRPORecipe, SFTRecipe, load_recipe

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PRESETS = sorted(p for p in CONFIGS.glob("*.yaml"))


def _recipe_class(path: Path):
    import yaml

    text = path.read_text()
    kind = (yaml.safe_load(text) or {}).get("recipe")
    base = (yaml.safe_load(text) or {}).get("base")
    if kind is None and base:
        return _recipe_class(path.parent / base)
    return SFTRecipe if kind == "sft" else GRPORecipe


def test_presets_exist():
    names = {p.stem for p in PRESETS}
    assert {"spatialthinker_3b", "spatialthinker_7b", "sparse_grpo_3b", "sft_3b", "tiny_cpu"} <= names


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_every_preset_parses_and_builds_its_trl_config(preset):
    pytest.importorskip("trl")
    import torch

    # TrainingArguments rejects bf16 on a machine without a GPU unless told it runs on CPU on purpose.
    cpu = {} if torch.cuda.is_available() else {"trl_args": {"use_cpu": True}}
    recipe = load_recipe(_recipe_class(preset), preset, output_dir="/tmp/unused", **cpu)
    args = recipe.to_trl()
    assert args.learning_rate == recipe.learning_rate
    if isinstance(recipe, GRPORecipe):
        assert args.beta == recipe.beta and args.loss_type == recipe.loss_type
        assert args.generation_batch_size % args.num_generations == 0


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_every_value_in_a_preset_has_a_comment(preset):
    for line in preset.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            assert " # " in line, f"{preset.name}: no reason given for {line!r}"


def test_paper_preset_matches_method():
    recipe = load_recipe(GRPORecipe, CONFIGS / "spatialthinker_3b.yaml")
    assert (recipe.num_generations, recipe.temperature, recipe.learning_rate, recipe.beta) == (8, 1.0, 1e-6, 0.01)
    assert (recipe.epsilon, recipe.epsilon_high, recipe.delta) == (0.2, 0.3, 3.0)
    assert (recipe.min_pixels, recipe.max_pixels) == (512 * 512, 2048 * 2048) and not recipe.freeze_vision
    world = 4  # the preset's batch geometry is written for 4 GPUs
    completions_per_update = recipe.per_device_train_batch_size * world * recipe.gradient_accumulation_steps
    completions_per_rollout = recipe.per_device_train_batch_size * world * recipe.steps_per_generation
    assert completions_per_update // recipe.num_generations == 128  # prompts per optimizer update
    assert completions_per_rollout // recipe.num_generations == 512  # prompts per rollout step
    assert recipe.max_steps == 75 * (completions_per_rollout // completions_per_update)
    seven = load_recipe(GRPORecipe, CONFIGS / "spatialthinker_7b.yaml")
    assert seven.model.endswith("7B-Instruct") and seven.beta == 0.01
    assert seven.per_device_train_batch_size * world * seven.gradient_accumulation_steps == completions_per_update
    assert load_recipe(GRPORecipe, CONFIGS / "sparse_grpo_3b.yaml").resolved_prompt_style == "sparse"
    sft = load_recipe(SFTRecipe, CONFIGS / "sft_3b.yaml")
    assert (sft.lora, sft.lora_r, sft.num_train_epochs, sft.learning_rate, sft.lr_scheduler_type) == (
        True, 8, 3, 1e-4, "cosine")


@pytest.mark.parametrize("bad, message", [
    (dict(num_generations=8, per_device_train_batch_size=6), "multiple of num_generations"),
    (dict(num_generations=1, per_device_train_batch_size=4), "at least|>= 2"),
    (dict(min_pixels=10_000, max_pixels=100), "min_pixels"),
    (dict(delta=1.1), "delta"),
    (dict(quantization="4bit"), "lora"),
    (dict(max_completion_length=4), "max_completion_length"),
])
def test_impossible_configuration_fails_at_start_up(bad, message):
    with pytest.raises(ValueError, match=message):
        GRPORecipe(**bad)


def test_unknown_preset_key_is_an_error(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("learning_rat: 1.0e-6\n")
    with pytest.raises(ValueError, match="learning_rat"):
        load_recipe(GRPORecipe, path)


def test_dataset_missing_a_column_is_a_clear_error(tmp_path):
    pytest.importorskip("datasets")
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spatialthinker.train.data import load_stvqa, prepare_grpo_dataset

    pq.write_table(pa.Table.from_pylist([{"images": None, "problem": "Image size: (4 x 3)"}]),
                   tmp_path / "train.parquet")
    with pytest.raises(ValueError, match="answer_option_text"):
        prepare_grpo_dataset(load_stvqa(str(tmp_path)))


def test_model_without_processor_is_a_clear_error(tmp_path):
    pytest.importorskip("transformers")
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from spatialthinker.train.model import load_model_and_processor
    from spatialthinker.train.tiny import build_tokenizer

    tokenizer = build_tokenizer(vocab_size=400)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1)
    Qwen2ForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="no image processor"):
        load_model_and_processor(str(tmp_path))


def test_stvqa_rows_become_grpo_rows(tmp_path):
    pytest.importorskip("datasets")
    from _tiny import write_tiny_stvqa

    from spatialthinker.prompts import parse_image_size
    from spatialthinker.train.data import load_stvqa, prepare_grpo_dataset, prepare_sft_dataset

    rows = load_stvqa(write_tiny_stvqa(str(tmp_path), n=3))
    grpo = prepare_grpo_dataset(rows)
    first = grpo[0]
    assert first["prompt"][0]["content"][0]["type"] == "image"
    assert first["prompt"][0]["content"][1]["text"] == rows[0]["problem"]  # the training prompt, verbatim
    assert tuple(first["image_size"]) == tuple(int(v) for v in parse_image_size(rows[0]["problem"]))
    assert first["image"].size == tuple(first["image_size"])
    assert first["answer_option_text"] == rows[0]["answer_option_text"]
    sparse = prepare_grpo_dataset(rows, "sparse")
    assert "<think>" in sparse[0]["prompt"][0]["content"][1]["text"]
    sft = prepare_sft_dataset(rows, "answer")
    assert sft[0]["completion"][0]["content"][0]["text"] == rows[0]["answer_option_text_only"]


def test_sft_targets_judge_each_option_then_copy_its_letter(tmp_path):
    """The think step gives a verdict per option and copies the letter of the "yes" line; the dense target
    earns the full dense reward and the sparse one the full sparse reward (letters stay as the row shuffled them)."""
    pytest.importorskip("datasets")
    from _tiny import write_tiny_stvqa

    from spatialthinker.rewards import compute_reward_from_problem, compute_sparse_reward
    from spatialthinker.train.data import load_stvqa, sft_target

    rows = load_stvqa(write_tiny_stvqa(str(tmp_path), n=4))
    for row in rows:
        letter, text = row["answer_only"], row["answer_text_only"]
        other = next(o for o in row["options"] if o != text)
        verdicts = sorted([f"({letter}) {text}: yes.", f"({'B' if letter == 'A' else 'A'}) {other}: no."])
        dense, sparse = sft_target(row, "dense"), sft_target(row, "sparse")
        assert f"<think> {' '.join(verdicts)} So ({letter}). </think>" in dense
        assert dense.endswith(f"<answer>({letter}) {text}</answer>")
        total = compute_reward_from_problem(dense, row["answer_option_text"], row["problem"]).total
        assert total == pytest.approx(1.0, abs=1e-6)
        assert compute_sparse_reward(sparse, row["answer_option_text_only"]) == 1.0


def test_verl_launch_config_matches_preset_and_export():
    import yaml

    from spatialthinker.train.verl import VERL_COLUMNS, compute_score, verl_settings

    config = yaml.safe_load((CONFIGS / "verl" / "spatialthinker_grpo.yaml").read_text())
    reward = config["reward"]["custom_reward_function"]
    assert reward["name"] == "compute_score" and callable(compute_score)
    assert compute_score("stvqa", "no tags", "<answer>(A) a</answer>", {"image_size": [4, 3]})["score"] == 0.0
    # the file veRL will load by path exists and defines the named function without relative imports
    import spatialthinker.train.verl as entry

    source = Path(entry.__file__).read_text()
    assert "from ." not in source and reward["name"] in source
    launch = (CONFIGS / "verl" / "launch.sh").read_text()
    assert "spatialthinker.train.verl" in launch and "SPATIALTHINKER_VERL_REWARD" in launch
    # the hyper-parameters are the preset's, converted from TRL's completion counts to veRL's prompt counts
    recipe = load_recipe(GRPORecipe, CONFIGS / "spatialthinker_3b.yaml")
    for dotted, expected in verl_settings(recipe, n_gpus=config["trainer"]["n_gpus_per_node"]).items():
        value = config
        for part in dotted.split("."):
            value = value[part]
        assert value == pytest.approx(expected), dotted
    assert config["actor_rollout_ref"]["actor"]["kl_loss_type"] == "low_var_kl"  # k3, as TRL
    # the data keys are columns the veRL export writes
    from spatialthinker.data.verl_export import verl_row

    row = verl_row({"problem": "Image size: (4 x 3)\nQ. x", "images": None, "answer_option_text": "gt",
                    "category": "depth", "image_id": "1"}, 0)
    assert set(VERL_COLUMNS) <= set(row)
    assert config["data"]["prompt_key"] in row and config["data"]["image_key"] in row
    assert "<image>" in row["prompt"][0]["content"]


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, spatialthinker.train, spatialthinker.train.config, spatialthinker.train.cli; "
            "print(any(m in sys.modules for m in ('torch', 'transformers', 'trl')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False"
