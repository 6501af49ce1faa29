"""CPU speed of Fix Fading and Colour (the `enhance` operation) at photo sizes up to 24 MP (target ≤ 0.3 s/MP).

Runs `ops.enhance.enhance` end to end (uint8 photo in, uint8 photo out: thumbnail, prediction, the
correction applied in strips, the strength blend) with the default `enhance_curves` architecture and
random weights (the time does not depend on the weights) on ``--threads`` CPU threads, best and median of
``--repeats`` runs per size, wall time and the process's CPU time (all threads), with the load average:
this machine is shared with training runs, so the wall time depends on what else is running.
Results: ``benchmarks/results/enhance-<machine>-<date>.json``.

Run: python -m benchmarks.bench_enhance [--sizes 1,6,24] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_S_PER_MP = 0.3


def _model(folder: Path):
    import json

    import torch
    from safetensors.torch import save_file

    from restorer_gui.inference import archs, loader

    torch.manual_seed(0)
    net = archs.build("enhance_curves")
    with torch.no_grad():
        for head in (net.curve_head, net.color_head, net.local_head):
            head.weight.normal_(0, 0.05)
    weights = folder / "bench-enhance.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    (folder / "bench-enhance.json").write_text(json.dumps({"id": "bench-enhance", "task": "enhance",
                                                           "architecture": "enhance_curves", "hparams": {}}))
    return loader.load_model(str(weights), "cpu", "fp32")


def _photo(mp: float) -> np.ndarray:
    w = int(round((mp * 1e6 * 1.5) ** 0.5))
    h = int(round(mp * 1e6 / w))
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    base = 60 + 120 * (0.5 * x + 0.3 * y) + np.array([20, 0, -20], np.float32)
    return np.clip(base, 0, 255).astype(np.uint8)


def measure(sizes: list[float], repeats: int = 3, threads: int = 2, strength: float = 80.0) -> dict:
    import torch

    from restorer_gui.inference.ops import enhance as op

    torch.set_num_threads(threads)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = _model(Path(tmp))
        op.enhance(_photo(0.05), model, strength)  # warm-up: torch's first calls set up its thread pool and kernels
        for mp in sizes:
            photo = _photo(mp)
            real_mp = photo.shape[0] * photo.shape[1] / 1e6
            times, cpu = [], []
            for _ in range(repeats):
                t, c = time.perf_counter(), time.process_time()
                out = op.enhance(photo, model, strength)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            assert out.shape == photo.shape and out.dtype == photo.dtype
            rows[f"{mp:g}"] = {"size": f"{photo.shape[1]}x{photo.shape[0]}", "megapixels": round(real_mp, 2),
                               "seconds": {"best": round(min(times), 3), "median": round(statistics.median(times), 3)},
                               "s_per_mp": {"best": round(min(times) / real_mp, 4),
                                            "median": round(statistics.median(times) / real_mp, 4)},
                               # CPU time of all threads: what the work costs, whatever else shares the cores
                               "cpu_s_per_mp": {"best": round(min(cpu) / real_mp, 4),
                                                "median": round(statistics.median(cpu) / real_mp, 4)}}
            print(f"{mp:g} MP: best {min(times):.2f} s ({min(times) / real_mp:.3f} s/MP), "
                  f"median {statistics.median(times):.2f} s; CPU {min(cpu) / real_mp:.3f} s/MP "
                  f"(load average {os.getloadavg()[0]:.1f})", file=sys.stderr)
    return {"threads": threads, "repeats": repeats, "strength": strength, "target_s_per_mp": TARGET_S_PER_MP,
            "load_average": os.getloadavg(), "sizes": rows}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import save

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1,6,24", help="megapixels, comma-separated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    payload = measure([float(s) for s in args.sizes.split(",")], args.repeats, args.threads)
    print(save("enhance", payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
