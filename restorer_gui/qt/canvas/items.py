"""Scene items of the canvas: the mask overlay, the split-compare picture and the brush outline."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QStyleOptionGraphicsItem, QWidget


class MaskItem(QGraphicsItem):
    """Draws the mask overlay QImage; only the exposed part is painted."""

    def __init__(self, image: QImage) -> None:
        super().__init__()
        self.image = image
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(0, 0, self.image.width(), self.image.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        exposed = option.exposedRect.intersected(self.boundingRect()).toAlignedRect()
        if exposed.isEmpty():
            return
        painter.drawImage(exposed, self.image, exposed)


class SplitPixmapItem(QGraphicsPixmapItem):
    """The original, drawn only left of the compare divider (so the result shows to its right)."""

    def __init__(self, pixmap: QPixmap) -> None:
        super().__init__(pixmap)
        self.divider_x = pixmap.width() / 2
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_divider(self, x: float) -> None:
        x = max(0.0, min(float(x), float(self.pixmap().width())))
        if x != self.divider_x:
            old = self.divider_x
            self.divider_x = x
            lo, hi = min(old, x), max(old, x)
            self.update(QRectF(lo - 1, 0, hi - lo + 2, self.pixmap().height()))

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.save()
        painter.setClipRect(QRectF(0, 0, self.divider_x, self.pixmap().height()), Qt.ClipOperation.IntersectClip)
        super().paint(painter, option, widget)
        painter.restore()


class BrushOutlineItem(QGraphicsItem):
    """A two-tone circle showing the brush size at the cursor; `radius` is in screen pixels."""

    def __init__(self) -> None:
        super().__init__()
        self.radius = 10.0
        self.setZValue(10_000)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_radius(self, radius: float) -> None:
        if radius != self.radius:
            self.prepareGeometryChange()
            self.radius = float(radius)

    def boundingRect(self) -> QRectF:  # noqa: N802
        r = self.radius + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        r = self.radius
        for color, style in ((QColor(0, 0, 0, 200), Qt.PenStyle.SolidLine), (QColor(255, 255, 255), Qt.PenStyle.DashLine)):
            pen = QPen(color, 1, style)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(0, 0), r, r)
