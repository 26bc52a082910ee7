"""The dense-vs-sparse experiment's bookkeeping, on the seconds-long ``experiment-test`` preset.

What must hold whatever the numbers are: the three arms get the same budget (optimizer steps, sequences per step,
completion cap, learning rate) from the same warm start, each seed is its own run, no held-out scene was trained
on, every arm is evaluated on the same questions, and a resume neither retrains nor mixes settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _tiny import one_torch_thread  # noqa: F401  (autouse fixture)

for module in ("torch", "transformers", "trl", "pyrender", "matplotlib", "pyarrow"):
    pytest.importorskip(module)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    import torch

    from spatialthinker.pipeline.experiment import run_experiment

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("experiment") / "run"
    stages: list[tuple[str, str]] = []
    record = run_experiment("experiment-test", out, seeds=(0, 1), on_stage=lambda s, status: stages.append((s, status)))
    return out, record, stages


def test_arms_share_one_budget_and_warm_start(experiment):
    out, record, _ = experiment
    budget = record["budget"]
    configs = {}
    for arm in ("dense", "sparse", "sft"):
        points = record["arms"][arm]["seeds"]
        assert [p["seed"] for p in points] == [0, 1]
        for point in points:
            assert point["optimizer_steps"] == budget["optimizer_steps"]
            config = json.loads((out / "arms" / f"{arm}-seed{point['seed']}" / "config.json").read_text())
            assert config["seed"] == point["seed"]
            assert Path(config["model"]) == out / "warm" / "final"  # every arm starts from the one warm start
            configs[(arm, point["seed"])] = config
    for config in configs.values():
        assert config["max_steps"] == budget["optimizer_steps"]
        assert config["per_device_train_batch_size"] == budget["sequences_per_step"]
        assert config["learning_rate"] == budget["learning_rate"]
    for arm in ("dense", "sparse"):
        for point in record["arms"][arm]["seeds"]:
            assert 0 < point["generated_tokens"] <= budget["max_generated_tokens"]
            assert configs[(arm, point["seed"])]["max_completion_length"] == budget["max_completion_tokens"]
    assert configs[("dense", 0)]["reward"] == "dense" and configs[("sparse", 0)]["reward"] == "sparse"
    assert configs[("sparse", 0)]["prompt_style"] == "sparse"


def test_heldout_is_disjoint_and_shared_by_every_arm(experiment):
    import pyarrow.parquet as pq

    out, record, _ = experiment
    splits = record["splits"]
    assert splits["overlap_scenes"] == [] and splits["heldout_scenes"] >= 1
    held = pq.read_table(out / "eval" / "heldout.parquet", columns=["image_id"]).column(0).to_pylist()
    train = pq.read_table(out / "tiny_data" / "train.parquet", columns=["image_id"]).column(0).to_pylist()
    assert not set(held) & set(train)
    counts = {p["n"] for arm in record["arms"].values() for p in arm["seeds"]}
    counts |= {p["n"] for p in record["warm_start"].values()}
    assert counts == {splits["heldout_questions"]}


def test_record_and_report_hold_every_number(experiment):
    out, record, _ = experiment
    saved = json.loads((out / "experiment.json").read_text())
    assert saved["arms"].keys() == record["arms"].keys()
    for arm in saved["arms"].values():
        pooled = arm["aggregate"]["pooled_accuracy"]
        assert pooled["n"] == 2 * saved["splits"]["heldout_questions"]
        assert pooled["correct"] == sum(p["correct"] for p in arm["seeds"])
        for point in arm["seeds"]:
            for key in ("accuracy", "ci95", "own_format_rate", "mean_reward", "reward/format", "reward/count",
                        "reward/accuracy", "reward/spatial", "sparse_reward_mean", "chance_rate", "per_category"):
                assert key in point, key
    paired = saved["paired_accuracy_difference"]["dense_minus_sparse"]
    dense = [p["accuracy"] for p in saved["arms"]["dense"]["seeds"]]
    sparse = [p["accuracy"] for p in saved["arms"]["sparse"]["seeds"]]
    assert paired["per_seed"] == pytest.approx([d - s for d, s in zip(dense, sparse)])
    page = (out / "report.html").read_text()
    for anchor in ("result", "categories", "plots", "paired"):
        assert f'id="{anchor}"' in page


def test_resume_skips_finished_stages_and_refuses_other_settings(experiment):
    from spatialthinker.pipeline.experiment import run_experiment

    out, record, _ = experiment
    seen: list[tuple[str, str]] = []
    again = run_experiment("experiment-test", out, seeds=(0, 1), on_stage=lambda s, status: seen.append((s, status)))
    assert seen and all(status == "skipped" for _, status in seen)
    assert again["arms"]["dense"]["seeds"] == record["arms"]["dense"]["seeds"]
    with pytest.raises(ValueError, match="changed: seeds"):
        run_experiment("experiment-test", out, seeds=(0, 2))


def test_cli_rejects_bad_seeds(tmp_path: Path):
    from spatialthinker.cli import main

    assert main(["experiment", "dense-vs-sparse", "--seeds", "0,0", "--out", str(tmp_path)]) == 2
    assert main(["experiment", "dense-vs-sparse", "--preset", "mini", "--out", str(tmp_path)]) == 2
