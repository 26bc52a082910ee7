"""run_evaluation and the CLI: output layout, resume with correct counts, prompt modes, reports, replay."""

import json

import pytest

from spatialthinker.cli import main
from spatialthinker.eval import EvalConfig, run_evaluation
from spatialthinker.eval.backends.simple import DummyBackend
from spatialthinker.eval.fixtures import write_fixture
from spatialthinker.eval.loaders import load_items
from spatialthinker.eval.registry import BACKENDS, get_benchmark


class CountingBackend(DummyBackend):
    """Dummy that answers "(A)" and counts the requests it served (class-level, across instances)."""

    name = "counting-test"
    served: list[str] = []

    def __init__(self, settings):
        super().__init__(settings)

    def generate(self, requests):
        CountingBackend.served.extend(r.item_id for r in requests)
        return ["<answer>(A)</answer>" for _ in requests]


if "counting-test" not in BACKENDS:
    BACKENDS.register("counting-test", CountingBackend)


@pytest.fixture
def data(tmp_path):
    return str(write_fixture("local-mc", tmp_path / "data", n=10))


def lines(path):
    return [json.loads(line) for line in open(path)]


def config(data, out, **kwargs):
    return EvalConfig(["local-mc"], model="fixed:x", backend="counting-test", out=str(out), data_path=data, **kwargs)


def test_output_layout(data, tmp_path):
    results = run_evaluation(config(data, tmp_path / "out", limit=5, prompt_mode="reasoning"))
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"local-mc", "report.md", "run.json"}
    summary = json.loads((out / "local-mc" / "summary.json").read_text())
    for key in ("config", "version", "prompt_mode", "prompt_style", "extractor", "n", "accuracy", "ci95",
                "parse_failure_rate", "per_category", "aggregates", "official", "dataset", "backend", "complete"):
        assert key in summary, key
    assert summary["prompt_mode"] == "reasoning" and summary["prompt_style"] == "sparse"
    assert summary["config"]["limit"] == 5 and summary["limited"] is True
    records = lines(out / "local-mc" / "items.jsonl")
    assert len(records) == 5 and all(r["prompt_mode"] == "reasoning" and r["extracted"] == "A" for r in records)
    expected = sum(i.answer == "A" for i in load_items(get_benchmark("local-mc"), data, limit=5))
    assert summary["correct"] == expected == sum(r["correct"] for r in records)
    assert results.complete and "local-mc" in (out / "report.md").read_text()


def test_resume_skips_scored_items_and_counts_stay_right(data, tmp_path):
    out = tmp_path / "out"
    CountingBackend.served.clear()
    run_evaluation(config(data, out, limit=4, batch_size=3))
    assert len(CountingBackend.served) == 4
    # simulate a run killed mid-write: the last line is truncated
    log = out / "local-mc" / "items.jsonl"
    text = log.read_text().splitlines()
    log.write_text("\n".join(text[:3]) + "\n" + text[3][:20])
    CountingBackend.served.clear()
    summary = run_evaluation(config(data, out, batch_size=3)).summaries["local-mc"]
    # item 3 (truncated) and items 4..9 are generated; items 0..2 are not asked again
    assert CountingBackend.served == [f"q{i}" for i in range(3, 10)]
    assert summary["n"] == 10 and summary["complete"]
    CountingBackend.served.clear()
    again = run_evaluation(config(data, out)).summaries["local-mc"]
    assert CountingBackend.served == [] and again["n"] == 10 and again["correct"] == summary["correct"]
    # a smaller --limit reports on the items it asks for, not on everything in the log
    assert run_evaluation(config(data, out, limit=2)).summaries["local-mc"]["n"] == 2


def test_resume_refuses_another_prompt_mode(data, tmp_path):
    run_evaluation(config(data, tmp_path / "out", limit=2))
    with pytest.raises(ValueError, match="prompt mode"):
        run_evaluation(config(data, tmp_path / "out", limit=2, prompt_mode="direct"))


def test_resume_refuses_another_model(data, tmp_path):
    run_evaluation(config(data, tmp_path / "out", limit=2))
    other = EvalConfig(["local-mc"], model="fixed:y", backend="counting-test", out=str(tmp_path / "out"), data_path=data)
    with pytest.raises(ValueError, match="model"):
        run_evaluation(other)


def test_no_resume_starts_over(data, tmp_path):
    run_evaluation(config(data, tmp_path / "out", limit=3))
    run_evaluation(config(data, tmp_path / "out", limit=2, resume=False))
    assert len(lines(tmp_path / "out" / "local-mc" / "items.jsonl")) == 2


def test_config_rejects_bad_input(data):
    with pytest.raises(KeyError, match="Did you mean"):
        EvalConfig(["cv-bnech"], model="x")
    with pytest.raises(KeyError, match="prompt mode"):
        EvalConfig(["cv-bench"], model="x", prompt_mode="fancy")
    with pytest.raises(ValueError, match="NAME=PATH"):
        EvalConfig(["cv-bench", "mmvp"], model="x", data_path=data)
    with pytest.raises(ValueError, match="limit"):
        EvalConfig(["cv-bench"], model="x", limit=0)


# ------------------------------------------------------------------------------------------ CLI
@pytest.mark.parametrize("argv", [["eval", "--help"], ["eval", "report", "--help"], ["eval", "ls", "--help"],
                                  ["eval", "validate", "--help"]])
def test_help(argv, capsys):
    assert main(argv) == 0
    assert "Usage" in capsys.readouterr().out


def test_ls(capsys):
    assert main(["eval", "ls"]) == 0
    out = capsys.readouterr().out
    assert "cv-bench" in out and "nyu-visionx/CV-Bench" in out and "blink" in out


def test_validate(tmp_path, capsys):
    assert main(["eval", "validate"]) == 0
    assert "cv-bench: ok" in capsys.readouterr().out
    data = write_fixture("cv-bench", tmp_path, n=8)
    assert main(["eval", "validate", "--benchmark", "cv-bench", "--data-path", str(data)]) == 0
    assert "8 items Count=2, Depth=2, Distance=2, Relation=2" in capsys.readouterr().out


def test_cli_run_replay_and_report(tmp_path, capsys):
    data = write_fixture("cv-bench", tmp_path / "data", n=8)
    items = load_items(get_benchmark("cv-bench"), data)
    replay = tmp_path / "outputs.jsonl"  # a perfect model's outputs, produced "elsewhere"
    replay.write_text("".join(json.dumps({"id": i.id, "output": f"<answer>({i.answer}) {i.answer_text}</answer>"}) + "\n"
                              for i in items))
    base = ["eval", "--benchmark", "cv-bench", "--data-path", str(data), "--limit", "8"]
    assert main(base + ["--backend", "replay", "--model", str(replay), "--out", str(tmp_path / "a")]) == 0
    assert main(base + ["--backend", "dummy", "--model", "fixed:(A)", "--prompt-mode", "direct",
                        "--out", str(tmp_path / "b")]) == 0
    perfect = json.loads((tmp_path / "a" / "cv-bench" / "summary.json").read_text())
    assert perfect["official"]["accuracy"] == 1.0 and perfect["parse_failure_rate"] == 0.0
    capsys.readouterr()
    assert main(["eval", "report", str(tmp_path / "a"), str(tmp_path / "b"), "--paper",
                 "--output", str(tmp_path / "cmp.md")]) == 0
    table = capsys.readouterr().out
    assert "a (spatialthinker)" in table and "b (direct)" in table and "paper: SpatialThinker-7B" in table
    assert "| cv-bench · overall | 100.0" in table and "78.2" in table  # our score beside the paper's
    assert "68.7" in table  # CV-Bench Count of SpatialThinker-7B
    assert (tmp_path / "cmp.md").read_text().strip() == table.strip()


def test_cli_errors_are_messages(tmp_path, capsys):
    assert main(["eval", "--benchmark", "cv-bench", "--model", "fixed:x", "--backend", "dummy",
                 "--out", str(tmp_path)]) == 1  # offline and no --data-path
    assert "--data-path" in capsys.readouterr().err
    assert main(["eval", "report", str(tmp_path / "nothing")]) == 1
