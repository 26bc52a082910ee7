"""Training recipes on the tiny offline Qwen2.5-VL: GRPO (dense, sparse), SFT, checkpoints and resume. CPU only."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

from _tiny import one_torch_thread, write_tiny_stvqa  # noqa: E402,F401  (autouse fixture)

from spatialthinker.train.config import GRPORecipe, SFTRecipe  # noqa: E402

CONTRACT_KEYS = ("reward/total", "reward/format", "reward/count", "reward/accuracy", "reward/spatial", "format_rate",
                 "pred_objects_mean", "gt_objects_mean", "empty_answer_rate", "completion_length_mean", "loss", "kl")
# Shrunk settings shared by every test, each cut explained:
TINY = dict(
    num_generations=4, per_device_train_batch_size=4,  # the smallest batch that holds one group
    min_pixels=56 * 56, max_pixels=112 * 112,          # 16 image tokens per image
    dtype="float32", report_to="none", save_steps=100,  # the last step is always checkpointed anyway
)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> str:
    return write_tiny_stvqa(str(tmp_path_factory.mktemp("stvqa")), n=8)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    from spatialthinker.train.tiny import build_tiny_vlm

    return build_tiny_vlm(str(tmp_path_factory.mktemp("tiny") / "vlm"), seed=0, size="small")


@pytest.fixture(scope="session")
def warmed_model(tiny_model, tiny_data, tmp_path_factory) -> str:
    """The tiny model after 60 SFT steps on short think/answer responses.

    A fresh model gives identical rewards within a group, so GRPO's advantages and gradients would all be zero;
    after this warm-up most samples have the format and the answers differ, so rewards spread within a group.
    """
    from spatialthinker.train.sft import run_sft

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # session fixtures run before the per-test thread fixture
    out = tmp_path_factory.mktemp("warm")
    recipe = SFTRecipe(model=tiny_model, dataset=tiny_data, output_dir=str(out), max_steps=60, target="sparse",
                       prompt_style="sparse", learning_rate=3e-3, lr_scheduler_type="constant",
                       **{k: v for k, v in TINY.items() if k != "num_generations"})
    try:
        return run_sft(recipe).final_dir
    finally:
        torch.set_num_threads(before)


def _params(path: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(os.path.join(path, "model.safetensors"))


def _moved(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> float:
    """Fraction of tensors that changed."""
    return sum(not torch.equal(before[k], after[k]) for k in before) / len(before)


def _records(out: str) -> list[dict]:
    with open(os.path.join(out, "metrics.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_tiny_model_processor_gives_pixels_and_image_tokens(tiny_model):
    from PIL import Image

    from spatialthinker.train.model import load_model_and_processor

    model, processor = load_model_and_processor(tiny_model, min_pixels=56 * 56, max_pixels=224 * 224)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Image size: (224 x 224)"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    batch = processor(text=[text], images=[Image.new("RGB", (224, 224))], return_tensors="pt")
    assert "pixel_values" in batch
    assert int((batch["input_ids"] == model.config.image_token_id).sum()) == 64  # 16x16 patches, 2x2 merge
    tokens = processor.tokenizer.tokenize("<scene> [123, 7, 1280] </scene>")
    # ordinary tag tokens; a number below NUMBER_TOKENS is one token, a larger one splits into such chunks
    assert "<scene>" in tokens and {"123", "7", "128", "0"} <= set(tokens) and "1" not in tokens
    text = '{"bbox": [0, 57, 999, 1000]}'
    assert processor.tokenizer.decode(processor.tokenizer(text)["input_ids"]) == text
    assert processor.tokenizer.decode(processor.tokenizer("<answer>x</answer>")["input_ids"],
                                      skip_special_tokens=True) == "<answer>x</answer>"


def test_tiny_build_has_no_vision_blocks_and_rebuilds_an_older_shape(tmp_path):
    """micro/small are linear patch encoders (no vision blocks); a cached build of another shape is rebuilt."""
    from spatialthinker.train.tiny import SIZES, build_tiny_vlm

    path = build_tiny_vlm(tmp_path / "vlm", seed=0, size="micro")
    config = json.loads((tmp_path / "vlm" / "config.json").read_text())
    assert config["vision_config"]["depth"] == 0 and config["vision_config"]["fullatt_block_indexes"] == []
    marker = tmp_path / "vlm" / "tiny_build.json"
    old = {k: v for k, v in json.loads(marker.read_text()).items() if k != "shape"}  # as older builds wrote it
    marker.write_text(json.dumps(old))
    assert build_tiny_vlm(path, seed=0, size="micro") == path
    assert json.loads(marker.read_text())["shape"] == list(SIZES["micro"])


def test_saved_checkpoint_reloads_left_padded(tiny_model, tmp_path):
    """Generation needs left padding; a checkpoint saved right-padded must still load left-padded."""
    from spatialthinker.train.model import load_processor

    processor = load_processor(tiny_model)
    processor.tokenizer.padding_side = "right"
    processor.save_pretrained(tmp_path)
    for name in ("config.json",):
        (tmp_path / name).write_bytes((Path(tiny_model) / name).read_bytes())
    assert load_processor(str(tmp_path)).tokenizer.padding_side == "left"


def test_grpo_sparse_two_steps_move_weights_and_reload(warmed_model, tiny_data, tmp_path):
    from spatialthinker.train.grpo import run_grpo
    from spatialthinker.train.model import load_model_and_processor

    out = str(tmp_path / "run")
    result = run_grpo(GRPORecipe(model=warmed_model, dataset=tiny_data, output_dir=out, max_steps=2, reward="sparse",
                                 max_completion_length=48,  # the warmed answers are ~35 tokens
                                 learning_rate=1e-3,  # tiny random weights barely move at 1e-6
                                 **TINY))
    records = _records(out)
    assert [r["step"] for r in records] == [1, 2]
    assert all(math.isfinite(r["loss"]) for r in records)
    assert all(key in records[0] for key in CONTRACT_KEYS)
    assert max(r["reward_std"] for r in records) > 0  # the warm-up gave the group a spread of rewards
    assert _moved(_params(warmed_model), _params(result.final_dir)) > 0.5
    rollouts = [json.loads(line) for line in open(os.path.join(out, "rollouts", "step_000001.jsonl"))]
    assert {"step", "image_id", "prompt", "completion", "ground_truth", "image_size", "reward"} <= set(rollouts[0])
    assert {r["category"] for r in rollouts} == {"relation"}  # benchmarks/grpo_signal.py splits the signal by it
    assert result.checkpoints and result.checkpoints[-1].endswith("checkpoint-2")
    model, processor = load_model_and_processor(result.checkpoints[-1])
    from PIL import Image

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    batch = processor(text=[text], images=[Image.new("RGB", (64, 64))], return_tensors="pt")
    generated = model.generate(**batch, max_new_tokens=5, do_sample=False)
    assert generated.shape[1] > batch["input_ids"].shape[1]


def test_grpo_dense_logs_components_and_warm_up(tiny_model, tiny_data, tmp_path):
    from spatialthinker.train.grpo import run_grpo

    out = str(tmp_path / "dense")
    result = run_grpo(GRPORecipe(model=tiny_model, dataset=tiny_data, output_dir=out, max_steps=2, reward="dense",
                                 max_completion_length=24,  # the random policy never finishes a response anyway
                                 warmup_sft_steps=2,  # exercises the warm-up and the reload of the KL reference
                                 learning_rate=1e-3, **TINY))
    records = _records(out)
    assert len(records) == 2 and all(math.isfinite(r["loss"]) for r in records)
    assert all(key in records[-1] for key in CONTRACT_KEYS)
    assert records[0]["gt_objects_mean"] == 2.0  # two boxes per tiny item, read from the GT column
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["recipe"] == "GRPORecipe" and config["beta"] == 0.01
    assert os.path.isdir(os.path.join(out, "warmup_sft", "final"))
    assert result.global_step == 2


def test_grpo_dense_ungated_moves_weights(warmed_model, tiny_data, tmp_path):
    """The dense path with the format gate off: the warmed think/answer model earns the accuracy term, so rewards
    spread within a group. (Gated, a model this small scores 0 everywhere until it writes all four tags.)"""
    from spatialthinker.train.grpo import run_grpo

    result = run_grpo(GRPORecipe(model=warmed_model, dataset=tiny_data, output_dir=str(tmp_path), max_steps=2,
                                 reward="dense", reward_config={"gating": False}, prompt_style="sparse",
                                 max_completion_length=40, learning_rate=1e-3, **TINY))
    assert _moved(_params(warmed_model), _params(result.final_dir)) > 0.5


def test_grpo_raises_a_reward_the_policy_controls(warmed_model, tiny_data, tmp_path):
    """GRPO's direction end to end (rewards -> advantages -> update -> sampled policy): with a reward the warmed
    policy earns by choice alone (shorter completions), the reward of the rollouts must climb within a dozen
    steps. A flipped advantage sign, zeroed advantages, rewards paired with the wrong completions or an update
    that never reaches the sampling weights all fail it. (On the mini preset's model a reward for naming a cube
    went from 0.30 to 0.96 in 20 steps; docs/training.md, "Is GRPO wired right".)"""
    from spatialthinker.train.grpo import run_grpo

    out = str(tmp_path / "run")
    run_grpo(GRPORecipe(model=warmed_model, dataset=tiny_data, output_dir=out, max_steps=12,
                        reward="_tiny.shorter_is_better", prompt_style="sparse", max_completion_length=48,
                        learning_rate=1e-3, **{**TINY, "per_device_train_batch_size": 8}))
    rewards = [r["reward"] for r in _records(out)]
    assert len(rewards) == 12
    assert sum(rewards[-4:]) / 4 >= sum(rewards[:4]) / 4 + 0.1, rewards  # measured: 0.63 -> 0.78


def test_sft_batches_place_the_image_as_generation_does(tiny_model, tiny_data):
    """What SFT trains is what generation runs: TRL's VLM collator hands the forward pass ``mm_token_type_ids``,
    so the image tokens get the same 3-D (M-RoPE) positions as in ``generate``, and the teacher-forced log-probs
    of a response equal the scores ``generate`` gives while writing that same response. Without them Qwen-VL
    falls back to 1-D positions without a word: on the mini preset's SFT model the two disagreed by up to 0.6
    nats on box coordinates (docs/training.md, "Is GRPO wired right")."""
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from spatialthinker.train.data import load_stvqa, prepare_sft_dataset
    from spatialthinker.train.model import load_model_and_processor

    model, processor = load_model_and_processor(tiny_model)
    model.eval()
    example = prepare_sft_dataset(load_stvqa(tiny_data, "train"), "dense", "question_only")[0]
    batch = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)([dict(example)])
    assert "mm_token_type_ids" in batch
    completion = batch["input_ids"][0][batch["labels"][0] != -100][:24]
    start = int((batch["labels"][0] != -100).nonzero()[0])
    prompt = {k: v[:, :start] if k in ("input_ids", "attention_mask", "mm_token_type_ids") else v
              for k, v in batch.items() if k != "labels"}

    def forced(batch_index, generated):  # generate() writes exactly the SFT response
        return [int(completion[generated.shape[0] - start])]

    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=len(completion), do_sample=False, output_logits=True,
                             return_dict_in_generate=True, prefix_allowed_tokens_fn=forced)
        generated = torch.log_softmax(torch.stack(out.logits, 1)[0].float(), -1)
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        trained = torch.log_softmax(model(**inputs).logits[0, start - 1:start - 1 + len(completion)].float(), -1)
        inputs.pop("mm_token_type_ids")
        flat = torch.log_softmax(model(**inputs).logits[0, start - 1:start - 1 + len(completion)].float(), -1)
    assert torch.equal(out.sequences[0, start:], completion)
    assert (generated - trained).abs().max() < 1e-4
    assert (generated - flat).abs().max() > 1e-3  # the check can fail: 1-D positions change the scores


def test_sft_two_steps(tiny_model, tiny_data, tmp_path):
    from spatialthinker.train.sft import run_sft

    result = run_sft(SFTRecipe(model=tiny_model, dataset=tiny_data, output_dir=str(tmp_path), max_steps=2,
                               target="answer", learning_rate=1e-3,
                               **{k: v for k, v in TINY.items() if k != "num_generations"}))
    records = _records(str(tmp_path))
    assert [r["step"] for r in records] == [1, 2] and all(math.isfinite(r["loss"]) for r in records)
    assert _moved(_params(tiny_model), _params(result.final_dir)) > 0.5


def test_sft_freeze_patch_embedding_keeps_only_the_projection(tiny_model, tiny_data, tmp_path):
    """freeze_patch_embedding: the patch projection is bit-identical after training, the merger and LM move."""
    from spatialthinker.train.sft import run_sft

    result = run_sft(SFTRecipe(model=tiny_model, dataset=tiny_data, output_dir=str(tmp_path), max_steps=2,
                               target="answer", learning_rate=1e-3, freeze_patch_embedding=True,
                               **{k: v for k, v in TINY.items() if k != "num_generations"}))
    before, after = _params(tiny_model), _params(result.final_dir)
    patch = [k for k in before if "patch_embed" in k]
    merger = [k for k in before if "merger" in k]
    assert patch and merger
    assert all(torch.equal(before[k], after[k]) for k in patch)
    assert all(not torch.equal(before[k], after[k]) for k in merger)
    assert _moved({k: v for k, v in before.items() if k not in patch}, after) > 0.9


def test_resume_continues_to_the_same_result(warmed_model, tiny_data, tmp_path):
    """2 steps, then resume to 4, equals 4 straight: Trainer restores optimizer, scheduler, data order and RNG.

    Compared with a tolerance rather than exactly: CPU matmul reductions may use a different blocking when the
    process (and thread pool) is fresh, which can change the last bits of a float.
    """
    from spatialthinker.train.grpo import run_grpo

    def recipe(out: str, steps: int, resume: bool = False) -> GRPORecipe:
        return GRPORecipe(model=warmed_model, dataset=tiny_data, output_dir=out, max_steps=steps, reward="sparse",
                          max_completion_length=40, learning_rate=1e-3, resume=resume, save_steps=2,
                          **{k: v for k, v in TINY.items() if k != "save_steps"})

    straight = run_grpo(recipe(str(tmp_path / "straight"), 4))
    split = str(tmp_path / "split")
    run_grpo(recipe(split, 2))
    resumed = run_grpo(recipe(split, 4, resume=True))
    assert resumed.global_step == 4
    assert [r["step"] for r in _records(split)] == [1, 2, 3, 4]
    losses_a = [r["loss"] for r in _records(str(tmp_path / "straight"))]
    losses_b = [r["loss"] for r in _records(split)]
    assert losses_a == pytest.approx(losses_b, rel=1e-3, abs=1e-5)
    a, b = _params(straight.final_dir), _params(resumed.final_dir)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4


def test_sft_lora_saves_an_adapter(tiny_model, tiny_data, tmp_path):
    pytest.importorskip("peft")
    from spatialthinker.train.sft import run_sft

    result = run_sft(SFTRecipe(model=tiny_model, dataset=tiny_data, output_dir=str(tmp_path), max_steps=2, lora=True,
                               learning_rate=1e-3, **{k: v for k, v in TINY.items() if k != "num_generations"}))
    assert os.path.isfile(os.path.join(result.final_dir, "adapter_model.safetensors"))
    assert math.isfinite(_records(str(tmp_path))[-1]["loss"])


def test_tiny_qwen3vl_family_loads_trains_and_generates(tiny_data, tmp_path):
    """``--model tiny-micro-qwen3vl``: a real Qwen3-VL (interleaved M-RoPE, learned patch positions) built offline,
    read by the image-only processor without torchvision, trained by TRL's SFT and GRPO, and reloaded."""
    from PIL import Image

    from spatialthinker.train.grpo import run_grpo
    from spatialthinker.train.model import load_model_and_processor
    from spatialthinker.train.sft import run_sft
    from spatialthinker.train.tiny import resolve_model_path

    path = resolve_model_path("tiny-micro-qwen3vl", cache_dir=tmp_path / "cache")
    config = json.loads((Path(path) / "config.json").read_text())
    assert config["model_type"] == "qwen3_vl" and config["text_config"]["rope_parameters"]["mrope_interleaved"]
    assert path != resolve_model_path("tiny-micro", cache_dir=tmp_path / "cache")  # one cache entry per family
    model, processor = load_model_and_processor(path, min_pixels=56 * 56, max_pixels=224 * 224)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    batch = processor(text=[text], images=[Image.new("RGB", (224, 224))], return_tensors="pt")
    assert int((batch["input_ids"] == model.config.image_token_id).sum()) == 64

    sft = run_sft(SFTRecipe(model=path, dataset=tiny_data, output_dir=str(tmp_path / "sft"), max_steps=2,
                            target="sparse", prompt_style="sparse", learning_rate=1e-3, freeze_patch_embedding=True,
                            **{k: v for k, v in TINY.items() if k != "num_generations"}))
    before, after = _params(path), _params(sft.final_dir)
    assert all(torch.equal(before[k], after[k]) for k in before if "patch_embed" in k)
    assert not torch.equal(before["model.visual.pos_embed.weight"], after["model.visual.pos_embed.weight"])
    out = str(tmp_path / "grpo")
    result = run_grpo(GRPORecipe(model=sft.final_dir, dataset=tiny_data, output_dir=out, max_steps=1,
                                 reward="dense", max_completion_length=16, learning_rate=1e-3, **TINY))
    assert result.global_step == 1 and all(math.isfinite(r["loss"]) for r in _records(out))
    model, processor = load_model_and_processor(result.final_dir)
    batch = processor(text=[text], images=[Image.new("RGB", (64, 64))], return_tensors="pt")
    assert model.generate(**batch, max_new_tokens=3, do_sample=False).shape[1] > batch["input_ids"].shape[1]


def test_tiny_model_names_are_checked(tmp_path):
    from spatialthinker.train.tiny import resolve_model_path

    assert resolve_model_path("Qwen/Qwen2.5-VL-3B-Instruct") == "Qwen/Qwen2.5-VL-3B-Instruct"
    with pytest.raises(ValueError, match="'huge' is neither a tiny size"):
        resolve_model_path("tiny-huge", cache_dir=tmp_path)
