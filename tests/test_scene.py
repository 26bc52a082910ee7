"""The scene-graph data model: strict and lenient parsing, reasons, STVQA serialisation, helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spatialthinker.scene import (
    LENIENT,
    STRICT,
    ParseOptions,
    Relation,
    SceneGraph,
    SceneObject,
    as_finite_float,
    load_json,
    normalize_label,
)

STVQA = {"objects": [{"id": "traffic_light.1", "bbox": [10, 20, 30.5, 80]}, {"id": "car.2", "bbox": [0, 0, 640, 480]}],
         "relationships": [{"subject": "traffic_light.1", "predicate": "above", "object": "car.2"}]}


def test_round_trip_is_identical_to_json_dumps():
    text = json.dumps(STVQA)
    graph, reasons = SceneGraph.parse(text)
    assert reasons == []
    assert graph.to_json() == text  # default separators, keys in STVQA order, ints stay ints
    assert SceneGraph.from_dict(graph.to_dict()) == graph
    assert SceneGraph.parse(graph.to_dict())[0] == graph


def test_objects_and_relations():
    graph = SceneGraph.from_dict(STVQA)
    light = graph.get("traffic_light.1")
    assert isinstance(light, SceneObject) and light.label == "traffic_light" and light.name == "traffic light"
    assert graph.get("nope.1") is None
    assert graph.ids == ["traffic_light.1", "car.2"] and len(graph) == 2
    assert graph.relations == (Relation("traffic_light.1", "above", "car.2"),)
    assert graph.boxes().shape == (2, 4) and graph.boxes().dtype == np.float64


def test_subgraph_keeps_relations_with_both_ends():
    graph = SceneGraph.from_dict(STVQA)
    sub = graph.subgraph({"car.2"})
    assert sub.ids == ["car.2"] and sub.relations == ()
    assert graph.subgraph(["car.2", "traffic_light.1"]) == graph


def test_clipped_keeps_integers():
    graph = SceneGraph.from_dict({"objects": [{"id": "a.1", "bbox": [-5, 10, 700, 20.5]}]})
    assert graph.clipped(640, 480).objects[0].bbox == (0, 10, 640, 20.5)
    assert isinstance(graph.clipped(640, 480).objects[0].bbox[0], int)


@pytest.mark.parametrize("object_id, strict, lenient", [
    ("cup.1", True, True), ("traffic_light.12", True, True), ("traffic light.1", False, True),
    ("t-shirt.1", False, True), ("cup", False, False), ("cup.1a", False, False), ("1cup.1", False, False),
])
def test_strict_and_lenient_ids(object_id, strict, lenient):
    text = json.dumps({"objects": [{"id": object_id, "bbox": [0, 0, 1, 1]}]})
    assert (SceneGraph.parse(text, STRICT)[0] is not None) == strict
    assert (SceneGraph.parse(text, LENIENT)[0] is not None) == lenient


def test_lenient_repairs_inverted_boxes_and_allows_extra_keys():
    text = json.dumps({"objects": [{"id": "a.1", "bbox": [9, 8, 1, 2], "label": "a"}]})
    assert SceneGraph.parse(text, STRICT)[0] is None
    graph, _ = SceneGraph.parse(text, LENIENT)
    assert graph.objects[0].bbox == (1, 2, 9, 8)


def test_require_known_ids_option():
    text = json.dumps({"objects": [{"id": "a.1", "bbox": [0, 0, 1, 1]}],
                       "relationships": [{"subject": "a.1", "predicate": "on", "object": "b.1"}]})
    assert SceneGraph.parse(text)[0] is not None  # the reference checks the id pattern only
    graph, reasons = SceneGraph.parse(text, ParseOptions(require_known_ids=True))
    assert graph is None and "unknown object id" in reasons[0]


@pytest.mark.parametrize("text, reason", [
    ("{}", "non-empty JSON object"),
    ("[]", "non-empty JSON object"),
    ("{oops", "invalid JSON"),
    ('{"objects": {}}', "'objects' must be a list"),
    ('{"relationships": 3}', "'relationships' must be a list"),
    ('{"objects": [1]}', "must be an object"),
    ('{"objects": [{"id": "a.1", "bbox": [0, 0, 1, 1]}, {"id": "a.1", "bbox": [0, 0, 1, 1]}]}', "duplicate id"),
    ('{"objects": [{"id": "a.1", "bbox": [true, 0, 1, 1]}]}', "finite real numbers"),
    ('{"objects": [{"id": "a.1", "bbox": [NaN, 0, 1, 1]}]}', "finite real numbers"),
    ('{"objects": [{"id": "a.1", "bbox": [0, 0, 1e999, 1]}]}', "finite real numbers"),
    ('{"objects": [{"id": "a.1", "bbox": [0, 0, %s, 1]}]}' % ("1" * 400), "finite real numbers"),
    ('{"objects": [{"id": "a.1", "bbox": [5, 0, 1, 1]}]}', "x1 <= x2"),
    ('{"objects": [{"id": "a.1", "bbox": [0, 0, 1]}]}', "4 numbers"),
    ('{"objects": [{"id": "a.1", "bbox": [0, 0, 1, 1], "x": 1}]}', "unexpected keys"),
    ('{"relationships": [{"subject": "a.1", "predicate": "on"}]}', "must be strings"),
])
def test_invalid_graphs_give_reasons(text, reason):
    graph, reasons = SceneGraph.parse(text)
    assert graph is None and any(reason in r for r in reasons), reasons


def test_from_dict_raises_with_location():
    with pytest.raises(ValueError, match="row 7: invalid scene graph"):
        SceneGraph.from_dict("{}", where="row 7")


def test_parse_never_raises_on_hostile_text():
    for text in ["[" * 100_000, '{"a":' * 50_000, "\ud800", '{"objects": [' + '{"id": "a.1", "bbox": [0,0,1,1]},' * 3 + "]}",
                 "9" * 5000, None]:
        graph, reasons = SceneGraph.parse(text) if text is not None else (None, ["x"])
        assert graph is None and reasons


def test_helpers():
    assert normalize_label("Traffic_Light.12") == "traffic light"
    assert normalize_label("t-shirt.1") == "t shirt"
    assert load_json('{"a": NaN}')[1] is None  # Python's json accepts NaN; validators reject it later
    assert load_json("{")[0] is None and "invalid JSON" in load_json("{")[1]
    assert [as_finite_float(v) for v in (1, 2.5, True, "3", None, float("nan"), 10 ** 400)] == [1.0, 2.5, None, None, None, None, None]


def test_fast_path_objects_equal_constructed_ones():
    graph, _ = SceneGraph.parse(json.dumps(STVQA))
    assert graph.objects[0] == SceneObject("traffic_light.1", (10, 20, 30.5, 80))
    assert hash(graph.objects[0]) == hash(SceneObject("traffic_light.1", (10, 20, 30.5, 80)))
    with pytest.raises(AttributeError):
        graph.objects[0].id = "x.1"  # still frozen
