"""The blocks world (the learnable miniature) and the held-out baselines that say whether a model reads the image.

A model that learns from templated questions can score above chance without looking at the image when the
wording or the option set gives the answer away. These tests pin down that the blocks world's questions do not,
measured with the blind baseline, and that the baseline itself finds such a leak when there is one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trimesh")
pytest.importorskip("pyrender")
pytest.importorskip("pyarrow")

from spatialthinker.data.sim.blocks import BLOCK_CATEGORIES, block_assets, sample_blocks_layout  # noqa: E402


def test_blocks_layout_is_seeded_in_view_and_never_overlaps():
    from spatialthinker.data.sim.layout import GAP_M, _overlaps

    sizes = {a.size_m for a in block_assets()}
    assert len(sizes) == 1  # one bounding box for every class: size answers come from the drawn scale
    for index in range(20):
        first = sample_blocks_layout(np.random.default_rng([0, index]))
        again = sample_blocks_layout(np.random.default_rng([0, index]))
        assert first == again
        assert 2 <= len(first.objects) <= 3
        labels = [o.asset.label for o in first.objects]
        assert len(set(labels)) == len(labels)  # distinct classes: every reference is unambiguous
        for i, a in enumerate(first.objects):
            for b in first.objects[i + 1:]:
                assert not _overlaps(a.footprint(GAP_M), b.footprint())


@pytest.fixture(scope="module")
def blocks_data(tmp_path_factory):
    from spatialthinker.data.sim.pipeline import synthesize

    out = tmp_path_factory.mktemp("blocks")
    try:
        synthesize(60, out, seed=0, image_size=64, world="blocks", val_fraction=0.3, progress=False)
    except RuntimeError as error:
        pytest.skip(f"offscreen rendering unavailable: {error}")
    return out


def test_blocks_rows_are_stvqa_rows_with_in_image_boxes(blocks_data: Path):
    import pyarrow.parquet as pq

    from spatialthinker.prompts import parse_ground_truth

    rows = pq.read_table(blocks_data / "train.parquet").to_pylist()
    assert rows and {r["category"] for r in rows} <= set(BLOCK_CATEGORIES)
    assert len({r["category"] for r in rows}) >= 4
    for row in rows:
        scene, answer = parse_ground_truth(row["answer_option_text"])
        assert scene is not None and scene.objects and answer == row["answer_option_text_only"]
        for obj in scene.objects:
            x1, y1, x2, y2 = obj.bbox
            assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
        assert json.loads(row["scene_3d"])["camera"]["width"] == 64
    assert json.loads((blocks_data / "sim_config.json").read_text())["world"] == "blocks"


def test_blocks_answers_are_not_given_away_by_the_wording(blocks_data: Path):
    """Without the image, the best answer to each question (learned from the training split) scores chance."""
    import pyarrow.parquet as pq

    from spatialthinker.pipeline.heldout import blind_baseline

    train, val = blocks_data / "train.parquet", blocks_data / "val.parquet"
    blind = blind_baseline(train, train)  # in-sample: the strongest a text-only model can be on these questions
    options = pq.read_table(train, columns=["options"]).column(0).to_pylist()
    chance = sum(1 / len(o) for o in options) / len(options)
    assert blind["n"] == len(options)
    # in-sample majority votes over small groups always beat chance a little; a leak drives them to ~1.0
    assert blind["accuracy"] < chance + 0.25, blind
    assert blind_baseline(train, val)["accuracy"] < chance + 0.15


def test_blind_baseline_finds_a_leak(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spatialthinker.data.records import QAItem
    from spatialthinker.pipeline.heldout import blind_baseline
    from spatialthinker.scene import SceneGraph, SceneObject

    scene = SceneGraph((SceneObject("cup.1", (1, 1, 5, 5)),))

    def rows(n: int, leaky: bool) -> list[dict]:
        out = []
        for i in range(n):
            answer = "left" if leaky else ("left", "right")[i % 2]  # leaky: the same question, the same answer
            options = ["left", "right"] if i % 3 else ["right", "left"]
            out.append(QAItem(f"im{i}", (10, 10), "Where is the cup?", options, options.index(answer), "relation",
                              "easy", 5, scene).to_row(None))
        return out

    for leaky, expected in ((True, 1.0), (False, 0.5)):
        pq.write_table(pa.Table.from_pylist(rows(12, leaky)), tmp_path / "train.parquet")
        pq.write_table(pa.Table.from_pylist(rows(6, leaky)), tmp_path / "val.parquet")
        result = blind_baseline(tmp_path / "train.parquet", tmp_path / "val.parquet")
        assert result["accuracy"] == pytest.approx(expected) and result["seen_share"] == 1.0


def test_sft_targets_observe_every_class_and_state_the_existence_fact(blocks_data: Path):
    """On rendered rows: the response names every class the image shows (from ``scene_3d``, not from the
    question), an existence answer states the asked class and its presence before the verdicts, and the dense
    and sparse targets still earn their full rewards."""
    import pyarrow.parquet as pq

    from spatialthinker.rewards import compute_reward_from_problem, compute_sparse_reward
    from spatialthinker.train.data import sft_target

    rows = pq.read_table(blocks_data / "train.parquet").to_pylist()
    existence = [r for r in rows if r["category"] == "existence"]
    assert {r["answer_text_only"] for r in existence} == {"yes", "no"}
    for row in rows:
        shown = sorted(obj["label"] for obj in json.loads(row["scene_3d"])["objects"])
        dense, sparse = sft_target(row, "dense"), sft_target(row, "sparse")
        assert dense.startswith(f"<observe> I see {', '.join(shown)}. </observe>")
        assert sparse.startswith(f"<think> I see {', '.join(shown)}. ")
        evidence = json.loads(row["evidence"])
        asked = evidence.get("phrase") or evidence.get("absent")
        fact = f"{asked}: {row['answer_text_only']}. (A)"
        assert (fact in dense and fact in sparse) == (row["category"] == "existence")
        if row["category"] == "existence":  # the fact agrees with the image
            assert (asked in shown) == (row["answer_text_only"] == "yes")
        assert compute_reward_from_problem(dense, row["answer_option_text"], row["problem"]).total == pytest.approx(1.0)
        assert compute_sparse_reward(sparse, row["answer_option_text_only"]) == 1.0


def test_blocks_presets_leave_room_for_the_longest_sft_response(blocks_data: Path):
    """Every SFT response of the blocks world fits the presets' generation cap in the tiny tokenizer (a capped
    response loses its answer: distance questions about three objects scored 0 under a 160- and 192-token cap)."""
    import pyarrow.parquet as pq

    from spatialthinker.pipeline.presets import EXPERIMENT_PRESETS, PRESETS
    from spatialthinker.pipeline.stages import tokenizer_corpus
    from spatialthinker.train.data import sft_target
    from spatialthinker.train.tiny import build_tokenizer

    rows = pq.read_table(blocks_data / "train.parquet").to_pylist()
    targets = [sft_target(row, kind) for row in rows for kind in ("dense", "sparse")]
    tokenizer = build_tokenizer(2048, tokenizer_corpus(blocks_data))  # as the quickstart builds it
    longest = max(len(tokenizer(text)["input_ids"]) for text in targets)
    assert longest > 100
    for preset in (PRESETS["smoke"], PRESETS["mini"], EXPERIMENT_PRESETS["experiment"]):
        assert min(preset.max_completion_length, preset.eval_max_new_tokens) >= longest + 8, preset.name
