"""Throughput of the simulator (issue 4 goal: >= 5 rendered scenes/s at 512 px with all passes on 2 cores).

Measures, after one warm-up scene per process:
- render: layout + colour/depth pass + instance pass + per-object silhouettes + ground truth (no questions, no PNG);
- full: ``run_scene`` as the dataset uses it (render, ground truth, PNG, questions, rows);
each with 1 process and with ``--workers`` processes. Prints one JSON object with the machine's load average,
since these machines are shared and a busy neighbour halves the numbers.

    python benchmarks/sim_throughput.py --scenes 40 --image-size 512 --workers 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time

import numpy as np


def _render_only(args: tuple[int, int]) -> int:
    from spatialthinker.data.sim.groundtruth import annotate
    from spatialthinker.data.sim.layout import sample_layout
    from spatialthinker.data.sim.render import render_layout
    from spatialthinker.data.sim.scene_job import load_assets

    index, size = args
    layout = sample_layout(np.random.default_rng([0, index]), load_assets("fallback"), (size, size))
    image, _ = annotate(layout, render_layout(layout), f"sim-0-{index}")
    return len(image.objects)


def _full(args: tuple[int, int]) -> int:
    from spatialthinker.data.sim.scene_job import SceneSpec, run_scene

    index, size = args
    return len(run_scene(SceneSpec(0, index, size, "fallback")).items)


def _measure(job, scenes: int, size: int, workers: int) -> dict[str, float]:
    tasks = [(1000 + i, size) for i in range(scenes)]
    if workers == 1:
        job((0, size))  # warm-up: GL context, asset meshes, generator imports
        start = time.perf_counter()
        counts = [job(t) for t in tasks]
    else:
        from spatialthinker.data.sim.scene_job import init_worker

        with multiprocessing.get_context("spawn").Pool(workers, initializer=init_worker, initargs=(workers,)) as pool:
            pool.map(job, [(i, size) for i in range(workers)], chunksize=1)  # warm every worker
            start = time.perf_counter()
            counts = pool.map(job, tasks, chunksize=1)
    elapsed = time.perf_counter() - start
    return {"scenes_per_s": round(scenes / elapsed, 2), "per_scene_s": round(elapsed / scenes, 4),
            "items_per_s": round(sum(counts) / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=30)
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    report: dict[str, object] = {"image_size": args.image_size, "scenes": args.scenes, "cpus": os.cpu_count(),
                                 "load_avg_before": [round(v, 2) for v in os.getloadavg()]}
    for name, job in (("render", _render_only), ("full", _full)):
        report[f"{name}_1proc"] = _measure(job, args.scenes, args.image_size, 1)
        if args.workers > 1:
            report[f"{name}_{args.workers}proc"] = _measure(job, args.scenes, args.image_size, args.workers)
    report["load_avg_after"] = [round(v, 2) for v in os.getloadavg()]
    report["note"] = "render: items_per_s counts annotated objects; full: items_per_s counts questions"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
