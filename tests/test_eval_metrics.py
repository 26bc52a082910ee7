"""Wilson intervals, official aggregates (CV-Bench, 3DSRBench circular, MMVP pairs) and scene-graph quality."""

import math

import pytest

from spatialthinker.eval.hooks import expand_circular_flip
from spatialthinker.eval.items import EvalItem, ItemRecord
from spatialthinker.eval.metrics import (circular_accuracy, macro_mean, macro_of_groups, pair_accuracy, summarize,
                                         wilson_interval)
from spatialthinker.eval.scene_quality import scene_quality
from spatialthinker.scene import SceneGraph


def record(i, correct, category="c", primary=True, group=None, parsed=True, **tags):
    return ItemRecord(id=str(i), benchmark="b", prompt_mode="m", prompt_style="s", category=category, question="q",
                      choices=["x", "y"], answer="A", output="", extracted="A" if parsed else None, correct=correct,
                      parse_failed=not parsed, primary=primary, group_id=group, tags=tags)


@pytest.mark.parametrize("k, n, low, high", [
    (8, 10, 0.4902, 0.9433),  # textbook values
    (0, 10, 0.0, 0.2775),  # never degenerate at 0%
    (10, 10, 0.7225, 1.0),
    (50, 100, 0.4038, 0.5962),
])
def test_wilson(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_empty_is_nan():
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_cv_bench_official_is_mean_of_2d_and_3d():
    # 2D: ADE20K 4/4, COCO 0/2 -> 2D = 0.5 (macro over sources, not 4/6); 3D: Omni3D 1/4 -> 0.25
    records = ([record(i, True, source="ADE20K") for i in range(4)] + [record(i + 4, False, source="COCO") for i in range(2)]
               + [record(i + 6, i == 0, source="Omni3D") for i in range(4)])
    out = macro_of_groups(records, name="overall", by="source", groups={"2D": ["ADE20K", "COCO"], "3D": ["Omni3D"]})
    assert out["2D"]["accuracy"] == pytest.approx(0.5)
    assert out["3D"]["accuracy"] == pytest.approx(0.25)
    assert out["overall"]["accuracy"] == pytest.approx(0.375)
    low, high = out["overall"]["ci95"]
    assert low < 0.375 < high


def test_prefix_groups():
    records = [record(0, True, "location_above"), record(1, False, "location_next_to"), record(2, True, "height_higher")]
    out = macro_of_groups(records, name="subtasks", groups={"location": ["location"], "height": ["height"]}, match="prefix")
    assert out["location"]["accuracy"] == 0.5 and out["height"]["accuracy"] == 1.0


def test_macro_mean_keeps_width_at_extremes():
    out = macro_mean([{"n": 10, "correct": 0, "accuracy": 0.0}, {"n": 10, "correct": 0, "accuracy": 0.0}])
    assert out["ci95"][1] > 0


def test_circular_needs_every_variant_right():
    item = EvalItem("q1", [], "Is the cup left of the plate?", ("left", "right", "above"), "A")
    variants = expand_circular_flip(item)
    assert len(variants) == 6 and sum(v.extra["primary"] for v in variants) == 1
    for v in variants:  # the right option follows its text through every rotation
        assert v.choices[ord(v.answer) - 65] == ("left" if "#f" not in v.id else "right")
    assert variants[3].question == "Is the cup right of the plate?"
    records = [record(v.id, True, group="q1", primary=v.extra["primary"]) for v in variants]
    records += [record(f"q2{j}", j != 3, group="q2", primary=j == 0) for j in range(6)]
    assert circular_accuracy(records, name="circular")["circular"]["accuracy"] == 0.5
    assert summarize(records)["n"] == 2  # plain accuracy counts one record per item


def test_pairs_need_both_and_ignore_incomplete_pairs():
    records = [record(0, True, group="p0"), record(1, True, group="p0"), record(2, True, group="p1"),
               record(3, False, group="p1"), record(4, True, group="p2")]
    out = pair_accuracy(records, name="pairs")["pairs"]
    assert (out["n"], out["correct"]) == (2, 1)


def test_summary_counts_parse_failures():
    records = [record(0, True), record(1, False, parsed=False), record(2, False, parsed=False), record(3, False)]
    summary = summarize(records)
    assert summary["parse_failures"] == 2 and summary["parse_failure_rate"] == 0.5
    assert summary["accuracy"] == 0.25 and summary["official"]["name"] == "accuracy"


GT = SceneGraph.parse('{"objects": [{"id": "cup.1", "bbox": [0, 0, 10, 10]}, {"id": "plate.1", "bbox": [20, 20, 40, 40]}]}')[0]


def test_scene_quality_perfect_and_partial():
    perfect = scene_quality('<scene>{"objects": [{"id": "plate.1", "bbox": [20, 20, 40, 40]}, '
                            '{"id": "cup.1", "bbox": [0, 0, 10, 10]}]}</scene>', GT)
    assert perfect["mean_iou"] == pytest.approx(1.0) and perfect["recall_50"] == 1.0 and perfect["label_accuracy"] == 1.0
    partial = scene_quality('<scene>{"objects": [{"id": "cup.1", "bbox": [0, 0, 10, 5]}]}</scene>', GT)
    assert partial["mean_iou"] == pytest.approx(0.25) and partial["recall_50"] == 0.5


def test_scene_quality_penalises_spam_and_bad_graphs():
    spam = ", ".join(f'{{"id": "cup.{i}", "bbox": [0, 0, 10, 10]}}' for i in range(1, 41))
    out = scene_quality(f'<scene>{{"objects": [{spam}]}}</scene>', GT)
    assert out["precision_50"] == pytest.approx(1 / 40)
    assert scene_quality("<scene>not json</scene>", GT)["valid"] is False
    assert scene_quality("<answer>(A)</answer>", GT) is None  # nothing to score
    assert scene_quality('<scene>{"objects": [{"id": "cup.1", "bbox": [NaN, 0, 1e999, 5]}]}</scene>', GT)["mean_iou"] == 0.0
