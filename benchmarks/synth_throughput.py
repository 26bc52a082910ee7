"""Throughput of scene-graph question synthesis (issue 3 goal: >= 2,000 questions/s on one core, no LLM).

Builds ``--graphs`` seeded Visual-Genome-like scene graphs (8-25 objects from a street/indoor vocabulary, boxes,
20-60% of pairs related by VG-style predicates, some attributes), warms up on one graph (imports, inflect's
engine), then times the corpus co-occurrence statistics, ``generate_items`` and the quality gate over all of them in this process (one core) and prints one JSON object:
graphs, questions, seconds, questions/s, graphs/s and the category mix. Optionally also times the export
path (``--export``: rows + parquet, in memory).

    python benchmarks/synth_throughput.py [--graphs 2000] [--seed 0] [--export]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter

import numpy as np

from spatialthinker.data.cooccurrence import Cooccurrence
from spatialthinker.data.generators import generate_items
from spatialthinker.data.quality import gate
from spatialthinker.data.records import AnnotatedImage, AnnotatedObject
from spatialthinker.scene import Relation

LABELS = ("man", "woman", "car", "bike", "dog", "tree", "building", "sign", "bench", "lamp post", "bus", "cup",
          "chair", "table", "umbrella", "person", "window", "shirt", "street", "sidewalk", "clock", "horse", "bag",
          "traffic light", "truck", "boat", "kite", "skateboard", "pole", "fence")
PREDICATES = ("on", "near", "behind", "in front of", "next to", "holding", "parked on", "above", "under", "has",
              "wearing", "in", "to the left of", "to the right of", "riding", "looking at", "standing on", "of")
ATTRIBUTES = ("red", "white", "black", "parked", "tall", "small", "wooden", "green")


def make_graph(rng: np.random.Generator, index: int) -> AnnotatedImage:
    """One random VG-like annotated image (labels, boxes, relations and attributes all drawn from ``rng``)."""
    width, height = int(rng.choice([640, 800, 1024])), int(rng.choice([480, 600, 768]))
    counts: Counter = Counter()
    objects = []
    for _ in range(int(rng.integers(8, 26))):
        label = str(rng.choice(LABELS))
        counts[label] += 1
        w, h = rng.uniform(0.04, 0.5) * width, rng.uniform(0.04, 0.6) * height
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        attributes = tuple(rng.choice(ATTRIBUTES, size=int(rng.integers(0, 3)), replace=False).tolist())
        objects.append(AnnotatedObject(f"{label.replace(' ', '_')}.{counts[label]}", label,
                                       (round(x, 1), round(y, 1), round(x + w, 1), round(y + h, 1)), attributes))
    relations = []
    n = len(objects)
    for _ in range(int(rng.uniform(0.2, 0.6) * n * 2)):
        a, b = rng.choice(n, size=2, replace=False)
        relations.append(Relation(objects[a].id, str(rng.choice(PREDICATES)), objects[b].id))
    return AnnotatedImage(str(index), width, height, objects, relations, source="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--graphs", type=int, default=2000, help="number of scene graphs (>= 1000 for the goal)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--export", action="store_true", help="also time rows + parquet export in memory")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    graphs = [make_graph(rng, i) for i in range(args.graphs)]
    generate_items(make_graph(np.random.default_rng(10**6), -1))  # warm-up: imports, inflect engine
    start = time.process_time()
    wall = time.perf_counter()
    stats = Cooccurrence.from_images(graphs)  # as the pipeline does: corpus statistics, then generate + gate
    items = [item for graph in graphs
             for item in gate(generate_items(graph, seed=args.seed, cooccurrence=stats), graph)]
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    result = {
        "graphs": len(graphs), "questions": len(items), "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
        "questions_per_s_cpu": round(len(items) / cpu, 1), "questions_per_s_wall": round(len(items) / wall, 1),
        "graphs_per_s_cpu": round(len(graphs) / cpu, 1), "loadavg_1m": round(os.getloadavg()[0], 2),
        "categories": dict(sorted(Counter(i.category for i in items).items())),
    }
    if args.export:
        import io

        import pyarrow.parquet as pq

        from spatialthinker.data.export import _schema, item_rows

        images = {g.image_id: b"\xff\xd8fake-jpeg" for g in graphs}
        t0 = time.process_time()
        rows = item_rows(items, images)
        import pyarrow as pa

        schema = _schema(sorted({k for r in rows for k in r} - set(_schema([]).names)))
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), io.BytesIO(), compression="zstd")
        result["export_rows_per_s_cpu"] = round(len(rows) / (time.process_time() - t0), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
