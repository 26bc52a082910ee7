"""What a run folder evaluates, so that a resume can never mix two different evaluations in one score.

``fingerprint.json`` beside ``items.jsonl`` records the data (where it came from, the layout it was read with and
a content hash of every item), the model, backend, prompt mode and generation settings. A resume with any other
value stops and says what changed; each record also carries its item's hash, so an edited item is caught even
when only some items were scored (a ``--limit`` run extended later).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from spatialthinker.eval.items import EvalItem

FINGERPRINT_FILE = "fingerprint.json"
#: Keys that may differ on resume: a longer ``--limit`` adds items; their hashes are checked one by one instead.
_GROWS = ("items_sha256", "n_items", "limit")


class FingerprintMismatch(ValueError):
    """The run folder holds results of a different evaluation; the message lists what changed."""


def _image_digest(image: Any) -> str:
    if isinstance(image, (bytes, bytearray)):
        return hashlib.sha256(image).hexdigest()
    if isinstance(image, str):
        path = Path(image)
        return f"{path.name}:{path.stat().st_size}" if path.is_file() else image
    if hasattr(image, "tobytes"):  # a PIL image decoded by `datasets`
        return hashlib.sha256(f"{image.size}{image.mode}".encode() + image.tobytes()).hexdigest()
    return repr(image)


def item_hash(item: EvalItem) -> str:
    """Content hash of what the model is asked and what is scored: question, options, answer, category, images."""
    payload = json.dumps([item.question, list(item.choices), item.answer, item.category,
                          [_image_digest(i) for i in item.images]], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def make_fingerprint(items: list[EvalItem], hashes: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint of one benchmark run: ``settings`` plus the layouts and content hash of its items."""
    digest = hashlib.sha256("".join(hashes[item.id] for item in items).encode()).hexdigest()[:16]
    layouts = sorted({str(item.extra.get("layout", "")) for item in items})
    return {**settings, "layouts": layouts, "n_items": len(items), "items_sha256": digest}


def describe_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every setting that differs (item-set growth keys excluded)."""
    keys = sorted((set(before) | set(after)) - set(_GROWS))
    return [f"{key}: {before.get(key)!r} -> {after.get(key)!r}" for key in keys if before.get(key) != after.get(key)]


def check_resume(directory: Path, fingerprint: dict[str, Any], previous_hashes: dict[str, str],
                 current_hashes: dict[str, str]) -> None:
    """Raise ``FingerprintMismatch`` when ``directory``'s earlier results come from another evaluation.

    ``previous_hashes`` are the item hashes stored in the earlier records (id -> hash).
    """
    path = directory / FINGERPRINT_FILE
    if not previous_hashes:
        return
    if not path.exists():
        raise FingerprintMismatch(f"{directory} holds results without a {FINGERPRINT_FILE} (an older run), so it "
                                  f"cannot be shown to match; pass --overwrite to start over or use another --out.")
    before = json.loads(path.read_text(encoding="utf-8"))
    changes = describe_changes(before, fingerprint)
    edited = [i for i, h in previous_hashes.items() if i in current_hashes and current_hashes[i] != h]
    if edited:
        changes.append(f"content of {len(edited)} scored item(s) changed, e.g. {edited[:3]}")
    if changes:
        raise FingerprintMismatch(f"{directory} was evaluated differently; what changed: " + "; ".join(changes)
                                  + ". Pass --overwrite to start over, or use another --out.")


def write_fingerprint(directory: Path, fingerprint: dict[str, Any]) -> None:
    (directory / FINGERPRINT_FILE).write_text(json.dumps(fingerprint, indent=2, ensure_ascii=False), encoding="utf-8")
