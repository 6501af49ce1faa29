import numpy as np
from PySide6.QtCore import QPointF, Qt

from .conftest import solid


def pixel(view, x, y):
    """Colour on screen at a scene position (as painted into the viewport)."""
    image = view.viewport().grab().toImage()
    p = view.mapFromScene(QPointF(x, y))
    c = image.pixelColor(p.x(), p.y())
    return c.red(), c.green(), c.blue()


def add_layer(model, rgb, name="result"):
    layer = model.doc.make_layer(name, solid(model.doc.width, model.doc.height, rgb), "test")
    model.add_layer(layer)
    return layer


def test_layers_panel_add_hide_opacity_rename_move_delete_with_undo(window, open_doc):
    model = open_doc(solid(80, 60, (0, 0, 0)))
    window.view.zoom_100()
    a = add_layer(model, (200, 0, 0), "a")
    b = add_layer(model, (0, 0, 200), "b")
    panel = window.layers_panel
    assert [panel.list.item(i).text() for i in range(3)] == ["b", "a", "Original  (8-bit)"]
    assert pixel(window.view, 40, 30) == (0, 0, 200)
    panel.list.item(0).setCheckState(Qt.CheckState.Unchecked)  # hide b
    assert not b.visible and pixel(window.view, 40, 30) == (200, 0, 0)
    model.select_layer(a.uid)
    panel.opacity.setValue(50)
    assert a.opacity == 0.5
    r, g, bl = pixel(window.view, 40, 30)
    assert abs(r - 100) <= 2 and g == 0
    panel.list.item(1).setText("scratches removed")
    assert a.name == "scratches removed"
    panel.down_button.click() if panel.down_button.isEnabled() else None
    panel.up_button.click()
    assert model.doc.layers[-1] is a
    panel.delete_button.click()
    assert a not in model.doc.layers
    expected_texts = ["Delete layer", "Move layer", "Rename layer", "Layer opacity", "Show/hide layer"]
    for text in expected_texts:
        assert model.undo_stack.undoText().startswith(text)
        window.act_undo.trigger()
    assert [layer.name for layer in model.doc.layers] == ["a", "b"]
    assert a.opacity == 1.0 and b.visible
    assert pixel(window.view, 40, 30) == (0, 0, 200)


def test_opacity_drag_merges_into_one_step(window, open_doc):
    model = open_doc(solid(20, 20, (0, 0, 0)))
    layer = add_layer(model, (255, 255, 255))
    before = model.undo_stack.count()
    for v in (90, 70, 40):
        window.layers_panel.opacity.setValue(v)
    assert model.undo_stack.count() == before + 1 and layer.opacity == 0.4
    window.layers_panel.opacity.sliderReleased.emit()
    window.layers_panel.opacity.setValue(20)
    assert model.undo_stack.count() == before + 2
    window.act_undo.trigger()
    window.act_undo.trigger()
    assert layer.opacity == 1.0


def test_split_compare_shows_original_left_and_result_right(window, open_doc, qtbot):
    model = open_doc(solid(200, 100, (10, 10, 10)))
    view = window.view
    view.fit()
    assert not window.act_compare.isEnabled()
    add_layer(model, (250, 250, 250))
    assert window.act_compare.isEnabled()
    window.act_compare.trigger()
    assert view.compare and view.divider_x == 100
    assert pixel(view, 50, 50) == (10, 10, 10)
    assert pixel(view, 150, 50) == (250, 250, 250)
    # drag the divider to x = 160
    vp = view.viewport()
    start = view.mapFromScene(QPointF(100, 50))
    end = view.mapFromScene(QPointF(160, 50))
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    qtbot.mouseMove(vp, end)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert abs(view.divider_x - 160) <= 1.5
    assert pixel(view, 150, 50) == (10, 10, 10)
    assert model.doc.mask.max() == 0  # dragging the divider did not paint
    window.act_compare.trigger()
    assert pixel(view, 50, 50) == (250, 250, 250)


def test_compare_uses_the_selected_result(window, open_doc):
    model = open_doc(solid(100, 50, (0, 0, 0)))
    a = add_layer(model, (100, 0, 0), "a")
    add_layer(model, (0, 100, 0), "b")
    model.select_layer(a.uid)
    window.view.set_compare(True)
    assert pixel(window.view, 90, 25) == (100, 0, 0)


def test_toggle_and_hold_key_show_the_original(window, open_doc, qtbot):
    model = open_doc(solid(100, 50, (0, 0, 0)))
    add_layer(model, (0, 0, 255))
    view = window.view
    view.setFocus()
    assert pixel(view, 50, 25) == (0, 0, 255)
    window.act_show_original.trigger()
    assert pixel(view, 50, 25) == (0, 0, 0)
    window.act_show_original.trigger()
    qtbot.keyPress(view, Qt.Key.Key_Backslash)
    assert view.showing_original and pixel(view, 50, 25) == (0, 0, 0)
    qtbot.keyRelease(view, Qt.Key.Key_Backslash)
    assert not view.showing_original and pixel(view, 50, 25) == (0, 0, 255)


def test_mask_overlay_colour_and_opacity(window, open_doc):
    model = open_doc(solid(40, 40, (0, 0, 0)))
    window.view.zoom_100()
    window.act_fill.trigger()
    window.overlay_slider.setValue(100)
    assert pixel(window.view, 20, 20) == (255, 42, 42)
    window.act_show_mask.trigger()
    assert pixel(window.view, 20, 20) == (0, 0, 0)
    assert model.doc.mask.min() == 255


def test_flatten_matches_what_is_shown(window, open_doc):
    model = open_doc(solid(30, 30, (0, 0, 0)))
    layer = add_layer(model, (200, 100, 50))
    model.change_layer(layer.uid, opacity=0.5)
    flat = model.doc.flatten()
    assert tuple(flat[0, 0]) == (100, 50, 25)
    np.testing.assert_array_equal(model.doc.original, 0)


def test_peek_key_works_with_focus_in_the_layers_panel(window, open_doc, qtbot):
    model = open_doc(solid(100, 50, (0, 0, 0)))
    add_layer(model, (0, 0, 255))
    window.layers_panel.list.setFocus()
    qtbot.keyPress(window.layers_panel.list, Qt.Key.Key_Backslash)
    assert window.view.showing_original
    qtbot.keyRelease(window.layers_panel.list, Qt.Key.Key_Backslash)
    assert not window.view.showing_original
    qtbot.keyPress(window.size_spin, Qt.Key.Key_Backslash)  # typing in a field is not a peek
    assert not window.view.showing_original
