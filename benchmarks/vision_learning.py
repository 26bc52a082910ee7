"""Does the tiny model learn to see, name the letter and judge an option? Steps until it does, on held-out scenes.

    python benchmarks/vision_learning.py                        # renders 800 blocks scenes, 500 steps per variant
    python benchmarks/vision_learning.py --data runs/quickstart/tiny_data --steps 300 --variants linear+frozen
    python benchmarks/vision_learning.py --task letter --variants text-first,verdicts --steps 300
    python benchmarks/vision_learning.py --task verdict --categories existence --observe --restate facts
    python benchmarks/vision_learning.py --task box --variants linear+frozen,qwen3+frozen

The task is the plainest one that needs the image: after the question-free prompt, say which classes are in the
picture ("I see ball, cone, cube."), read from the ground truth ``scene_3d`` (``--order`` lists them left to
right or near to far instead). Each variant of the tiny model trains on it from random weights with AdamW
(batch 8, warm-up 30 steps, then constant lr) and is scored on the val scenes: the share of images whose whole
list is right (teacher-forced argmax, i.e. what greedy decoding writes) beside the share that the most common
training list would get. Why it exists: the SFT and GRPO presets sat at chance on held-out questions, and this
isolates the causes (docs/training.md, "Learning in miniature").

Variants: ``blocks4`` (four vision transformer blocks, everything trained: the old tiny model),
``blocks4+frozen`` (its patch projection frozen), ``linear`` (no vision blocks), ``linear+frozen`` (no blocks,
projection frozen: what the quickstart trains now), ``qwen3+frozen`` (the same as a tiny Qwen3-VL) and
``qwen3+sincos`` (that, with a frozen 2-D sinusoid as its patch-position table). ``--number-init smooth``
starts the coordinate tokens at a sinusoid of their value.

``--task letter`` asks: given the right option text, does the model write its letter? The prompt is a training
question with its shuffled options, the target one of two think steps of the SFT responses (``text-first``:
"The answer is ball, option (B)."; ``verdicts``: "(A) cone: no. (B) ball: yes. So (B).", what
``train.data.sft_target`` writes now), and the score is the share of held-out questions whose right letter the
model prefers over the others (log-likelihood of the whole target with each letter).

``--task verdict`` asks: does the model judge the right option from the image? The target is the think step
with the verdicts; the score is the share of held-out questions (a seeded random sample) whose right option the
model prefers, after writing what comes before the verdicts itself (greedy): with ``--observe`` the classes it
sees, with ``--restate facts`` the fact an existence answer rests on ("cylinder: yes.", ``question_facts``),
with ``--restate values`` also the compared values of the other categories, with ``--restate order`` the
compared objects in the order of the compared value ("Left to right: cone, ball."); ``--given-facts`` scores after
the true prefix instead. ``--task box`` asks for the named object's pixel box and scores the IoU of the
coordinates written, each given the true ones before it, beside the class's mean training box.
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

#: name -> (vision blocks, patch projection frozen, model family)
VARIANTS = {"blocks4": (4, False, "qwen2_5_vl"), "blocks4+frozen": (4, True, "qwen2_5_vl"),
            "linear": (0, False, "qwen2_5_vl"), "linear+frozen": (0, True, "qwen2_5_vl"),
            "qwen3+frozen": (0, True, "qwen3_vl"), "qwen3+sincos": (0, True, "qwen3_vl")}
LETTER_VARIANTS = ("text-first", "verdicts")


def horizontal_centre(obj: dict) -> float:
    """The horizontal centre of a ``scene_3d`` object's pixel box: what "left of" / "right of" compares."""
    return (obj["bbox"][0] + obj["bbox"][2]) / 2


def present_classes(row: dict, order: str = "classes") -> str:
    """The presence target: the classes the image shows, alphabetically (what the SFT responses observe now), or
    ordered left to right (box centre) or near to far (depth)."""
    from spatialthinker.train.data import labels_in_image

    objects = json.loads(row["scene_3d"])["objects"]
    if order == "left-right":
        ordered = sorted(objects, key=horizontal_centre)
        return "Left to right: " + ", ".join(o["label"] for o in ordered) + "."
    if order == "near-far":
        return "Near to far: " + ", ".join(o["label"] for o in sorted(objects, key=lambda o: o["depth_m"])) + "."
    return "I see " + ", ".join(labels_in_image(row)) + "."


def letter_target(row: dict, shape: str, letter: str) -> str:
    """The think step of ``shape`` for this row's right option text, naming ``letter`` (the verdicts always
    accept the right option: only the letter differs between the targets that are compared)."""
    from spatialthinker.prompts import LETTERS
    from spatialthinker.train.data import option_verdicts

    right = LETTERS.index(row["answer_only"])
    if shape == "text-first":
        return f"The answer is {row['options'][right]}, option ({letter})."
    return f"{option_verdicts(row['options'], right)} So ({letter})."


#: The value each comparison category compares, by its evidence key, and how ``--restate order`` names the
#: order of the compared objects by it.
ORDER_WORDS = {"depth_m": "Near to far", "distance_m": "Near to far from the {referent}",
               "volume_m3": "Small to large", "relation": "Left to right"}


def compared_values(row: dict) -> tuple[str, dict[str, float]] | None:
    """The evidence key of a comparison question and the compared value of each of its objects (metres, cubic
    metres, or the horizontal box centre in pixels for a relation); None for other questions."""
    evidence = json.loads(row["evidence"])
    for key in ORDER_WORDS:
        if key == "relation" and "relation" in evidence:
            objects = {obj["id"]: obj for obj in json.loads(row["scene_3d"])["objects"]}
            return key, {i: horizontal_centre(objects[i]) for i in evidence["relation"][::2]}
        if evidence.get(key):
            return key, evidence[key]
    return None


def compared_order(row: dict) -> str:
    """The question's compared objects in the order of the compared value ("Left to right: cone, ball."); the
    existence fact for existence questions."""
    from spatialthinker.train.data import question_facts

    if row["category"] == "existence":
        return question_facts(row)
    compared = compared_values(row)
    if compared is None:
        return ""
    key, values = compared
    names = [i.split(".")[0] for i in sorted(values, key=values.get)]
    referent = json.loads(row["evidence"]).get("referent", "").split(".")[0]
    return f"{ORDER_WORDS[key].format(referent=referent)}: {', '.join(names)}."


def restatement(row: dict, values_too: bool = False) -> str:
    """The facts a verdict rests on, before it: "cylinder: yes." for existence (``train.data.question_facts``,
    what the SFT responses write now); for the comparisons, the compared value of each question object
    ("cone 2.8, cylinder 3.8.": depth or distance to the referent in metres, size in litres, the horizontal box
    centre in pixels for a relation) with ``values_too``, which the SFT responses do not write (measured no help,
    docs/training.md)."""
    from spatialthinker.train.data import question_facts

    if row["category"] == "existence" or not values_too:
        return question_facts(row)
    compared = compared_values(row)
    if compared is None:
        return ""
    key, values = compared
    scale = 1000.0 if key == "volume_m3" else 1.0
    return ", ".join(f"{name.split('.')[0]} {value * scale:.1f}" for name, value in values.items()) + "."


def verdict_target(row: dict, letter: str, restate: str = "") -> str:
    """The think step of the SFT responses accepting the option of ``letter``: "(A) cone: no. (B) ball: yes.
    So (B).", after the ``restatement`` when ``restate`` is "facts" (or "values": with the compared values).
    Scoring compares these targets over the letters, so it asks which option the model judges right from the
    image (the image-decided words of a response), not whether it copies a letter."""
    from spatialthinker.prompts import LETTERS
    from spatialthinker.train.data import option_verdicts

    verdicts = f"{option_verdicts(row['options'], LETTERS.index(letter))} So ({letter})."
    if restate == "order":
        facts = compared_order(row)
    else:
        facts = restatement(row, restate == "values") if restate else ""
    return f"{facts} {verdicts}" if facts else verdicts


def box_rows(rows: list[dict]) -> list[dict]:
    """One row per (image, object) for the box task: "Where is the cone?" -> its ground-truth pixel box."""
    out = []
    for row in rows:
        for obj in json.loads(row["scene_3d"])["objects"]:
            out.append({**row, "item_id": f"{row['image_id']}/{obj['id']}", "box": obj["bbox"],
                        "question_with_options": f"Where is the {obj['label']}?"})
    return out


def box_target(row: dict) -> str:
    return "[" + ", ".join(str(int(v)) for v in row["box"]) + "]"


def load_rows(data: Path, per_image: bool = True) -> tuple[list[dict], list[dict]]:
    """Each split's rows: one per image for the presence task (its target depends on the image only)."""
    import pyarrow.parquet as pq

    columns = ["image_id", "images", "scene_3d", "item_id", "question_with_options", "options", "answer_only",
               "category", "evidence", "answer_text_only"]
    splits = []
    for split in ("train", "val"):
        rows = pq.read_table(data / f"{split}.parquet", columns=columns).to_pylist()
        splits.append(list({row["image_id"]: row for row in rows}.values()) if per_image else rows)
    return splits[0], splits[1]


def build_model(tokenizer_dir: str, depth: int, seed: int, family: str):
    import torch
    import transformers

    from spatialthinker.train.model import QWEN_VL_CLASSES, build_processor, load_processor
    from spatialthinker.train.tiny import TINY_MAX_PIXELS, TINY_MIN_PIXELS, build_tiny_config

    tokenizer = load_processor(tokenizer_dir).tokenizer
    processor = build_processor(tokenizer, TINY_MIN_PIXELS, TINY_MAX_PIXELS, model_type=family)
    config = build_tiny_config(tokenizer, "small", family)
    config.vision_config.depth = depth
    if family == "qwen2_5_vl":
        config.vision_config.fullatt_block_indexes = [depth - 1] if depth else []
    torch.manual_seed(seed)
    return getattr(transformers, QWEN_VL_CLASSES[family][0])(config), processor


def batcher_image(row: dict):
    from PIL import Image

    return Image.open(io.BytesIO(row["images"]["bytes"])).convert("RGB")


def sinusoid(count: int, lowest: float, highest: float, width: int):
    """A ``count x width`` table: sines then cosines of 0..count-1 at ``width / 2`` frequencies spaced
    geometrically from ``lowest`` to ``highest`` radians per step (close values get close rows)."""
    import math

    import torch

    freqs = torch.exp(torch.linspace(math.log(lowest), math.log(highest), width // 2))
    angles = torch.arange(count, dtype=torch.float32)[:, None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def fix_patch_positions(model, image, processor) -> None:
    """``qwen3+sincos``: replace Qwen3-VL's learned patch-position table (random at 0.02, ~33x smaller than the
    patch content at start) by a frozen 2-D sinusoid of the content's scale, so every image token carries its
    row and column from step 0. Measured no faster than the learned table (docs/training.md)."""
    import torch

    visual = model.model.visual
    side, dim = visual.num_grid_per_side, visual.pos_embed.weight.shape[1]
    axis = sinusoid(side, 0.25, 2.5, dim // 2)  # side x dim/2
    table = torch.cat([axis[:, None].expand(side, side, -1), axis[None, :].expand(side, side, -1)], dim=2)
    with torch.no_grad():
        pixels = processor.image_processor(images=[image], return_tensors="pt")["pixel_values"]
        content = visual.patch_embed(pixels.to(visual.patch_embed.proj.weight.dtype))
        visual.pos_embed.weight.copy_(table.reshape(side * side, dim) * content.std() / table.std())
    visual.pos_embed.requires_grad_(False)


def smooth_number_embeddings(model, tokenizer) -> None:
    """``--number-init smooth``: start each coordinate token "0".."999" at a sinusoid of its value (the scale of
    the other embeddings), so neighbouring numbers start close (Pix2Seq-style coordinates). Measured no help on
    the box task (docs/training.md)."""
    import torch

    from spatialthinker.train.tiny import NUMBER_TOKENS

    embeddings = model.get_input_embeddings().weight
    table = sinusoid(NUMBER_TOKENS, 1 / NUMBER_TOKENS, 1.0, embeddings.shape[1])
    ids = tokenizer.convert_tokens_to_ids([str(n) for n in range(NUMBER_TOKENS)])
    with torch.no_grad():
        embeddings[ids] = (table * embeddings.std() / table.std()).to(embeddings.dtype)


class Batcher:
    """Chat-formatted prompt + target, labels on the target tokens only (prompt lengths cached per image)."""

    def __init__(self, processor, with_question: bool = False):
        self.processor = processor
        self.with_question = with_question
        self.prompt_tokens: dict[str, int] = {}

    image = staticmethod(batcher_image)

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
    verdict_task = args.task == "verdict"
    box_task = args.task == "box"
    depth, frozen, family = VARIANTS["linear+frozen" if letter_task else name]
    model, processor = build_model(tokenizer_dir, depth, args.seed, family)
    if frozen:
        model.model.visual.patch_embed.requires_grad_(False)
    if name.endswith("+sincos"):
        fix_patch_positions(model, batcher_image(train[0]), processor)
    if args.number_init == "smooth":
        smooth_number_embeddings(model, processor.tokenizer)
    batcher = Batcher(processor, with_question=letter_task or verdict_task or box_task)

    def target(row: dict, letter: str | None = None) -> str:
        if verdict_task:
            verdict = verdict_target(row, letter or row["answer_only"], args.restate)
            return f"{present_classes(row, args.order)} {verdict}" if args.observe else verdict
        if box_task:
            return box_target(row)
        if letter_task:
            return letter_target(row, name, letter or row["answer_only"])
        return present_classes(row, args.order)

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

    def own_prefix(row) -> str:
        """What the model itself writes before its verdicts (greedy, up to "(A)")."""
        image = batcher.image(row)
        enc = processor(text=[batcher.prompt(row)], images=[image], return_tensors="pt")
        out = model.generate(**enc, max_new_tokens=40, do_sample=False)
        text = processor.tokenizer.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True)
        return text.split("(A)")[0].strip()

    def right_letter(row) -> bool:
        letters = list(LETTERS[: len(row["options"])])
        if verdict_task and (args.observe or args.restate):
            true_prefix = target(row).split("(A)")[0].strip()
            own = true_prefix if args.given_facts else own_prefix(row)
            observed.append(own == true_prefix)
            candidates = [f"{own} {target(row, letter)[len(true_prefix):].lstrip()}".lstrip() for letter in letters]
        else:
            candidates = [target(row, letter) for letter in letters]
        _, _, totals = loss_and_hits([row] * len(letters), candidates)
        return letters[int(totals.argmin())] == row["answer_only"]

    def predicted_box_iou(row) -> float:
        """IoU of the box the model writes, coordinate by coordinate (argmax given the true ones before)."""
        import numpy as np

        from spatialthinker.geometry import box_overlap

        enc, labels = batcher([row], [box_target(row)])
        predicted = model(**enc).logits[0, :-1].argmax(-1)[labels[0, 1:] != -100]
        words = processor.tokenizer.convert_ids_to_tokens(predicted.tolist())
        numbers = [int(w) for w in words if w.isdigit()][:4]
        if len(numbers) != 4:
            return 0.0
        return float(box_overlap(np.array([numbers], float), np.array([row["box"]], float), "iou")[0])

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
                observed: list[bool] = []
                if box_task:
                    right = sum(predicted_box_iou(row) for row in val)
                elif letter_task or verdict_task:
                    verdicts = [right_letter(row) for row in val]
                    right = sum(verdicts)
                    if verdict_task:
                        by_category = {}
                        for row, ok in zip(val, verdicts):
                            by_category.setdefault(row["category"], []).append(ok)
                        print("    " + "  ".join(f"{c} {sum(v) / len(v):.2f} (n={len(v)})"
                                                 for c, v in sorted(by_category.items()))
                              + (f"  own facts right {sum(observed) / len(observed):.2f}" if observed else ""),
                              flush=True)
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
    parser.add_argument("--task", choices=("presence", "letter", "verdict", "box"), default="presence")
    parser.add_argument("--observe", action="store_true", help="verdict task: the target first names every class "
                        "in the image (\"I see ball, cone.\"); scored after the model's own greedy observation")
    parser.add_argument("--restate", choices=("facts", "values", "order"),
                        help="verdict task: before the verdicts, the fact an existence answer rests on (facts), and "
                        "the compared values too (values) or the compared objects in order (order)")
    parser.add_argument("--number-init", choices=("random", "smooth"), default="random",
                        help="coordinate-token embeddings: random (the tiny model's) or a sinusoid of the value")
    parser.add_argument("--given-facts", action="store_true", help="verdict task: score after the true facts "
                        "instead of the model's own (does the reasoning from the facts form at all?)")
    parser.add_argument("--order", choices=("classes", "left-right", "near-far"), default="classes",
                        help="presence task: name the classes alphabetically, left to right, or near to far")
    parser.add_argument("--categories", help="verdict/letter task: train and score only these (comma-separated)")
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
    question_task = args.task in ("letter", "verdict")
    train, val = load_rows(data, per_image=not question_task)
    if args.categories:
        keep = set(args.categories.split(","))
        train, val = [r for r in train if r["category"] in keep], [r for r in val if r["category"] in keep]
    if args.task == "box":
        train, val = box_rows(train), box_rows(val)[: args.val]
        import numpy as np

        from spatialthinker.geometry import box_overlap

        mean_box = {label: np.mean([r["box"] for r in train if r["question_with_options"] == label], axis=0)
                    for label in {r["question_with_options"] for r in train}}
        baseline = np.mean([box_overlap(np.array([mean_box[r["question_with_options"]]]), np.array([r["box"]], float),
                                        "iou")[0] for r in val])
        print(f"{len(train)} train / {len(val)} val boxes; the mean training box of the class gets IoU {baseline:.3f}")
        corpus = [r["question_with_options"] + " " + box_target(r) for r in train]
    elif question_task:
        val = random.Random(args.seed).sample(val, min(args.val, len(val)))  # rows come grouped by scene
        chance = sum(1 / len(r["options"]) for r in val) / len(val)
        print(f"{len(train)} train / {len(val)} val questions; chance {chance:.3f}")
        if letter_task:
            corpus = [r["question_with_options"] + "\n" + letter_target(r, shape, r["answer_only"])
                      for r in train for shape in LETTER_VARIANTS]
        else:
            corpus = [r["question_with_options"] + "\n" + present_classes(r, args.order) + " "
                      + verdict_target(r, r["answer_only"], args.restate) for r in train]
    else:
        majority = Counter(present_classes(r, args.order) for r in train).most_common(1)[0][0]
        print(f"{len(train)} train / {len(val)} val images; the most common training list ({majority!r}) is right "
              f"for {sum(present_classes(r, args.order) == majority for r in val) / len(val):.3f} of val images")
        corpus = [present_classes(r, args.order) for r in train]
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
