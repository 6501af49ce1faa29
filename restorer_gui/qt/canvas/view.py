"""The canvas: a QGraphicsView showing the photo, its result layers, the mask and the compare split."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QCursor,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from restorer_gui.core import mask_ops
from restorer_gui.qt.canvas.items import BrushOutlineItem, MaskItem, SplitPixmapItem
from restorer_gui.qt.commands import MaskPatchEdit
from restorer_gui.qt.document_model import DocumentModel
from restorer_gui.qt.imaging import MaskOverlay, array_to_pixmap
from restorer_gui.qt.tools import Tool, ToolSettings

MAX_ZOOM = 32.0  # 3200 %
WHEEL_STEP = 1.25
DIVIDER_GRAB_PX = 8

Z_LAYERS = 1
Z_SPLIT = 5000
Z_MASK = 6000
Z_SHAPE = 7000


class CanvasView(QGraphicsView):
    """Zoom, pan, paint the mask, compare. Knows the model; never touches files."""

    zoom_changed = Signal(float)
    cursor_moved = Signal(int, int)  # image pixel under the cursor, (-1, -1) outside
    brush_size_changed = Signal(int)
    compare_changed = Signal(bool)
    show_original_changed = Signal(bool)

    def __init__(self, settings: ToolSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tools = settings or ToolSettings()
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QBrush(QColor(38, 38, 40)))
        # zoom anchors are applied by set_zoom itself (Qt's AnchorUnderMouse uses a mouse position
        # that only QGraphicsView's own mouse handlers record, and ignores scroll bars appearing later)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.model: DocumentModel | None = None
        self.overlay: MaskOverlay | None = None
        self.overlay_color = QColor("#ff2a2a")
        self.overlay_opacity = 0.5
        self.mask_visible = True
        self.compare = False
        self.show_original = False
        self._held_original = False
        self._base_item: QGraphicsPixmapItem | None = None
        self._layer_items: dict[int, QGraphicsPixmapItem] = {}
        self._split_item: SplitPixmapItem | None = None
        self._mask_item: MaskItem | None = None
        self._outline = BrushOutlineItem()
        self._outline.setVisible(False)
        self.scene().addItem(self._outline)
        self._shape_item: QGraphicsRectItem | QGraphicsPathItem | None = None
        self._drag: str | None = None  # "stroke", "pan", "divider", "rect", "lasso"
        self._drag_erase = False
        self._space_down = False
        self._last_view_pos = QPoint()
        self._hover_pos: QPoint | None = None  # the cursor in the viewport; None while it is outside
        self._stroke_before: np.ndarray | None = None
        self._stroke_rect: mask_ops.Rect | None = None
        self._last_point: tuple[float, float] | None = None
        self._shape_start = QPointF()
        self._lasso: list[tuple[float, float]] = []
        self._update_cursor()

    # --- document ------------------------------------------------------------------------
    def set_model(self, model: DocumentModel | None) -> None:
        """Show a document (or nothing). Builds the scene items once; edits update them in place."""
        if self.model is not None:
            self.model.mask_changed.disconnect(self._on_mask_changed)
            self.model.layers_changed.disconnect(self._on_layers_changed)
            self.model.layer_props_changed.disconnect(self._on_layer_props_changed)
            self.model.selection_changed.disconnect(self._on_selection_changed)
        self._cancel_drag()
        for item in [self._base_item, self._split_item, self._mask_item, *self._layer_items.values()]:
            if item is not None:
                self.scene().removeItem(item)
        self._base_item = self._split_item = self._mask_item = None
        self._layer_items.clear()
        self.compare = False
        self.show_original = False
        self.model = model
        if model is None:
            self.scene().setSceneRect(QRectF())
            return
        doc = model.doc
        base = array_to_pixmap(doc.original)
        self._base_item = self._add_pixmap(base, 0)
        self._split_item = SplitPixmapItem(base)
        self._split_item.setZValue(Z_SPLIT)
        self.scene().addItem(self._split_item)
        self.overlay = MaskOverlay(doc.width, doc.height, self.overlay_color, self.overlay_opacity)
        self.overlay.update(doc.mask)
        self._mask_item = MaskItem(self.overlay.image)
        self._mask_item.setZValue(Z_MASK)
        self.scene().addItem(self._mask_item)
        self.scene().setSceneRect(QRectF(0, 0, doc.width, doc.height))
        model.mask_changed.connect(self._on_mask_changed)
        model.layers_changed.connect(self._on_layers_changed)
        model.layer_props_changed.connect(self._on_layer_props_changed)
        model.selection_changed.connect(self._on_selection_changed)
        self._on_layers_changed()
        self.fit()

    def _add_pixmap(self, pixmap: QPixmap, z: float) -> QGraphicsPixmapItem:
        item = QGraphicsPixmapItem(pixmap)
        item.setZValue(z)
        item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self.scene().addItem(item)
        self._apply_smoothing(item)
        return item

    def _on_layers_changed(self) -> None:
        assert self.model is not None
        layers = self.model.doc.layers
        alive = {layer.uid for layer in layers}
        for uid in list(self._layer_items):
            if uid not in alive:
                self.scene().removeItem(self._layer_items.pop(uid))
        for i, layer in enumerate(layers):
            item = self._layer_items.get(layer.uid)
            if item is None:
                item = self._add_pixmap(array_to_pixmap(layer.pixels), Z_LAYERS + i)
                self._layer_items[layer.uid] = item
            item.setZValue(Z_LAYERS + i)
        if self.compare and self._compare_layer_uid() is None:
            self.set_compare(False)
        self._refresh_visibility()

    def _on_layer_props_changed(self, uid: int) -> None:
        self._refresh_visibility()

    def _on_selection_changed(self, uid: object) -> None:
        if self.compare:
            self._refresh_visibility()

    def _compare_layer_uid(self) -> int | None:
        """The result compared with the original: the selected layer, else the top one."""
        if self.model is None or not self.model.doc.layers:
            return None
        selected = self.model.selected_layer
        return selected.uid if selected is not None else self.model.doc.layers[-1].uid

    def _refresh_visibility(self) -> None:
        if self.model is None:
            return
        original_only = self.show_original or self._held_original
        compare_uid = self._compare_layer_uid() if self.compare else None
        for layer in self.model.doc.layers:
            item = self._layer_items[layer.uid]
            if original_only:
                item.setVisible(False)
            elif compare_uid is not None:
                item.setVisible(layer.uid == compare_uid)
                item.setOpacity(1.0)
            else:
                item.setVisible(layer.visible)
                item.setOpacity(layer.opacity)
        if self._split_item is not None:
            self._split_item.setVisible(compare_uid is not None and not original_only)
        if self._mask_item is not None:
            self._mask_item.setVisible(self.mask_visible and not original_only and compare_uid is None)
        self.viewport().update()

    # --- mask display --------------------------------------------------------------------
    def _on_mask_changed(self, rect: mask_ops.Rect | None) -> None:
        if self.overlay is None or self.model is None or self._mask_item is None:
            return
        self.overlay.update(self.model.doc.mask, rect)
        if rect is None:
            self._mask_item.update()
        else:
            x0, y0, x1, y1 = rect
            self._mask_item.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    def set_overlay_style(self, color: QColor, opacity: float) -> None:
        self.overlay_color, self.overlay_opacity = QColor(color), float(opacity)
        if self.overlay is not None and self.model is not None:
            self.overlay.set_style(color, opacity)
            self._on_mask_changed(None)

    def set_mask_visible(self, visible: bool) -> None:
        self.mask_visible = visible
        self._refresh_visibility()

    # --- compare -------------------------------------------------------------------------
    def can_compare(self) -> bool:
        return self._compare_layer_uid() is not None

    def set_compare(self, on: bool) -> None:
        on = bool(on) and self.can_compare()
        if on == self.compare:
            return
        self.compare = on
        if on and self._split_item is not None:
            self._split_item.set_divider(self.visible_photo_rect().center().x())
        self._refresh_visibility()
        self.compare_changed.emit(on)

    def visible_photo_rect(self) -> QRectF:
        """The part of the photo (scene coordinates) shown in the viewport now."""
        shown = self.mapToScene(self.viewport().rect()).boundingRect().intersected(self.sceneRect())
        return shown if not shown.isEmpty() else self.sceneRect()

    @property
    def divider_x(self) -> float:
        return self._split_item.divider_x if self._split_item is not None else 0.0

    def set_divider(self, x: float) -> None:
        if self._split_item is not None:
            old = self.mapFromScene(QPointF(self._split_item.divider_x, 0)).x()
            old_labels = [box for _, box in self.compare_labels()]
            self._split_item.set_divider(x)
            new = self.mapFromScene(QPointF(self._split_item.divider_x, 0)).x()
            lo, hi = min(old, new), max(old, new)
            self.viewport().update(QRect(lo - 12, 0, hi - lo + 24, self.viewport().height()))
            for box in old_labels + [box for _, box in self.compare_labels()]:
                self.viewport().update(box.adjusted(-2, -2, 2, 2))

    def set_show_original(self, on: bool) -> None:
        if on != self.show_original:
            self.show_original = on
            self._refresh_visibility()
            self.show_original_changed.emit(on)

    def set_hold_original(self, held: bool) -> None:
        """While a key is held, show the original alone."""
        if held != self._held_original:
            self._held_original = held
            self._refresh_visibility()

    @property
    def showing_original(self) -> bool:
        return self.show_original or self._held_original

    COMPARE_LABEL_GAP = 6  # viewport pixels between the divider and a label

    def compare_labels(self) -> list[tuple[str, QRect]]:
        """The labels drawn beside the compare divider, with their viewport rectangles: "Original" on
        its left, "Result" (and the compared layer's name) on its right. A side too narrow on screen
        for its label gets none."""
        if not (self.compare and self._split_item is not None and self._split_item.isVisible()):
            return []
        layer = self.model.doc.layer(self._compare_layer_uid()) if self.model is not None else None
        right_text = f"Result: {layer.name}" if layer is not None and layer.name else "Result"
        photo = self.mapFromScene(self.visible_photo_rect()).boundingRect()
        x = self.mapFromScene(QPointF(self._split_item.divider_x, 0)).x()
        metrics = QFontMetrics(self._label_font())
        height = metrics.height() + 4
        top = max(photo.top(), 0) + 8
        labels = []
        gap = self.COMPARE_LABEL_GAP
        left_w = metrics.horizontalAdvance("Original") + 12
        if x - gap - left_w >= max(photo.left(), 0):
            labels.append(("Original", QRect(x - gap - left_w, top, left_w, height)))
        room = min(photo.right(), self.viewport().width()) - (x + gap)
        right_text = metrics.elidedText(right_text, Qt.TextElideMode.ElideRight, max(room - 12, 0))
        right_w = metrics.horizontalAdvance(right_text) + 12
        if right_text and right_text != "…" and right_w <= room:
            labels.append((right_text, QRect(x + gap, top, right_w, height)))
        return labels

    def _label_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        return font

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        if not (self.compare and self._split_item is not None and self._split_item.isVisible()):
            return
        top = self.mapFromScene(QPointF(self._split_item.divider_x, 0))
        bottom = self.mapFromScene(QPointF(self._split_item.divider_x, self.sceneRect().height()))
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for color, width in ((QColor(0, 0, 0, 150), 3), (QColor(255, 255, 255), 1)):
            painter.setPen(QPen(color, width))
            painter.drawLine(top, bottom)
        mid_y = max(top.y(), 0) + (min(bottom.y(), self.viewport().height()) - max(top.y(), 0)) // 2
        painter.setBrush(QColor(255, 255, 255))
        painter.setPen(QPen(QColor(0, 0, 0, 150), 1))
        painter.drawEllipse(QPointF(top.x(), mid_y), 7, 7)
        painter.setFont(self._label_font())
        for text, box in self.compare_labels():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 170))
            painter.drawRoundedRect(QRectF(box), 4, 4)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    # --- zoom ----------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return float(self.transform().m11())

    def fit_zoom(self) -> float:
        r = self.sceneRect()
        if r.isEmpty():
            return 1.0
        vp = self.maximumViewportSize()  # without scroll bars: a fitted photo needs none
        return max(1e-4, min(vp.width() / r.width(), vp.height() / r.height()))

    def fit(self) -> None:
        if not self.sceneRect().isEmpty():
            self.set_zoom(self.fit_zoom())
            self.centerOn(self.sceneRect().center())

    def zoom_100(self) -> None:
        self.set_zoom(1.0)

    def min_zoom(self) -> float:
        return min(self.fit_zoom(), 1.0) / 4

    def set_zoom(self, zoom: float, anchor: QPoint | None = None) -> None:
        """Set the scale, keeping the scene point under `anchor` (a viewport position; the viewport's
        centre by default) in place. Along an axis where the photo fits the window it is centred."""
        zoom = max(self.min_zoom(), min(MAX_ZOOM, float(zoom)))
        if anchor is None:
            anchor = self.viewport().rect().center()
        before = self.mapToScene(anchor)
        self.setTransform(self.transform().fromScale(zoom, zoom))
        # Show or hide the scroll bars now (Qt does it later, from a queued signal): the viewport
        # changes size when they come or go, which would shift the photo after the anchor was kept.
        self.event(QEvent(QEvent.Type.LayoutRequest))
        after = self.mapToScene(anchor)
        hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
        hbar.setValue(hbar.value() + round((before.x() - after.x()) * zoom))
        vbar.setValue(vbar.value() + round((before.y() - after.y()) * zoom))
        for item in [self._base_item, self._split_item, *self._layer_items.values()]:
            if item is not None:
                self._apply_smoothing(item)
        self._update_outline_radius()
        self._place_outline()
        self.zoom_changed.emit(self.zoom)

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        self.set_zoom(self.zoom * factor, anchor)

    def _apply_smoothing(self, item: QGraphicsPixmapItem) -> None:
        smooth = self.zoom < 1.0
        mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
        if item.transformationMode() != mode:
            item.setTransformationMode(mode)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        delta = event.angleDelta().y()
        if delta == 0 or self.model is None:
            super().wheelEvent(event)
            return
        self.zoom_by(WHEEL_STEP ** (delta / 120.0), event.position().toPoint())
        event.accept()

    # --- mouse ---------------------------------------------------------------------------
    def image_pos(self, view_pos: QPoint | QPointF) -> QPointF:
        return self.mapToScene(view_pos.toPoint() if isinstance(view_pos, QPointF) else view_pos)

    def _near_divider(self, view_pos: QPoint) -> bool:
        if not self.compare or self._split_item is None:
            return False
        x = self.mapFromScene(QPointF(self._split_item.divider_x, 0)).x()
        return abs(view_pos.x() - x) <= DIVIDER_GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position().toPoint()
        self._last_view_pos = pos
        if self.model is None or self._drag is not None:
            return
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._drag = "pan"
        elif button == Qt.MouseButton.LeftButton and self._near_divider(pos):
            self._drag = "divider"
        elif button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._begin_tool(self.image_pos(pos), erase=self._erasing(event))
        self._update_cursor()
        event.accept()

    def _erasing(self, event: QMouseEvent) -> bool:
        """Eraser tool, the right button, or Alt with any mask tool removes from the mask."""
        alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        right = event.button() == Qt.MouseButton.RightButton
        return (self.tools.tool == Tool.ERASER) != (alt or right)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position().toPoint()
        self._hover_pos = pos
        scene_pos = self.image_pos(pos)
        self._move_outline(scene_pos)
        if self._drag == "pan":
            delta = pos - self._last_view_pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        elif self._drag == "divider":
            self.set_divider(scene_pos.x())
        elif self._drag == "stroke":
            self._continue_stroke(scene_pos)
        elif self._drag in ("rect", "lasso"):
            self._update_shape(scene_pos)
        elif self.model is not None:
            self._update_cursor(pos)
        self._last_view_pos = pos
        if self.model is not None:
            inside = self.sceneRect().contains(scene_pos)
            self.cursor_moved.emit(*(int(scene_pos.x()), int(scene_pos.y())) if inside else (-1, -1))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag == "stroke":
            self._end_stroke()
        elif self._drag in ("rect", "lasso"):
            self._finish_shape()
        self._drag = None
        self._update_cursor(event.position().toPoint())
        event.accept()

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802
        """The cursor leaving the picture area (for a scroll bar, a panel, another window) takes the
        brush outline with it; the view's own leave event does not come while on its scroll bars."""
        if event.type() == QEvent.Type.Leave:
            self._hover_pos = None
            self._outline.setVisible(False)
            self.cursor_moved.emit(-1, -1)
        return super().viewportEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover_pos = None
        self._outline.setVisible(False)
        self.cursor_moved.emit(-1, -1)
        super().leaveEvent(event)

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        super().scrollContentsBy(dx, dy)
        self._place_outline()  # the picture moved under a still cursor
        if self.compare:
            self.viewport().update()  # the divider's handle and labels stay put on screen; repaint them

    # --- tools ---------------------------------------------------------------------------
    def _begin_tool(self, p: QPointF, erase: bool) -> None:
        assert self.model is not None
        self._drag_erase = erase
        tool = self.tools.tool
        if tool.paints:
            self._drag = "stroke"
            self._stroke_before = self.model.doc.mask.copy()
            self._stroke_rect = None
            self._last_point = (p.x(), p.y())
            self._stamp(self._last_point, self._last_point)
        elif tool == Tool.RECT:
            self._drag = "rect"
            self._shape_start = p
            self._shape_item = self.scene().addRect(QRectF(p, p), self._shape_pen())
            self._shape_item.setZValue(Z_SHAPE)
        elif tool == Tool.LASSO:
            self._drag = "lasso"
            self._lasso = [(p.x(), p.y())]
            self._shape_item = self.scene().addPath(QPainterPath(p), self._shape_pen())
            self._shape_item.setZValue(Z_SHAPE)

    def _shape_pen(self) -> QPen:
        pen = QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        return pen

    def _stamp(self, p0: tuple[float, float], p1: tuple[float, float]) -> None:
        assert self.model is not None
        rect = mask_ops.stamp_segment(
            self.model.doc.mask, p0, p1, self.tools.brush_size / 2, self.tools.hardness, erase=self._drag_erase
        )
        if rect is not None:
            self._stroke_rect = mask_ops.union_rect(self._stroke_rect, rect)
            self.model.notify_mask_changed(rect)

    def _continue_stroke(self, p: QPointF) -> None:
        point = (p.x(), p.y())
        if self._last_point is not None and point != self._last_point:
            self._stamp(self._last_point, point)
            self._last_point = point

    def _end_stroke(self) -> None:
        assert self.model is not None and self._stroke_before is not None
        if self._stroke_rect is not None:
            text = "Erase mask" if self._drag_erase else "Paint mask"
            edit = MaskPatchEdit.from_masks(self._stroke_before, self.model.doc.mask, text, hint=self._stroke_rect)
            if edit is not None:
                self.model.push(edit, applied=True)
        self._stroke_before = None
        self._stroke_rect = None
        self._last_point = None

    def _update_shape(self, p: QPointF) -> None:
        if isinstance(self._shape_item, QGraphicsRectItem):
            self._shape_item.setRect(QRectF(self._shape_start, p).normalized())
        elif isinstance(self._shape_item, QGraphicsPathItem):
            self._lasso.append((p.x(), p.y()))
            path = self._shape_item.path()
            path.lineTo(p)
            self._shape_item.setPath(path)

    def _finish_shape(self) -> None:
        assert self.model is not None
        value = 0 if self._drag_erase else 255
        new = self.model.doc.mask.copy()
        if isinstance(self._shape_item, QGraphicsRectItem):
            r = self._shape_item.rect()
            rect = (round(r.left()), round(r.top()), round(r.right()), round(r.bottom()))
            changed = mask_ops.fill_rect(new, rect, value)
            text = "Rectangle"
        else:
            changed = mask_ops.fill_polygon(new, self._lasso, value)
            text = "Lasso"
        self._remove_shape()
        if changed is not None:
            edit = MaskPatchEdit.from_masks(self.model.doc.mask, new, f"{text} {'erase' if value == 0 else 'fill'}", changed)
            if edit is not None:
                self.model.push(edit)

    def _remove_shape(self) -> None:
        if self._shape_item is not None:
            self.scene().removeItem(self._shape_item)
            self._shape_item = None
        self._lasso = []

    def _cancel_drag(self) -> None:
        """Abandon a drag in progress (document switched); a half stroke is still recorded."""
        if self._drag == "stroke" and self.model is not None:
            self._end_stroke()
        self._remove_shape()
        self._drag = None

    # --- keys ----------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.isAutoRepeat() and event.key() == Qt.Key.Key_Space:
            event.accept()
            return
        if event.key() == Qt.Key.Key_Space:
            self._space_down = True
            self._update_cursor()
        elif event.key() == Qt.Key.Key_Escape and self._drag in ("rect", "lasso"):
            self._remove_shape()
            self._drag = None
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.isAutoRepeat():
            event.accept()
            return
        if event.key() == Qt.Key.Key_Space:
            self._space_down = False
            self._update_cursor()
        else:
            super().keyReleaseEvent(event)
            return
        event.accept()

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self._space_down = False
        super().focusOutEvent(event)

    # --- cursor --------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.tools.tool = tool
        self._update_cursor()

    def set_brush_size(self, size: int) -> None:
        size = int(max(1, min(1000, size)))
        if size != self.tools.brush_size:
            self.tools.brush_size = size
            self.brush_size_changed.emit(size)
        self._update_outline_radius()

    def step_brush_size(self, up: bool) -> None:
        self.set_brush_size(ToolSettings(brush_size=self.tools.brush_size).step_size(up))

    def _update_outline_radius(self) -> None:
        self._outline.set_radius(max(1.0, self.tools.brush_size / 2 * self.zoom))

    def _place_outline(self) -> None:
        """Put the outline back under the cursor after the picture moved or was zoomed under it."""
        if self._hover_pos is None:
            self._outline.setVisible(False)
        else:
            self._move_outline(self.image_pos(self._hover_pos))

    def _move_outline(self, scene_pos: QPointF) -> None:
        show = self.model is not None and self.tools.tool.paints and self._drag in (None, "stroke") and not self._space_down
        self._outline.setVisible(show)
        if show:
            self._outline.setPos(scene_pos)

    def _update_cursor(self, pos: QPoint | None = None) -> None:
        if self._drag == "pan":
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space_down:
            shape = Qt.CursorShape.OpenHandCursor
        elif self._drag == "divider" or (pos is not None and self._near_divider(pos)):
            shape = Qt.CursorShape.SplitHCursor
        elif self.model is not None and self.tools.tool.paints:
            shape = Qt.CursorShape.BlankCursor if self._outline.radius >= 4 else Qt.CursorShape.CrossCursor
        else:
            shape = Qt.CursorShape.CrossCursor
        self.viewport().setCursor(QCursor(shape))
