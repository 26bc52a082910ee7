"""The reward never raises and stays in [0, 1]: adversarial inputs and property-based tests (hypothesis)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatialthinker.rewards import RewardConfig, compute_reward, compute_rewards, compute_sparse_reward
from spatialthinker.rewards.trl import DenseSpatialReward
from spatialthinker.rewards.verl import compute_score

SIZE = (640, 480)
GT = ('<scene>{"objects": [{"id": "man.1", "bbox": [10, 20, 110, 220]}, {"id": "bike.1", "bbox": [200, 100, 400, 300]}],'
      ' "relationships": [{"subject": "man.1", "predicate": "behind", "object": "bike.1"}]}</scene>\n'
      '<answer>(A) behind</answer>')
COMPONENTS = ("total", "format", "count", "accuracy", "spatial", "relation")
# Deterministic and small: the file must run in seconds on a shared 2-core machine.
FAST = settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))


def wrap(scene: str, answer: str = "(A) behind") -> str:
    return f"<observe>o</observe><scene>{scene}</scene><think>t</think><answer>{answer}</answer>"


def assert_bounded(result) -> None:
    for name in COMPONENTS:
        value = getattr(result, name)
        assert isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0, (name, value)
    assert isinstance(result.n_pred_objects, int) and isinstance(result.n_gt_objects, int)
    assert isinstance(result.answer_empty, bool) and all(isinstance(e, str) for e in result.errors)


# Each case is one way the reference reward crashed or stalled, or a way a policy could try to break ours.
ADVERSARIAL = {
    "nan": wrap('{"objects": [{"id": "man.1", "bbox": [NaN, 0, 1, 1]}]}'),
    "infinity": wrap('{"objects": [{"id": "man.1", "bbox": [0, 0, Infinity, 1]}]}'),
    "1e999": wrap('{"objects": [{"id": "man.1", "bbox": [0, 0, 1e999, 1]}]}'),
    "400 digits": wrap('{"objects": [{"id": "man.1", "bbox": [0, 0, %s, 1]}]}' % ("9" * 400)),
    "5000 digits": wrap('{"objects": [{"id": "man.1", "bbox": [0, 0, %s, 1]}]}' % ("9" * 5000)),
    "1e300 boxes": wrap('{"objects": [{"id": "man.1", "bbox": [-1e300, -1e300, 1e300, 1e300]}]}'),
    "tiny boxes": wrap('{"objects": [{"id": "man.1", "bbox": [1e-300, 1e-300, 2e-300, 2e-300]}]}'),
    "5 MB response": "<observe>" + "a" * 5_000_000 + "</observe>" + wrap('{"objects": []}')[len("<observe>o</observe>"):],
    "5 MB of tags": "<scene>" * 700_000,
    "20,000 objects": wrap(json.dumps({"objects": [{"id": f"man.{i}", "bbox": [i % 600, 0, i % 600 + 9, 9]}
                                                   for i in range(20_000)]})),
    "20,000 relations": wrap(json.dumps({"objects": [{"id": "man.1", "bbox": [0, 0, 1, 1]}], "relationships":
                                         [{"subject": "man.1", "predicate": "on", "object": "man.1"}] * 20_000})),
    "100,000-deep list": wrap("[" * 100_000 + "]" * 100_000),
    "100,000-deep dict": wrap('{"a":' * 100_000 + "1" + "}" * 100_000),
    "lone surrogates": wrap('{"objects": [{"id": "man\ud800.1", "bbox": [0, 0, 1, 1]}]}', "(A) \udfff"),
    "escaped surrogate": wrap('{"objects": [{"id": "man\\ud800.1", "bbox": [0, 0, 1, 1]}]}'),
    "nul bytes": wrap('{"objects": [{"id": "man.1\x00", "bbox": [0, 0, 1, 1]}]}'),
    "empty": "",
    "bytes-like text": "\x00\xff" * 1000,
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial_responses_return_a_bounded_number(name):
    assert_bounded(compute_reward(ADVERSARIAL[name], GT, SIZE))
    assert compute_sparse_reward(ADVERSARIAL[name], GT) in (0.0, 0.5, 1.0)


def test_twenty_thousand_objects_still_pay_the_count_penalty():
    result = compute_reward(ADVERSARIAL["20,000 objects"], GT, SIZE)
    assert result.n_pred_objects == 20_000 and result.count == 0.0


@pytest.mark.parametrize("ground_truth", [
    "", None, 42, ["list"], "<scene>{not json}</scene>\n<answer>(A) behind</answer>",
    "<scene>" + "[" * 100_000 + "</scene><answer>(A) behind</answer>", "<answer>(A) behind", "(A) behind",
    '<scene>{"objects": [{"id": "man.1", "bbox": [NaN, 0, 1, 1]}]}</scene><answer>(A) behind</answer>',
    '<scene>{"objects": [{"id": "man.1", "bbox": [9, 9, 1, 1]}]}</scene><answer>(A) behind</answer>',  # inverted GT
    "\ud800",
])
def test_malformed_ground_truths_never_raise(ground_truth):
    for response in (wrap('{"objects": [{"id": "man.1", "bbox": [1, 1, 9, 9]}]}'), wrap('{"objects": []}')):
        assert_bounded(compute_reward(response, ground_truth, SIZE))


@pytest.mark.parametrize("size", [(0, 0), (-640, 480), (math.inf, 480), (1e-300, 1e-300), (1e300, 1e300),
                                  ("a", "b"), (True, False), "0x0", "Unknown", b"640x480", 640, [[640, 480]]])
def test_odd_image_sizes_never_raise(size):
    assert_bounded(compute_reward(wrap(GT.split("</scene>")[0][7:]), GT, size))


def test_non_string_responses_never_raise():
    for response in (None, 3, b"<answer>", ["a"], {"content": "x"}):
        assert_bounded(compute_reward(response, GT, SIZE))


# --------------------------------------------------------------------------------------- property-based
texts = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30),
                    st.booleans(), st.none(), st.text(max_size=3))
labels = st.sampled_from(["man", "bike", "cup", "traffic_light", "man ", "Man", "t-shirt", ""])
objects = st.fixed_dictionaries({"id": st.builds(lambda l, n: f"{l}.{n}", labels, st.integers(-2, 3)),
                                 "bbox": st.lists(numbers, min_size=3, max_size=5)})
scenes = st.fixed_dictionaries({"objects": st.lists(objects, max_size=6)},
                               optional={"relationships": st.lists(st.fixed_dictionaries(
                                   {"subject": st.just("man.1"), "predicate": st.text(max_size=5),
                                    "object": st.sampled_from(["bike.1", "man.1", "x"])}), max_size=3)})
answers = st.sampled_from(["(A) behind", "A", "(B) front", "", "behind", "(A) behind (B)"])
sizes = st.one_of(st.tuples(st.floats(-10, 5000), st.floats(-10, 5000)), st.none(), st.text(max_size=12))
configs = st.builds(RewardConfig, box_metric=st.sampled_from(["ciou", "iou", "giou"]),
                    spatial_average=st.sampled_from(["gt", "matched"]), answer_match=st.sampled_from(["exact", "option"]),
                    strict_order=st.booleans(), gating=st.booleans(), lenient_ids=st.booleans(),
                    similarity=st.sampled_from(["exact", "lemma"]), max_objects=st.integers(1, 8))


@FAST
@given(response=texts, ground_truth=texts, size=sizes)
def test_any_text_gives_bounded_components(response, ground_truth, size):
    assert_bounded(compute_reward(response, ground_truth, size))
    assert compute_sparse_reward(response, ground_truth) in (0.0, 0.5, 1.0)


@FAST
@given(scene=scenes, answer=answers, size=sizes, config=configs)
def test_structured_responses_give_bounded_components(scene, answer, size, config):
    result = compute_reward(wrap(json.dumps(scene), answer), GT, size, config)
    assert_bounded(result)
    if config.gating and result.format == 0.0:
        assert result.total == 0.0
    if config.gating and result.accuracy < 1.0:
        assert result.spatial == 0.0


@FAST
@given(batch=st.lists(st.tuples(st.builds(json.dumps, scenes), answers), min_size=1, max_size=12))
def test_batch_agrees_with_single_calls(batch):
    responses = [wrap(scene, answer) for scene, answer in batch]
    together = compute_rewards(responses, [GT] * len(responses), [SIZE] * len(responses))
    assert together == [compute_reward(r, GT, SIZE) for r in responses]


@FAST
@given(response=texts)
def test_adapters_are_bounded_too(response):
    assert 0.0 <= compute_score("stvqa", response, GT, {"image_size": SIZE})["score"] <= 1.0
    assert 0.0 <= DenseSpatialReward()(completions=[response], answer_option_text=[GT], image_size=[SIZE])[0] <= 1.0
