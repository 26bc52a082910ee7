"""Load time of benchmark copies in their real layouts, at the size of the real benchmark.

Writes each chosen benchmark's fixture (eval/fixtures.py: real file names, columns and image storage) with
``--n`` questions, then times ``load_items`` and the item hashing a run's fingerprint needs, and prints items/s.
3DSRBench's ``--n`` questions are ``4 n`` rows (its own rotated and flipped variants) in a base64 TSV.

    python benchmarks/eval_loading.py [--n 2625] [--benchmarks 3dsrbench cv-bench mme-realworld-lite vstar]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from spatialthinker.eval.fingerprint import item_hash
from spatialthinker.eval.fixtures import write_fixture
from spatialthinker.eval.loaders import load_items
from spatialthinker.eval.registry import get_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2625, help="questions per benchmark (3DSRBench has 2,625)")
    parser.add_argument("--benchmarks", nargs="+", default=["3dsrbench", "cv-bench", "mme-realworld-lite", "vstar"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.benchmarks:
            folder = write_fixture(name, Path(tmp) / name, n=args.n)
            start = time.perf_counter()
            items = load_items(get_benchmark(name), folder)
            loaded = time.perf_counter() - start
            start = time.perf_counter()
            for item in items:
                item_hash(item)
            hashed = time.perf_counter() - start
            print(f"{name:20} {len(items):6d} items  load {loaded:6.2f}s ({len(items) / loaded:8.0f} items/s)  "
                  f"hash {hashed:5.2f}s ({len(items) / hashed:8.0f} items/s)")


if __name__ == "__main__":
    main()
