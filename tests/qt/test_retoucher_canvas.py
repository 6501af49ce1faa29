"""Issue #18, the canvas as a retoucher uses it: wheel zoom that never jumps, a brush outline that
follows the cursor and leaves with it, a compare divider that starts on screen, with labels."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from .conftest import solid
from .test_layers_compare import add_layer
from .test_zoom_pan import wheel


def settle():
    """Let Qt finish what it queued (scroll bars appear from a queued signal), as a user's window does."""
    QApplication.processEvents()


def hover(view, pos: QPoint) -> None:
    vp = view.viewport()
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(vp.mapToGlobal(pos)), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, event)


def expected_edge(cursor: float, anchor: float, zoom: float, size: int, viewport: int, canvas: int) -> float:
    """Where the photo's left (top) edge belongs after a zoom around *cursor*: the anchor point stays
    under the cursor as far as the photo allows; a photo that fits the canvas is centred in it (the
    canvas being the view's area, its scroll bars included, as Qt centres it)."""
    shown = size * zoom
    if shown <= viewport:
        return (canvas - shown) / 2
    return max(min(cursor - anchor * zoom, 0.0), viewport - shown)


@pytest.mark.parametrize("size", [(300, 2000), (300, 200), (3000, 200), (2500, 2000)])
def test_wheel_zoom_never_jumps_sideways(window, open_doc, qtbot, size):
    width, height = size
    open_doc(solid(width, height, (90, 90, 90)))
    view, vp = window.view, window.view.viewport()
    pos = QPoint(vp.width() // 2 + 60, 200)
    qtbot.mouseMove(vp, pos)
    for delta in [120] * 14 + [-120] * 16:
        anchor = view.mapToScene(pos)
        wheel(view, pos, delta)
        settle()
        zoom, canvas = view.zoom, view.maximumViewportSize()
        corner = view.mapFromScene(QPointF(0, 0))
        want_x = expected_edge(pos.x(), anchor.x(), zoom, width, vp.width(), canvas.width())
        want_y = expected_edge(pos.y(), anchor.y(), zoom, height, vp.height(), canvas.height())
        assert abs(corner.x() - want_x) <= 1.5, f"sideways jump at {zoom:.3f}: {corner.x()} != {want_x:.1f}"
        assert abs(corner.y() - want_y) <= 1.5, f"vertical jump at {zoom:.3f}: {corner.y()} != {want_y:.1f}"


def outline_on_screen(view) -> tuple[QPoint, float]:
    return view.mapFromScene(view._outline.pos()), view._outline.radius


def test_brush_outline_follows_the_cursor_through_zooms(window, open_doc, qtbot):
    open_doc(solid(300, 2000, (90, 90, 90)))  # narrower than the window: zooming moves it under the cursor
    view = window.view
    view.set_brush_size(20)
    pos = QPoint(view.viewport().width() // 2 + 30, 150)
    hover(view, pos)
    for zoom in (window.act_zoom_in, window.act_zoom_in, window.act_zoom_out):
        zoom.trigger()  # from the keyboard: the cursor stays where it was
        centre, radius = outline_on_screen(view)
        assert view._outline.isVisible()
        assert (centre - pos).manhattanLength() <= 2, (centre, pos)
        assert abs(radius - 10 * view.zoom) < 1e-6
    wheel(view, pos, 120)
    settle()
    centre, radius = outline_on_screen(view)
    assert (centre - pos).manhattanLength() <= 2 and abs(radius - 10 * view.zoom) < 1e-6
    # the ring is drawn where the cursor is: a white or black pixel on its right edge
    image = view.viewport().grab().toImage()
    ring = [image.pixelColor(pos.x() + round(radius) + dx, pos.y()).red() for dx in (-1, 0, 1)]
    assert any(v in (0, 255) for v in ring), ring


def test_brush_outline_hides_when_the_cursor_leaves_the_picture(window, open_doc, qtbot):
    open_doc(solid(2000, 2000, (90, 90, 90)))
    view = window.view
    view.zoom_100()  # scroll bars shown
    view.set_brush_size(40)
    pos = QPoint(view.viewport().width() - 40, 100)
    qtbot.mouseMove(view.viewport(), pos)
    hover(view, pos)
    assert view._outline.isVisible()
    edge = QPoint(pos.x() + 20, pos.y())
    assert view.viewport().grab().toImage().pixelColor(edge).red() in (0, 255)
    # onto the vertical scroll bar, which is part of the view but not of the picture
    bar = view.verticalScrollBar()
    assert bar.isVisible()
    qtbot.mouseMove(bar, QPoint(bar.width() // 2, 100))
    qtbot.waitUntil(lambda: not view._outline.isVisible())
    assert view.viewport().grab().toImage().pixelColor(edge).red() == 90
    assert window.pos_label.text() == ""
    # zooming from the keyboard with the cursor away does not bring it back
    window.act_zoom_in.trigger()
    assert not view._outline.isVisible()


def test_compare_divider_starts_in_the_middle_of_what_is_shown(window, open_doc):
    model = open_doc(solid(1000, 800, (10, 10, 10)))
    add_layer(model, (240, 240, 240))
    view, vp = window.view, window.view.viewport()
    view.set_zoom(4.0)
    view.horizontalScrollBar().setValue(0)  # the left edge of the photo: its middle is far off-screen
    view.verticalScrollBar().setValue(0)
    window.act_compare.trigger()
    x = view.mapFromScene(QPointF(view.divider_x, 0)).x()
    assert abs(x - vp.width() / 2) <= 2, (x, vp.width())
    image = vp.grab().toImage()
    assert image.pixelColor(x - 30, vp.height() // 2).red() == 10  # original on the left
    assert image.pixelColor(x + 30, vp.height() // 2).red() == 240  # result on the right
    # scrolled to the right edge and compare turned on again: still in the middle of what is shown
    window.act_compare.trigger()
    view.horizontalScrollBar().setValue(view.horizontalScrollBar().maximum())
    window.act_compare.trigger()
    x = view.mapFromScene(QPointF(view.divider_x, 0)).x()
    assert abs(x - vp.width() / 2) <= 2 and 750 < view.divider_x < 1000


def test_compare_labels_name_each_side(window, open_doc):
    model = open_doc(solid(400, 300, (10, 10, 10)))
    add_layer(model, (240, 240, 240), "Inpaint 1")
    view, vp = window.view, window.view.viewport()
    assert view.compare_labels() == []
    window.act_compare.trigger()
    labels = dict(view.compare_labels())
    assert set(labels) == {"Original", "Result: Inpaint 1"}
    x = view.mapFromScene(QPointF(view.divider_x, 0)).x()
    left, right = labels["Original"], labels["Result: Inpaint 1"]
    assert left.right() < x < right.left()
    photo = view.mapFromScene(view.sceneRect()).boundingRect()
    for box in (left, right):
        assert vp.rect().contains(box) and photo.contains(box)
    image = vp.grab().toImage()

    def colours(box):
        return {image.pixelColor(px, py).red() for px in range(box.left(), box.right() + 1)
                for py in range(box.top(), box.bottom() + 1)}

    # each label is a dark box with light text on it, over the side it names
    for box, side in ((left, 10), (right, 240)):
        seen = colours(box)
        assert min(seen) <= side // 2 and max(seen) >= 200, (box, sorted(seen))
    assert colours(left.translated(0, left.height() + 8)) == {10}
    assert colours(right.translated(0, right.height() + 8)) == {240}
    # the divider at the photo's left edge: nothing of the original shows, so no "Original" label
    view.set_divider(0)
    assert [text for text, _ in view.compare_labels()] == ["Result: Inpaint 1"]
    window.act_compare.trigger()
    assert view.compare_labels() == []
