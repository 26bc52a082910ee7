"""run_evaluation and the CLI: output layout, resume with correct counts, prompt modes, reports, replay."""

import json
import re

import pytest

from spatialthinker.cli import main
from spatialthinker.eval import EvalConfig, run_evaluation
from spatialthinker.eval.backends import GenerationFailure
from spatialthinker.eval.backends.simple import DummyBackend
from spatialthinker.eval.fingerprint import FingerprintMismatch
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
    kwargs = {"model": "fixed:x", "backend": "counting-test", **kwargs}
    return EvalConfig(["local-mc"], out=str(out), data_path=data, **kwargs)


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


@pytest.mark.parametrize("change, message", [
    ({"prompt_mode": "direct"}, "prompt_mode: 'spatialthinker' -> 'direct'"),
    ({"max_new_tokens": 64}, "max_new_tokens: 2048 -> 64"),
    ({"model": "fixed:y"}, "model: 'fixed:x' -> 'fixed:y'"),
])
def test_resume_with_other_settings_says_what_changed(data, tmp_path, change, message):
    run_evaluation(config(data, tmp_path / "out", limit=2))
    with pytest.raises(FingerprintMismatch, match=re.escape(message)):
        run_evaluation(config(data, tmp_path / "out", limit=2, **change))
    # --overwrite starts over with the new settings
    summary = run_evaluation(config(data, tmp_path / "out", limit=2, overwrite=True, **change)).summaries["local-mc"]
    assert summary["complete"] and len(lines(tmp_path / "out" / "local-mc" / "items.jsonl")) == 2


def test_resume_with_other_data_path_stops(data, tmp_path):
    other = str(write_fixture("local-mc", tmp_path / "other", n=10, seed=7))
    run_evaluation(config(data, tmp_path / "out", limit=2))
    with pytest.raises(FingerprintMismatch, match="data: "):
        run_evaluation(config(other, tmp_path / "out", limit=2))


def test_edited_item_is_caught_even_when_only_some_were_scored(tmp_path):
    data = tmp_path / "data"
    write_fixture("local-mc", data, n=6)
    run_evaluation(config(str(data), tmp_path / "out", limit=2))
    write_fixture("local-mc", data, n=6, seed=3)  # same file, other content
    with pytest.raises(FingerprintMismatch, match="content of 2 scored item"):
        run_evaluation(config(str(data), tmp_path / "out"))


def test_no_resume_starts_over(data, tmp_path):
    run_evaluation(config(data, tmp_path / "out", limit=3))
    run_evaluation(config(data, tmp_path / "out", limit=2, resume=False))
    assert len(lines(tmp_path / "out" / "local-mc" / "items.jsonl")) == 2


# ------------------------------------------------------------------------------------------ backend failures
class FlakyBackend(DummyBackend):
    """Fails the ids in ``failing`` (a GenerationFailure each) and raises for a batch while ``raise_batches`` > 0."""

    name = "flaky-test"
    failing: set[str] = set()
    raise_batches = 0
    served: list[str] = []

    def generate(self, requests):
        if FlakyBackend.raise_batches > 0:
            FlakyBackend.raise_batches -= 1
            raise RuntimeError("server went away")
        FlakyBackend.served.extend(r.item_id for r in requests)
        return [GenerationFailure("HTTP 500") if r.item_id in FlakyBackend.failing else "<answer>(A)</answer>"
                for r in requests]


if "flaky-test" not in BACKENDS:
    BACKENDS.register("flaky-test", FlakyBackend)


def flaky(data, out, **kwargs):
    return EvalConfig(["local-mc"], model="fixed:x", backend="flaky-test", out=str(out), data_path=data,
                      retry_backoff_s=0.5, **kwargs)


def test_failed_items_are_errors_and_only_they_are_retried(data, tmp_path, monkeypatch):
    FlakyBackend.failing, FlakyBackend.raise_batches, FlakyBackend.served = {"q1", "q4"}, 0, []
    first = run_evaluation(flaky(data, tmp_path / "out", limit=6))
    summary = first.summaries["local-mc"]
    assert not first.complete and summary["complete"] is False and summary["errors"] == 2
    assert summary["n"] == 4  # errors are not answers: left out of the score, not counted wrong
    errors = [r for r in lines(tmp_path / "out" / "local-mc" / "items.jsonl") if r["error"]]
    assert {r["id"] for r in errors} == {"q1", "q4"} and all(r["error"] == "HTTP 500" for r in errors)
    FlakyBackend.failing, FlakyBackend.served = set(), []
    second = run_evaluation(flaky(data, tmp_path / "out", limit=6))
    assert FlakyBackend.served == ["q1", "q4"]  # only the failed items are asked again
    again = second.summaries["local-mc"]
    assert second.complete and again["errors"] == 0 and again["n"] == 6


def test_a_raising_backend_is_retried_with_backoff_then_recorded(data, tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr("spatialthinker.eval.runner._sleep", waits.append)
    FlakyBackend.failing, FlakyBackend.raise_batches, FlakyBackend.served = set(), 2, []
    summary = run_evaluation(flaky(data, tmp_path / "out", limit=3, retries=3)).summaries["local-mc"]
    assert waits == [0.5, 1.0] and summary["complete"] and summary["errors"] == 0  # third attempt succeeded
    FlakyBackend.raise_batches = 10
    gave_up = run_evaluation(flaky(data, tmp_path / "out2", limit=3, retries=2)).summaries["local-mc"]
    assert gave_up["errors"] == 3 and gave_up["complete"] is False and gave_up["n"] == 0
    FlakyBackend.raise_batches = 0


def test_openai_server_errors_make_the_run_incomplete(data, tmp_path):
    from test_eval_backends import FakeServer

    server = FakeServer(fail_first=100, status=500)
    with server as url:
        cfg = EvalConfig(["local-mc"], model="m", backend="openai", api_base=url, out=str(tmp_path / "out"),
                         data_path=data, limit=2, retries=1, retry_backoff_s=0.01)
        results = run_evaluation(cfg)
    summary = results.summaries["local-mc"]
    assert not results.complete and summary["errors"] == 2 and summary["n"] == 0


def test_config_rejects_bad_input(data):
    with pytest.raises(KeyError, match="Did you mean"):
        EvalConfig(["cv-bnech"], model="x")
    with pytest.raises(KeyError, match="prompt mode"):
        EvalConfig(["cv-bench"], model="x", prompt_mode="fancy")
    with pytest.raises(ValueError, match="NAME=PATH"):
        EvalConfig(["cv-bench", "mmvp"], model="x", data_path=data)
    EvalConfig(["blink"], model="x", data_path=data)  # BLINK's tasks share one dataset folder
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


def test_cli_resume_mismatch_is_a_message_and_overwrite_starts_over(tmp_path, capsys):
    data = write_fixture("local-mc", tmp_path / "data", n=3)
    base = ["eval", "--benchmark", "local-mc", "--data-path", str(data), "--backend", "dummy", "--model", "fixed:(A)",
            "--out", str(tmp_path / "out")]
    assert main(base) == 0
    capsys.readouterr()
    assert main(base + ["--max-new-tokens", "64"]) == 1
    assert "max_new_tokens: 2048 -> 64" in capsys.readouterr().err
    assert main(base + ["--max-new-tokens", "64", "--overwrite"]) == 0
    fingerprint = json.loads((tmp_path / "out" / "local-mc" / "fingerprint.json").read_text())
    assert fingerprint["max_new_tokens"] == 64 and fingerprint["n_items"] == 3
