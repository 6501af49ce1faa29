"""Responsiveness: one brush move on 24 MP, repaint after zooming and panning, launch to a painted
window, the longest event-loop stall while a job runs. Wraps the single-purpose benchmarks."""

from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

from benchmarks.common import summary


def repaint_times(width: int = 6000, height: int = 4000, steps: int = 40) -> dict:
    """Time to process a zoom step or a pan step including the repaint it causes, on a 24 MP scan."""
    from PySide6.QtWidgets import QApplication

    from restorer_gui import settings
    from restorer_gui.core.document import Document
    from restorer_gui.core.imageio import ImageData
    from restorer_gui.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(settings.Settings())
    window.resize(1600, 1000)
    window.show()
    rng = np.random.default_rng(0)
    window.set_document(Document(ImageData(pixels=rng.integers(0, 256, (height, width, 3), dtype=np.uint8))))
    view = window.view
    app.processEvents()
    centre = view.viewport().rect().center()
    zoom, pan = [], []
    for i in range(steps):
        factor = 1.25 if (i // 10) % 2 == 0 else 0.8
        start = time.perf_counter()
        view.zoom_by(factor, centre)
        view.viewport().repaint()
        zoom.append((time.perf_counter() - start) * 1000)
    view.zoom_100()
    for i in range(steps):
        start = time.perf_counter()
        bar = view.horizontalScrollBar()
        bar.setValue(bar.value() + (40 if i % 2 == 0 else -40))
        view.viewport().repaint()
        pan.append((time.perf_counter() - start) * 1000)
    window.close()
    return {"zoom_step_ms": summary(zoom), "pan_step_ms": summary(pan), "image": f"{width}x{height}"}


def run(repeats: int = 3, quick: bool = False) -> dict:
    from benchmarks import bench_brush, bench_stall, bench_startup

    out: dict = {}
    out["brush"] = bench_brush.run(6000, 4000, 100 if quick else 300, [40, 200])
    out["repaint"] = repaint_times()
    starts = [bench_startup.one_run(None)[0] for _ in range(repeats)]
    out["startup_window_painted_s"] = summary(starts)
    stalls = [bench_stall.run(4000, 3000) for _ in range(1 if quick else repeats)]
    out["stall"] = {"longest_stall_ms": summary([s["longest_stall_ms"] for s in stalls]),
                    "job_seconds": summary([s["job_seconds"] for s in stalls])}
    return out
