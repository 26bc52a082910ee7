"""The quality gate's counts on real scene graphs, next to synthesis throughput on the same graphs.

Reads real annotations (default: the Visual Genome and GQA samples in ``../shared/data``; or any
``--source vg|gqa|vg150 --input-dir DIR``), builds the corpus co-occurrence statistics, generates every question
and runs the gate (``data.quality``). Prints one JSON object: images, objects dropped/merged by reason, items
checked and passed, rejects per check, the category mix of what passed, and questions/s of CPU on one core
(generation + gate; ``--repeat`` reruns the generation to time it over more work).

    python benchmarks/synth_quality.py [--source vg --input-dir DIR] [--repeat 50]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

from spatialthinker.data.cooccurrence import Cooccurrence
from spatialthinker.data.generators import generate_items
from spatialthinker.data.quality import CHECKS, gate
from spatialthinker.data.readers import READERS

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _images(source: str | None, input_dir: str | None) -> list:
    if source is not None:
        return list(READERS[source](input_dir))
    return list(READERS["vg"](SHARED / "visual_genome")) + list(READERS["gqa"](SHARED / "gqa"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", choices=sorted(READERS), default=None, help="default: the shared samples")
    parser.add_argument("--input-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=50, help="generation passes timed (small corpora)")
    args = parser.parse_args()
    images = _images(args.source, args.input_dir)
    stats = Cooccurrence.from_images(images)
    rejects: Counter = Counter()
    passed = [item for image in images for item in gate(generate_items(image, seed=args.seed, cooccurrence=stats),
                                                          image, rejects)]
    start = time.process_time()
    timed = sum(len(gate(generate_items(image, seed=args.seed + r, cooccurrence=stats), image))
                for r in range(args.repeat) for image in images)
    cpu = time.process_time() - start
    dropped = Counter(entry.split(":", 1)[0] for image in images for entry in image.dropped)
    merged: Counter = Counter()
    for image in images:
        merged.update(image.merged)
    print(json.dumps({
        "images": len(images), "objects": sum(len(i.objects) for i in images),
        "objects_dropped": dict(sorted(dropped.items())), "objects_merged": dict(sorted(merged.items())),
        "checked": rejects.pop("checked", 0), "passed": len(passed),
        "rejected": {name: rejects.get(name, 0) for name in CHECKS},
        "categories": dict(sorted(Counter(i.category for i in passed).items())),
        "timed_questions": timed, "cpu_s": round(cpu, 3),
        "questions_per_s_cpu": round(timed / cpu, 1) if cpu else None, "loadavg_1m": round(os.getloadavg()[0], 2),
    }, indent=1))


if __name__ == "__main__":
    main()
