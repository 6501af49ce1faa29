"""`python -m benchmarks [--parts ...] [--quick]`: measure the app on this machine (and CUDA when
present), write benchmarks/results/<machine>-<date>.json, a Markdown table and plots, and refresh the
README's benchmark table."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from benchmarks import report
from benchmarks.common import RESULTS, machine, machine_name

PARTS = ("quality", "speed", "responsiveness", "memory", "batch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, images and sizes (a smoke run)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-images", type=int, default=None, help="images per test set (default: all)")
    parser.add_argument("--bm3d-images", type=int, default=None, help="run CBM3D on the first N images only (slow)")
    parser.add_argument("--sigmas", default="15,25,50",
                        help="noise levels of the denoising comparison (a later run keeps the other levels' figures)")
    parser.add_argument("--quality-tasks", default="denoise,inpaint,detect-scratches",
                        help="which built-in models the quality part measures (a later run keeps the others' figures)")
    parser.add_argument("--memory-tasks", default="denoise,inpaint",
                        help="memory part: which of denoise, inpaint to measure (the others' previous figures are kept)")
    parser.add_argument("--devices", default=None,
                        help="speed part: comma-separated devices (default: cpu, and cuda when present)")
    parser.add_argument("--sizes", default=None,
                        help="speed part: megapixels of the time-by-size figures, comma-separated (default 1,4,16,64)")
    parser.add_argument("--probe-mp", type=float, default=1.0,
                        help="speed part: megapixels of the photo each model's s/MP is measured on (default 1)")
    parser.add_argument("--results", default=None, help=f"folder for the results (default {RESULTS})")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    try:
        sigmas = tuple(int(v) for v in args.sigmas.split(",") if v.strip())
    except ValueError:
        parser.error(f"--sigmas takes whole numbers separated by commas, not {args.sigmas!r}")
    if not sigmas or not all(0 < v <= 100 for v in sigmas):
        parser.error("--sigmas: noise levels between 1 and 100 on the 8-bit scale")
    import torch

    devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    if args.devices:
        devices = tuple(d.strip() for d in args.devices.split(",") if d.strip())
        if not devices or set(devices) - {"cpu", "cuda"}:
            parser.error(f"--devices: cpu and/or cuda, not {args.devices!r}")
        if "cuda" in devices and not torch.cuda.is_available():
            parser.error("--devices: no CUDA device here")
    sizes = (1, 4) if args.quick else (1, 4, 16, 64)
    if args.sizes:
        try:
            sizes = tuple(float(v) if "." in v else int(v) for v in args.sizes.split(",") if v.strip())
        except ValueError:
            parser.error(f"--sizes takes megapixels separated by commas, not {args.sizes!r}")
        if not sizes or min(sizes) <= 0:
            parser.error("--sizes: positive megapixels")
    date = dt.date.today().isoformat()
    results_dir = Path(args.results) if args.results else RESULTS
    stem = results_dir / f"{machine_name()}-{date}"
    results_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {"date": date, "machine": machine(), "parts": parts, "quick": args.quick,
                     "device_note": "CUDA: " + torch.cuda.get_device_name(0) if "cuda" in devices else "CPU only"}
    repeats = 1 if args.quick else args.repeats
    if "quality" in parts:
        from benchmarks import quality

        grids = stem.with_name(stem.name + "-grids")
        grids.mkdir(exist_ok=True)
        tasks = tuple(t.strip() for t in args.quality_tasks.split(",") if t.strip())
        unknown_tasks = set(tasks) - set(quality.TASKS)
        if unknown_tasks:
            parser.error(f"unknown quality task(s): {', '.join(sorted(unknown_tasks))}")
        results["quality"] = quality.run(args.max_images or (3 if args.quick else None),
                                         args.bm3d_images or (1 if args.quick else None), grids, tasks, sigmas)
    if "speed" in parts:
        from benchmarks import speed

        results["speed"] = speed.run(repeats, sizes, devices, probe_mp=args.probe_mp)
    if "responsiveness" in parts:
        from benchmarks import responsiveness

        results["responsiveness"] = responsiveness.run(repeats, args.quick)
    if "memory" in parts:
        from benchmarks import memory

        mem_tasks = tuple(t.strip() for t in args.memory_tasks.split(",") if t.strip())
        if set(mem_tasks) - {"denoise", "inpaint"}:
            parser.error(f"unknown memory task(s): {', '.join(sorted(set(mem_tasks) - {'denoise', 'inpaint'}))}")
        results["memory"] = memory.run((1, 4) if args.quick else (1, 4, 16, 64, 100), mem_tasks)
    if "batch" in parts:
        from benchmarks import bench_batch

        results["batch"] = bench_batch.run_for_report(quick=args.quick)
    out_json = stem.with_suffix(".json")
    previous = json.loads(out_json.read_text()) if out_json.exists() else {}
    merged = report.merge(previous, results, parts)
    out_json.write_text(json.dumps(merged, indent=2, default=str) + "\n", encoding="utf-8")
    table = report.markdown(merged)
    stem.with_suffix(".md").write_text(table + "\n", encoding="utf-8")
    made = report.plots(merged, stem)
    if not args.no_readme:
        root = Path(__file__).resolve().parent.parent
        source = out_json.resolve().relative_to(root) if out_json.resolve().is_relative_to(root) else out_json
        report.update_readme(root / "README.md", table, str(source))
    print(table)
    print(f"\nsaved {out_json}" + "".join(f"\nsaved {p}" for p in made))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
