"""Does the tiny model learn to see, and to name the letter? Steps until it gets either right on held-out scenes.

    python benchmarks/vision_learning.py                        # renders 800 blocks scenes, 500 steps per variant
    python benchmarks/vision_learning.py --data runs/quickstart/tiny_data --steps 300 --variants linear+frozen
    python benchmarks/vision_learning.py --task letter --variants text-first,verdicts --steps 300

The task is the plainest one that needs the image: after the question-free prompt, say which classes are in the
picture ("I see ball, cone, cube."), read from the ground truth ``scene_3d``. Each variant of the tiny Qwen2.5-VL
trains on it from random weights with AdamW (batch 8, warm-up 30 steps, then constant lr) and is scored on the
val scenes: the share of images whose whole list is right (teacher-forced argmax, i.e. what greedy decoding
writes) beside the share that the most common training list would get. Why it exists: the SFT and GRPO
presets sat at chance on held-out questions, and this isolates the cause (docs/training.md, "Learning in
miniature"): the vision patch projection, not the language model.

Variants: ``blocks4`` (four vision transformer blocks, everything trained: the old tiny model),
``blocks4+frozen`` (its patch projection frozen), ``linear`` (no vision blocks) and ``linear+frozen`` (no
blocks, projection frozen: what the quickstart trains now).

``--task letter`` asks the other question: given the right option text, does the model write its letter? The
prompt is a training question with its shuffled options, the target one of two think steps of the SFT
responses (``text-first``: "The answer is ball, option (B)."; ``verdicts``: "(A) cone: no. (B) ball: yes. So
(B).", what ``train.data.sft_target`` writes now), and the score is the share of held-out questions whose right
letter the model prefers over the others (log-likelihood of the whole target with each letter). The model is
``linear+frozen``.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

VARIANTS = {"blocks4": (4, False), "blocks4+frozen": (4, True), "linear": (0, False), "linear+frozen": (0, True)}
LETTER_VARIANTS = ("text-first", "verdicts")


def present_classes(row: dict) -> str:
    labels = sorted({obj["label"] for obj in json.loads(row["scene_3d"])["objects"]})
    return "I see " + ", ".join(labels) + "."


def letter_target(row: dict, shape: str, letter: str) -> str:
    """The think step of ``shape`` for this row's right option text, naming ``letter`` (the verdicts always
    accept the right option: only the letter differs between the targets that are compared)."""
    from spatialthinker.prompts import LETTERS
    from spatialthinker.train.data import option_verdicts

    right = LETTERS.index(row["answer_only"])
    if shape == "text-first":
        return f"The answer is {row['options'][right]}, option ({letter})."
    return f"{option_verdicts(row['options'], right)} So ({letter})."


def load_rows(data: Path, per_image: bool = True) -> tuple[list[dict], list[dict]]:
    """Each split's rows: one per image for the presence task (its target depends on the image only)."""
    import pyarrow.parquet as pq

    columns = ["image_id", "images", "scene_3d", "item_id", "question_with_options", "options", "answer_only"]
    splits = []
    for split in ("train", "val"):
        rows = pq.read_table(data / f"{split}.parquet", columns=columns).to_pylist()
        splits.append(list({row["image_id"]: row for row in rows}.values()) if per_image else rows)
    return splits[0], splits[1]


def build_model(tokenizer_dir: str, depth: int, seed: int):
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from spatialthinker.train.model import load_model_and_processor
    from spatialthinker.train.tiny import build_tiny_config

    _, processor = load_model_and_processor(tokenizer_dir)
    config = build_tiny_config(processor.tokenizer, "small")
    config.vision_config.depth = depth
    config.vision_config.fullatt_block_indexes = [depth - 1] if depth else []
    torch.manual_seed(seed)
    return Qwen2_5_VLForConditionalGeneration(config), processor


class Batcher:
    """Chat-formatted prompt + target, labels on the target tokens only (prompt lengths cached per image)."""

    def __init__(self, processor, with_question: bool = False):
        self.processor = processor
        self.with_question = with_question
        self.prompt_tokens: dict[str, int] = {}

    @staticmethod
    def image(row: dict):
        from PIL import Image

        return Image.open(io.BytesIO(row["images"]["bytes"])).convert("RGB")

    def prompt(self, row: dict) -> str:
        text = row["question_with_options"] if self.with_question else "What do you see?"
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True)

    def __call__(self, rows: list[dict], targets: list[str]):
        texts = [self.prompt(r) + target + "<|im_end|>" for r, target in zip(rows, targets)]
        images = [self.image(r) for r in rows]
        enc = self.processor(text=texts, images=images, return_tensors="pt", padding=True)
        labels = enc.input_ids.clone()
        labels[enc.attention_mask == 0] = -100
        for i, (row, image) in enumerate(zip(rows, images)):
            key = row["item_id"] if self.with_question else row["image_id"]
            if key not in self.prompt_tokens:
                prompt = self.processor(text=[self.prompt(row)], images=[image], return_tensors="pt")
                self.prompt_tokens[key] = prompt.input_ids.shape[1]
            padding = int((enc.attention_mask[i] == 0).sum())  # left padding
            labels[i, : padding + self.prompt_tokens[key]] = -100
        return enc, labels


def run_variant(name: str, train: list[dict], val: list[dict], tokenizer_dir: str, args) -> list[tuple[int, float]]:
    import torch

    from spatialthinker.prompts import LETTERS

    letter_task = name in LETTER_VARIANTS
    depth, frozen = VARIANTS["linear+frozen" if letter_task else name]
    model, processor = build_model(tokenizer_dir, depth, args.seed)
    if frozen:
        model.model.visual.patch_embed.requires_grad_(False)
    batcher = Batcher(processor, with_question=letter_task)

    def target(row: dict, letter: str | None = None) -> str:
        return letter_target(row, name, letter or row["answer_only"]) if letter_task else present_classes(row)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    rng = random.Random(args.seed)
    curve = []

    def loss_and_hits(rows, targets=None):
        enc, labels = batcher(rows, targets or [target(r) for r in rows])
        logits = model(**enc).logits[:, :-1]
        gold = labels[:, 1:]
        per_token = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), gold.reshape(-1),
                                                      ignore_index=-100, reduction="none").view(gold.shape)
        hits = ((logits.argmax(-1) == gold) | (gold == -100)).all(dim=1)
        return per_token.sum() / (gold != -100).sum(), hits, per_token.sum(dim=1)

    def right_letter(row) -> bool:
        letters = list(LETTERS[: len(row["options"])])
        _, _, totals = loss_and_hits([row] * len(letters), [target(row, letter) for letter in letters])
        return letters[int(totals.argmin())] == row["answer_only"]

    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        for group in optimizer.param_groups:
            group["lr"] = args.lr * min(1.0, step / 30)
        model.train()
        loss, _, _ = loss_and_hits(rng.sample(train, args.batch_size))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            with torch.no_grad():
                if letter_task:
                    right = sum(right_letter(row) for row in val)
                else:
                    right = sum(int(loss_and_hits(val[i:i + 16])[1].sum()) for i in range(0, len(val), 16))
            curve.append((step, right / len(val)))
            print(f"{name:>15}  step {step:4d}  loss {loss.item():.3f}  held-out right {right / len(val):.3f}"
                  f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="folder with train/val.parquet (STVQA + scene_3d); default: render")
    parser.add_argument("--scenes", type=int, default=800, help="blocks scenes to render when --data is not given")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--task", choices=("presence", "letter"), default="presence")
    parser.add_argument("--val", type=int, default=160, help="held-out questions scored (letter task)")
    parser.add_argument("--variants", help=f"comma-separated: presence {', '.join(VARIANTS)}; letter "
                                           f"{', '.join(LETTER_VARIANTS)} (default: all of the task's)")
    args = parser.parse_args()

    from spatialthinker.train.tiny import build_tiny_vlm

    work = Path(tempfile.mkdtemp(prefix="vision-learning-"))
    data = args.data
    if data is None:
        from spatialthinker.pipeline import stages
        from spatialthinker.pipeline.presets import Preset

        preset = Preset("vision", num_scenes=args.scenes, image_size=112, world="blocks", seed=7)
        stages.make_data(preset, work / "data")
        data = work / "data"
    letter_task = args.task == "letter"
    train, val = load_rows(data, per_image=not letter_task)
    if letter_task:
        val = val[:: max(1, len(val) // args.val)][: args.val]
        chance = sum(1 / len(r["options"]) for r in val) / len(val)
        print(f"{len(train)} train / {len(val)} val questions; chance {chance:.3f}")
        corpus = [r["question_with_options"] + "\n" + letter_target(r, shape, r["answer_only"])
                  for r in train for shape in LETTER_VARIANTS]
    else:
        majority = Counter(present_classes(r) for r in train).most_common(1)[0][0]
        print(f"{len(train)} train / {len(val)} val images; the most common training list ({majority!r}) is right "
              f"for {sum(present_classes(r) == majority for r in val) / len(val):.3f} of val images")
        corpus = [present_classes(r) for r in train]
    tokenizer_dir = build_tiny_vlm(work / "tokenizer", seed=args.seed, corpus=corpus)
    known = LETTER_VARIANTS if letter_task else tuple(VARIANTS)
    names = args.variants.split(",") if args.variants else list(known)
    if set(names) - set(known):
        parser.error(f"--variants for --task {args.task}: choose from {', '.join(known)}")
    results = {name: run_variant(name, train, val, tokenizer_dir, args) for name in names}
    print("\nheld-out right, by step:")
    for name, curve in results.items():
        print(f"{name:>15}  " + "  ".join(f"{step}: {value:.2f}" for step, value in curve))


if __name__ == "__main__":
    main()
