"""Peak memory of denoising a 100-megapixel photo on the CPU (target: under 4 GB).

A child process generates a noisy W×H×3 uint8 image, loads a small random-weight DnCNN
(spandrel's key layout, saved to a temporary .safetensors and read through our safe loader)
and runs `ops.denoise.denoise` with the tile size chosen from free memory. Its peak resident
set size (``getrusage`` ru_maxrss: whole process, image and result included) is reported
together with the RSS before denoising, the time, and a spot check against a direct run.

Run: python -m benchmarks.bench_denoise_memory [--megapixels 100] [--width 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_MIB = 4096


def _rss_mib() -> float:
    """Current resident set size (Linux /proc), in MiB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    """This process's peak RSS. Linux: VmHWM (ru_maxrss would carry over the parent's peak across exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def _noisy_image(height: int, width: int):
    """A smooth gradient with Gaussian noise, generated in row blocks (no float copy of the whole)."""
    import numpy as np

    img = np.empty((height, width, 3), np.uint8)
    rng = np.random.default_rng(0)
    xs = np.linspace(40, 215, width, dtype=np.float32)
    for top in range(0, height, 512):
        rows = min(512, height - top)
        base = (
            xs[None, :, None]
            + np.float32(20) * np.sin(np.arange(top, top + rows, dtype=np.float32) / 300)[:, None, None]
        )
        noise = rng.standard_normal((rows, width, 3), dtype=np.float32) * np.float32(15)
        img[top : top + rows] = np.clip(base + noise, 0, 255).astype(np.uint8)
    return img


def child(megapixels: float, width: int, out_json: Path) -> None:
    import numpy as np
    import torch
    from safetensors.torch import save_file
    from spandrel.architectures.DnCNN import DnCNN

    from restorer_gui.inference import loader, tiling
    from restorer_gui.inference.engine import DEFAULT_OVERLAP
    from restorer_gui.inference.ops.denoise import denoise

    height = int(round(megapixels * 1e6 / width))
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "dncnn-random.safetensors"
        net = DnCNN(in_nc=3, out_nc=3, nc=16, nb=8, act_mode="R")
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
        del net
        model = loader.load_model(weights, "cpu")
    image = _noisy_image(height, width)
    tile = tiling.choose_tile(model.bytes_per_pixel(), model.device, multiple=model.size_multiple)
    rss_before = _rss_mib()
    ticks: list[float] = []
    start = time.perf_counter()
    result = denoise(image, model, sigma=15, progress=lambda f, m: ticks.append(f))
    seconds = time.perf_counter() - start
    peak = _peak_mib()
    # Spot check: an interior patch equals a direct run of the model on that patch (with context).
    y, x, size, ctx = height // 2, width // 2, 128, 48
    patch = image[y - ctx : y + size + ctx, x - ctx : x + size + ctx]
    direct = model(torch.from_numpy(patch.astype(np.float32) / 255).permute(2, 0, 1)[None], sigma=15)
    direct_u8 = np.rint(direct[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)[ctx:-ctx, ctx:-ctx]
    diff = int(np.abs(direct_u8.astype(int) - result[y : y + size, x : x + size].astype(int)).max())
    payload = {
        "megapixels": round(height * width / 1e6, 2),
        "shape": [height, width, 3],
        "dtype": "uint8",
        "model": {"architecture": model.architecture, "params": model.params, "nc": 16, "nb": 8},
        "device": str(model.device),
        "torch_threads": torch.get_num_threads(),
        "tile": tile,
        "overlap": DEFAULT_OVERLAP,
        "seconds": round(seconds, 1),
        "rss_before_denoise_mib": round(rss_before, 1),
        "peak_rss_mib": round(peak, 1),
        "limit_mib": LIMIT_MIB,
        "under_limit": peak < LIMIT_MIB,
        "progress_reports": len(ticks),
        "spot_check_max_abs_diff": diff,
    }
    out_json.write_text(json.dumps(payload), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megapixels", type=float, default=100.0)
    parser.add_argument("--width", type=int, default=10000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true", help="print only, do not write results/")
    args = parser.parse_args()
    if args.child:
        child(args.megapixels, args.width, args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "benchmarks.bench_denoise_memory", "--megapixels", str(args.megapixels),
               "--width", str(args.width), "--child", str(out_json)]  # fmt: skip
        env = dict(os.environ, RESTORER_HOME=tmp)
        subprocess.run(cmd, check=True, env=env)
        payload = json.loads(out_json.read_text(encoding="utf-8"))
    print(
        f"{payload['megapixels']} MP denoised in {payload['seconds']} s with {payload['tile']}-px tiles: "
        f"peak RSS {payload['peak_rss_mib']:.0f} MiB (before denoising {payload['rss_before_denoise_mib']:.0f} MiB; "
        f"limit {LIMIT_MIB} MiB) - {'OK' if payload['under_limit'] else 'OVER'}; "
        f"spot check max diff {payload['spot_check_max_abs_diff']}"
    )
    if not args.no_save:
        from benchmarks.common import save

        print(f"saved {save('denoise-memory', payload)}")


if __name__ == "__main__":
    main()
