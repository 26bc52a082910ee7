"""veRL's own code against ours. Runs in the veRL environment (``make verl-env`` -> .venv-verl), not the TRL one.

Called by tests/test_verl_env.py with a tiny model, the veRL parquet our export wrote and a set of responses.
Each step goes through the code a veRL training run uses, and the results go to a JSON report:
1. Hydra composes configs/verl/spatialthinker_grpo.yaml over veRL's packaged defaults, every key of our file is
   checked to exist in those defaults (Hydra would accept a misspelled key silently), and veRL's
   ``validate_config`` (what ``main_ppo`` runs first) passes.
2. veRL's ``hf_tokenizer``/``hf_processor`` load the model folder; ``RLHFDataset`` reads the parquet with the
   config's data section; one prompt is rendered the way the rollout renders it (qwen_vl_utils +
   the processor with ``data.mm_processor_kwargs``).
3. The reward: ``RewardLoopManager`` (the trainer's reward path, Ray actors running the reward manager the config
   names) scores a batch assembled like a rollout batch, ``extract_reward`` reads it back, and
   ``process_validation_metrics`` / ``_write_generations`` turn our components into veRL's logged metrics
   and rollout dump.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "verl"
REWARD_FILE = Path(__file__).resolve().parents[1] / "src" / "spatialthinker" / "train" / "verl.py"


def _leaf_keys(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        return [key for k, v in node.items() for key in _leaf_keys(v, f"{prefix}{k}.")]
    return [prefix[:-1]]


def check_config(model: str) -> tuple[Any, dict[str, Any]]:
    """Compose our config as launch.sh does; report keys veRL does not define and the result of validate_config."""
    import yaml
    from hydra import compose, initialize_config_dir, initialize_config_module
    from omegaconf import OmegaConf
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    ours = yaml.safe_load((CONFIG_DIR / "spatialthinker_grpo.yaml").read_text())
    ours.pop("hydra", None)
    ours.pop("defaults", None)
    with initialize_config_module("verl.trainer.config", version_base=None):
        defaults = OmegaConf.to_container(compose(config_name="ppo_trainer"), resolve=False)
    unknown = []
    for key in _leaf_keys(ours):
        node = defaults
        for part in key.split("."):
            if node == {}:  # a free-form mapping in veRL's defaults (mm_processor_kwargs, engine_kwargs, ...)
                break
            if not isinstance(node, dict) or part not in node:
                unknown.append(key)
                break
            node = node[part]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        config = compose(config_name="spatialthinker_grpo",
                         overrides=[f"actor_rollout_ref.model.path={model}", "reward.num_workers=1"])
    report: dict[str, Any] = {"unknown_keys": unknown, "validate_config": "passed"}
    try:
        validate_config(config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    except Exception as error:  # noqa: BLE001 - reported to the test, which fails with the message
        report["validate_config"] = f"{type(error).__name__}: {error}"
    report["resolved"] = {key: OmegaConf.select(config, key) for key in (
        "actor_rollout_ref.actor.freeze_vision_tower", "data.mm_processor_kwargs.min_pixels",
        "data.mm_processor_kwargs.max_pixels", "reward.reward_manager.name", "reward.custom_reward_function.name",
        "data.train_batch_size", "actor_rollout_ref.rollout.n", "algorithm.adv_estimator")}
    report["resolved"]["data.mm_processor_kwargs"] = OmegaConf.to_container(config.data.mm_processor_kwargs)
    return config, report


def render(dataset: Any, processor: Any, config: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A dataset row's prompt as the rollout renders it: qwen_vl_utils resize, then the processor."""
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.tokenizer import build_multimodal_processor_inputs

    messages = row["raw_prompt"]
    images, videos, _ = RLHFDataset._process_multi_modal_info(messages, dataset.image_patch_size, config.data)
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return build_multimodal_processor_inputs(processor, text=[text], images=images, videos=videos,
                                             mm_processor_kwargs=dict(config.data.mm_processor_kwargs or {}))


def read_dataset(config: Any, model: str) -> tuple[Any, Any, Any, dict[str, Any]]:
    """veRL's tokenizer, processor and RLHFDataset on our parquet; one prompt rendered as the rollout does."""
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.tokenizer import hf_processor, hf_tokenizer

    tokenizer = hf_tokenizer(model)
    processor = hf_processor(model)
    report: dict[str, Any] = {"processor_class": type(processor).__name__ if processor is not None else None}
    if processor is None:
        return tokenizer, None, None, report
    dataset = RLHFDataset(data_files=[config.data.train_files], tokenizer=tokenizer, config=config.data,
                          processor=processor)
    report["rows"] = len(dataset)
    row = dataset[0]
    inputs = render(dataset, processor, config, row)
    grid = [int(v) for v in inputs["image_grid_thw"][0]]
    patch = processor.image_processor.patch_size
    pad_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    report.update(
        content_types=[part["type"] for part in row["raw_prompt"][0]["content"]],
        prompt_tokens=int(inputs["input_ids"].shape[1]),
        image_pad_tokens=int((inputs["input_ids"][0] == pad_id).sum()),
        image_grid_thw=grid, processed_pixels=grid[1] * grid[2] * patch * patch,
        merge_size=int(processor.image_processor.merge_size),
        extra_info=row["extra_info"], data_source=row["data_source"], reward_model=row["reward_model"])
    return tokenizer, processor, dataset, report


def score_batch(config: Any, tokenizer: Any, processor: Any, dataset: Any, responses: list[dict[str, Any]],
                dump: str) -> dict:
    """A rollout-shaped DataProto of (prompt, response) pairs scored by veRL's RewardLoopManager."""
    import numpy as np
    import ray
    import torch
    from tensordict import TensorDict
    from verl import DataProto
    from verl.experimental.reward_loop.reward_loop import RewardLoopManager
    from verl.trainer.ppo.metric_utils import process_validation_metrics
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    from verl.trainer.ppo.reward import extract_reward

    rows = [dataset[item["index"]] for item in responses]
    prompts = [render(dataset, processor, config, row)["input_ids"][0].tolist() for row in rows]
    answers = [tokenizer(item["response"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
               for item in responses]
    prompt_len, response_len = max(map(len, prompts)), max(map(len, answers))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def padded(ids: list[int], width: int, left: bool) -> list[int]:
        return [pad] * (width - len(ids)) + ids if left else ids + [pad] * (width - len(ids))

    prompt_ids = torch.tensor([padded(p, prompt_len, True) for p in prompts])
    response_ids = torch.tensor([padded(a, response_len, False) for a in answers])
    mask = torch.tensor([[0] * (prompt_len - len(p)) + [1] * len(p) + [1] * len(a) + [0] * (response_len - len(a))
                         for p, a in zip(prompts, answers)])
    batch = DataProto(
        batch=TensorDict({"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask,
                          "input_ids": torch.cat([prompt_ids, response_ids], dim=1)}, batch_size=len(rows)),
        non_tensor_batch={key: np.array([row[key] for row in rows], dtype=object)
                          for key in ("data_source", "reward_model", "extra_info")})
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"SPATIALTHINKER_VERL_REWARD": str(REWARD_FILE)}})
    try:
        scored = RewardLoopManager(config).compute_rm_score(batch)
    finally:
        ray.shutdown()
    reward_tensor, extra = extract_reward(batch.union(scored))
    scores = reward_tensor.sum(-1).tolist()
    infos = {"reward": scores, **{k: list(np.asarray(v).tolist()) for k, v in extra.items()}}
    sources = [str(s) for s in batch.non_tensor_batch["data_source"]]
    uids = [str(item["index"]) for item in responses]  # the responses to one prompt form a group, as in a rollout
    metrics = process_validation_metrics(sources, uids, infos)
    decoded = [tokenizer.decode(a, skip_special_tokens=True) for a in answers]
    RayPPOTrainer._write_generations(["prompt"] * len(rows), decoded,
                                     [r["reward_model"]["ground_truth"] for r in rows], scores, infos, dump, 1)
    return {"scores": scores, "extra_keys": sorted(extra), "extra": infos, "decoded": decoded,
            "metrics": {src: {var: dict(vals) for var, vals in by_var.items()} for src, by_var in metrics.items()},
            "dump": str(Path(dump) / "1.jsonl")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--parquet", required=True)
    parser.add_argument("--responses", required=True, help="JSON list of {index, response}")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ["STVQA_VERL_TRAIN"] = os.environ["STVQA_VERL_VAL"] = args.parquet
    os.environ["SPATIALTHINKER_VERL_REWARD"] = str(REWARD_FILE)  # what launch.sh sets
    import qwen_vl_utils  # noqa: F401  (veRL's multimodal path needs it; fail here if missing)
    import torch
    import transformers
    import verl

    from importlib.metadata import version

    report: dict[str, Any] = {"versions": {"verl": verl.__version__, "transformers": transformers.__version__,
                                           "torch": torch.__version__, "qwen_vl_utils": version("qwen-vl-utils")}}
    config, report["config"] = check_config(args.model)
    tokenizer, processor, dataset, report["dataset"] = read_dataset(config, args.model)
    if dataset is not None:
        responses = json.loads(Path(args.responses).read_text())
        report["reward"] = score_batch(config, tokenizer, processor, dataset, responses, str(Path(args.out).parent / "dump"))
    Path(args.out).write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
