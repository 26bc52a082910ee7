"""extract_choice: one list of cases per behaviour (each with the reason), plus property tests."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialthinker.eval import extract_choice
from spatialthinker.eval.extract import answer_letter, extract_open, normalize_text

LR = ["left", "right"]
FOUR = ["behind", "in front of", "left of", "right of"]

ACCEPTED = [
    ("(B)", LR, "B"),
    ("B)", LR, "B"),
    ("B.", LR, "B"),
    ("B", LR, "B"),
    ("b", LR, "B"),  # a lone lower-case letter is still unambiguous
    ("(b)", LR, "B"),  # MMVP writes (a)/(b)
    ("Answer: B", LR, "B"),
    ("The answer is B", LR, "B"),
    ("Option B", LR, "B"),
    ("right", LR, "B"),  # exact option text
    ("  Right. ", LR, "B"),  # case, punctuation, surrounding spaces
    ("(B) right", LR, "B"),  # the trained format
    ("(B) right.", LR, "B"),
    ("<think>A looks wrong</think><answer>(B) right</answer>", LR, "B"),  # only the answer tag is read
    ("<answer>(A) left</answer> then <answer>(B) right</answer>", LR, "B"),  # the last answer tag wins
    ("I think (B) is correct", LR, "B"),
    ("In front of!", FOUR, "B"),
    ("(D) right of", FOUR, "D"),
    ("Yes", ["Yes", "No"], "A"),
    ("no.", ["Yes", "No"], "B"),
    ("Yes, the cup is on the left.", ["Yes", "No"], "A"),
    ("Answer: behind", FOUR, "A"),
    ("3", ["2", "3", "4"], "B"),
]

REJECTED = [
    ("", LR, "empty"),
    ("(C)", LR, "out of range"),
    ("E", FOUR, "out of range"),
    ("A or B", LR, "two options named, no marker"),
    ("(A) or (B)", LR, "two letters"),
    ("(A) right", LR, "letter and text name different options"),
    ("left and right", LR, "no single option"),
    ("up", LR, "no option"),
    ("the answer is a dog", LR, "lower-case article is not a letter"),
    ("a cat", LR, "an article is not option A"),
    ("<answer></answer>", LR, "empty answer tag"),
    ("Maybe.", ["Yes", "No"], "neither yes nor no"),
    ("B", [], "no choices"),
]


@pytest.mark.parametrize("output, choices, expected", ACCEPTED)
def test_accepts(output, choices, expected):
    assert extract_choice(output, choices) == expected


@pytest.mark.parametrize("output, choices, why", REJECTED)
def test_rejects_without_guessing(output, choices, why):
    assert extract_choice(output, choices) is None, why


def test_never_defaults_to_a():
    """The reference harness's bug: anything unparsed became "A"."""
    for text in ["", "hmm", "I cannot tell", "(Z)", "left right", "\x00\x00"]:
        assert extract_choice(text, ["left", "right", "up"]) is None


def test_non_string_output():
    assert extract_choice(None, LR) is None  # type: ignore[arg-type]


def test_huge_output_is_fast_and_safe():
    assert extract_choice("x" * 5_000_000 + "<answer>(B)</answer>", LR) == "B"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6))
def test_property_none_or_valid_letter(output, choices):
    result = extract_choice(output, choices)
    assert result is None or result in "ABCDEF"[: len(choices)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghij ", min_size=1, max_size=10), min_size=2, max_size=5, unique=True), st.data())
def test_property_own_text_and_letter_are_found(choices, data):
    """Whatever the options, "(X) its text" and "(X)" pick X unless two options normalise alike."""
    norms = [normalize_text(c) for c in choices]
    index = data.draw(st.integers(0, len(choices) - 1))
    letter = "ABCDE"[index]
    assert extract_choice(f"<answer>({letter})</answer>", choices) == letter
    if norms[index] and norms.count(norms[index]) == 1:
        assert extract_choice(f"<answer>({letter}) {choices[index]}</answer>", choices) == letter


@pytest.mark.parametrize("raw, choices, expected", [
    ("(A)", LR, "A"), ("(b)", LR, "B"), ("B. right", LR, "B"), ("(B) right", LR, "B"), ("right", LR, "B"),
    ("C", LR, None), ("up", LR, None),
])
def test_dataset_answers(raw, choices, expected):
    assert answer_letter(raw, choices) == expected


@pytest.mark.parametrize("output, expected", [
    ("<answer>3</answer>", "3"), ("There are three cups", "3"), ("3.0", "3"), ("Yes.", "yes"), ("", None),
])
def test_open_answers(output, expected):
    assert extract_open(output) == expected
