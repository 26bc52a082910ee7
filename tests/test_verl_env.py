"""veRL's own code against our files, in veRL's own environment (.venv-verl, made by `make verl-env`). Slow.

veRL 0.9 pins transformers < 5.11, so it cannot be imported here. This test writes the tiny model, the STVQA rows
and their veRL export with *our* environment, then runs tests/_verl_probe.py with the veRL environment's Python:
veRL's Hydra config, ``validate_config``, processor, ``RLHFDataset`` and reward loop read what we wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pyarrow = pytest.importorskip("pyarrow.parquet")

from _tiny import write_tiny_stvqa  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VERL_PYTHON = Path(os.environ.get("SPATIALTHINKER_VERL_PYTHON", ROOT / ".venv-verl" / "bin" / "python"))
PROBE = Path(__file__).resolve().parent / "_verl_probe.py"
PRESET_PIXELS = (512 * 512, 2048 * 2048)  # configs/spatialthinker_3b.yaml


def _responses(rows: list[dict]) -> list[dict]:
    """Per row: the dense response built from its GT (full marks on format/count/accuracy), a right answer with
    no scene (format fails, so the gated total is 0), and plain text."""
    from spatialthinker.train.data import sft_target

    out = []
    for index, row in enumerate(rows):
        out += [{"index": index, "kind": "gt", "response": sft_target(row, "dense")},
                {"index": index, "kind": "answer_only", "response": f"<answer>{row['answer_option_text_only']}</answer>"},
                {"index": index, "kind": "text", "response": "I am not sure."}]
    return out


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    if not VERL_PYTHON.is_file():
        pytest.skip(f"no veRL environment at {VERL_PYTHON}: run `make verl-env`")
    from spatialthinker.data.verl_export import write_verl
    from spatialthinker.train.tiny import build_tiny_vlm

    root = tmp_path_factory.mktemp("verl")
    model = build_tiny_vlm(str(root / "vlm"), seed=0, size="small")
    rows = pyarrow.read_table(os.path.join(write_tiny_stvqa(str(root / "stvqa"), n=4), "train.parquet")).to_pylist()
    parquet = write_verl(rows, root / "train_verl.parquet", "spatialthinker/tiny")
    responses = _responses(rows)
    (root / "responses.json").write_text(json.dumps(responses))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0",
           "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([str(VERL_PYTHON), str(PROBE), "--model", model, "--parquet", str(parquet),
                           "--responses", str(root / "responses.json"), "--out", str(root / "report.json")],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    report = json.loads((root / "report.json").read_text())
    report["_rows"], report["_responses"] = rows, responses
    return report


def test_verl_versions_and_config_keys(probe):
    versions = probe["versions"]
    assert versions["verl"].startswith("0.9") and versions["transformers"] < "5.11"
    config = probe["config"]
    assert config["unknown_keys"] == []  # every key of our file exists in veRL's defaults
    assert config["validate_config"] == "passed"
    resolved = config["resolved"]
    assert resolved["actor_rollout_ref.actor.freeze_vision_tower"] is False  # the paper trains the vision tower
    assert (resolved["data.mm_processor_kwargs.min_pixels"], resolved["data.mm_processor_kwargs.max_pixels"]) == \
        PRESET_PIXELS
    assert resolved["reward.reward_manager.name"] == "naive" and resolved["algorithm.adv_estimator"] == "grpo"


def test_verl_dataset_reads_our_parquet_with_the_processor(probe):
    data = probe["dataset"]
    assert data["processor_class"] == "Qwen2_5_VLProcessor"  # veRL's hf_processor, from the saved folder
    assert data["rows"] == len(probe["_rows"])  # none dropped by the overlong-prompt filter
    assert data["content_types"] == ["image", "text"]  # the <image> placeholder became an image part
    t, h, w = data["image_grid_thw"]
    # the preset's pixel limits reached the processor: the 160 x 120 image is scaled up to at least 512^2 pixels
    assert PRESET_PIXELS[0] <= data["processed_pixels"] <= PRESET_PIXELS[1]
    assert data["image_pad_tokens"] == t * h * w // data["merge_size"] ** 2
    # the reward's frame is the original image size, which the prompt states
    assert data["extra_info"]["image_size"] == [160, 120] and "Image size: (160 x 120)" in data["extra_info"]["problem"]
    assert data["reward_model"]["ground_truth"] == probe["_rows"][0]["answer_option_text"]


def test_verl_reward_manager_scores_with_our_reward_and_logs_components(probe):
    from spatialthinker.data.verl_export import verl_row
    from spatialthinker.rewards.verl import compute_score

    reward, rows = probe["reward"], probe["_rows"]
    assert {"score", "format", "count", "accuracy", "spatial"} <= set(reward["extra_keys"])
    for i, item in enumerate(probe["_responses"]):
        row = verl_row(rows[item["index"]], item["index"])
        expected = compute_score("spatialthinker/tiny", item["response"], row["reward_model"]["ground_truth"],
                                 row["extra_info"])
        # veRL decoded our tokens back to the same text and passed GT + extra_info through
        assert reward["decoded"][i] == item["response"]
        assert reward["scores"][i] == pytest.approx(expected["score"])
        for key in ("format", "count", "accuracy", "spatial"):
            assert reward["extra"][key][i] == pytest.approx(expected[key])
    kinds = [item["kind"] for item in probe["_responses"]]
    gt_scores = [s for s, k in zip(reward["scores"], kinds) if k == "gt"]
    assert min(gt_scores) == pytest.approx(1.0)  # full marks
    assert max(s for s, k in zip(reward["scores"], kinds) if k != "gt") == 0.0  # gated: no format, no reward
    metrics = reward["metrics"]["spatialthinker/tiny"]
    assert {"reward", "format", "accuracy", "spatial"} <= set(metrics)  # what veRL logs as val-aux/<source>/<key>
    assert metrics["format"]["mean@3"] == pytest.approx(sum(reward["extra"]["format"]) / len(kinds))
    dumped = [json.loads(line) for line in Path(reward["dump"]).read_text().splitlines()]
    assert len(dumped) == len(kinds) and {"score", "format", "spatial", "gts"} <= set(dumped[0])
