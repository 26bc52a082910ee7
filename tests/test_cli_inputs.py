"""Strict option values and data errors that name their culprit, for synth, score, view and the readers (issue 12)."""

from __future__ import annotations

import json
import os

import pytest

from spatialthinker.cli import main
from spatialthinker.cli_values import parse_size
from spatialthinker.errors import InputError


@pytest.mark.parametrize("text, size", [("640x480", (640, 480)), (" 96 X 96 ", (96, 96)), ("(640 x 480)", (640, 480)),
                                        ("32×16", (32, 16))])
def test_sizes_read_whole(text, size):
    assert parse_size(text, "--image-size") == size


@pytest.mark.parametrize("text", ["-5x10", "1e3x96", "96x96x96", "0x10", "10x0", "9.5x10", "640", "x480", "(640x480",
                                  "640x480)", "640,480", ""])
def test_sizes_refused(text):
    with pytest.raises(InputError, match=r"--image-size .*expected WIDTHxHEIGHT, two positive integers"):
        parse_size(text, "--image-size")


@pytest.mark.parametrize("args, needle", [
    (["--per-image", "-3"], "--per-image: expected an integer >= 0, got -3"),
    (["--gallery", "-1"], "--gallery: expected an integer >= 0, got -1"),
    (["--num-scenes", "0"], "--num-scenes: expected a positive integer, got 0"),
    (["--workers", "-2"], "--workers: expected a positive integer, got -2"),
    (["--image-size", "8"], "--image-size: expected an integer >= 32, got 8"),
    (["--val-fraction", "1.5"], "--val-fraction: expected a number in [0, 1), got 1.5"),
    (["--assets", "nosuch"], "--assets 'nosuch': expected fallback, sweethome3d or auto"),
])
def test_synth_sim_refuses_bad_options_before_rendering(args, needle, tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["synth", "sim", "--out", str(out), "--num-scenes", "1", *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_view_refuses_missing_folders_and_negative_limits(tmp_path, capsys):
    assert main(["view", str(tmp_path / "missing"), "--no-open"]) == 2
    assert "missing: no such folder" in capsys.readouterr().err
    (tmp_path / "file.txt").write_text("x")
    assert main(["view", str(tmp_path / "file.txt"), "--no-open"]) == 2
    assert "file.txt: not a folder" in capsys.readouterr().err
    assert main(["view", str(tmp_path), "--no-open", "--max-samples", "-1"]) == 2
    assert "--max-samples: expected an integer >= 0, got -1" in capsys.readouterr().err
    assert main(["view", str(tmp_path), "--no-open", "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.parametrize("width", [0, -4, 12.5])
def test_visual_genome_zero_width_names_file_image_and_field(width, tmp_path, shared_data_dir):
    from spatialthinker.data.readers import read_visual_genome

    source = os.path.join(shared_data_dir, "visual_genome")
    (tmp_path / "relationships.json").write_text(open(os.path.join(source, "relationships.json")).read())
    entries = json.load(open(os.path.join(source, "image_data.json")))
    entries[0]["width"] = width
    (tmp_path / "image_data.json").write_text(json.dumps(entries))
    with pytest.raises(InputError, match=r"image_data.json: image \d+: entry \[0\]\.width: expected a positive whole"):
        list(read_visual_genome(tmp_path))


def test_gqa_zero_height_names_the_field(tmp_path):
    from spatialthinker.data.readers import read_gqa

    (tmp_path / "scene_graphs.json").write_text(json.dumps({"9": {"width": 10, "height": 0, "objects": {}}}))
    with pytest.raises(InputError, match=r"scene_graphs.json: image 9\.height: expected a positive whole"):
        list(read_gqa(tmp_path / "scene_graphs.json"))


def test_broken_jsonl_line_names_file_and_its_line(tmp_path):
    from spatialthinker.eval.loaders import _file_rows

    path = tmp_path / "questions.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": \n{"a": 4}\n')
    with pytest.raises(InputError, match=r"questions.jsonl:4: invalid JSON"):
        list(_file_rows(path))


def test_metrics_resume_skips_a_torn_last_line(tmp_path):
    pytest.importorskip("transformers")
    from spatialthinker.train.telemetry import metrics_callback

    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "los')
    callback = metrics_callback(str(tmp_path), resume_step=2)
    assert [r["step"] for r in callback.records] == [1, 2]
    assert (tmp_path / "metrics.jsonl").read_text().splitlines() == ['{"step": 1}', '{"step": 2}']


@pytest.mark.parametrize("args, needle", [
    (["--per-image", "-1"], "--per-image: expected a positive integer, got -1"),
    (["--limit", "0"], "--limit: expected a positive integer, got 0"),
    (["--val-fraction", "-0.1"], "--val-fraction: expected a number in [0, 1), got -0.1"),
    (["--relation-percent", "150"], "--relation-percent: expected a number in [0, 100], got 150.0"),
])
def test_synth_scene_graphs_refuses_bad_counts(args, needle, tmp_path, capsys, shared_data_dir):
    out = tmp_path / "out"
    vg = os.path.join(shared_data_dir, "visual_genome")
    assert main(["synth", "scene-graphs", "--source", "vg", "--input-dir", vg, "--images", vg, "--out", str(out),
                 *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_view_of_a_folder_with_nothing_to_show_exits_2(tmp_path, capsys):
    assert main(["view", str(tmp_path), "--no-open"]) == 2
    assert "nothing to show" in capsys.readouterr().err
