"""The TRL and veRL adapters, called exactly the way those frameworks call reward functions (neither is imported)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from spatialthinker.prompts import training_prompt
from spatialthinker.rewards import RewardConfig, compute_reward
from spatialthinker.rewards.trl import REWARDS, DenseSpatialReward, SparseReward, completion_text, get_reward_funcs
from spatialthinker.rewards.verl import compute_score

GT = ('<scene>{"objects": [{"id": "man.1", "bbox": [10, 20, 110, 220]}], "relationships": []}</scene>\n'
      '<answer>(A) behind</answer>')
GOOD = ('<observe>o</observe><scene>{"objects": [{"id": "man.1", "bbox": [10, 20, 110, 220]}]}</scene>'
        '<think>t</think><answer>(A) behind</answer>')
WRONG = GOOD.replace("(A) behind</answer>", "(B) front</answer>")
PROMPT = training_prompt("Is the man behind the bike?", ["behind", "front"], (640, 480))


def test_trl_dense_with_string_completions_and_dataset_columns():
    # GRPOTrainer: reward_func(prompts=..., completions=..., completion_ids=..., **every dataset column)
    reward = DenseSpatialReward()
    scores = reward(prompts=[PROMPT, PROMPT], completions=[GOOD, WRONG], completion_ids=[[1], [2]],
                    answer_option_text=[GT, GT], image_size=[(640, 480), (640, 480)], problem=[PROMPT, PROMPT],
                    trainer_state=None)
    assert scores == [pytest.approx(1.0, abs=1e-6), pytest.approx(0.3)]


def test_trl_dense_with_conversational_completions_and_size_from_problem_or_prompt():
    reward = DenseSpatialReward()
    completions = [[{"role": "assistant", "content": GOOD}]]
    prompt_msgs = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT}]}]]
    assert reward(prompts=prompt_msgs, completions=completions, answer_option_text=[GT], problem=[PROMPT]) == [pytest.approx(1.0, abs=1e-6)]
    # No image_size or problem column: the size comes from the prompt text itself.
    assert reward(prompts=[PROMPT], completions=completions, ground_truth=[GT]) == [pytest.approx(1.0, abs=1e-6)]
    # Nowhere to read a size from: the spatial term is 0, the rest is paid.
    assert reward(prompts=None, completions=completions, solution=[GT]) == [pytest.approx(0.8)]


def test_trl_dense_logs_component_means_and_per_sample_values():
    metrics: dict[str, float] = {}
    extras: dict[str, list] = {}
    DenseSpatialReward()(prompts=[PROMPT] * 3, completions=[GOOD, WRONG, "nothing"], answer_option_text=[GT] * 3,
                         image_size=[(640, 480)] * 3, log_metric=metrics.__setitem__, log_extra=extras.__setitem__)
    assert metrics["spatial/format"] == pytest.approx(2 / 3)
    assert metrics["spatial/accuracy"] == pytest.approx(1 / 3)
    assert metrics["spatial/spatial"] == pytest.approx(1 / 3)
    assert metrics["spatial/format_fail_rate"] == pytest.approx(1 / 3)
    assert metrics["spatial/empty_answer_rate"] == pytest.approx(1 / 3)
    assert metrics["spatial/pred_objects"] == pytest.approx(2 / 3) and metrics["spatial/gt_objects"] == 1.0
    assert "spatial/count" in metrics
    assert extras["spatial/accuracy"] == [1.0, 0.0, 0.0] and len(extras["spatial/errors"]) == 3


def test_trl_sparse_reward_reads_answer_only_column():
    reward = SparseReward()
    completions = ["<think>x</think><answer>(A) behind</answer>", [{"role": "assistant", "content": "(A) behind"}]]
    assert reward(prompts=[PROMPT] * 2, completions=completions, answer_option_text_only=["(A) behind"] * 2) == [1.0, 0.0]
    assert reward(completions=completions[:1], solution=[GT]) == [1.0]


def test_reward_callables_pickle_and_keep_their_names():
    for reward in (DenseSpatialReward(RewardConfig(box_metric="iou")), SparseReward()):
        clone = pickle.loads(pickle.dumps(reward))
        assert clone.__name__ == reward.__name__
    assert pickle.loads(pickle.dumps(DenseSpatialReward(RewardConfig(box_metric="iou")))).config.box_metric == "iou"
    assert DenseSpatialReward().__name__ == "spatial_dense" and SparseReward().__name__ == "spatial_sparse"


def test_registry_and_dotted_paths():
    assert set(REWARDS.names()) == {"dense", "sparse"}
    [dense] = get_reward_funcs("dense", RewardConfig(box_metric="giou"))
    assert isinstance(dense, DenseSpatialReward) and dense.config.box_metric == "giou"
    assert isinstance(get_reward_funcs("sparse")[0], SparseReward)
    [custom] = get_reward_funcs("spatialthinker.rewards.sparse.compute_sparse_reward")
    assert custom("<think>x</think><answer>(A) a</answer>", "(A) a") == 1.0
    with pytest.raises(KeyError, match="Did you mean 'dense'"):
        get_reward_funcs("dens")


def test_completion_text_forms():
    assert completion_text("x") == "x"
    assert completion_text([{"role": "assistant", "content": "y"}]) == "y"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "z"}]}]) == "z"
    assert completion_text(None) == "" and completion_text([]) == "" and completion_text([{"role": "a"}]) == ""


@pytest.mark.parametrize("extra_info", [
    {"image_size": [640, 480]}, {"image_size": "640x480"}, {"width": 640, "height": 480}, {"problem": PROMPT},
])
def test_verl_compute_score(extra_info):
    # veRL's NaiveRewardManager: compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)
    result = compute_score(data_source="stvqa", solution_str=GOOD, ground_truth=GT, extra_info=extra_info)
    assert result["score"] == pytest.approx(1.0, abs=1e-6)
    assert {"format", "count", "accuracy", "spatial"} <= set(result)
    assert all(isinstance(v, (int, float)) for v in result.values())


def test_verl_without_size_and_sparse_source():
    assert compute_score("stvqa", GOOD, GT, None)["score"] == pytest.approx(0.8)
    assert compute_score("stvqa", GOOD, GT)["score"] == compute_reward(GOOD, GT, None).total
    assert compute_score("stvqa_sparse", "<think>x</think><answer>(A) behind</answer>", GT)["score"] == 1.0


def test_adapters_import_neither_trl_nor_verl_nor_torch():
    code = ("import sys, spatialthinker.rewards as r; r.DenseSpatialReward; r.compute_score; "
            "import spatialthinker.rewards.trl, spatialthinker.rewards.verl; "
            "print(sorted(m for m in ('trl', 'verl', 'torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_package_import_is_light():
    code = "import sys, spatialthinker.rewards; print('numpy' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
