"""The reward against the reference's documented behaviour (benchmarks.md, "Reference reward facts"): CIoU to 1e-9,
whole-string model ids, lenient ground-truth ids, and the documented extra-closing-tag choice."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from spatialthinker.geometry import box_overlap
from spatialthinker.rewards import RewardConfig, compute_reward
from spatialthinker.scene import GROUND_TRUTH, SceneGraph

from _reference import reference_mapped_ciou

SIZE = (640, 480)


def respond(objects: list[dict], answer: str = "(A) left") -> str:
    scene = json.dumps({"objects": objects, "relationships": []})
    return f"<observe>o</observe>\n<scene>{scene}</scene>\n<think>t</think>\n<answer>{answer}</answer>"


def truth(objects: list[dict], answer: str = "(A) left") -> str:
    return f"<scene>{json.dumps({'objects': objects, 'relationships': []})}</scene>\n<answer>{answer}</answer>"


def test_ciou_matches_reference_formula_on_small_and_random_boxes():
    rng = random.Random(0)
    worst = 0.0
    for _ in range(2000):
        scale = rng.choice([1e-4, 1e-3, 1e-2, 1.0])  # small boxes are where the epsilon shows
        x1, y1 = rng.random(), rng.random()
        a = [x1, y1, x1 + rng.random() * scale, y1 + rng.random() * scale]
        u1, v1 = x1 + rng.uniform(-2, 2) * scale, y1 + rng.uniform(-2, 2) * scale
        b = [u1, v1, u1 + rng.random() * scale, v1 + rng.random() * scale]
        ours = (float(box_overlap(np.array(a), np.array(b), "ciou")) + 1) / 2
        worst = max(worst, abs(ours - reference_mapped_ciou(a, b)))
    assert worst < 1e-9


def test_total_matches_reference_on_small_boxes():
    """One GT object, one prediction of the same label: total = 0.1 + 0.2 + 0.5 + 0.2 * mapped CIoU."""
    gt_box, pred_box = [100, 100, 103, 102], [101, 100, 104, 103]
    result = compute_reward(respond([{"id": "cup.1", "bbox": pred_box}]), truth([{"id": "cup.1", "bbox": gt_box}]), SIZE)
    norm = lambda box: [box[0] / SIZE[0], box[1] / SIZE[1], box[2] / SIZE[0], box[3] / SIZE[1]]  # noqa: E731
    expected = 0.8 + 0.2 * reference_mapped_ciou(norm(pred_box), norm(gt_box))
    assert abs(result.total - expected) < 1e-9


@pytest.mark.parametrize("object_id", ["cup.1\n", "cup.1\n\n", "\ncup.1"])
def test_model_ids_must_match_whole_string(object_id):
    result = compute_reward(respond([{"id": object_id, "bbox": [0, 0, 5, 5]}]), truth([{"id": "cup.1", "bbox": [0, 0, 5, 5]}]), SIZE)
    assert result.format == 0.0 and result.total == 0.0
    assert compute_reward(respond([{"id": object_id, "bbox": [0, 0, 5, 5]}]), truth([]), SIZE,
                          RewardConfig(lenient_ids=True)).format == 0.0


@pytest.mark.parametrize("gt_id, pred_id", [("3d_glasses.1", "glasses.1"), ("st.bernard.1", "dog.1"), ("cup", "cup.1")])
def test_ground_truth_ids_outside_the_pattern_still_count(gt_id, pred_id):
    """A GT id the model could not write must not drop the GT scene: the reference pays ~1.0 for exact boxes."""
    box = [10, 20, 110, 220]
    norm = [10 / 640, 20 / 480, 110 / 640, 220 / 480]
    result = compute_reward(respond([{"id": pred_id, "bbox": box}]), truth([{"id": gt_id, "bbox": box}]), SIZE,
                            RewardConfig(lambda_sem=0.0))
    assert result.n_gt_objects == 1 and result.count == 1.0
    assert result.total == pytest.approx(0.8 + 0.2 * reference_mapped_ciou(norm, norm), abs=1e-9)
    assert result.total > 0.9999


def test_ground_truth_options_keep_duplicates_and_sort_inverted_boxes():
    graph, reasons = SceneGraph.parse({"objects": [{"id": "cup", "bbox": [5, 5, 0, 0]}, {"id": "cup", "bbox": [1, 1, 2, 2]}]},
                                      GROUND_TRUTH)
    assert reasons == [] and graph.ids == ["cup", "cup"] and graph.objects[0].bbox == (0, 0, 5, 5)


def test_extra_closing_tag_fails_our_format():
    """Documented choice (docs/rewards.md, Tags): the reference counts only opening tags and would pass this."""
    text = respond([{"id": "cup.1", "bbox": [0, 0, 5, 5]}]).replace("</think>", "</think></think>")
    assert compute_reward(text, truth([{"id": "cup.1", "bbox": [0, 0, 5, 5]}]), SIZE).format == 0.0
