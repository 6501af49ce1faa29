"""A live before/after preview for an operation's dialog (Denoise, Fix Fading and Colour).

`LivePreview` is the dialog side: a region of the photo at 100 % before and after, asked for again a moment
after the last change of the dialog's values. `PreviewRunner` is the controller side: it runs each request
as a quiet job on the model lane (the previous request cancelled) and hands the result to the dialog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QVBoxLayout, QWidget

PREVIEW_SIDE = 192  # px of the photo shown at 100 % on each side of the preview
PREVIEW_DELAY_MS = 200  # the preview waits this long after the last change before it runs


class LivePreview(QObject):
    """Before/after labels for ``crop``; ``ask()`` (no arguments) is called ``PREVIEW_DELAY_MS`` after the last
    `schedule` and should lead to `show`. Connect the dialog's value signals to `schedule`."""

    def __init__(self, crop: np.ndarray, ask: Callable[[], None], parent: QObject | None = None) -> None:
        from restorer_gui.qt.imaging import array_to_pixmap

        super().__init__(parent)
        self._ask = ask
        self.before, self.after = QLabel(), QLabel()
        self.before.setPixmap(array_to_pixmap(crop))
        self.after.setMinimumSize(crop.shape[1], crop.shape[0])
        self.after.setText("…")
        self.after.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(PREVIEW_DELAY_MS)
        self.timer.timeout.connect(self._fire)
        self.timer.start()
        if isinstance(parent, QDialog):  # a closed dialog asks for no more previews (its jobs would outlive it)
            parent.finished.connect(lambda *_: self.timer.stop())

    def schedule(self, *_: Any) -> None:
        self.timer.start()

    def _fire(self) -> None:
        self.after.setText("…")
        self._ask()

    def show(self, pixels: np.ndarray) -> None:
        """The processed region (GUI thread)."""
        from restorer_gui.qt.imaging import array_to_pixmap

        self.after.setPixmap(array_to_pixmap(pixels))

    def layout(self) -> QHBoxLayout:
        row = QHBoxLayout()
        for title, label in (("Before (100 %)", self.before), ("After", self.after)):
            col = QVBoxLayout()
            col.addWidget(QLabel(title))
            col.addWidget(label)
            row.addLayout(col)
        return row


class PreviewRunner:
    """Runs a dialog's preview requests on the controller's model lane, one at a time: a new request cancels
    the one before; `stop` cancels the last when the dialog closes."""

    def __init__(self, controller: Any, title: str, on_result: Callable[[Any], None]) -> None:
        self.controller, self.title, self.on_result = controller, title, on_result
        self.job = None

    def submit(self, fn: Callable[..., Any]) -> None:
        """``fn(progress, cancel)`` returns (result, device name), as a model job does."""
        self.stop()
        self.job = self.controller.submit(self.title, fn, self.on_result, quiet=True)

    def stop(self) -> None:
        if self.job is not None:
            self.controller.pool.cancel(self.job.id)


def crop_box(view: QWidget | Any, image: np.ndarray, side: int = PREVIEW_SIDE) -> tuple[int, int, int, int]:
    """The side × side box (x0, y0, x1, y1) of the photo around the centre of ``view`` (clipped to the photo)."""
    h, w = image.shape[:2]
    centre = view.mapToScene(view.viewport().rect().center())
    cx, cy = int(centre.x()), int(centre.y())
    sw, sh = min(side, w), min(side, h)
    x0, y0 = min(max(0, cx - sw // 2), w - sw), min(max(0, cy - sh // 2), h - sh)
    return x0, y0, x0 + sw, y0 + sh
