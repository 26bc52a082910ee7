"""Per benchmark: its real on-disk layout (eval/fixtures.py) passes `eval validate` and scores known rows right.

The gold letter of every row is read here from the raw fixture row with the benchmark's own conventions
("(C)", "(a)", "1"/"0", a letter in an A..E layout), independently of the loader, so a loader that maps a column
wrong fails the count of correct answers.
"""

import json

import pytest

from spatialthinker.cli import main
from spatialthinker.eval import EvalConfig, run_evaluation
from spatialthinker.eval.fixtures import FIXTURES, fixture_rows, write_fixture
from spatialthinker.eval.loaders import load_items
from spatialthinker.eval.registry import BENCHMARKS, get_benchmark


def _paren(value):
    return value.strip().strip("()").upper()


def _yes_no(value):
    return {"yes": "A", "no": "B"}.get(str(value).strip().lower(), str(value))


#: benchmark -> gold answer of a raw row (None: the row is not an item of the benchmark)
GOLD = {
    "cv-bench": lambda r: _paren(r["answer"]),
    "3dsrbench": lambda r: r["answer"] if "-" not in r["qid"] else None,  # primary rows: the plain questions
    "3dsrbench-plain": lambda r: r["answer"],
    "mmvp": lambda r: _paren(r["Correct Answer"]),
    "spatialbench": lambda r: _yes_no(r["answer"]),
    "spatialreasoner": lambda r: _paren(r["answer"]),
    "realworldqa": lambda r: r["answer"],
    "vstar": lambda r: r["label"],
    "mme-realworld-lite": lambda r: r["answer"],
    "robospatial": lambda r: _yes_no(r["answer"]) if r["category"] != "context" else None,
    "hallusionbench": lambda r: {"1": "A", "0": "B"}[r["gt_answer"]],
    "stvqa": lambda r: r["answer_only"],
    "local-mc": lambda r: r["answer"],
    "lego": lambda r: r["answer"],
    "mindcube": lambda r: r["gt_answer"],
    "mmstar": lambda r: r["answer"],
    **{name: (lambda r: _paren(r["answer"])) for name in BENCHMARKS.names() if name.startswith("blink-")},
}


def test_every_benchmark_has_a_layout_fixture_and_a_gold_rule():
    assert set(BENCHMARKS.names()) <= set(FIXTURES) and set(BENCHMARKS.names()) <= set(GOLD)


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_validate_and_dummy_scoring_on_the_real_layout(name, tmp_path, capsys):
    data = write_fixture(name, tmp_path / "data", n=6)
    gold = [g for g in (GOLD[name](row) for row in fixture_rows(name, 6)) if g is not None]
    assert main(["eval", "validate", "--benchmark", name, "--data-path", str(data)]) == 0
    expected_items = len(load_items(get_benchmark(name), data))
    assert f"{expected_items} items" in capsys.readouterr().out

    config = EvalConfig([name], model="fixed:<answer>(A)</answer>", backend="dummy", out=str(tmp_path / "out"),
                        data_path=str(data))
    summary = run_evaluation(config).summaries[name]
    assert summary["complete"] and summary["errors"] == 0
    assert summary["n"] == len(gold)  # every question once: no second copy, no text-only rows, no variants
    assert summary["correct"] == sum(g == "A" for g in gold)
    first = json.loads((tmp_path / "out" / name / "items.jsonl").read_text().splitlines()[0])
    assert first["correct"] == (gold[0] == "A") and first["extracted"] == ("A" if first["choices"] else None)


def test_cv_bench_reads_one_copy_and_resolves_raw_paths(tmp_path):
    data = write_fixture("cv-bench", tmp_path / "cvb", n=8)
    assert (data / "test_2d.jsonl").exists() and (data / "test_2d.parquet").exists()
    spec = get_benchmark("cv-bench")
    assert len(load_items(spec, data)) == 8  # parquet only, the jsonl copy is skipped
    for jsonl in data.glob("*.parquet"):
        jsonl.unlink()
    raw = load_items(spec, data)  # the raw jsonl + img/ copy alone: relative filenames resolve under the folder
    assert len(raw) == 8 and raw[0].extra["layout"].startswith("raw jsonl") and raw[0].pil_images()[0].size == (96, 72)


def test_relative_paths_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    data = write_fixture("vstar", tmp_path / "vstar_bench", n=2)
    monkeypatch.chdir(tmp_path.parent)
    items = load_items(get_benchmark("vstar"), data)
    assert items[0].images[0].startswith(str(data)) and items[0].pil_images()[0].size == (96, 72)
    (data / "direct_attributes" / "sa_4690.jpg").unlink()
    with pytest.raises(ValueError, match="sa_4690.jpg"):
        load_items(get_benchmark("vstar"), data)


def test_hallusionbench_image_split_only_and_unique_ids(tmp_path):
    data = write_fixture("hallusionbench", tmp_path / "hb", n=8)
    items = load_items(get_benchmark("hallusionbench"), data)
    assert len(items) == 8 and all(item.images for item in items)  # non_image-*.parquet is another split
    assert len({i.id for i in items}) == 8 and len({i.extra["tags"]["question_id"] for i in items}) == 2
    assert items[0].id == "VD_illusion_0_0_0"


def test_mindcube_reads_its_file_and_the_setting_from_the_id(tmp_path):
    items = load_items(get_benchmark("mindcube"), write_fixture("mindcube", tmp_path / "mc", n=3))
    assert len(items) == 3  # MindCube_train.jsonl beside it is not read
    assert [i.category for i in items] == ["among", "around", "rotation"]
    assert items[0].extra["tags"]["tags"] == "self/among" and len(items[0].images) == 2


def test_lego_original_and_reference_layouts(tmp_path):
    data = write_fixture("lego", tmp_path / "lego", n=2)
    original = load_items(get_benchmark("lego"), data)
    assert original[0].choices in (("left", "right"), ("right", "left")) and len(original[0].images) == 2
    rows = fixture_rows("lego", 2)
    copy = [{**r, "choices": [r["A"], r["B"]]} for r in rows]  # the reference copy adds a choices column
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "copy").mkdir()
    pq.write_table(pa.Table.from_pylist(copy), tmp_path / "copy" / "train-00000-of-00001.parquet")
    items = load_items(get_benchmark("lego"), tmp_path / "copy")
    assert items[0].extra["layout"] == "reference copy (choices list)" and items[0].choices == original[0].choices


def test_mmvp_hub_copy_with_official_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spatialthinker.eval.fixtures import _scene

    import random

    rows = [{**r, "image": _scene(random.Random(i))[0]} for i, r in enumerate(fixture_rows("mmvp", 4))]
    (tmp_path / "hub").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "hub" / "train-00000-of-00001.parquet")
    items = load_items(get_benchmark("mmvp"), tmp_path / "hub")
    assert items[0].extra["layout"].startswith("hub MMVP/MMVP") and items[0].extra["group_id"] == "pair0"
    assert items[0].answer == _paren(rows[0]["Correct Answer"])


def test_unknown_layout_lists_each_layouts_columns(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "test_questions.jsonl").write_text(json.dumps({"foo": 1}) + "\n")
    assert main(["eval", "validate", "--benchmark", "mmvp", "--data-path", str(tmp_path / "x")]) == 1


def test_a_split_that_is_not_there_names_the_splits_found(tmp_path):
    write_fixture("blink-depth", tmp_path / "blink", n=2)
    (tmp_path / "blink" / "Relative_Depth" / "val-00000-of-00001.parquet").unlink()
    from spatialthinker.eval.loaders import DataUnavailableError

    with pytest.raises(DataUnavailableError, match="'test'"):
        load_items(get_benchmark("blink-depth"), tmp_path / "blink")


def test_a_load_dataset_cache_folder_reads_its_split(tmp_path):
    import datasets

    data = write_fixture("spatialbench", tmp_path / "raw", n=4)
    parquet = next(data.rglob("*.parquet"))
    datasets.load_dataset("parquet", data_files={"train": str(parquet), "test": str(parquet)},
                          cache_dir=str(tmp_path / "cache"))
    assert list((tmp_path / "cache").rglob("*-train.arrow"))  # the cache layout `load_dataset` writes
    items = load_items(get_benchmark("spatialbench"), tmp_path / "cache")
    assert len(items) == 4 and items[0].pil_images()[0].size == (96, 72)


def test_3dsrbench_lmms_eval_parquet_reads_the_circular_config_only(tmp_path):
    import base64

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{**r, "image": {"bytes": base64.b64decode(r["image"]), "path": None}} for r in fixture_rows("3dsrbench", 3)]
    for config, chosen in (("3dsr_circular", rows), ("3dsr", [r for r in rows if "-" not in r["qid"]])):
        (tmp_path / config).mkdir()
        pq.write_table(pa.Table.from_pylist(chosen), tmp_path / config / "test-00000-of-00001.parquet")
    items = load_items(get_benchmark("3dsrbench"), tmp_path)
    assert len(items) == 12 and sum(i.extra["primary"] for i in items) == 3
    assert {i.extra["tags"]["flip"] for i in items} == {"0", "1"}
