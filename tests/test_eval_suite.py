"""`eval suite`: the paper's 12 benchmarks from one data root, the comparison table, and escaped reports."""

import json

from spatialthinker.cli import main
from spatialthinker.eval import EvalConfig, run_evaluation
from spatialthinker.eval.fixtures import write_fixture
from spatialthinker.eval.registry import GROUPS, expand_names, get_benchmark
from spatialthinker.eval.report import compare_runs, format_run

PAPER_12 = ["3dsrbench", "cv-bench", "blink-spatial", "blink-depth", "mmvp", "spatialreasoner", "spatialbench",
            "mmstar", "vstar", "realworldqa", "mme-realworld-lite", "robospatial", "hallusionbench"]


def _data_root(root, skip=()):
    for name in PAPER_12:
        if name in skip:
            continue
        folder = "BLINK" if name.startswith("blink") else name  # BLINK's tasks share the repository folder
        write_fixture(name, root / folder, n=4)
    return root


def test_paper_12_expands_to_twelve_scores():
    names, groups = expand_names(["paper-12"])
    assert names == PAPER_12 and groups == ["blink", "paper-12"]
    assert len(GROUPS.get("paper-12").members) == 12


def test_suite_writes_the_comparison_beside_published_numbers(tmp_path, capsys):
    root = _data_root(tmp_path / "data")
    out = tmp_path / "suite"
    code = main(["eval", "suite", "--model", "fixed:<answer>(A)</answer>", "--backend", "dummy",
                 "--data-root", str(root), "--out", str(out), "--prompt-mode", "direct"])
    assert code == 0
    table = (out / "comparison.md").read_text()
    assert "prompt mode: **direct**" in table
    assert "| 3dsrbench | vanilla |" in table and "| 56.4 |" in table  # SpatialThinker-7B's 3DSRBench
    assert "| paper-12 average" not in table and "**paper-12 average**" in table and "71.2" in table
    run = json.loads((out / "run.json").read_text())
    average = run["groups"]["paper-12"]["official"]["accuracy"]
    members = run["groups"]["paper-12"]["members"]
    assert len(members) == 12 and average == sum(members.values()) / 12  # BLINK counts once, as its mean


def test_suite_with_a_missing_benchmark_is_partial_and_says_so(tmp_path):
    root = _data_root(tmp_path / "data", skip={"mmstar"})
    out = tmp_path / "suite"
    assert main(["eval", "suite", "--model", "fixed:(A)", "--backend", "dummy", "--data-root", str(root),
                 "--out", str(out)]) == 1
    table = (out / "comparison.md").read_text()
    assert "| mmstar | – | not evaluated" in table and "partial (missing mmstar)" in table


def test_reports_escape_dataset_and_model_text(tmp_path):
    data = write_fixture("local-mc", tmp_path / "data", n=4)
    import pyarrow.parquet as pq

    path = next(data.rglob("*.parquet"))
    table = pq.read_table(path).to_pylist()
    for row in table:
        row["category"] = "evil | <script>x</script> *bold*"
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(table), path)
    table2 = [dict(r, category="other") for r in table[:1]]  # a second category so per-category rows are shown
    pq.write_table(pa.Table.from_pylist(table + table2), path)
    out = tmp_path / "out|<b>"
    results = run_evaluation(EvalConfig(["local-mc"], model="fixed:(A)", backend="dummy", out=str(out), data_path=str(data)))
    report = (out / "report.md").read_text()
    assert "<script>" not in report and "&lt;script&gt;" in report and "evil \\| " in report
    assert all(line.count("|") - line.count("\\|") == 10 for line in report.splitlines() if line.startswith("|"))
    assert "&lt;b&gt;" in compare_runs([out]) and "<b>" not in compare_runs([out])
    assert format_run(results.summaries) == report


def test_cv_bench_without_3d_is_reported_partial(tmp_path):
    data = write_fixture("cv-bench", tmp_path / "cvb", n=8)
    for part in data.glob("test_3d.*"):
        part.unlink()
    results = run_evaluation(EvalConfig(["cv-bench"], model="fixed:(A)", backend="dummy", out=str(tmp_path / "o"),
                                        data_path=str(data)))
    official = results.summaries["cv-bench"]["official"]
    assert official["accuracy"] is None and official["missing"] == ["3D"]
    assert "partial (missing 3D)" in (tmp_path / "o" / "report.md").read_text()
    assert get_benchmark("cv-bench").official == "overall"
