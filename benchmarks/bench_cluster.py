"""Batch on a Ray cluster against the local engine, on one machine: files/min, MP/s, overhead per file.

A folder of N generated photos (default 20 JPEGs of 1600×1250 = 2 MP, `bench_batch`'s generator and
cache) is denoised three times, each phase in a fresh child process, with `bench_batch`'s random-weight
``denoise_unet`` (``nc=[8,16,32,64], nb=1``):

(a) ``local``: the local engine (:class:`BatchRunner`: decode and encode threads, the model on the
    calling thread, torch on every CPU); its ``start_seconds`` is loading the model;
(b) ``cluster-1``: ``--cluster local`` with one worker holding every CPU (``cpus_per_worker`` = CPUs);
(c) ``cluster-2``: ``--cluster local`` with two workers of half the CPUs each.

For the cluster runs, ``start_seconds`` is the time from the call to the first worker holding its model
(starting Ray, the worker process, torch and the model: paid once per batch), ``work_seconds`` the rest;
the rates are given over both the work and the whole run. Each phase's time outside the model per file is
``(work_seconds × workers − model_seconds) / N`` (``model_seconds``: the recipe's own time, summed over
files; worker-seconds, so two workers count twice); the
cluster's overhead per file is that of ``cluster-1`` minus that of ``local``: what sending a file to a worker
process, reading and writing it there (not overlapped with the model, unlike the local engine's pipeline)
and collecting the outcome cost. Being measured against the model's time in the same run, it holds up
when other processes share the CPUs (the rates do not: compare ``model_seconds`` across phases).

Run: python -m benchmarks.bench_cluster [--files 20] [--width 1600 --height 1250] [--note TEXT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_batch import _prepare, _subset, _weights
from benchmarks.common import add_child_options

PHASES = ("local", "cluster-1", "cluster-2")


def _child(kind: str, folder: Path, weights: Path, out: Path) -> dict:
    """One phase, in this (fresh) process."""
    import torch

    from restorer_gui.core.batch import BatchOptions, plan_batch
    from restorer_gui.core.recipe import Recipe, Step
    from restorer_gui.inference.batch import BatchRunner, RunSettings
    from restorer_gui.inference.ops.base import ModelSet

    cpus = os.cpu_count() or 1
    plan = plan_batch(BatchOptions(folder, out, on_existing="overwrite"))
    recipe = Recipe((Step("denoise", {"strength": 15, "model": str(weights)}),))
    settings = RunSettings(log_dir=out.parent / f"logs-{kind}")
    ready: list[float] = []
    start = time.perf_counter()
    if kind == "local":
        from restorer_gui.inference.chain import prepare_models

        models = ModelSet("cpu")
        prepare_models(recipe, models)  # as a worker does before its first file
        ready.append(time.perf_counter() - start)
        summary = BatchRunner(plan, None, settings, recipe=recipe, models=models).run()
        threads = [torch.get_num_threads()]
    else:
        from restorer_gui.inference.cluster import ClusterRunner, ClusterSettings

        workers = int(kind.split("-")[1])
        cluster = ClusterSettings("local", workers=workers, cpus_per_worker=max(1, cpus // workers), local_cpus=cpus)
        runner = ClusterRunner(plan, recipe, cluster, settings, device="cpu",
                               on_worker=lambda w: ready.append(time.perf_counter() - start))
        summary = runner.run()
        threads = [w.torch_threads for w in runner.workers]
    wall = time.perf_counter() - start
    assert summary.ok and len(summary.done) == len(plan.items), summary.lines()
    return {"wall_seconds": wall, "ready_after_seconds": ready, "megapixels": summary.megapixels,
            "files": len(summary.done), "model_seconds": sum(o.seconds for o in summary.done),
            "torch_threads": threads}


def _run_child(kind: str, folder: Path, weights: Path, work: Path) -> dict:
    result = work / f"{kind}.json"
    cmd = [sys.executable, "-m", "benchmarks.bench_cluster", "--child", kind, "--folder", str(folder),
           "--weights", str(weights), "--out", str(work / f"out-{kind}"), "--result", str(result)]
    subprocess.run(cmd, check=True, env=dict(os.environ, RESTORER_HOME=str(work / "home")))
    return json.loads(result.read_text(encoding="utf-8"))


def _rates(files: int, megapixels: float, seconds: float) -> dict:
    return {"seconds": round(seconds, 2), "files_per_minute": round(60 * files / seconds, 2),
            "megapixels_per_second": round(megapixels / seconds, 3)}


def measure(files: int, width: int, height: int, cache: Path, *, nc: list[int] | None = None, nb: int = 1,
            note: str = "") -> dict:
    """Run the three phases and return the result record (see the module docstring)."""
    nc = list(nc or [8, 16, 32, 64])
    cache.mkdir(parents=True, exist_ok=True)
    folder = _subset(_prepare(cache, files, height, width), files)
    weights = _weights(cache, nc, nb)
    load_before = os.getloadavg()
    phases: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        for kind in PHASES:
            raw = _run_child(kind, folder, weights, Path(tmp))
            wall, mp = raw["wall_seconds"], raw["megapixels"]
            entry = {"files": raw["files"], "megapixels": round(mp, 2), "torch_threads": raw["torch_threads"],
                     "model_seconds": round(raw["model_seconds"], 2), "whole_run": _rates(files, mp, wall)}
            start = raw["ready_after_seconds"][0]
            entry["start_seconds"] = round(start, 2)
            entry["workers_ready_after_seconds"] = [round(s, 2) for s in raw["ready_after_seconds"]]
            entry["work"] = _rates(files, mp, wall - start)
            phases[kind] = entry
            print(f"{kind}: {entry['work']['files_per_minute']} files/min, {entry['work']['megapixels_per_second']} "
                  f"MP/s over the work; whole run {wall:.1f} s", flush=True)
    for entry in phases.values():  # worker-seconds outside the model, per file
        busy = entry["work"]["seconds"] * len(entry["torch_threads"])
        entry["outside_model_per_file_seconds"] = round((busy - entry["model_seconds"]) / files, 3)
    local_s = phases["local"]["work"]["seconds"]
    overhead = phases["cluster-1"]["outside_model_per_file_seconds"] - phases["local"]["outside_model_per_file_seconds"]
    payload = {
        "images": {"count": files, "width": width, "height": height, "megapixels_each": width * height / 1e6,
                   "format": "JPEG q92 in, JPEG q95 out (format 'same')", "generator": "bench_batch._photo"},
        "model": {"architecture": "denoise_unet", "hparams": {"nc": nc, "nb": nb}, "weights": "random (seed 0)",
                  "device": "cpu", "sigma": 15},
        "phases": phases,
        "cluster_overhead_per_file_seconds": round(overhead, 3),
        "cluster_2_over_local_speed": round(local_s / phases["cluster-2"]["work"]["seconds"], 3),
        "load_average_before": [round(x, 2) for x in load_before],
        "note": note,
    }
    print(f"overhead per file (cluster, 1 worker, against the local engine): {overhead:.3f} s")
    return payload


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1250)
    parser.add_argument("--nc", type=int, nargs=4, default=[8, 16, 32, 64])
    parser.add_argument("--nb", type=int, default=1)
    add_child_options(parser, PHASES, "training running")
    args = parser.parse_args()
    if args.child:
        args.result.write_text(json.dumps(_child(args.child, args.folder, args.weights, args.out)), encoding="utf-8")
        return
    payload = measure(args.files, args.width, args.height, args.cache, nc=args.nc, nb=args.nb, note=args.note)
    if not args.no_save:
        from benchmarks.common import save

        print(f"saved {save('cluster', payload)}")


if __name__ == "__main__":
    main()
