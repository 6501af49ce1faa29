from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from restorer_gui.qt.canvas.view import MAX_ZOOM

from .conftest import solid


def wheel(view, pos: QPoint, delta: int):
    vp = view.viewport()
    event = QWheelEvent(
        QPointF(pos), QPointF(vp.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, delta),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(vp, event)


def test_fit_and_100_percent(window, open_doc):
    open_doc(solid(2000, 1000, (1, 2, 3)))
    view = window.view
    window.act_fit.trigger()
    vp = view.viewport().rect()
    assert abs(view.zoom - min(vp.width() / 2000, vp.height() / 1000)) < 1e-6
    window.act_100.trigger()
    assert view.zoom == 1.0
    assert [s.toString() for s in window.act_fit.shortcuts()] == ["Ctrl+0"]
    assert [s.toString() for s in window.act_100.shortcuts()] == ["Ctrl+1"]


def test_wheel_zooms_around_the_cursor_up_to_3200_percent(window, open_doc):
    open_doc(solid(3000, 2000, (1, 2, 3)))
    view = window.view
    view.zoom_100()
    pos = QPoint(120, 90)
    anchor = view.mapToScene(pos)
    wheel(view, pos, 120)
    assert abs(view.zoom - 1.25) < 1e-6
    after = view.mapToScene(pos)
    assert abs(after.x() - anchor.x()) <= 1.0 and abs(after.y() - anchor.y()) <= 1.0
    for _ in range(40):
        wheel(view, pos, 120)
    assert view.zoom == MAX_ZOOM
    for _ in range(60):
        wheel(view, pos, -120)
    assert abs(view.zoom - view.min_zoom()) < 1e-9


def test_pixels_are_crisp_when_zoomed_in(window, open_doc):
    import numpy as np

    pixels = np.zeros((20, 20, 3), np.uint8)
    pixels[:, 10:] = 255
    open_doc(pixels)
    view = window.view
    view.set_zoom(16.0)
    view.centerOn(10, 10)
    image = view.viewport().grab().toImage()
    edge = view.mapFromScene(QPointF(10, 10))
    left = image.pixelColor(edge.x() - 2, edge.y()).red()
    right = image.pixelColor(edge.x() + 2, edge.y()).red()
    assert (left, right) == (0, 255)  # no blurred ramp across the pixel edge


def test_middle_button_and_space_drag_pan(window, open_doc, qtbot):
    model = open_doc(solid(3000, 3000, (5, 5, 5)))
    view = window.view
    view.zoom_100()
    h0, v0 = view.horizontalScrollBar().value(), view.verticalScrollBar().value()
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.MiddleButton, pos=QPoint(200, 200))
    qtbot.mouseMove(vp, QPoint(150, 170))
    qtbot.mouseRelease(vp, Qt.MouseButton.MiddleButton, pos=QPoint(150, 170))
    assert (view.horizontalScrollBar().value(), view.verticalScrollBar().value()) == (h0 + 50, v0 + 30)
    view.setFocus()
    qtbot.keyPress(view, Qt.Key.Key_Space)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    qtbot.mouseMove(vp, QPoint(210, 220))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=QPoint(210, 220))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert (view.horizontalScrollBar().value(), view.verticalScrollBar().value()) == (h0 + 40, v0 + 10)
    assert model.doc.mask.max() == 0  # panning never paints
