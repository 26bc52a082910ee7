"""Answer extraction: model output -> option letter (or normalised open answer), or None. Never guesses.

Kept apart from scoring (``metrics.py``) so that a parse failure is a counted event, not a silent "A": the
reference harness's fallback scored every unparsed answer as option A (benchmarks.md §2).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence

from spatialthinker.prompts import LETTERS, last_answer

# Longest answer we try to read; longer texts are cut (the answer is looked for at the end of untagged outputs).
_MAX_CHARS = 4000
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "“”‘’«»。，：；！？"})
_LEAD = re.compile(r"^\s*(?:the\s+)?(?:final\s+|correct\s+)?(?:answer|option|choice)\s*(?:is|:|：)?\s*", re.I)
# A letter in a recognised marker. Uppercase only, except inside parentheses, where "(b)" cannot be a word.
_LETTER_PATTERNS = (
    re.compile(r"\(\s*([A-Za-z])\s*\)"),  # (B) / (b)
    re.compile(r"(?:^|(?<=\s))([A-Z])\)"),  # B)
    re.compile(r"(?:^|(?<=\s))([A-Z])[.:](?=\s|$)"),  # B. / B:
    # "Answer: B"; the letter must be uppercase so that "the answer is a dog" is not option A
    re.compile(r"(?i:answer|option|choice)\s*(?i:is)?\s*[:：]?\s*\(?([A-Z])\)?(?![A-Za-z])"),
)
_BARE = re.compile(r"^\(?\s*([A-Za-z])\s*\)?[.:]?$")  # the whole answer is one letter
_YES_NO = {"yes", "no"}


def normalize_text(text: str) -> str:
    """Case-, punctuation- and space-insensitive form used to compare option texts.

    Example:
        >>> normalize_text("  In front of! ")
        'in front of'
    """
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCT)
    return " ".join(text.split())


def _letter_candidates(text: str) -> set[str]:
    bare = _BARE.match(text)
    if bare:
        return {bare.group(1).upper()}
    found: set[str] = set()
    for pattern in _LETTER_PATTERNS:
        found.update(m.group(1).upper() for m in pattern.finditer(text))
    return found


def _text_matches(text: str, choices: Sequence[str]) -> set[str]:
    """Letters whose option text equals ``text`` after normalisation (also after an "Answer:" lead-in)."""
    norm_choices = [normalize_text(c) for c in choices]
    hits: set[str] = set()
    for candidate in {normalize_text(text), normalize_text(_LEAD.sub("", text))}:
        if candidate:
            hits.update(LETTERS[i] for i, c in enumerate(norm_choices) if c == candidate)
    if set(norm_choices) == _YES_NO and not hits:
        words = normalize_text(_LEAD.sub("", text)).split()
        if words and words[0] in _YES_NO:  # "Yes, the cup is on the left." -> Yes
            hits.add(LETTERS[norm_choices.index(words[0])])
    return hits


def _text_after_letter(text: str, letter: str, choices: Sequence[str]) -> set[str]:
    """For "(B) behind": the letters whose text equals what follows the marker (to catch "(A) <text of B>")."""
    match = re.search(rf"\(?\s*{letter}\s*[).:]\s*(.+)$", text, re.I | re.S)
    return _text_matches(match.group(1), choices) if match else set()


def extract_choice(output: str, choices: Sequence[str]) -> str | None:
    """The letter of the option the output chooses, or None when it names none, several, or one out of range.

    Reads the last ``<answer>…</answer>`` (the whole output when untagged) and accepts exactly one of: a letter
    in a recognised marker (``(B)``, ``B)``, ``B.``, a bare ``B``, ``Answer: B``), or an option text equal to
    the answer after normalising case, punctuation and spaces, or yes/no for Yes/No choices. A letter whose
    trailing text is another option's text ("(A) right" when A is left) is ambiguous. Never raises.

    Example:
        >>> extract_choice("<think>...</think><answer>(B) right</answer>", ["left", "right"])
        'B'
        >>> extract_choice("A or B", ["left", "right"]) is None
        True
    """
    if not isinstance(output, str) or not choices:
        return None
    text = last_answer(output[-_MAX_CHARS:] if len(output) > _MAX_CHARS else output)
    if not text:
        return None
    choices = [str(c) for c in choices]
    valid = set(LETTERS[: len(choices)])
    letters = _letter_candidates(text)
    if letters:
        if len(letters) != 1 or not letters <= valid:
            return None
        (letter,) = letters
        contradicting = _text_after_letter(text, letter, choices) - {letter}
        return None if contradicting else letter
    texts = _text_matches(text, choices)
    return next(iter(texts)) if len(texts) == 1 else None


# ------------------------------------------------------------------------------------------ open answers
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


def extract_open(output: str) -> str | None:
    """Normalised free answer: the number when the answer holds exactly one, else its normalised text.

    Example:
        >>> extract_open("<answer>There are 3 cups.</answer>")
        '3'
    """
    if not isinstance(output, str):
        return None
    raw = _LEAD.sub("", last_answer(output[-_MAX_CHARS:])).lower()
    text = normalize_text(raw)
    if not text:
        return None
    tokens = [_NUMBER_WORDS.get(t, t) for t in re.findall(r"[-+]?\d+(?:\.\d+)?|[^\W\d_]+", raw)]
    numbers = {float(t) for t in tokens if _NUMBER.fullmatch(t)}
    if len(numbers) == 1:
        return _format_number(numbers.pop())
    return text


def normalize_open_answer(answer: str) -> str:
    """Reference answers go through the same normalisation as outputs (``"3"`` and ``"three"`` match)."""
    return extract_open(str(answer)) or ""


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


# ------------------------------------------------------------------------------------------ registered
def choice_extractor(output: str, item: object) -> str | None:
    """Registered ``choice``: ``extract_choice`` for multiple-choice items, ``extract_open`` for open ones."""
    choices = getattr(item, "choices", ())
    return extract_choice(output, choices) if choices else extract_open(output)


def open_extractor(output: str, item: object) -> str | None:
    """Registered ``open``: free answers only."""
    return extract_open(output)


def is_correct(extracted: str | None, item: object) -> bool:
    """Letter equality for multiple choice; normalised text or number equality for open answers."""
    if extracted is None:
        return False
    if getattr(item, "choices", ()):
        return extracted == item.answer  # type: ignore[attr-defined]
    return extracted == normalize_open_answer(item.answer)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------ dataset answers
def answer_letter(raw: object, choices: Sequence[str]) -> str | None:
    """Read a *dataset's* answer into a letter: ``"B"``, ``"(b)"``, ``"B. text"``, ``"(B) text"`` or option text.

    Datasets are trusted but inconsistent (CV-Bench writes "(A)", MMVP "(a)", STVQA "(A) left"); an answer that
    maps to no option is a data error and the loader raises on it.
    """
    text = str(raw).strip()
    match = re.match(r"^\(?\s*([A-Za-z])\s*(?:\)|\.|:|$)", text)
    if match and ord(match.group(1).upper()) - 65 < len(choices):
        return match.group(1).upper()
    texts = _text_matches(text, choices)
    return next(iter(texts)) if len(texts) == 1 else None
