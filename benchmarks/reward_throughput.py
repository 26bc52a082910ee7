"""Throughput of ``compute_rewards`` against a plain per-pair Python implementation of the same rules.

Builds a deterministic corpus of varied responses (perfect, jittered, missing and extra objects, wrong labels,
wrong answers, box spam, broken formats) for GRPO-like groups (each ground truth repeated ``--group`` times),
checks that both implementations give the same totals (|difference| <= 1e-6), and prints responses/s.

    python benchmarks/reward_throughput.py [--n 4096] [--group 8] [--repeat 5] [--batch 4096 512]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from spatialthinker.rewards import RewardConfig, compute_rewards
from spatialthinker.rewards.terms import _read_ground_truth

LABELS = ["man", "woman", "bike", "car", "dog", "cup", "chair", "table", "traffic_light", "lamp", "sofa", "tree"]
PREDICATES = ["left of", "right of", "behind", "in front of", "above", "below", "on", "near"]
KINDS = ["perfect", "jitter", "jitter", "missing", "extra", "wrong_label", "wrong_answer", "spam", "no_tag",
         "bad_json", "nan_box", "inverted", "swapped_order", "empty_answer", "empty_scene"]


# ------------------------------------------------------------------------------------------------ corpus
def make_item(rng: random.Random) -> tuple[dict, str, tuple[int, int]]:
    """One ground truth: a scene of 1-4 objects, 0-3 relations, an answer, and an image size."""
    width, height = rng.choice([(640, 480), (1024, 768), (800, 600), (1280, 720), (500, 375)])
    labels = rng.sample(LABELS, rng.randint(1, 4))
    objects = []
    for label in labels:
        x1, y1 = rng.randint(0, width - 60), rng.randint(0, height - 60)
        objects.append({"id": f"{label}.1", "bbox": [x1, y1, rng.randint(x1 + 20, width), rng.randint(y1 + 20, height)]})
    relations = [{"subject": objects[rng.randrange(len(objects))]["id"], "predicate": rng.choice(PREDICATES),
                  "object": objects[rng.randrange(len(objects))]["id"]} for _ in range(rng.randint(0, 3))]
    answer = f"({rng.choice('ABCD')}) {rng.choice(PREDICATES)}"
    return {"objects": objects, "relationships": relations}, answer, (width, height)


def make_response(rng: random.Random, scene: dict, answer: str, size: tuple[int, int], kind: str) -> str:
    objects = [dict(o, bbox=list(o["bbox"])) for o in scene["objects"]]
    relations = list(scene["relationships"])
    width, height = size
    if kind in ("jitter", "missing", "extra", "wrong_label", "spam"):
        for o in objects:  # jitter by up to 8% of the box size, keeping the box well formed
            x1, y1, x2, y2 = o["bbox"]
            dx, dy = max(1, (x2 - x1) // 12), max(1, (y2 - y1) // 12)
            o["bbox"] = [x1 + rng.randint(-dx, dx), y1 + rng.randint(-dy, dy), x2 + rng.randint(-dx, dx) + 2 * dx,
                         y2 + rng.randint(-dy, dy) + 2 * dy]
    if kind == "missing" and len(objects) > 1:
        dropped = objects.pop(rng.randrange(len(objects)))["id"]
        relations = [r for r in relations if dropped not in (r["subject"], r["object"])]
    if kind in ("extra", "spam"):
        for i in range(rng.randint(1, 3) if kind == "extra" else rng.randint(10, 24)):
            x1, y1 = rng.uniform(0, width - 40), rng.uniform(0, height - 40)
            objects.append({"id": f"{rng.choice(LABELS)}.{i + 2}", "bbox": [round(x1, 1), round(y1, 1),
                                                                             round(x1 + rng.uniform(5, 300), 1),
                                                                             round(y1 + rng.uniform(5, 300), 1)]})
    if kind == "wrong_label" and objects:
        old = objects[0]["id"]
        objects[0]["id"] = f"{rng.choice([l for l in LABELS if not old.startswith(l)])}.1"
        relations = [dict(r, subject=objects[0]["id"] if r["subject"] == old else r["subject"],
                          object=objects[0]["id"] if r["object"] == old else r["object"]) for r in relations]
    if kind == "nan_box":
        objects[0]["bbox"][2] = float("nan")
    if kind == "inverted":
        b = objects[0]["bbox"]
        objects[0]["bbox"] = [b[2], b[1], b[0], b[3]] if b[2] > b[0] else [b[0], b[3], b[2], b[1]]
    if kind == "wrong_answer":
        answer = "(E) nowhere"
    if kind == "empty_answer":
        answer = " "
    scene_text = json.dumps({"objects": objects, "relationships": relations})
    if kind == "bad_json":
        scene_text = scene_text[: len(scene_text) // 2]
    if kind == "empty_scene":
        scene_text = "{}"
    observe = "<observe>" + " ".join(rng.choice(LABELS) for _ in range(rng.randint(5, 30))) + "</observe>"
    think = "<think>" + "reasoning step. " * rng.randint(3, 40) + "</think>"
    parts = [observe, f"<scene>\n{scene_text}\n</scene>", think, f"<answer> {answer} </answer>"]
    if kind == "no_tag":
        parts.pop(rng.randrange(4))
    if kind == "swapped_order":
        rng.shuffle(parts)
    return "\n".join(parts)


def make_corpus(n: int, group: int, seed: int = 0) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    rng = random.Random(seed)
    responses, truths, sizes = [], [], []
    while len(responses) < n:
        scene, answer, size = make_item(rng)
        truth = f"<scene>{json.dumps(scene)}</scene>\n<answer>{answer}</answer>"
        for _ in range(group):
            responses.append(make_response(rng, scene, answer, size, rng.choice(KINDS)))
            truths.append(truth)
            sizes.append(size)
    return responses[:n], truths[:n], sizes[:n]


# ------------------------------------------------------------------------------ naive reference-style version
_ID = re.compile(r"^[a-zA-Z_]+\.\d+$")
_EPS = 1e-9


def _tag(text: str, tag: str) -> str | None:
    if text.count(f"<{tag}>") != 1 or text.count(f"</{tag}>") != 1:
        return None
    start, end = text.find(f"<{tag}>"), text.find(f"</{tag}>")
    return text[start + len(tag) + 2:end] if start < end else None


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def naive_scene(text: str):
    try:
        data = json.loads(text.strip())
    except ValueError:
        return None
    if not isinstance(data, dict) or not data:
        return None
    objects, relations = data.get("objects", []), data.get("relationships", [])
    if not isinstance(objects, list) or not isinstance(relations, list):
        return None
    seen = set()
    for o in objects:
        if not isinstance(o, dict) or set(o) - {"id", "bbox"} or not isinstance(o.get("id"), str):
            return None
        b = o.get("bbox")
        if not _ID.match(o["id"]) or o["id"] in seen or not isinstance(b, list) or len(b) != 4:
            return None
        if not all(_number(v) for v in b) or b[0] > b[2] or b[1] > b[3]:
            return None
        seen.add(o["id"])
    for r in relations:
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ("subject", "predicate", "object")):
            return None
        if not (_ID.match(r["subject"]) and _ID.match(r["object"])):
            return None
    return objects, relations


def naive_ciou_mapped(a, b, w, h) -> float:
    a = [min(max(a[0] / w, -10), 10), min(max(a[1] / h, -10), 10), min(max(a[2] / w, -10), 10), min(max(a[3] / h, -10), 10)]
    b = [min(max(b[0] / w, -10), 10), min(max(b[1] / h, -10), 10), min(max(b[2] / w, -10), 10), min(max(b[3] / h, -10), 10)]
    aw, ah, bw, bh = a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    iou = inter / max(aw * ah + bw * bh - inter, _EPS)
    cw, ch = max(a[2], b[2]) - min(a[0], b[0]), max(a[3], b[3]) - min(a[1], b[1])
    rho2 = ((a[0] + a[2] - b[0] - b[2]) ** 2 + (a[1] + a[3] - b[1] - b[3]) ** 2) / 4
    v = 4 / math.pi ** 2 * (math.atan(bw / max(bh, _EPS)) - math.atan(aw / max(ah, _EPS))) ** 2
    alpha = v / max(1 - iou + v, _EPS)
    return min(1.0, max(0.0, (iou - rho2 / max(cw * cw + ch * ch, _EPS) - alpha * v + 1) / 2))


def _label(object_id: str) -> str:
    return " ".join(re.sub(r"\.\d+$", "", object_id).replace("_", " ").replace("-", " ").lower().split())


def naive_reward(response: str, truth: str, size) -> float:
    """The method.md §4 rules, one response at a time, one pair at a time, GT parsed on every call."""
    gt_scene = json.loads(truth[truth.index("<scene>") + 7:truth.index("</scene>")])
    gt_answer = truth[truth.index("<answer>") + 8:truth.index("</answer>")].strip()
    contents = {tag: _tag(response, tag) for tag in ("observe", "scene", "think", "answer")}
    parsed = naive_scene(contents["scene"]) if contents["scene"] is not None else None
    if any(v is None for v in contents.values()) or parsed is None:
        return 0.0
    objects, relations = parsed
    gt_objects, gt_relations = gt_scene.get("objects", []), gt_scene.get("relationships", [])
    obj = max(0.0, 1 - abs(len(objects) - len(gt_objects)) / max(len(gt_objects), 1))
    rel = max(0.0, 1 - abs(len(relations) - len(gt_relations)) / max(len(gt_relations), 1))
    count = 0.7 * obj + 0.3 * rel if gt_relations else obj
    accuracy = float(contents["answer"].strip() != "" and contents["answer"].strip().lower() == gt_answer.lower())
    spatial = 0.0
    if accuracy == 1.0:
        if not gt_objects:
            spatial = 1.0 if not objects else 0.0
        elif objects:
            preds = objects[:64]
            cost = np.zeros((len(preds), len(gt_objects)))
            score = np.zeros_like(cost)
            for i, p in enumerate(preds):
                for j, g in enumerate(gt_objects):
                    score[i, j] = naive_ciou_mapped(p["bbox"], g["bbox"], *size)
                    sim = 1.0 if _label(p["id"]) == _label(g["id"]) else 0.0
                    cost[i, j] = 2.0 * (1 - sim) + 1.0 * (1 - score[i, j])
            rows, cols = linear_sum_assignment(cost)
            spatial = float(sum(score[r, c] for r, c in zip(rows, cols)) / len(gt_objects))
    return 0.1 + 0.2 * count + 0.5 * accuracy + 0.2 * accuracy * spatial


# ------------------------------------------------------------------------------------------------ timing
def best_time(fn, repeat: int) -> tuple[float, float]:
    """Best (CPU seconds of this thread, wall seconds) over ``repeat`` runs.

    CPU time of the one thread is the "one core" figure: on a shared machine, wall time also counts the time
    other processes held the core.
    """
    cpu, wall = [], []
    for _ in range(repeat):
        _read_ground_truth.cache_clear()  # every run pays for parsing its ground truths once
        start_cpu, start_wall = time.thread_time(), time.perf_counter()
        fn()
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return min(cpu), min(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="responses in the corpus (>= 3000)")
    parser.add_argument("--group", type=int, default=8, help="responses per ground truth (GRPO num_generations)")
    parser.add_argument("--batch", type=int, nargs="+", default=[4096, 512],
                        help="responses per compute_rewards call; 4096 = one step of the paper (512 prompts x 8)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the best is reported")
    args = parser.parse_args()
    responses, truths, sizes = make_corpus(args.n, args.group)
    config = RewardConfig()
    fast = [r.total for r in compute_rewards(responses, truths, sizes, config)]
    slow = [naive_reward(r, t, s) for r, t, s in zip(responses, truths, sizes)]
    mismatches = sum(abs(a - b) > 1e-6 for a, b in zip(fast, slow))
    print(f"corpus: {len(responses)} responses, {len(set(truths))} ground truths, "
          f"mean total {np.mean(fast):.4f}, zero totals {sum(t == 0 for t in fast)}")
    print(f"totals differing by more than 1e-6: {mismatches}")
    n = len(responses)
    cpu_slow, wall_slow = best_time(lambda: [naive_reward(r, t, s) for r, t, s in zip(responses, truths, sizes)],
                                    args.repeat)
    print(f"{'naive per-pair Python':34s} {n / cpu_slow:10,.0f} responses/s CPU   {n / wall_slow:10,.0f} wall")
    for batch in args.batch:
        def run(batch: int = batch) -> None:
            for i in range(0, n, batch):
                compute_rewards(responses[i:i + batch], truths[i:i + batch], sizes[i:i + batch], config)

        cpu, wall = best_time(run, args.repeat)
        print(f"{f'compute_rewards, batches of {batch}':34s} {n / cpu:10,.0f} responses/s CPU   {n / wall:10,.0f} wall"
              f"   speed-up {cpu_slow / cpu:.2f}x CPU, {wall_slow / wall:.2f}x wall")


if __name__ == "__main__":
    main()
