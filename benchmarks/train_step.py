"""Seconds per GRPO step for the tiny offline model, split into generation, reward, forward/backward and optimizer.

    python benchmarks/train_step.py [--steps 6] [--size small] [--reward dense] [--completion 128] [--warmup 30]
                                    [--cache dynamic|static] [--threads N]

Builds the tiny Qwen2.5-VL and a tiny STVQA parquet in a temporary folder, optionally warms the model up with SFT
(so completions are realistic responses rather than noise), runs GRPO and reads TRL's ``step_time`` and our
``reward_seconds`` from metrics.jsonl. The split comes from TRL's own profiling blocks (``transformers.generate``,
``_calculate_rewards``, ``compute_loss``, ``_prepare_inputs``), captured in-process, and from torch's global
optimizer step hooks; backward is what remains of ``training_step`` after the forward passes. The first step is
dropped (start-up). Prints one table; writes JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--size", default="small", choices=["micro", "small", "medium"])
    parser.add_argument("--reward", default="dense", choices=["dense", "sparse"])
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--completion", type=int, default=128, help="max completion tokens")
    parser.add_argument("--warmup", type=int, default=0, help="SFT warm-up steps before GRPO")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    parser.add_argument("--qwen3b", action="store_true",
                        help="GPU: a randomly initialised model with Qwen2.5-VL-3B's configuration (bf16, paper pixels)")
    parser.add_argument("--use-vllm", action="store_true", help="generate with vLLM colocated (needs vllm)")
    parser.add_argument("--cache", default=None, choices=["dynamic", "static"],
                        help="KV cache of transformers generation (TRL's cache_implementation; default dynamic)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from spatialthinker.train.config import GRPORecipe
    from spatialthinker.train.grpo import run_grpo
    from spatialthinker.train.tiny import build_tiny_vlm, write_tiny_stvqa

    with tempfile.TemporaryDirectory() as tmp:
        data = write_tiny_stvqa(Path(tmp) / "data", n=16)
        common = dict(dataset=data, output_dir=str(Path(tmp) / "run"), max_steps=args.steps, reward=args.reward,
                      num_generations=args.generations, per_device_train_batch_size=args.generations,
                      max_completion_length=args.completion, temperature=1.0, report_to="none", save_final=False,
                      save_last=False, save_steps=10_000)
        if args.qwen3b:
            recipe = GRPORecipe(model=random_qwen3b(Path(tmp) / "qwen3b"), learning_rate=1e-6, bf16=True,
                                dtype="bfloat16", gradient_checkpointing=True, attn_implementation="sdpa",
                                use_vllm=args.use_vllm, **common)  # paper pixel limits are the defaults
        else:
            recipe = GRPORecipe(model=build_tiny_vlm(Path(tmp) / "model", size=args.size), learning_rate=1e-4,
                                min_pixels=56 * 56, max_pixels=112 * 112, dtype="float32",
                                warmup_sft_steps=args.warmup, warmup_sft_learning_rate=3e-3,
                                trl_args={"cache_implementation": args.cache} if args.cache else {}, **common)
        started = time.perf_counter()
        with StepProfile() as profile:
            result = run_grpo(recipe)
        wall = time.perf_counter() - started
    # Upper bound of the reward's cost: a batch of fully formatted responses (the tiny policy's noise fails the
    # format gate early, which is cheaper than a real policy's output with boxes to match).
    from spatialthinker.rewards import compute_rewards
    from spatialthinker.train.data import sft_target

    rows = [item.to_row() for item, _ in _items(args.generations)]
    responses = [sft_target(row, "dense") for row in rows]
    started = time.perf_counter()
    for _ in range(20):
        compute_rewards(responses, [r["answer_option_text"] for r in rows], [i.image_size for i, _ in _items(len(rows))])
    formatted_reward = (time.perf_counter() - started) / 20
    steps = [r for r in result.metrics if "step_time" in r][1:] or result.metrics
    step_time = statistics.mean(r["step_time"] for r in steps)
    reward_time = statistics.mean(r.get("reward_seconds", 0.0) for r in steps)
    tokens = statistics.mean(r.get("completion_length_mean", 0.0) for r in steps) * args.generations
    numbers = {"size": "qwen2.5-vl-3b-random" if args.qwen3b else args.size,
               "completion_tokens_per_second": tokens / step_time if step_time else 0.0, "reward": args.reward, "generations": args.generations,
               "max_completion": args.completion, "steps_timed": len(steps), "seconds_per_step": step_time,
               "reward_seconds_per_step": reward_time, "reward_share": reward_time / step_time if step_time else 0.0,
               "completion_tokens_per_step": tokens,
               "reward_seconds_formatted_batch": formatted_reward,
               "reward_share_formatted": formatted_reward / step_time if step_time else 0.0, "total_wall_seconds": wall,
               "cache": args.cache or "dynamic", "torch_threads": _threads(),
               **profile.split(len(result.metrics), step_time, tokens)}
    width = max(map(len, numbers))
    for key, value in numbers.items():
        print(f"{key:<{width}}  {value:.4g}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=2))


class StepProfile:
    """Collects TRL's profiling durations (normally only sent to wandb/mlflow) and optimizer step times.

    TRL times its blocks with ``trl.extras.profiling.ProfilingContext``; wrapping its ``_log_metrics`` records
    every duration here as well. ``torch.optim.optimizer.register_optimizer_step_pre/post_hook`` time every
    optimizer step of the process. Both are undone on exit.
    """

    def __init__(self) -> None:
        self.durations: dict[str, list[float]] = {}
        self._undo: list = []

    def __enter__(self) -> "StepProfile":
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
        from trl.extras import profiling

        original = profiling.ProfilingContext._log_metrics

        def record(context, duration: float) -> None:
            self.durations.setdefault(context.name.split(".", 1)[-1], []).append(duration)
            original(context, duration)

        profiling.ProfilingContext._log_metrics = record
        self._undo.append(lambda: setattr(profiling.ProfilingContext, "_log_metrics", original))
        started: list[float] = []
        pre = register_optimizer_step_pre_hook(lambda *_: started.append(time.perf_counter()))
        post = register_optimizer_step_post_hook(
            lambda *_: self.durations.setdefault("optimizer", []).append(time.perf_counter() - started.pop()))
        self._undo += [pre.remove, post.remove]
        return self

    def __exit__(self, *exc) -> None:
        for undo in reversed(self._undo):
            undo()

    def split(self, steps: int, step_time: float, tokens_per_step: float) -> dict[str, float]:
        """Mean seconds per step of each part (first step dropped), and generated tokens per second."""
        def per_step(name: str) -> float:
            values = self.durations.get(name, [])[1:]
            return sum(values) / max(steps - 1, 1) if values else 0.0

        generation = per_step("transformers.generate")
        reward = per_step("_calculate_rewards")
        prepare = per_step("_prepare_inputs")
        forward = per_step("compute_loss")
        optimizer = per_step("optimizer")
        backward = max(step_time - prepare - forward - optimizer, 0.0)
        return {"split_generation_s": generation, "split_reward_s": reward,
                "split_inputs_and_reference_logps_s": max(prepare - generation - reward, 0.0),
                "split_forward_s": forward, "split_backward_s": backward, "split_optimizer_s": optimizer,
                "generated_tokens_per_second": tokens_per_step / generation if generation else 0.0}


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def random_qwen3b(out: Path) -> str:
    """Save a randomly initialised model with Qwen2.5-VL-3B-Instruct's configuration (no weights are downloaded).

    The tokenizer is the tiny local one (its ids fit the 151,936-entry embedding), so throughput is the 3B model's.
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from spatialthinker.train.model import build_processor
    from spatialthinker.train.tiny import SPECIAL_TOKENS, build_tokenizer

    tokenizer = build_tokenizer(2048)
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                         num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=128000,
                         rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                             "mrope_section": [16, 24, 24]},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen2_5_VLForConditionalGeneration(config)
    torch.set_default_dtype(torch.float32)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out)
    build_processor(tokenizer).save_pretrained(out)
    tokenizer.save_pretrained(out)
    del model
    return str(out)


def _items(n: int) -> list:
    from spatialthinker.train.tiny import _tiny_items

    return _tiny_items(n)


if __name__ == "__main__":
    main()
