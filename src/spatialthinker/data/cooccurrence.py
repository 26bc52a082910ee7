"""Co-occurrence statistics of the input corpus: which classes appear together in its images.

Existence questions answered "no" need an absent class that a viewer could expect in the scene ("Is there a
fork next to the plate?" at a dinner table, not "a ski near the counter" in a pizza scene). A fixed table of
scene contexts cannot know the corpus; counts of the classes that share images with the present classes do.
Only askable object classes are counted (no parts, garments, body parts or stuff).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from spatialthinker.data.records import AnnotatedImage
from spatialthinker.data.vocabulary import is_background, is_stuff


def askable_classes(image: AnnotatedImage) -> set[str]:
    """Classes of the image that an existence question may name."""
    return {o.label for o in image.objects if not is_background(o.label) and not is_stuff(o.label)}


@dataclass
class Cooccurrence:
    """``images[c]``: images holding class c; ``together[p][c]``: images holding both p and c."""

    images: Counter = field(default_factory=Counter)
    together: dict[str, Counter] = field(default_factory=dict)
    total: int = 0

    def add(self, image: AnnotatedImage) -> None:
        labels = sorted(askable_classes(image))
        self.total += 1
        self.images.update(labels)
        for a in labels:
            partners = self.together.setdefault(a, Counter())
            partners.update(b for b in labels if b != a)

    @classmethod
    def from_images(cls, images: Iterable[AnnotatedImage]) -> Cooccurrence:
        stats = cls()
        for image in images:
            stats.add(image)
        return stats

    def absent_scores(self, present: Iterable[str], min_support: int = 1) -> list[tuple[str, float]]:
        """Classes absent from ``present``, scored by the mean of P(class | present class), best first.

        Only classes seen together with some present class in at least ``min_support`` images are returned;
        ties are broken by label so the order is reproducible.

        Example:
            >>> from spatialthinker.data.records import AnnotatedObject
            >>> def img(*labels):
            ...     return AnnotatedImage("i", 10, 10, [AnnotatedObject(f"{l}.1", l, (0, 0, 5, 5)) for l in labels])
            >>> stats = Cooccurrence.from_images([img("plate", "fork"), img("plate", "fork", "cup"), img("ski", "pole")])
            >>> stats.absent_scores({"plate"})
            [('fork', 1.0), ('cup', 0.5)]
            >>> stats.absent_scores({"plate"}, min_support=2)
            [('fork', 1.0)]
        """
        present = set(present)
        scores: Counter = Counter()
        support: Counter = Counter()
        counted = [p for p in present if self.images.get(p)]
        for p in counted:
            for c, n in self.together.get(p, {}).items():
                if c not in present:
                    scores[c] += n / self.images[p]
                    support[c] = max(support[c], n)
        return sorted(((c, round(v / len(counted), 6)) for c, v in scores.items() if support[c] >= min_support),
                      key=lambda cv: (-cv[1], cv[0]))
