"""Batch denoise on the CPU: throughput against the model's own time, and memory against folder size.

A folder of N generated photos (default 50 JPEGs of 4000×3000 = 12 MP, made once into --cache) is
processed three times, each in a fresh child process:

(a) ``model``: every photo is decoded (not timed) and ``ops.denoise.denoise`` is timed alone — the
    model's own time for the same images in memory;
(b) ``batch``: the whole folder through :class:`BatchRunner` (decode and encode threads, JPEG out);
    its wall time over (a) is the overhead the pipeline fails to hide (target: within 10 %);
(c) ``batch`` again on the first --small-files photos: peak RSS (``ru_maxrss``) must not grow
    with the number of files.

The model is a random-weight ``denoise_unet`` (the app's own denoiser architecture) narrowed to
``nc=[8,16,32,64], nb=1`` so 50×12 MP stays feasible on a small CPU (the shipped default is
``nc=[16,32,64,128], nb=2``, about 4× slower); choose others with --nc/--nb.

Other processes sharing the CPUs distort (a)/(b); each phase records the CPU time other processes
took meanwhile (from /proc/stat), and the ratio is also given split into pipeline stalls (batch
wall time over the model time inside the batch) and model slow-down (median per-file model time
in the batch over the median alone), which such interference affects much less.

Run: python -m benchmarks.bench_batch [--files 50] [--small-files 10] [--width 4000 --height 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 1.10


from benchmarks.bench_denoise_memory import _peak_mib, _rss_mib  # noqa: E402 - VmHWM: per process, not inherited


# --------------------------------------------------------------------------- data


def _photo(seed: int, height: int, width: int):
    """A smooth scene with a few shapes and Gaussian grain (σ 12), generated in row blocks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    img = np.empty((height, width, 3), np.uint8)
    xs = np.linspace(0, 1, width, dtype=np.float32)
    tint = rng.uniform(0.6, 1.0, 3).astype(np.float32)
    cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
    for top in range(0, height, 500):
        rows = min(500, height - top)
        ys = (np.arange(top, top + rows, dtype=np.float32) / height)[:, None]
        base = 60 + 140 * (0.5 * xs[None, :] + 0.3 * ys + 0.2 * np.sin(12 * xs[None, :] * ys))
        disk = ((xs[None, :] - cx) ** 2 + (ys - cy) ** 2 * (height / width) ** 2) < r * r
        base = np.where(disk, base * 0.5 + 40, base)
        noisy = base[..., None] * tint + rng.standard_normal((rows, width, 3), dtype=np.float32) * 12
        img[top : top + rows] = np.clip(noisy, 0, 255).astype(np.uint8)
    return img


def _prepare(cache: Path, files: int, height: int, width: int) -> Path:
    """Generate the photos once (``all/``); returns that folder."""
    from restorer_gui.core import imageio

    folder = cache / f"{width}x{height}" / "all"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        path = folder / f"scan-{i:03d}.jpg"
        if not path.exists():
            imageio.save_image(path, _photo(i, height, width), quality=92)
    return folder


def _subset(source: Path, count: int) -> Path:
    """A folder of links to the first *count* photos."""
    folder = source.parent / f"first-{count}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for path in sorted(source.glob("*.jpg"))[:count]:
        (folder / path.name).symlink_to(path)
    return folder


def _weights(cache: Path, nc: list[int], nb: int) -> Path:
    """Random (seeded) denoise_unet weights with their card."""
    import torch
    from safetensors.torch import save_file

    from restorer_gui.inference import archs

    name = f"bench-unet-{'-'.join(map(str, nc))}-nb{nb}"
    weights = cache / f"{name}.safetensors"
    if not weights.exists():
        torch.manual_seed(0)
        net = archs.build("denoise_unet", nc=nc, nb=nb)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
        card = {"id": name, "task": "denoise", "architecture": "denoise_unet", "hparams": {"nc": nc, "nb": nb},
                "weights": weights.name, "untrained": True}
        (cache / f"{name}.json").write_text(json.dumps(card), encoding="utf-8")
    return weights


# --------------------------------------------------------------------------- children


def _child_model(folder: Path, weights: Path, out: Path) -> dict:
    """(a) the model alone on each decoded photo."""
    from restorer_gui.core import imageio
    from restorer_gui.inference import loader
    from restorer_gui.inference.ops.denoise import denoise

    model = loader.load_model(weights, "cpu")
    times = []
    for path in sorted(folder.glob("*.jpg")):
        pixels = imageio.load_image(path).pixels
        start = time.perf_counter()
        denoise(pixels, model, sigma=15)
        times.append(time.perf_counter() - start)
        del pixels
    return {"seconds": times, "peak_rss_mib": _peak_mib()}


def _child_batch(folder: Path, weights: Path, out: Path) -> dict:
    """(b)/(c) the batch pipeline over the folder."""
    import torch

    from restorer_gui.core.batch import BatchOptions, plan_batch
    from restorer_gui.inference import loader
    from restorer_gui.inference.batch import BatchCallbacks, BatchRunner, RunSettings

    model = loader.load_model(weights, "cpu")
    rss_loaded = _rss_mib()
    plan = plan_batch(BatchOptions(folder, out, on_existing="overwrite"))
    first_start: list[float] = []
    start = time.perf_counter()
    callbacks = BatchCallbacks(file_started=lambda i, item: first_start.append(time.perf_counter() - start))
    summary = BatchRunner(plan, model, RunSettings(sigma=15, log_dir=out.parent / "logs"), callbacks).run()
    wall = time.perf_counter() - start
    assert summary.ok and len(summary.done) == len(plan.items), summary.lines()
    return {
        "wall_seconds": wall,
        "model_seconds": [o.seconds for o in sorted(summary.done, key=lambda o: o.index)],
        "first_file_started_after_s": first_start[0],
        "megapixels": summary.megapixels,
        "rss_after_model_load_mib": rss_loaded,
        "peak_rss_mib": _peak_mib(),
        "torch_threads": torch.get_num_threads(),
    }


def _busy_ticks() -> int:
    """CPU ticks spent busy by the whole machine (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:9]]
    return sum(values) - values[3] - values[4]


def _process_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def _run_child(kind: str, folder: Path, weights: Path, work: Path) -> dict:
    """Run a child; also measure its CPU time and the CPU other processes took meanwhile."""
    out_json = work / f"{kind}-{folder.name}.json"
    out_dir = work / f"out-{kind}-{folder.name}"
    cmd = [sys.executable, "-m", "benchmarks.bench_batch", "--child", kind, "--folder", str(folder),
           "--weights", str(weights), "--out", str(out_dir), "--result", str(out_json)]
    hz = os.sysconf("SC_CLK_TCK")
    busy0, start = _busy_ticks(), time.perf_counter()
    proc = subprocess.Popen(cmd, env=dict(os.environ, RESTORER_HOME=str(work / "home")))
    own, busy = 0, busy0
    while proc.poll() is None:
        ticks = _process_ticks(proc.pid)
        if ticks is not None:
            own, busy = ticks, _busy_ticks()
        time.sleep(0.5)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    shutil.rmtree(out_dir, ignore_errors=True)
    result = json.loads(out_json.read_text(encoding="utf-8"))
    wall = time.perf_counter() - start
    result["process_cpu_seconds"] = own / hz
    result["other_processes_cpu_seconds"] = max(0, busy - busy0 - own) / hz
    result["other_processes_cpu_share"] = result["other_processes_cpu_seconds"] / (wall * (os.cpu_count() or 1))
    return result


def _contention(result: dict) -> dict:
    return {
        "process_cpu_seconds": round(result["process_cpu_seconds"], 1),
        "other_processes_cpu_seconds": round(result["other_processes_cpu_seconds"], 1),
        "other_processes_cpu_share": round(result["other_processes_cpu_share"], 3),
    }


def _stats(values: list[float]) -> dict:
    from benchmarks.common import summary

    return {k: round(v, 3) if isinstance(v, float) else v for k, v in summary(values).items()}


def main() -> None:
    from benchmarks.common import add_child_options

    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--small-files", type=int, default=10)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--nc", type=int, nargs=4, default=[8, 16, 32, 64])
    parser.add_argument("--nb", type=int, default=1)
    parser.add_argument("--model", type=Path, default=None,
                        help="a .safetensors model with its card beside it (default: random-weight denoise_unet)")
    add_child_options(parser, ("model", "batch"), "training paused")
    args = parser.parse_args()
    if args.child:
        fn = _child_model if args.child == "model" else _child_batch
        args.result.write_text(json.dumps(fn(args.folder, args.weights, args.out)), encoding="utf-8")
        return

    payload = measure(args.files, args.small_files, args.width, args.height, args.cache,
                      nc=args.nc, nb=args.nb, model=args.model, note=args.note)
    if not args.no_save:
        from benchmarks.common import save

        print(f"saved {save('batch', payload)}")


def measure(files: int, small_files: int, width: int, height: int, cache: Path, *, nc: list[int] | None = None,
            nb: int = 1, model: Path | None = None, note: str = "") -> dict:
    """Run the three phases and return the result record (see the module docstring).

    *model*: a ``.safetensors`` file with its card beside it (e.g. a built-in model); without it a
    random-weight ``denoise_unet`` of widths *nc* and depth *nb*.
    """
    nc = list(nc or [8, 16, 32, 64])
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    source = _prepare(cache, files, height, width)
    full, small = _subset(source, files), _subset(source, small_files)
    weights = Path(model) if model else _weights(cache, nc, nb)
    print(f"data ready in {time.perf_counter() - t0:.0f} s: {files} photos in {source}", flush=True)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        work = Path(tmp)
        model_run = _run_child("model", full, weights, work)
        print(f"model only: {sum(model_run['seconds']):.1f} s", flush=True)
        batch = _run_child("batch", full, weights, work)
        print(f"batch of {files}: {batch['wall_seconds']:.1f} s", flush=True)
        batch_small = _run_child("batch", small, weights, work)
        print(f"batch of {small_files}: {batch_small['wall_seconds']:.1f} s", flush=True)
    model_total = sum(model_run["seconds"])
    ratio = batch["wall_seconds"] / model_total
    mp = width * height / 1e6
    if model:
        card = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))
        model_info = {"id": card.get("id"), "architecture": card.get("architecture"), "hparams": card.get("hparams"),
                      "weights": "trained" if not card.get("untrained") else "untrained"}
    else:
        model_info = {"architecture": "denoise_unet", "hparams": {"nc": nc, "nb": nb}, "weights": "random (seed 0)"}
    payload = {
        "images": {"count": files, "width": width, "height": height, "megapixels_each": mp,
                   "format": "JPEG q92 in, JPEG q95 out (format 'same')", "generator": "bench_batch._photo"},
        "model": {**model_info, "device": "cpu", "torch_threads": batch["torch_threads"]},
        "pipeline": {"decode_threads": 1, "encode_threads": 1, "queue_size": 2, "sigma": 15},
        "model_only": {"total_seconds": round(model_total, 2), "per_image_seconds": _stats(model_run["seconds"]),
                       **_contention(model_run)},
        "batch": {
            "files": files,
            "wall_seconds": round(batch["wall_seconds"], 2),
            "per_file_model_seconds": _stats(batch["model_seconds"]),
            "first_file_started_after_s": round(batch["first_file_started_after_s"], 3),
            "megapixels_per_second": round(batch["megapixels"] / batch["wall_seconds"], 3),
            "files_per_minute": round(60 * files / batch["wall_seconds"], 2),
            "rss_after_model_load_mib": round(batch["rss_after_model_load_mib"], 1),
            "peak_rss_mib": round(batch["peak_rss_mib"], 1),
            **_contention(batch),
        },
        "batch_small": {
            "files": small_files,
            "wall_seconds": round(batch_small["wall_seconds"], 2),
            "rss_after_model_load_mib": round(batch_small["rss_after_model_load_mib"], 1),
            "peak_rss_mib": round(batch_small["peak_rss_mib"], 1),
            **_contention(batch_small),
        },
        "ratio_batch_to_model": round(ratio, 4),
        # Contention-robust split of the ratio: time the model waited for the pipeline (wall over
        # the model's own time inside the batch) × how much the I/O threads slowed the model.
        "batch_wall_over_its_model_time": round(batch["wall_seconds"] / sum(batch["model_seconds"]), 4),
        "batch_model_median_over_model_only_median": round(
            statistics.median(batch["model_seconds"]) / statistics.median(model_run["seconds"]), 4),
        "target_ratio": TARGET_RATIO,
        "within_target": ratio <= TARGET_RATIO,
        "peak_rss_growth_mib": round(batch["peak_rss_mib"] - batch_small["peak_rss_mib"], 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "note": note,
    }
    print(
        f"{files}×{mp:g} MP: model alone {model_total:.1f} s, batch {batch['wall_seconds']:.1f} s "
        f"(ratio {ratio:.3f}, target ≤ {TARGET_RATIO}); {payload['batch']['megapixels_per_second']} MP/s; "
        f"peak RSS {batch_small['peak_rss_mib']:.0f} MiB for {small_files} files, "
        f"{batch['peak_rss_mib']:.0f} MiB for {files}"
    )
    return payload


def run_for_report(quick: bool = False, cache: Path | None = None) -> dict:
    """The batch part of ``python -m benchmarks``: the built-in denoiser over a folder of generated
    JPEG scans (12 × 6 MP; --quick: 3 × 1 MP), against its own time on the same photos."""
    from restorer_gui.inference import registry

    info = next((i for i in registry.list_models("denoise") if i.builtin and not i.untrained), None)
    if info is None or info.card_path is None:
        return {"summary": "no trained built-in denoiser"}
    card = json.loads(Path(info.card_path).read_text(encoding="utf-8"))
    weights = Path(info.card_path).parent / card.get("weights", f"{info.id}.safetensors")
    files, small, (width, height) = (3, 2, (1200, 800)) if quick else (12, 4, (3000, 2000))
    cache = cache or Path(tempfile.gettempdir()) / "restorer-bench-batch"
    payload = measure(files, small, width, height, cache, model=weights)
    b = payload["batch"]
    payload["summary"] = (
        f"{files} × {width * height / 1e6:g} MP JPEGs, {info.id}: model alone {payload['model_only']['total_seconds']:.1f} s, "
        f"batch {b['wall_seconds']:.1f} s (ratio {payload['ratio_batch_to_model']:.2f}, target ≤ {TARGET_RATIO}); "
        f"{b['megapixels_per_second']:.2f} MP/s, {b['files_per_minute']:.1f} files/min; peak RSS "
        f"{payload['batch_small']['peak_rss_mib']:.0f} MiB ({small} files) vs {b['peak_rss_mib']:.0f} MiB ({files} files)"
    )
    return payload


if __name__ == "__main__":
    main()
