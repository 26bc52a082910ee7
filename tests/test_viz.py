"""Viewer tests on tiny hand-made outputs: a 2-row STVQA parquet, a metrics.jsonl, rollouts and a summary.json."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from spatialthinker.data.records import QAItem
from spatialthinker.scene import Relation, SceneGraph, SceneObject
from spatialthinker.viz import html as H
from spatialthinker.viz.draw import GT_COLOUR, PRED_COLOUR, draw_comparison, draw_scene_graph
from spatialthinker.viz.plots import extract_series, read_jsonl, training_curves_png
from spatialthinker.viz.report import build_report
from spatialthinker.viz.sources import discover, load_samples

pytest.importorskip("pyarrow")
pytest.importorskip("matplotlib")

XSS = '<script>alert(1)</script> "><img src=x onerror=alert(1)>'
SCENE = SceneGraph(
    (SceneObject("chair.1", (10, 40, 50, 110)), SceneObject("lamp.1", (80, 10, 110, 100))),
    (Relation("lamp.1", "right of", "chair.1"),),
)
GT = ('<scene>' + SCENE.to_json() + '</scene>\n<answer>(B) right</answer>')
GOOD = ('<observe>a chair and a lamp</observe><scene>{"objects": [{"id": "chair.1", "bbox": [12, 38, 52, 108]}, '
        '{"id": "lamp.1", "bbox": [70, 20, 100, 90]}], "relationships": []}</scene><think>lamp is right</think>'
        '<answer>(B) right</answer>')


def _png(colour: tuple[int, int, int], size: int = 128) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture()
def synth_dir(tmp_path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for index, (category, question) in enumerate([("relation", "Where is the lamp relative to the chair?"),
                                                  ("depth", XSS)]):
        item = QAItem(image_id=f"sim_{index}", image_size=(128, 128), question=question, options=["left", "right"],
                      answer_index=1, category=category, level="easy", rating=5, scene=SCENE,
                      extras={"scene_3d": json.dumps({"camera": {}, "objects": [
                          {"id": "chair.1", "depth_m": 2.5, "size_m": [0.5, 0.9, 0.5], "yaw_deg": 10.0,
                           "visible_fraction": 1.0}]})})
        rows.append(item.to_row({"bytes": _png((200, 180, 160)), "path": None}))
    out = tmp_path / "synth"
    out.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), out / "val.parquet")
    return out


@pytest.fixture()
def train_dir(tmp_path: Path, synth_dir: Path) -> Path:
    out = tmp_path / "train"
    (out / "rollouts").mkdir(parents=True)
    with open(out / "metrics.jsonl", "w") as handle:
        for step in range(1, 5):
            handle.write(json.dumps({"step": step, "reward/total": 0.1 * step, "reward/format": 0.05 * step,
                                     "reward/count": 0.02, "reward/accuracy": 0.25, "reward/spatial": 0.0,
                                     "format_rate": 0.2 * step, "pred_objects_mean": step, "gt_objects_mean": 2,
                                     "empty_answer_rate": 0.1, "completion_length_mean": 40 + step,
                                     "loss": 0.5 / step}) + "\n")
        handle.write('{"step": 5, "loss": 0.1')  # a run killed mid-write leaves a truncated last line
    image_path = out / "img.png"
    image_path.write_bytes(_png((90, 120, 200)))
    for step, completion in ((1, XSS), (4, GOOD)):
        record = {"step": step, "image_id": "sim_0", "image_path": str(image_path), "prompt": "Q " + XSS,
                  "completion": completion, "ground_truth": GT, "image_size": [128, 128],
                  "reward": {"total": 0.9, "format": 0.1, "count": 0.2, "accuracy": 0.5, "spatial": 0.1}}
        (out / "rollouts" / f"step_{step:06d}.jsonl").write_text(json.dumps(record) + "\n")
    # a record with only an image_id: its image is found in the synth parquet
    with open(out / "rollouts" / "step_000004.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 4, "image_id": "sim_1", "completion": GOOD, "ground_truth": GT,
                                 "image_size": [128, 128], "reward": {"total": 0.5}}) + "\n")
    (out / "config.json").write_text(json.dumps({"model": "tiny", "dataset": str(synth_dir)}))
    return out


@pytest.fixture()
def eval_dirs(tmp_path: Path) -> list[Path]:
    dirs = []
    for name, accuracy in (("eval_before", 0.25), ("eval_after", 0.5)):
        out = tmp_path / name
        out.mkdir()
        (out / "summary.json").write_text(json.dumps({
            "benchmark": "stvqa", "prompt_mode": XSS, "n": 8, "correct": int(8 * accuracy), "accuracy": accuracy,
            "ci95": [0.1, 0.6], "parse_failure_rate": 0.5, "backend": {"model": XSS},
            "per_category": {XSS: {"n": 4, "accuracy": 0.5}, "depth": {"n": 4, "accuracy": accuracy}},
            "scene_quality": {"n": 8, "valid_rate": 0.5, "mean_iou": 0.2},
        }))
        (out / "heldout_reward.json").write_text(json.dumps({"n": 8, "format_rate": accuracy, "mean_reward": 0.3,
                                                            "reward/format": 0.4}))
        dirs.append(out)
    return dirs


def _near(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    """A box outline's worth of pixels near ``colour`` (JPEG shifts exact values)."""
    import numpy as np

    distance = np.abs(np.asarray(image.convert("RGB"), dtype=np.int32) - np.asarray(colour)).sum(axis=-1)
    return int((distance < tolerance).sum()) >= 40


def _decode_images(page: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(data)))
            for data in re.findall(r'src="data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=]+)"', page)]


def test_draw_comparison_paints_both_colours():
    image = Image.new("RGB", (128, 128), (0, 0, 0))
    pred = SceneGraph((SceneObject("lamp.1", (60, 20, 120, 120)), SceneObject("x.1", (0, 0, 10**12, 5))))
    out = draw_comparison(image, SCENE, pred, frame_size=(128, 128))
    colours = {pixel for pixel in out.getdata()}
    assert GT_COLOUR in colours and PRED_COLOUR in colours
    assert out.width >= 320  # enlarged to a readable size; the absurd box is clipped, not an error


def test_boxes_follow_the_stated_frame():
    # Boxes stated in a 256 px frame on a 128 px image must land at the same relative place.
    graph = SceneGraph((SceneObject("cup.1", (128, 0, 256, 256)),))
    out = draw_scene_graph(Image.new("RGB", (128, 128)), graph, frame_size=(256, 256))
    left_half = out.crop((0, 60, out.width // 2 - 4, 300))
    assert GT_COLOUR not in set(left_half.getdata())


def test_curves_from_metrics(train_dir: Path):
    metrics = read_jsonl(train_dir / "metrics.jsonl")
    assert len(metrics) == 4  # truncated last line skipped
    assert extract_series(metrics, ["format_rate"])[1][-1] == pytest.approx(0.8)
    png = training_curves_png(metrics)
    assert png is not None and Image.open(io.BytesIO(png)).size[0] > 600
    assert training_curves_png([{"step": 1}]) is None


def test_discover_classifies(synth_dir: Path, train_dir: Path, eval_dirs: list[Path]):
    runs = discover([synth_dir.parent])
    kinds = {run.path.name: run.kinds for run in runs}
    assert kinds == {"synth": ["synth"], "train": ["train"], "eval_before": ["eval"], "eval_after": ["eval"]}
    samples = load_samples(synth_dir / "val.parquet", 5)
    assert len(samples) == 2 and samples[0].scene is not None and samples[0].frame_size == (128.0, 128.0)


def test_report_has_every_section_and_real_images(synth_dir, train_dir, eval_dirs, tmp_path):
    out = build_report([synth_dir, train_dir, *eval_dirs], tmp_path / "r" / "report.html")
    page = out.read_text()
    for anchor in ("overview", "evaluation", "curves", "rollouts", "samples"):
        assert f'id="{anchor}"' in page
    images = _decode_images(page)
    # 2 samples + 3 rollouts (one resolved by image_id through the dataset in config.json) + curves + eval bars
    assert len(images) == 7
    drawn = [image for image in images if _near(image, GT_COLOUR)]
    assert len(drawn) >= 5
    assert "image not found" not in page
    assert "3D ground truth" in page and "right of" in page
    assert "held-out format rate" in page and "accuracy: depth" in page


def test_untrusted_text_is_escaped(synth_dir, train_dir, eval_dirs, tmp_path):
    page = build_report([synth_dir, train_dir, *eval_dirs], tmp_path / "report.html").read_text()
    assert "<script" not in page.lower()
    assert "<img src=x" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page  # scripts blocked even if one slipped
    # nothing external: every src is an inline data URI
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', page))
    assert "http://" not in page and "https://" not in page


def test_escape_helpers():
    assert H.esc(XSS).count("<") == 0
    card = H.rollout_card({"completion": XSS, "ground_truth": XSS, "reward": {XSS: 1.0}, "step": XSS}, None)
    assert "<script" not in card and "<img src=x" not in card


def test_nothing_to_show(tmp_path: Path):
    with pytest.raises(ValueError, match="nothing to show"):
        build_report([tmp_path], tmp_path / "x.html")
    with pytest.raises(FileNotFoundError):
        build_report([tmp_path / "missing"], tmp_path / "x.html")


def test_view_cli(synth_dir: Path, tmp_path: Path):
    from spatialthinker.cli import main

    out = tmp_path / "view.html"
    assert main(["view", str(synth_dir), "--out", str(out), "--no-open"]) == 0
    assert out.is_file() and "Dataset samples" in out.read_text()
    assert main(["view", "--help"]) == 0
