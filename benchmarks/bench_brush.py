"""Cost of one brush mouse-move on a 24-megapixel (6000×4000) scan, including the repaint.

Each sample is one synthetic mouse-move event delivered to the canvas followed by processing the
paint it caused, at fit-to-window and at 100 % zoom. Run: python -m benchmarks.bench_brush
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np


def run(width: int, height: int, moves: int, brushes: list[int]) -> dict:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from restorer_gui import settings
    from restorer_gui.core.document import Document
    from restorer_gui.core.imageio import ImageData
    from restorer_gui.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    window = MainWindow(settings.Settings())
    window.resize(1600, 1000)
    window.show()
    window.set_document(Document(ImageData(pixels=pixels)))
    app.processEvents()
    viewport = window.view.viewport()
    results = {}
    cases = [(f"{zoom} brush {b}px", setup, b) for b in brushes
             for zoom, setup in (("fit", window.view.fit), ("100%", window.view.zoom_100))]
    for label, setup, brush in cases:
        window.view.set_brush_size(brush)
        setup()
        app.processEvents()
        centre = viewport.rect().center()
        def send(kind, pos, buttons):
            event = QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton, buttons, Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(viewport, event)
        t0 = time.perf_counter()
        send(QEvent.Type.MouseButtonPress, centre, Qt.MouseButton.LeftButton)
        app.processEvents()
        press_ms = (time.perf_counter() - t0) * 1000
        times = []
        for i in range(moves):
            angle = i * 0.05
            pos = centre + type(centre)(int(300 * math.cos(angle)), int(200 * math.sin(angle)))
            t0 = time.perf_counter()
            send(QEvent.Type.MouseMove, pos, Qt.MouseButton.LeftButton)
            app.processEvents()  # delivers the update request and paints the dirty region
            times.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        send(QEvent.Type.MouseButtonRelease, centre, Qt.MouseButton.NoButton)
        app.processEvents()
        release_ms = (time.perf_counter() - t0) * 1000
        from benchmarks.common import summary

        results[label] = {"move_ms": summary(times), "press_ms": press_ms, "release_ms": release_ms,
                          "zoom": window.view.zoom}
    window.model.mark_saved()
    window.close()
    window.deleteLater()
    app.processEvents()
    return results


def main() -> None:
    from benchmarks.common import save

    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--brush", type=int, nargs="+", default=[40, 200], help="brush diameters in image pixels")
    args = parser.parse_args()
    results = run(args.width, args.height, args.moves, args.brush)
    out = save("brush", {"image": f"{args.width}x{args.height}", "results": results})
    for label, r in results.items():
        m = r["move_ms"]
        print(f"{label:>18}: one brush move {m['median']:.2f} ms median, p95 {m['p95']:.2f}, max {m['max']:.2f} "
              f"(n={m['n']}); press {r['press_ms']:.1f} ms, release {r['release_ms']:.1f} ms")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
