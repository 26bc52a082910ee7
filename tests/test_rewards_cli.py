"""`spatialthinker score`, run through ``main(argv)`` as users and the README's demo job run it."""

from __future__ import annotations

import io
import json

import pytest

from spatialthinker.cli import main
from spatialthinker.rewards.cli import DEMO_GROUND_TRUTH, demo_responses


@pytest.fixture
def files(tmp_path):
    response = tmp_path / "response.txt"
    truth = tmp_path / "gt.txt"
    response.write_text(demo_responses()["perfect"])
    truth.write_text(DEMO_GROUND_TRUTH)
    return str(response), str(truth), tmp_path


def test_score_help(capsys):
    assert main(["score", "--help"]) == 0
    assert "--ground-truth" in capsys.readouterr().out


def test_score_json(files, capsys):
    response, truth, _ = files
    assert main(["score", "--response", response, "--ground-truth", truth, "--image-size", "640x480", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == pytest.approx(1.0, abs=1e-6) and data["spatial"] == pytest.approx(1.0, abs=1e-6) and data["errors"] == []


def test_score_table_and_json(files, capsys):
    response, truth, _ = files
    assert main(["score", "--response", response, "--ground-truth", truth, "--image-size", "(640 x 480)"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "response.txt" in out
    assert json.loads(out[out.index("{"):])["total"] == pytest.approx(1.0, abs=1e-6)


def test_score_from_stdin_with_config(files, capsys, monkeypatch):
    _, truth, tmp_path = files
    config = tmp_path / "reward.yaml"
    config.write_text("box_metric: iou\nanswer_match: option\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(demo_responses()["letter only"]))
    assert main(["score", "--response", "-", "--ground-truth", truth, "--image-size", "640x480",
                 "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == 1.0  # "A" is right under answer_match=option


@pytest.mark.parametrize("args, message", [
    (["--image-size", "640by480"], "expected WIDTHxHEIGHT"),
    (["--image-size", "0x480"], "expected WIDTHxHEIGHT"),
    (["--image-size", "-5x10"], "--image-size '-5x10': expected WIDTHxHEIGHT, two positive integers"),
    (["--image-size", "1e3x96"], "--image-size '1e3x96'"),
    (["--image-size", "96x96x96"], "--image-size '96x96x96'"),
    (["--image-size", "96.5x96"], "--image-size '96.5x96'"),
    (["--config", "BAD_CONFIG"], "unknown RewardConfig key"),
    (["--config", "missing.yaml"], "does not exist"),
])
def test_score_usage_errors_exit_2(files, capsys, args, message):
    response, truth, tmp_path = files
    (tmp_path / "bad.json").write_text(json.dumps({"box_metrc": "iou"}))
    args = [str(tmp_path / "bad.json") if a == "BAD_CONFIG" else a for a in args]
    assert main(["score", "--response", response, "--ground-truth", truth, *args]) == 2
    assert message in capsys.readouterr().err


def test_score_missing_response_file_exits_2(files, capsys):
    _, truth, _ = files
    assert main(["score", "--response", "nope.txt", "--ground-truth", truth]) == 2


def test_score_demo(capsys):
    assert main(["score", "--demo"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out[out.index('{"perfect"'):])
    assert data["perfect"]["total"] == pytest.approx(1.0, abs=1e-6)
    assert data["box spam (40)"]["total"] < data["perfect"]["total"]
    assert data["wrong answer"]["spatial"] == 0.0 and data["broken format"]["total"] == 0.0
    assert "jittered boxes" in out


def test_score_demo_json(capsys):
    assert main(["score", "--demo", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == set(demo_responses())
