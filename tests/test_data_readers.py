"""Readers of Visual Genome, VG150 and GQA on the real shared files and on malformed inputs."""

import json
import os
import re

import pytest

from spatialthinker.data.readers import clean_label, read_gqa, read_vg150, read_visual_genome

ID = re.compile(r"^[a-zA-Z_]+\.\d+$")


def _check_image(image):
    ids = [o.id for o in image.objects]
    assert len(ids) == len(set(ids))
    assert all(ID.match(i) for i in ids)
    for obj in image.objects:
        label, n = obj.id.rsplit(".", 1)
        assert label.replace("_", " ") == obj.label
        x1, y1, x2, y2 = obj.bbox
        assert 0 <= x1 <= x2 <= image.width and 0 <= y1 <= y2 <= image.height
    # numbering per class from 1 without gaps
    by_label = {}
    for obj in image.objects:
        by_label.setdefault(obj.label, []).append(int(obj.id.rsplit(".", 1)[1]))
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in by_label.values())
    known = set(ids)
    for rel in image.relations:
        assert rel.subject in known and rel.object in known and rel.subject != rel.object
        assert rel.predicate == rel.predicate.lower().strip()


def test_visual_genome_image_1(shared_data_dir):
    image = next(read_visual_genome(os.path.join(shared_data_dir, "visual_genome")))
    _check_image(image)
    assert (image.image_id, image.width, image.height, image.source) == ("1", 800, 600, "vg")
    labels = {o.label for o in image.objects}
    assert {"parking meter", "lamp post", "van", "sidewalk", "man"} <= labels
    assert image.object("parking_meter.1") is not None
    # "ON"/"WEARING" lower-cased; duplicate (man, wears, shoes) annotations collapse to one relation
    predicates = {r.predicate for r in image.relations}
    assert "on" in predicates and "wearing" in predicates and "ON" not in predicates
    triples = [(r.subject, r.predicate, r.object) for r in image.relations]
    assert len(triples) == len(set(triples))
    # merged ids: 5046 (street, merged into sidewalk 1058534) and 1058536 (work truck, merged into the van) vanish
    sources = {o.source_id for o in image.objects}
    assert "5046" not in sources and "1058536" not in sources and "1058534" in sources
    assert "work truck" not in labels
    # VG annotates the two men four times: near-identical boxes collapse
    assert len([o for o in image.objects if o.label == "man"]) == 2


def test_visual_genome_second_image(shared_data_dir):
    image = next(read_visual_genome(os.path.join(shared_data_dir, "visual_genome"), relationships="relationships2.json",
                                    attributes="attributes2.json"))
    _check_image(image)
    assert image.image_id == "2" and (image.width, image.height) == (800, 600)
    assert len(image.relations) > 5


def test_gqa_real_file(shared_data_dir):
    images = list(read_gqa(os.path.join(shared_data_dir, "gqa", "scene_graphs.json")))
    assert [i.image_id for i in images] == ["2353884", "2320168", "2410046"]
    assert (images[0].width, images[0].height) == (500, 281)
    for image in images:
        _check_image(image)
    assert any(r.predicate == "to the left of" for i in images for r in i.relations)


def _vg150_rows():
    objects = [{"id": "Traffic Light.1", "bbox": [10, 10, 30, 60]}, {"id": "car.7", "bbox": [40, 40, 90, 80]},
               {"id": "car.2", "bbox": [100, 40, 150, 80]}, {"id": "7up.1", "bbox": [0, 0, 5, 5]}]
    rels = [{"subject": "Traffic Light.1", "predicate": "Near", "object": "car.7"}]
    return [{"image_id": 5, "width": 200, "height": 100, "objects": json.dumps(objects), "relationships": json.dumps(rels)}]


def test_vg150_rows_jsonl_and_parquet(tmp_path):
    image = next(read_vg150(_vg150_rows()))
    _check_image(image)
    assert [o.id for o in image.objects] == ["traffic_light.1", "car.1", "car.2"]
    assert image.relations[0].predicate == "near" and image.relations[0].subject == "traffic_light.1"
    assert image.dropped and "7up" in image.dropped[0]
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in _vg150_rows()))
    assert next(read_vg150(jsonl)).objects == image.objects
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(_vg150_rows()), tmp_path / "rows.parquet")
    assert next(read_vg150(tmp_path / "rows.parquet")).objects == image.objects


def test_vg150_size_from_image_bytes():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48)).save(buffer, "PNG")
    row = dict(_vg150_rows()[0], image={"bytes": buffer.getvalue(), "path": None})
    del row["width"], row["height"]
    image = next(read_vg150([row]))
    assert (image.width, image.height) == (64, 48)


@pytest.mark.parametrize("mutate, field", [
    (lambda rel: rel["subject"].pop("x"), "subject.x"),
    (lambda rel: rel.pop("predicate"), "predicate"),
    (lambda rel: rel["object"].pop("name", None) or rel["object"].pop("names", None), "object.name"),
])
def test_malformed_visual_genome_names_file_image_field(tmp_path, shared_data_dir, mutate, field):
    source = os.path.join(shared_data_dir, "visual_genome")
    data = json.load(open(os.path.join(source, "relationships.json")))
    mutate(data["relationships"][3])
    (tmp_path / "relationships.json").write_text(json.dumps([data]))
    (tmp_path / "image_data.json").write_text(open(os.path.join(source, "image_data.json")).read())
    with pytest.raises(ValueError) as error:
        list(read_visual_genome(tmp_path))
    message = str(error.value)
    assert "relationships.json" in message and "image 1" in message and field in message


def test_malformed_gqa_and_missing_size(tmp_path):
    (tmp_path / "scene_graphs.json").write_text(json.dumps({"9": {"width": 10, "height": 10, "objects": {
        "1": {"name": "cup", "x": 1, "y": 1, "w": "wide", "h": 2, "relations": []}}}}))
    with pytest.raises(ValueError, match=r"scene_graphs.json: image 9: objects\[1\]\.w"):
        list(read_gqa(tmp_path))
    (tmp_path / "relationships.json").write_text(json.dumps({"image_id": 3, "relationships": []}))
    with pytest.raises(ValueError, match=r"image_data.json: image 3: field width/height"):
        list(read_visual_genome(tmp_path))


def test_clean_label():
    assert clean_label("  Parking_Meter ") == "parking meter"
    assert clean_label("T-Shirt") == "t shirt"
    assert clean_label("7up") is None and clean_label("café") is None and clean_label("") is None
