"""Prompt styles, answer and ground-truth formats, image-size parsing and response parsing."""

from __future__ import annotations

import pytest

from spatialthinker.prompts import (
    PROMPT_STYLES,
    SPARSE_TAGS,
    TAGS,
    build_prompt,
    format_answer,
    format_ground_truth,
    format_question_with_options,
    last_answer,
    letter,
    parse_ground_truth,
    parse_image_size,
    parse_response,
    short_eval_prompt,
    sparse_prompt,
    training_prompt,
)
from spatialthinker.scene import LENIENT, SceneGraph

SCENE = '{"objects": [{"id": "man.1", "bbox": [1, 2, 30, 40]}], "relationships": []}'
GOOD = f"<observe>o</observe><scene>{SCENE}</scene><think>t</think><answer>(A) left</answer>"


@pytest.mark.parametrize("style", ["training", "short_eval", "sparse", "direct", "question_only"])
def test_every_style_builds_and_states_the_question(style):
    prompt = build_prompt(style, "Where is the cup?", ["left", "right"], (640, 480))
    assert "Where is the cup?" in prompt and "(A) left" in prompt and "(B) right" in prompt
    assert style in PROMPT_STYLES


def test_training_and_eval_prompts_state_the_real_size():
    for builder in (training_prompt, short_eval_prompt):
        prompt = builder("Q?", ["a", "b"], (1024, 768))
        assert "Image size: (1024 x 768)" in prompt and "{Width}" not in prompt
        assert parse_image_size(prompt) == (1024.0, 768.0)
        assert all(f"<{tag}>" in prompt for tag in TAGS)
    assert "Now answer the following question:\nQ. Q?\nOptions:\n(A) a\n(B) b" in training_prompt("Q?", ["a", "b"], (1, 1))
    assert all(f"<{tag}>" in sparse_prompt("Q?", ["a"]) for tag in SPARSE_TAGS)


def test_unknown_style_lists_names():
    with pytest.raises(KeyError, match="Did you mean 'sparse'"):
        build_prompt("spars", "q", ["a"], (1, 1))


def test_formats():
    assert letter(0) == "A" and letter(3) == "D"
    assert format_question_with_options("Q?", ["x", "y"]) == "Q?\nOptions:\n(A) x\n(B) y"
    assert format_question_with_options("Q?", []) == "Q?"
    assert format_answer("B", "behind") == "(B) behind"
    graph = SceneGraph.from_dict(SCENE)
    gt = format_ground_truth(graph, "A", "left")
    assert gt == f"<scene>{SCENE}</scene>\n<answer>(A) left</answer>"
    assert parse_ground_truth(gt) == (graph, "(A) left")


@pytest.mark.parametrize("text, size", [
    ("Image size: (640 x 480)", (640.0, 480.0)),
    ("Image size: 640x480", (640.0, 480.0)),
    ("Image size: (640 × 480)", (640.0, 480.0)),
    ("Image size: (640.5 X 480)", (640.5, 480.0)),
    ("Image size: (1 x 1)\n...\nImage size: (800 x 600)", (800.0, 600.0)),  # the last one counts
    ("Image size: ({Width} x {Height})", None),   # the reference harness's literal placeholder
    ("Image size: (0 x 480)", None),
    ("no size", None),
    (None, None),
])
def test_parse_image_size(text, size):
    assert parse_image_size(text) == size


def test_parse_response_good():
    parsed = parse_response(GOOD)
    assert parsed.tags_ok and parsed.in_order and parsed.errors == []
    assert parsed.answer == "(A) left" and parsed.scene.ids == ["man.1"]
    assert parsed.contents["think"] == "t"


def test_parse_response_out_of_order_tags():
    shuffled = f"<answer>(A) left</answer><think>t</think><scene>{SCENE}</scene><observe>o</observe>"
    parsed = parse_response(shuffled)
    assert parsed.tags_ok and not parsed.in_order and parsed.scene is not None
    nested = f"<observe>o<scene>{SCENE}</scene></observe><think>t</think><answer>a</answer>"
    assert parse_response(nested).tags_ok and not parse_response(nested).in_order


@pytest.mark.parametrize("text, bad_tag", [
    (GOOD + "<answer>(B) right</answer>", "answer"),                     # duplicate tag
    (GOOD.replace("</think>", ""), "think"),                           # unclosed
    (GOOD.replace("<observe>o</observe>", ""), "observe"),             # missing
    (GOOD.replace("<think>t</think>", "</think>t<think>"), "think"),   # closed before opened
    (GOOD + "</scene>", "scene"),                                      # stray closing tag
])
def test_parse_response_tag_errors(text, bad_tag):
    parsed = parse_response(text)
    assert not parsed.tags_ok and not parsed.in_order
    assert parsed.contents[bad_tag] is None
    assert any(f"<{bad_tag}>" in e for e in parsed.errors)


def test_parse_response_scene_errors_and_options():
    parsed = parse_response(GOOD.replace("man.1", "old man.1"))
    assert parsed.tags_ok and parsed.scene is None and parsed.errors[0].startswith("scene:")
    assert parse_response(GOOD.replace("man.1", "old man.1"), scene_options=LENIENT).scene is not None


def test_parse_response_sparse_tags_and_non_strings():
    parsed = parse_response("<think>t</think><answer>(A) x</answer>", tags=SPARSE_TAGS)
    assert parsed.tags_ok and parsed.scene is None and parsed.answer == "(A) x"
    assert not parse_response(None).tags_ok and parse_response(None).errors == ["response is not a string"]


def test_parse_response_long_text_uses_the_same_rules():
    long = "x" * 60_000 + GOOD
    assert parse_response(long).tags_ok and parse_response(long).answer == "(A) left"
    assert not parse_response("<scene>" * 20_000 + GOOD).tags_ok


def test_parse_ground_truth_forms():
    assert parse_ground_truth("(B) behind") == (None, "(B) behind")
    assert parse_ground_truth("") == (None, None)
    assert parse_ground_truth(None) == (None, None)
    scene, answer = parse_ground_truth("<scene>{bad}</scene><answer>(A) a</answer>")
    assert scene is None and answer == "(A) a"


def test_last_answer():
    assert last_answer("<answer>(A) a</answer> then <answer> (B) b </answer>") == "(B) b"
    assert last_answer("just text ") == "just text"
    assert last_answer(None) == ""
