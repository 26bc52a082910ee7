"""`spatialthinker synth scene-graphs`: help, end-to-end runs, missing images, byte-identical reruns."""

import hashlib
import json
import os

import pytest

from spatialthinker.cli import main


def _images(tmp_path, sizes):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    for image_id, (size, suffix) in sizes.items():
        Image.new("RGB", size, (120, 110, 100)).save(folder / f"{image_id}{suffix}")
    return folder


def test_help(capsys):
    assert main(["synth", "scene-graphs", "--help"]) == 0
    assert "--relation-percent" in capsys.readouterr().out
    assert main(["synth", "--help"]) == 0


def test_gqa_end_to_end_missing_images_and_determinism(tmp_path, shared_data_dir, capsys):
    images = _images(tmp_path, {"2353884": ((500, 281), ".jpg"), "2410046": ((500, 375), ".png")})
    args = ["synth", "scene-graphs", "--source", "gqa", "--input-dir", os.path.join(shared_data_dir, "gqa"),
            "--images", str(images), "--seed", "3", "--val-fraction", "0.5", "--verl"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "1 missing" in out and "2 read" in out
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    for name in ("train.parquet", "val.parquet", "stats.json", "train_verl.parquet"):
        digest = [hashlib.sha256((tmp_path / run / name).read_bytes()).hexdigest() for run in "ab"]
        assert digest[0] == digest[1], name
    stats = json.loads((tmp_path / "a" / "stats.json").read_text())
    assert stats["images"] == {"read": 2, "missing": 1, "rescaled": 0}
    assert stats["counts"]["train"]["total"] + stats["counts"]["val"]["total"] > 0
    assert "skipped" in stats and stats["counts"]["train"]["answer_letter"]


def test_vg_rescales_to_the_stored_image(tmp_path, shared_data_dir):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    images = _images(tmp_path, {"1": ((400, 300), ".jpg")})
    code = main(["synth", "scene-graphs", "--source", "vg", "--input-dir", os.path.join(shared_data_dir, "visual_genome"),
                 "--images", str(images), "--out", str(tmp_path / "o"), "--val-fraction", "0", "--per-image", "12"])
    assert code == 0
    rows = pq.read_table(tmp_path / "o" / "train.parquet").to_pylist()
    assert len(rows) == 12 and all("Image size: (400 x 300)" in r["problem"] for r in rows)
    assert len({r["category"] for r in rows}) >= 4


def test_bad_source_is_a_clear_error(tmp_path):
    assert main(["synth", "scene-graphs", "--source", "coco", "--input-dir", str(tmp_path), "--images", str(tmp_path),
                 "--out", str(tmp_path / "o")]) != 0
