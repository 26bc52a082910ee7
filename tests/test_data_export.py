"""Curation (balancing, split by image, stats), STVQA parquet export, veRL export and loading STVQA copies."""

import hashlib
import io
import json

import pytest

from spatialthinker.data.curation import CurationConfig, curate, quotas
from spatialthinker.data.export import load_stvqa, write_stvqa
from spatialthinker.data.generators import generate_items
from spatialthinker.data.records import CATEGORIES, STVQA_COLUMNS, AnnotatedImage, AnnotatedObject, QAItem
from spatialthinker.data.verl_export import verl_rows, write_verl
from spatialthinker.scene import SceneGraph, SceneObject


def _jpeg(size=(64, 48)):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def _item(image_id, category, question, rating=5):
    scene = SceneGraph((SceneObject("cup.1", (1, 2, 30, 40)),))
    return QAItem(image_id, (64, 48), question, ["yes", "no"], 0, category, "easy", rating, scene,
                  {"rule": "test"}, {"scene_3d": {"cam": [1, 2]}})


def _many():
    return [_item(str(img), cat, f"q{k} {cat} cup?", rating=k % 10 + 1)
            for img in range(40) for cat in CATEGORIES for k in range(3)]


def test_quotas_sum_and_relation_share():
    q = quotas(1000, 50)
    assert sum(q.values()) == 1000 and q["relation"] == 500 and {q[c] for c in CATEGORIES[1:]} <= {62, 63}


def test_curate_balances_splits_by_image_and_counts():
    items = _many() + [_item("0", "relation", "Q0 RELATION   cup?")]  # duplicate of item 0 up to case/spaces
    curated = curate(items, CurationConfig(target=200, relation_percent=40, val_fraction=0.2))
    train_images = {i.image_id for i in curated.train}
    assert train_images.isdisjoint({i.image_id for i in curated.val})
    assert curated.stats["dropped"]["all:duplicate"] == 1
    counts = curated.stats["counts"]["train"]
    assert counts["total"] == len(curated.train) == 160 and counts["category"]["relation"] == 64
    assert sum(counts["answer_letter"].values()) == 160
    kept = [i for i in curated.train if i.category == "count"]
    val_images = {v.image_id for v in curated.val}
    pool = [i for i in items if i.category == "count" and i.image_id not in val_images]
    assert min(i.rating for i in kept) >= sorted((i.rating for i in pool), reverse=True)[len(kept) - 1]
    with pytest.raises(ValueError, match="relation_percent"):
        CurationConfig(relation_percent=120)


def test_write_stvqa_schema_determinism_and_hf_image(tmp_path):
    items = [_item("7", "existence", "Is there a cup?"), _item("7", "count", "How many cups?")]
    path = write_stvqa(items, {"7": _jpeg()}, tmp_path / "a", "train")
    again = write_stvqa(items, {"7": _jpeg()}, tmp_path / "b", "train")
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(again.read_bytes()).digest()
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    assert tuple(names[:len(STVQA_COLUMNS)]) == STVQA_COLUMNS
    assert {"evidence", "image_size", "item_id", "scene_3d"} <= set(names)
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert isinstance(ds.features["images"], datasets.Image) and ds[0]["images"].size == (64, 48)
    assert json.loads(ds[0]["scene_3d"]) == {"cam": [1, 2]} and json.loads(ds[0]["evidence"]) == {"rule": "test"}
    assert ds[0]["answer_option_text_only"] == "(A) yes" and ds[0]["image_size"] == [64, 48]


def test_load_stvqa_layouts_and_offline_error(tmp_path, monkeypatch):
    items = [_item("7", "existence", "Is there a cup?")]
    write_stvqa(items, {"7": _jpeg()}, tmp_path / "flat", "val")
    assert load_stvqa(tmp_path / "flat", "val")[0]["question_only"] == "Is there a cup?"
    hub = tmp_path / "hub" / "data"
    hub.mkdir(parents=True)
    (tmp_path / "flat" / "val.parquet").rename(hub / "val-00000-of-00001.parquet")
    assert len(load_stvqa(tmp_path / "hub", "val")) == 1
    datasets = pytest.importorskip("datasets")
    datasets.load_dataset("parquet", data_files=str(hub / "val-00000-of-00001.parquet"), split="train") \
        .save_to_disk(str(tmp_path / "disk" / "val"))
    assert load_stvqa(tmp_path / "disk", "val")[0]["answer_only"] == "A"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(FileNotFoundError, match="offline"):
        load_stvqa("OX-PIXL/STVQA-7K", "train")


def test_verl_export_from_generated_rows(tmp_path):
    objects = [AnnotatedObject(f"cup.{i}", "cup", (10 + 60 * i, 10, 50 + 60 * i, 60)) for i in range(1, 4)]
    items = generate_items(AnnotatedImage("9", 300, 200, objects))
    write_stvqa(items, {"9": _jpeg((300, 200))}, tmp_path, "train")
    rows = load_stvqa(tmp_path / "train.parquet")
    verl = verl_rows(rows, "spatialthinker/test")
    assert verl[0]["prompt"][0]["content"].startswith("<image>") and verl[0]["extra_info"]["image_size"] == [300, 200]
    assert verl[0]["reward_model"] == {"ground_truth": rows[0]["answer_option_text"], "style": "rule"}
    assert [r["extra_info"]["index"] for r in verl] == list(range(len(rows)))
    stripped = [{k: v for k, v in r.items() if k != "image_size"} for r in rows]  # STVQA-7K rows have no such column
    assert verl_rows(stripped)[0]["extra_info"]["image_size"] == [300, 200]
    assert write_verl(rows, tmp_path / "v.parquet").stat().st_size > 0
