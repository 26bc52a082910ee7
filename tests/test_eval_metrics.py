"""Wilson intervals, official aggregates against hand-computed tables (CV-Bench, 3DSRBench vanilla / circular /
flip / flip+circular, HallusionBench aAcc / qAcc / fAcc, MMVP pairs, BLINK mean) and scene-graph quality."""

import math

import pytest

from spatialthinker.eval.hooks import expand_circular, qid_variant
from spatialthinker.eval.items import EvalItem, ItemRecord
from spatialthinker.eval.metrics import (circular_accuracy, macro_mean, macro_of_groups, pair_accuracy,
                                         qid_variant_accuracy, summarize, wilson_interval)
from spatialthinker.eval.report import format_run
from spatialthinker.eval.runner import group_summary
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


def test_circular_expander_needs_every_rotation_right():
    item = EvalItem("q1", [], "Is the cup left of the plate?", ("left", "right", "above"), "A")
    variants = expand_circular(item)
    assert len(variants) == 3 and sum(v.extra["primary"] for v in variants) == 1
    for v in variants:  # the right option follows its text through every rotation
        assert v.choices[ord(v.answer) - 65] == "left"
    records = [record(v.id, True, group="q1", primary=v.extra["primary"]) for v in variants]
    records += [record(f"q2{j}", j != 2, group="q2", primary=j == 0) for j in range(3)]
    assert circular_accuracy(records, name="circular")["circular"]["accuracy"] == 0.5
    assert summarize(records)["n"] == 2  # plain accuracy counts one record per item


def _3dsr_records(table):
    """Records of 3DSRBench rows ``qid -> correct``, tagged by the loader's qid_variant hook."""
    out = []
    for qid, correct in table.items():
        item = qid_variant(EvalItem(qid, [], "q", ("a", "b"), "A", "height_higher", {"tags": {"qid": qid}}))
        out.append(record(qid, correct, "height_higher", primary=item.extra["primary"], group=item.extra["group_id"],
                          **item.extra["tags"]))
    return out


def test_3dsrbench_vanilla_circular_flip_from_its_own_rows():
    # hand-computed: Q1 all right; Q2 wrong on X-1; Q3 wrong on X-flip; Q4 wrong on X
    wrong = {"Q2-1", "Q3-flip", "Q4"}
    table = {f"Q{q}{suffix}": f"Q{q}{suffix}" not in wrong for q in range(1, 5) for suffix in ("", "-1", "-flip", "-flip-1")}
    records = _3dsr_records(table)
    out = qid_variant_accuracy(records)
    assert (out["vanilla"]["correct"], out["vanilla"]["n"]) == (3, 4)  # the plain questions X
    assert (out["circular"]["correct"], out["circular"]["n"]) == (5, 8)  # (Q, flip?) groups: Q1, Q1f, Q2f, Q3, Q4f
    assert (out["flip"]["correct"], out["flip"]["n"]) == (5, 8)  # (Q, rotation) groups: Q1r0, Q1r1, Q2r0, Q3r1, Q4r1
    assert (out["flip_circular"]["correct"], out["flip_circular"]["n"]) == (1, 4)  # Q1 only
    assert (out["all_rows"]["correct"], out["all_rows"]["n"]) == (13, 16)  # lmms-eval's vanilla_accuracy
    summary = summarize(records, [{"kind": "qid_variants"}], "flip_circular")
    assert summary["n"] == 4 and summary["accuracy"] == 0.75 and summary["official"]["accuracy"] == 0.25


def test_hallusionbench_aacc_qacc_facc():
    rows = [  # category, subcategory, set_id, figure_id, question_id, correct
        ("VD", "illusion", "0", "0", "0", True), ("VD", "illusion", "0", "0", "1", True),
        ("VD", "illusion", "0", "1", "0", False), ("VD", "illusion", "0", "1", "1", True),
        ("VD", "illusion", "0", "2", "0", True), ("VD", "illusion", "0", "2", "1", True),
        ("VS", "chart", "1", "0", "0", True), ("VS", "chart", "1", "1", "0", False),
    ]
    records = [record(i, ok, cat, subcategory=sub, set_id=s, figure_id=f, question_id=q)
               for i, (cat, sub, s, f, q, ok) in enumerate(rows)]
    aggregates = [{"kind": "all_correct_by", "name": "qAcc", "keys": ["category", "subcategory", "set_id", "question_id"]},
                  {"kind": "all_correct_by", "name": "fAcc", "keys": ["category", "subcategory", "set_id", "figure_id"],
                   "exclude": {"category": "VS", "figure_id": "0"}}]
    summary = summarize(records, aggregates)
    assert (summary["correct"], summary["n"]) == (6, 8)  # aAcc
    q, f = summary["aggregates"]["qAcc"], summary["aggregates"]["fAcc"]
    assert (q["correct"], q["n"]) == (1, 3)  # VD q0 fails on figure 1, VS q0 fails on figure 1; VD q1 right on all
    assert (f["correct"], f["n"]) == (2, 4)  # VD figures 0 and 2 right; VD figure 1 and VS figure 1 not; VS fig 0 left out


def test_cv_bench_overall_is_partial_without_the_3d_part():
    records = [record(i, i % 2 == 0, source=("ADE20K", "COCO")[i % 2]) for i in range(4)]
    out = macro_of_groups(records, name="overall", by="source", groups={"2D": ["ADE20K", "COCO"], "3D": ["Omni3D"]},
                          require_all=True)
    assert out["2D"]["accuracy"] == 0.5
    assert out["overall"]["accuracy"] is None and out["overall"]["partial"] and out["overall"]["missing"] == ["3D"]
    summary = {"official": {"name": "overall", **out["overall"]}, "n": 4, "version": 2, "prompt_mode": "m",
               "extractor": "choice", "aggregates": out, "per_category": {}}
    assert "partial (missing 3D)" in format_run({"cv-bench": summary})


def test_blink_per_task_and_mean():
    def summary(correct, n):
        return {"official": {"name": "accuracy", "n": n, "correct": correct, "accuracy": correct / n}}

    both = group_summary("blink", {"blink-spatial": summary(3, 4), "blink-depth": summary(1, 2)})
    assert both["members"] == {"blink-spatial": 0.75, "blink-depth": 0.5}
    assert both["official"]["accuracy"] == pytest.approx(0.625)  # unweighted mean of the tasks, not 4/6
    one = group_summary("blink", {"blink-spatial": summary(3, 4)})
    assert one["official"]["accuracy"] is None and one["official"]["missing"] == ["blink-depth"]


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
