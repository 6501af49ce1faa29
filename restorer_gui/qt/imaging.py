"""numpy ↔ QImage conversions for display (GUI thread only). Display is 8-bit; data is not."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage, QPixmap


def to_display_rgb(pixels: np.ndarray) -> np.ndarray:
    """H×W×{1,3,4} uint8/uint16 → contiguous H×W×{1,3,4} uint8 for the screen."""
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    return np.ascontiguousarray(pixels)


_FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}


def _wrap(data: np.ndarray) -> QImage:
    """A QImage viewing `data` (no copy): only valid while `data` is alive and unchanged."""
    h, w, c = data.shape
    return QImage(data.data, w, h, w * c, _FORMATS[c])


def array_to_qimage(pixels: np.ndarray) -> QImage:
    """A QImage that owns a copy of the (8-bit display version of the) pixels."""
    return _wrap(to_display_rgb(pixels)).copy()


def array_to_pixmap(pixels: np.ndarray) -> QPixmap:
    """A pixmap of the pixels for the screen, made with a single copy."""
    data = to_display_rgb(pixels)
    return QPixmap.fromImage(_wrap(data))


class MaskOverlay:
    """A premultiplied ARGB32 picture of the mask in one colour, updated by rectangle."""

    def __init__(self, width: int, height: int, color: QColor, opacity: float) -> None:
        self._buffer = np.zeros((height, width, 4), np.uint8)
        self.image = QImage(self._buffer.data, width, height, width * 4, QImage.Format.Format_ARGB32_Premultiplied)
        self.color = QColor(color)
        self.opacity = float(opacity)

    def set_style(self, color: QColor, opacity: float) -> None:
        self.color = QColor(color)
        self.opacity = float(opacity)

    def update(self, mask: np.ndarray, rect: tuple[int, int, int, int] | None = None) -> None:
        """Recompute the overlay pixels of `rect` (the whole mask when None) from the mask."""
        if rect is None:
            rect = (0, 0, mask.shape[1], mask.shape[0])
        x0, y0, x1, y1 = rect
        alpha = mask[y0:y1, x0:x1].astype(np.uint16) * int(round(self.opacity * 255))
        alpha = ((alpha + 127) // 255).astype(np.uint16)  # 0..255
        out = self._buffer[y0:y1, x0:x1]
        # Little-endian ARGB32 is stored as B, G, R, A; premultiply the colour by alpha.
        for channel, value in enumerate((self.color.blue(), self.color.green(), self.color.red())):
            out[..., channel] = (alpha * value + 127) // 255
        out[..., 3] = alpha
