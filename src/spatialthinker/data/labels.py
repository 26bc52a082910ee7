"""Noun forms of object labels: singular lemma, plural, head word and the grammatical number of a label.

Scene-graph annotators write one class many ways ("duck"/"ducks", "hat"/"hats"). Readers fold them into one
class keyed by the singular lemma of the last word and remember that the annotation named a group (``plural``),
so that salience filters, counting, references and verb agreement all see one class. ``inflect`` supplies the
inflections; its singulariser turns "bus" into "bu" and "tennis" into "tenni", so words it must not touch are
listed here.
"""

from __future__ import annotations

from functools import lru_cache

#: Plural-only nouns: the label is kept as written and always takes plural agreement ("the glasses are").
PLURALIA_TANTUM: frozenset[str] = frozenset(
    "glasses sunglasses eyeglasses goggles pants jeans shorts trousers scissors clothes headphones earphones "
    "binoculars pliers tongs overalls pajamas pyjamas leggings tights suspenders".split())
#: Singular nouns that look plural to ``inflect`` (it would return "bu", "tenni", "len").
INVARIANT_SINGULAR: frozenset[str] = frozenset(
    "tennis iris chassis axis pelvis canvas christmas atlas gas lens species series news hummus couscous "
    "physics mathematics trellis".split())


@lru_cache(maxsize=1)
def _engine():  # inflect's engine is slow to build; one per process
    import inflect

    return inflect.engine()


@lru_cache(maxsize=65536)
def singular_word(word: str) -> str:
    """The singular of one word, or the word itself when it is singular, plural-only or invariant.

    Example:
        >>> singular_word("bananas"), singular_word("bus"), singular_word("glasses"), singular_word("men")
        ('banana', 'bus', 'glasses', 'man')
    """
    if word in PLURALIA_TANTUM or word in INVARIANT_SINGULAR or word.endswith(("ss", "us")) or len(word) < 3:
        return word
    singular = _engine().singular_noun(word)
    return singular if singular else word


def head(label: str) -> str:
    """The head noun of a label: its last word ("wine glass" -> "glass")."""
    return label.rsplit(" ", 1)[-1]


@lru_cache(maxsize=65536)
def lemma(label: str) -> str:
    """The label with its last word singularised ("parking meters" -> "parking meter")."""
    words = label.split(" ")
    words[-1] = singular_word(words[-1])
    return " ".join(words)


@lru_cache(maxsize=65536)
def is_plural(label: str) -> bool:
    """True when the label names several things or a plural-only noun ("trees", "men", "glasses")."""
    last = head(label)
    return last in PLURALIA_TANTUM or singular_word(last) != last


@lru_cache(maxsize=65536)
def plural(label: str) -> str:
    """The plural of a (singular) label ("parking meter" -> "parking meters", "bus" -> "buses"); plural-only
    nouns unchanged.

    Example:
        >>> plural("parking meter"), plural("bus"), plural("glasses"), plural("person")
        ('parking meters', 'buses', 'glasses', 'people')
    """
    last = head(label)
    if is_plural(label):  # already plural, or plural-only
        return label
    return label[: len(label) - len(last)] + _engine().plural_noun(last)


def canonical(label: str) -> tuple[str, bool]:
    """(class label, named a group) for a clean label: ``"ducks"`` -> ``("duck", True)``.

    Plural-only nouns keep their form and count as plural: ``"glasses"`` -> ``("glasses", True)``.
    """
    return lemma(label), is_plural(label)
