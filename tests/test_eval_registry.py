"""Every benchmark entry: valid, loads its fixture from each local format (per-benchmark scoring runs are in
test_eval_layouts.py)."""

import json

import pytest

from spatialthinker.eval.fixtures import FIXTURES, fixture_rows, write_fixture
from spatialthinker.eval.loaders import DataUnavailableError, load_items
from spatialthinker.eval.registry import BENCHMARKS, GROUPS, PROMPT_MODES, expand_names, get_benchmark

ALL = BENCHMARKS.names()


def test_issue_benchmarks_are_registered():
    wanted = {"cv-bench", "blink-spatial", "blink-depth", "blink-counting", "blink-object", "blink-multi-view",
              "blink-jigsaw", "3dsrbench", "mmvp", "spatialbench", "spatialreasoner", "realworldqa", "vstar",
              "mme-realworld-lite", "robospatial", "hallusionbench", "stvqa", "local-mc", "lego", "mindcube"}
    assert wanted <= set(ALL)
    assert {"blink"} <= set(GROUPS.names())
    assert set(PROMPT_MODES.names()) >= {"spatialthinker", "spatialthinker-train", "reasoning", "direct"}


@pytest.mark.parametrize("name", ALL)
def test_entry_is_valid_and_has_a_fixture(name):
    spec = get_benchmark(name)
    spec.validate()
    assert spec.version >= 1 and spec.description and spec.official_metric
    assert spec.generation.get("do_sample") is False  # published numbers are greedy
    assert name in FIXTURES, "a new benchmark needs a fixture in eval/fixtures.py"


@pytest.mark.parametrize("name", ALL)
def test_entry_loads_its_fixture(name, tmp_path):
    spec = get_benchmark(name)
    items = load_items(spec, write_fixture(name, tmp_path, n=6))
    assert items, name
    assert len({i.id for i in items}) == len(items)
    for item in items:
        assert item.images and item.question
        assert "Options" not in item.question and "(A)" not in item.question  # options are listed once
        if item.choices:
            assert item.answer in "ABCDE"[: len(item.choices)]
            assert item.answer_text in item.choices
        item.image_size()


def test_cv_bench_mapping_details(tmp_path):
    rows = fixture_rows("cv-bench", 4)
    items = load_items(get_benchmark("cv-bench"), write_fixture("cv-bench", tmp_path, 4))
    assert [i.answer for i in items] == [r["answer"].strip("()") for r in rows]  # "(A)" -> "A"
    assert items[0].extra["tags"]["source"] == "ADE20K"


def test_hallusionbench_binary_answers(tmp_path):
    rows = fixture_rows("hallusionbench", 6)
    items = load_items(get_benchmark("hallusionbench"), write_fixture("hallusionbench", tmp_path, 6))
    assert [i.answer for i in items] == ["A" if r["gt_answer"] == "1" else "B" for r in rows]
    assert all(i.choices == ("Yes", "No") for i in items)


def test_mmvp_embedded_options_and_pairs(tmp_path):
    items = load_items(get_benchmark("mmvp"), write_fixture("mmvp", tmp_path, 4))
    assert items[0].choices and "(a)" not in items[0].question
    assert [i.extra["group_id"] for i in items] == ["pair0", "pair0", "pair1", "pair1"]


def test_blink_multi_image(tmp_path):
    items = load_items(get_benchmark("blink-jigsaw"), write_fixture("blink-jigsaw", tmp_path, 2))
    assert len(items[0].images) == 3  # image_4 is None and dropped


def test_spatialbench_open_and_yes_no(tmp_path):
    items = load_items(get_benchmark("spatialbench"), write_fixture("spatialbench", tmp_path, 3))
    assert items[0].choices == ("Yes", "No") and items[2].choices == () and items[2].answer == "2"


def test_robospatial_filters_context(tmp_path):
    items = load_items(get_benchmark("robospatial"), write_fixture("robospatial", tmp_path, 6))
    assert {i.category for i in items} == {"configuration", "compatibility"}


def test_stvqa_keeps_gt_scene(tmp_path):
    items = load_items(get_benchmark("stvqa"), write_fixture("stvqa", tmp_path, 2))
    assert [o.id for o in items[0].extra["gt_scene"].objects] == ["red_box.1", "blue_box.1"]


def test_groups_expand_in_order():
    assert expand_names(["blink", "blink-depth", "cv-bench"]) == (["blink-spatial", "blink-depth", "cv-bench"], ["blink"])
    with pytest.raises(KeyError, match="cv-bench"):
        expand_names(["cv-bench2"])


# ------------------------------------------------------------------------------------------ local formats
def _write_parquet(rows, path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_parquet_file_and_split_selection(tmp_path):
    spec = get_benchmark("local-mc")
    (tmp_path / "data").mkdir()
    _write_parquet(fixture_rows("local-mc", 3), tmp_path / "data" / "test-00000.parquet")
    _write_parquet(fixture_rows("local-mc", 5, seed=1), tmp_path / "data" / "train-00000.parquet")
    assert len(load_items(spec, tmp_path / "data")) == 3  # the entry's split (test) only
    assert len(load_items(spec, tmp_path / "data" / "train-00000.parquet")) == 5


def test_save_to_disk_and_arrow(tmp_path):
    import datasets

    rows = fixture_rows("local-mc", 4)
    features = datasets.Features({"id": datasets.Value("string"), "image": datasets.Image(),
                                  "question": datasets.Value("string"), "choices": datasets.Sequence(datasets.Value("string")),
                                  "answer": datasets.Value("string"), "category": datasets.Value("string")})
    dataset = datasets.Dataset.from_list(rows, features=features)
    datasets.DatasetDict({"test": dataset}).save_to_disk(str(tmp_path / "saved"))
    spec = get_benchmark("local-mc")
    items = load_items(spec, tmp_path / "saved")
    assert [i.id for i in items] == [r["id"] for r in rows]
    assert items[0].pil_images()[0].size == (96, 72)
    arrow = next((tmp_path / "saved" / "test").glob("*.arrow"))
    assert len(load_items(spec, arrow)) == 4


def test_hub_cache_directory(tmp_path):
    repo = tmp_path / "hub" / "datasets--nyu-visionx--CV-Bench"
    snapshot = repo / "snapshots" / "abc123"
    write_fixture("cv-bench", snapshot, 5)
    assert len(load_items(get_benchmark("cv-bench"), repo)) == 5


def test_jsonl_file(tmp_path):
    path = tmp_path / "test.jsonl"
    rows = [{k: v for k, v in r.items() if k != "image"} | {"image": None} for r in fixture_rows("local-mc", 2)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert len(load_items(get_benchmark("local-mc"), path)) == 2


def test_missing_column_names_what_exists(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "question"} for r in fixture_rows("local-mc", 2)]
    path = _write_parquet(rows, tmp_path / "test.parquet")
    with pytest.raises(DataUnavailableError, match="question"):
        load_items(get_benchmark("local-mc"), path)


def test_bad_answer_is_a_data_error(tmp_path):
    rows = fixture_rows("local-mc", 1)
    rows[0]["answer"] = "Q"
    with pytest.raises(ValueError, match="not one of the options"):
        load_items(get_benchmark("local-mc"), _write_parquet(rows, tmp_path / "test.parquet"))


def test_offline_hub_error_says_pass_data_path(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match="--data-path"):
        load_items(get_benchmark("cv-bench"), limit=1)
    with pytest.raises(DataUnavailableError, match="--data-path"):
        load_items(get_benchmark("local-mc"))
