"""Longest event-loop stall of the GUI while a 12-megapixel denoise job runs on the CPU.

A 1 ms QTimer records the gaps between its ticks on the GUI thread from the moment the job is
submitted until its layer appears; the longest gap is the stall a user would feel. The model is our
denoiser architecture with random weights (speed only). Run: python -m benchmarks.bench_stall
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np


def _install_random_denoiser(home: str) -> str:
    import torch
    from safetensors.torch import save_file

    from restorer_gui import paths
    from restorer_gui.inference import archs

    os.environ["RESTORER_HOME"] = home
    torch.manual_seed(0)
    net = archs.build("denoise_unet")
    folder = paths.user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "bench-denoise.safetensors"))
    card = {"id": "bench-denoise", "task": "denoise", "architecture": "denoise_unet", "hparams": {}, "untrained": True}
    (folder / "bench-denoise.json").write_text(json.dumps(card))
    return "bench-denoise"


def run(width: int, height: int) -> dict:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from restorer_gui import settings
    from restorer_gui.core.document import Document
    from restorer_gui.core.imageio import ImageData
    from restorer_gui.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as home:
        model_id = _install_random_denoiser(home)
        rng = np.random.default_rng(0)
        window = MainWindow(settings.Settings(device="cpu"))
        window.show()
        window.set_document(Document(ImageData(pixels=rng.integers(0, 256, (height, width, 3), dtype=np.uint8))))
        app.processEvents()
        clock = QElapsedTimer()
        gaps: list[float] = []
        last = [0]

        when: list[float] = []

        def tick() -> None:
            now = clock.nsecsElapsed()
            gaps.append((now - last[0]) / 1e6)
            when.append(now / 1e9)
            last[0] = now

        timer = QTimer()
        timer.setInterval(1)
        timer.timeout.connect(tick)
        done = []
        window.model.layers_changed.connect(lambda: done.append(time.perf_counter()))
        window.restore.pool.job_failed.connect(lambda *a: done.append(a))
        start = time.perf_counter()
        clock.start()
        timer.start()
        window.restore.denoise(25.0, model_id=model_id)
        while not done:
            app.processEvents()
            time.sleep(0.0005)
        timer.stop()
        if not isinstance(done[0], float):
            raise SystemExit(f"job failed: {done[0]}")
        job_s = done[0] - start
        window.model.mark_saved()
        window.close()
    worst = int(np.argmax(gaps))
    top = sorted(zip(gaps, when), reverse=True)[:5]
    ordered = sorted(gaps)
    return {
        "image": f"{width}x{height}",
        "job_seconds": job_s,
        "longest_stall_ms": ordered[-1],
        "longest_stall_at_s": when[worst],
        "five_longest": [{"ms": round(g, 1), "at_s": round(t, 2)} for g, t in top],
        "p99_gap_ms": ordered[int(0.99 * (len(ordered) - 1))],
        "ticks": len(gaps),
    }


def main() -> None:
    from benchmarks.common import save, summary

    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [run(args.width, args.height) for _ in range(args.runs)]
    result = {
        "longest_stall_ms": summary([r["longest_stall_ms"] for r in runs]),
        "job_seconds": summary([r["job_seconds"] for r in runs]),
        "runs": runs,
    }
    out = save("gui-stall", result)
    stall, job = result["longest_stall_ms"], result["job_seconds"]
    print(f"{args.width}x{args.height} denoise on the CPU: {job['median']:.1f} s per job; longest GUI stall per run "
          f"median {stall['median']:.1f} ms (min {stall['min']:.1f}, max {stall['max']:.1f}); saved {out}")


if __name__ == "__main__":
    main()
