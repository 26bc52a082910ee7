"""Question quality on real annotations and on hand-made hard cases, one per defect class of issue 11.

Each hard case reproduces a defect a reviewer found in real output: template-word labels missing from the
scene, multi-word labels split, singular/plural twins, plural agreement, clothing by plural label, implausible
existence distractors, objects outside the image, and the gate that must catch whatever slips through.
"""

import json
import os
import re
from collections import Counter
from dataclasses import replace

import pytest

from spatialthinker.cli import main
from spatialthinker.data.cooccurrence import Cooccurrence
from spatialthinker.data.generators import generate_items
from spatialthinker.data.quality import CHECKS, failed_checks, gate
from spatialthinker.data.readers import RawObject, best_alias, build_image, read_gqa, read_visual_genome
from spatialthinker.data.records import AnnotatedImage, AnnotatedObject
from spatialthinker.data.roi import mentioned_labels, roi_subgraph
from spatialthinker.data.vocabulary import is_background
from spatialthinker.scene import Relation, SceneGraph, SceneObject


def _obj(object_id, box, label=None, plural=False, attributes=()):
    return AnnotatedObject(object_id, label or object_id.rsplit(".", 1)[0].replace("_", " "), box, tuple(attributes),
                           plural=plural)


def _real_images(shared_data_dir):
    return (list(read_visual_genome(os.path.join(shared_data_dir, "visual_genome")))
            + list(read_gqa(os.path.join(shared_data_dir, "gqa"))))


# ------------------------------------------------------------------------------------------ real annotations
def test_real_annotations_pass_the_gate_with_sound_english(shared_data_dir):
    images = _real_images(shared_data_dir)
    stats = Cooccurrence.from_images(images)
    rejects, total = Counter(), 0
    for image in images:
        items = generate_items(image, cooccurrence=stats)
        total += len(items)
        kept = gate(items, image, rejects)
        assert len(kept) == len(items), [(i.question, failed_checks(i, image)) for i in items if i not in kept]
        for item in items:
            q = item.question.lower()
            assert not re.search(r"\b(is|does) the (trees|shoes|windows|glasses|pants|eyes|legs|bananas)\b", q), q
            named = {o.label for o in image.objects if o.label in item.named}
            assert not any(is_background(label) for label in named), item.question
            assert {o.id.rsplit(".", 1)[0].replace("_", " ") for o in item.scene.objects} == named
    assert total > 30 and rejects["checked"] == total


def test_real_vg_labels_fold_plurals_and_keep_the_group_flag(shared_data_dir):
    image = next(read_visual_genome(os.path.join(shared_data_dir, "visual_genome")))
    labels = {o.label for o in image.objects}
    assert "trees" not in labels and "tree" in labels and "shoes" not in labels
    assert any(o.label == "tree" and o.plural for o in image.objects)
    assert image.merged["plural_form"] >= 3 and image.merged["merged_object_ids"] >= 1
    assert all(o.bbox[2] > o.bbox[0] and o.bbox[3] > o.bbox[1] for o in image.objects)


# ------------------------------------------------------------------------------------------ RoI sub-graph
def test_template_word_labels_enter_the_scene_when_named_and_multi_word_labels_are_units():
    image = AnnotatedImage("t", 400, 300, [
        _obj("pen.1", (10, 10, 40, 30)), _obj("picture.1", (100, 20, 300, 200)),
        _obj("computer_tower.1", (310, 150, 390, 290)), _obj("computer.1", (200, 220, 260, 280)),
        _obj("wine_glass.1", (50, 200, 70, 260)), _obj("glass.1", (80, 200, 100, 260))])
    assert mentioned_labels("Which appears larger, the pen or the picture?", [o.label for o in image.objects]) == \
        ("pen", "picture")
    assert {o.id for o in roi_subgraph("Is the wine glass left of the computer tower?", image).objects} == \
        {"wine_glass.1", "computer_tower.1"}
    assert {o.id for o in roi_subgraph("Does the pen look bigger than the glass in the picture?", image).objects} == \
        {"pen.1", "glass.1"}  # "in the picture" is the template, not the picture
    sizes = [i for i in generate_items(image, categories=["size"]) if "picture" in i.named]
    assert sizes and all("picture.1" in {o.id for o in i.scene.objects} for i in sizes)
    # "glass" could mean the wine glass: never asked about bare while a wine glass is present
    assert not any("glass" in i.named for i in generate_items(image))


# ------------------------------------------------------------------------------------------ labels
def test_best_alias_synset_and_corpus_frequency():
    assert best_alias(["pluged", "plugged"], None, {"plugged": 5, "pluged": 1}) == "plugged"
    assert best_alias(["tv", "television"], "television.n.01") == "television"
    assert best_alias(["7up"], None) is None


def test_reader_merges_twins_synsets_and_drops_objects_outside_the_image():
    raw = [RawObject("1", "ducks", (10, 10, 60, 50)), RawObject("2", "duck", (100, 10, 140, 50)),
           RawObject("3", "bike", (10, 100, 60, 150), synset="bicycle.n.01", names=("bike",)),
           RawObject("4", "bicycle", (200, 100, 260, 150), synset="bicycle.n.01", names=("bicycle",)),
           RawObject("5", "kite", (500, 10, 560, 40)), RawObject("6", "Hats", (70, 60, 90, 80))]
    image = build_image("x", 300, 200, raw, [("1", "near", "2"), ("5", "above", "1")], "vg")
    labels = Counter(o.label for o in image.objects)
    assert labels == {"duck": 2, "bicycle": 2, "hat": 1}
    assert [o.plural for o in image.objects if o.label == "duck"] == [True, False]
    assert image.dropped == ["outside_image:5:'kite'"]
    assert image.merged == {"plural_form": 2, "synset_alias": 1}
    assert image.relations == [Relation("duck.1", "near", "duck.2")]  # the kite's relation left with it
    assert is_background("hats") and is_background("baseball caps") and not is_background("traffic light")


# ------------------------------------------------------------------------------------------ agreement
def test_plural_labels_agree_in_every_template():
    objects = [_obj("rock.1", (10, 200, 120, 290), plural=True), _obj("elephant.1", (200, 40, 380, 260), plural=True),
               _obj("dog.1", (420, 150, 470, 200)), _obj("glasses.1", (500, 20, 540, 40), plural=True)]
    relations = [Relation("elephant.1", "behind", "rock.1"), Relation("dog.1", "near", "rock.1"),
                 Relation("elephant.1", "looking at", "dog.1")]
    image = AnnotatedImage("p", 600, 300, objects, relations)
    items = []
    for seed in range(6):
        items += generate_items(image, seed=seed)
    assert {"relation", "size", "instance_location", "depth"} <= {i.category for i in items}
    for item in items:
        assert "agreement" not in failed_checks(item, image), item.question
        assert not re.search(r"\b(is|does) the (rocks|elephants)\b", item.question.lower()), item.question
    assert not any(i.category == "orientation" for i in items)  # a group has no single front


# ------------------------------------------------------------------------------------------ existence
def test_existence_no_asks_about_a_class_the_corpus_shows_with_the_scene():
    def image(image_id, *labels):
        return AnnotatedImage(image_id, 400, 300, [_obj(f"{label}.1", (20 + 70 * k, 20, 80 + 70 * k, 120))
                                                   for k, label in enumerate(labels)])
    corpus = [image("k1", "plate", "fork", "pizza"), image("k2", "plate", "fork", "cup"),
              image("k3", "pizza", "knife", "plate"), image("s1", "ski", "pole", "skier"),
              image("s2", "ski", "snowboard", "skier")]
    stats = Cooccurrence.from_images(corpus)
    target = image("q", "plate", "pizza")
    absent = [i for s in range(5) for i in generate_items(target, seed=s, categories=["existence"], cooccurrence=stats)
              if i.answer_text == "no"]
    assert absent and {i.evidence["absent"] for i in absent} <= {"fork", "cup", "knife"}
    assert all(i.evidence["cooccurrence"] > 0 for i in absent)


# ------------------------------------------------------------------------------------------ contact
def test_contact_predicates_need_touching_boxes():
    # GQA 2389539 states "trash can on sidewalk" for boxes 165 px apart: no "on" question, no contact evidence
    objects = [_obj("trash_can.1", (292, 326, 326, 414)), _obj("sidewalk.1", (55, 288, 127, 413)),
               _obj("traffic_light.1", (119, 136, 227, 359)), _obj("pole.1", (420, 50, 456, 300))]
    relations = [Relation("trash_can.1", "on", "sidewalk.1"), Relation("traffic_light.1", "on", "sidewalk.1")]
    image = AnnotatedImage("c", 500, 414, objects, relations)
    items = [i for s in range(4) for i in generate_items(image, seed=s, categories=["relation", "distance"])]
    assert not any(i.evidence.get("relation", [None])[0] == "trash_can.1" for i in items)
    assert not any(i.evidence.get("contact", [None])[0] == "trash_can.1" for i in items)
    assert any(i.evidence.get("relation", [None])[0] == "traffic_light.1" for i in items)  # these boxes touch
    touching = next(i for i in items if i.evidence.get("relation", [None])[0] == "traffic_light.1")
    moved = AnnotatedImage("c", 500, 414, [replace(o, bbox=(300, 10, 340, 60)) if o.id == "traffic_light.1" else o
                                           for o in objects], relations)
    assert failed_checks(touching, image) == [] and "answer_geometry" in failed_checks(touching, moved)


# ------------------------------------------------------------------------------------------ the gate
def test_gate_names_each_failed_check():
    image = AnnotatedImage("g", 200, 100, [_obj("cup.1", (10, 10, 50, 50)), _obj("tree.1", (120, 10, 190, 90),
                                                                               plural=True)])
    item = next(i for i in generate_items(image, categories=["relation"]))
    assert failed_checks(item, image) == []
    wrong_scene = replace(item, scene=SceneGraph((SceneObject("cup.1", (10, 10, 50, 50)),)))
    bad_english = replace(item, question="Where is the trees with respect to the cup?")
    outside = replace(item, scene=SceneGraph(tuple(SceneObject(o.id, (0, 0, 0, 0)) for o in item.scene.objects)))
    same_options = replace(item, options=["left", "Left"], answer_index=0)
    wrong_answer = replace(item, options=list(reversed(item.options)))
    assert "scene_matches_named" in failed_checks(wrong_scene, image)
    assert failed_checks(bad_english, image) == ["agreement"]
    assert "boxes_in_image" in failed_checks(outside, image)
    assert "unique_options" in failed_checks(same_options, image)
    assert failed_checks(wrong_answer, image) == ["answer_geometry"]
    rejects = Counter()
    assert gate([item, bad_english, wrong_answer], image, rejects) == [item]
    assert rejects == {"checked": 3, "agreement": 1, "answer_geometry": 1}
    assert list(CHECKS) == ["scene_matches_named", "agreement", "unique_options", "boxes_in_image", "answer_geometry"]


# ------------------------------------------------------------------------------------------ the command
def _vg_without_sizes(tmp_path, shared_data_dir):
    folder = tmp_path / "vg"
    folder.mkdir()
    source = os.path.join(shared_data_dir, "visual_genome")
    for name in ("relationships.json", "attributes.json"):
        (folder / name).write_bytes(open(os.path.join(source, name), "rb").read())
    return folder  # no image_data.json: sizes must come from the image files


def test_cli_reports_and_reads_sizes_from_images(tmp_path, shared_data_dir, capsys):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (800, 600)).save(images / "1.jpg")
    args = ["synth", "scene-graphs", "--source", "vg", "--input-dir", str(_vg_without_sizes(tmp_path, shared_data_dir)),
            "--images", str(images), "--out", str(tmp_path / "out"), "--target", "500"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "quality gate:" in captured.out and "objects merged:" in captured.out and "relation" in captured.out
    assert "warning: target 500 not reached" in captured.err
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["gate"]["checked"] >= stats["gate"]["passed"] > 0
    assert set(stats["gate"]["rejected"]) == set(CHECKS)
    assert stats["objects"]["merged"]["plural_form"] >= 3


def test_cli_fails_clearly_when_no_image_can_be_read(tmp_path, shared_data_dir, capsys):
    (tmp_path / "empty").mkdir()
    args = ["synth", "scene-graphs", "--source", "gqa", "--input-dir", os.path.join(shared_data_dir, "gqa"),
            "--images", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]
    assert main(args) == 1
    assert "no image could be read" in capsys.readouterr().err
    assert not (tmp_path / "out" / "train.parquet").exists()


def test_vg_without_size_or_image_is_a_clear_error(tmp_path, shared_data_dir):
    with pytest.raises(ValueError, match="width/height missing"):
        next(read_visual_genome(_vg_without_sizes(tmp_path, shared_data_dir)))


def test_quoted_gqa_graphs_twins_groups_and_contradictions():
    path = os.path.join(os.path.dirname(__file__), "data", "gqa_quoted_scene_graphs.json")
    images = {image.image_id: image for image in read_gqa(path)}
    stats = Cooccurrence.from_images(images.values())
    picnic = images["gretriever_table9"]
    bananas = [o for o in picnic.objects if o.label == "banana"]
    assert len(bananas) == 3 and sum(o.plural for o in bananas) == 1  # "banana" x2 + "bananas": one class
    for image in images.values():
        items = generate_items(image, cooccurrence=stats)
        assert gate(items, image) == items
        questions = " ".join(i.question for i in items)
        assert "the girls is" not in questions and "is the girls" not in questions
        assert not any("banana" in i.named for i in items if i.category != "existence")  # 3 overlapping: no reference
        assert not any(i.category == "count" and "banana" in i.named for i in items)
        # GQA 2389539 says "trash can on sidewalk" for boxes 165 px apart: never used as contact
        assert not any(i.evidence.get("relation") == ["trash_can.1", "on", "sidewalk.1"] for i in items)
    plantains = [i.question for i in generate_items(picnic, cooccurrence=stats) if "plantain" in i.named]
    assert plantains and all("plantains" in q and "is the plantains" not in q for q in plantains)
