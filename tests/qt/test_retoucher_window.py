"""Issue #18, the window as a retoucher uses it: the mask colour picker, the shortcut list, project
folders and recent projects, the title of an open project, the tool bar at 800 px, About's models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import QApplication, QColorDialog, QDialog

from restorer_gui import settings
from restorer_gui.qt.dialogs.preferences import ColorButton, PreferencesDialog
from restorer_gui.qt.dialogs.shortcuts import ShortcutsDialog

from .conftest import solid
from .test_dialog_fields import menu_action


def run_modal(qtbot, open_it, work) -> None:
    """Call *open_it*; *work(dialog)* runs on the modal dialog it opens, which is closed after."""
    state: dict = {}

    def step() -> None:
        dialog = QApplication.activeModalWidget()
        try:
            work(dialog)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            state["error"] = exc
        finally:
            state["done"] = True
            if isinstance(dialog, QDialog) and dialog.isVisible():
                dialog.reject()

    QTimer.singleShot(0, step)
    open_it()
    qtbot.waitUntil(lambda: "done" in state, timeout=10_000)
    if "error" in state:
        raise state["error"]


def swatch_colour(button: ColorButton) -> QColor:
    image = button.icon().pixmap(button.iconSize()).toImage()
    return image.pixelColor(image.width() // 2, image.height() // 2)


# --- 5. the mask colour is picked, not typed --------------------------------------------------
def test_mask_colour_is_chosen_with_a_colour_picker(window, qtbot):
    window.settings.overlay_color = "#123456"  # a saved hex value is shown and kept
    seen = {}

    def in_preferences(dialog):
        assert isinstance(dialog, PreferencesDialog)
        button = dialog.overlay_color
        assert isinstance(button, ColorButton)
        dialog.tabs.setCurrentIndex(dialog.tabs.count() - 1)  # Editing
        assert button.isVisible() and button.text() == "#123456"
        assert swatch_colour(button).name() == "#123456"
        seen["untouched"] = dialog.result_settings().overlay_color

        def in_picker(picker):
            assert isinstance(picker, QColorDialog)
            assert picker.currentColor().name() == "#123456"  # the picker starts at the current one
            picker.setCurrentColor(QColor("#00c040"))
            picker.accept()

        def cancel_picker(picker):
            assert isinstance(picker, QColorDialog)
            picker.setCurrentColor(QColor("#ffff00"))

        run_modal(qtbot, lambda: qtbot.mouseClick(button, Qt.MouseButton.LeftButton), cancel_picker)
        assert button.text() == "#123456"  # Cancel keeps the colour
        run_modal(qtbot, lambda: qtbot.mouseClick(button, Qt.MouseButton.LeftButton), in_picker)
        assert button.text() == "#00c040" and swatch_colour(button).name() == "#00c040"
        dialog.accept()
        seen["accepted"] = True

    run_modal(qtbot, menu_action(window, "Edit", "Preferences…").trigger, in_preferences)
    assert seen == {"untouched": "#123456", "accepted": True}
    assert window.settings.overlay_color == "#00c040"
    assert settings.load().overlay_color == "#00c040"  # on disk
    assert window.view.overlay_color.name() == "#00c040"


def test_a_saved_colour_that_is_not_one_shows_the_default(qtbot):
    dialog = PreferencesDialog(settings.Settings(overlay_color="nonsense\0"))
    qtbot.addWidget(dialog)
    assert dialog.overlay_color.text() == settings.Settings().overlay_color
    assert dialog.result_settings().overlay_color == "nonsense\0"  # nothing picked: left as it was
    dialog.overlay_color.set_color(QColor("red"))
    assert dialog.result_settings().overlay_color == "#ff0000"


# --- 6. Help ▸ Keyboard Shortcuts… ------------------------------------------------------------
def shortcut_rows(window, qtbot, filter_text: str = "") -> tuple[list, list]:
    found = {}

    def look(dialog):
        assert isinstance(dialog, ShortcutsDialog) and dialog.windowTitle() == "Keyboard Shortcuts"
        found["all"] = dialog.rows()
        if filter_text:
            qtbot.keyClicks(dialog.filter, filter_text)
        found["shown"] = dialog.rows(visible_only=True)

    run_modal(qtbot, menu_action(window, "Help", "Keyboard Shortcuts…").trigger, look)
    return found["all"], found["shown"]


def test_keyboard_shortcuts_lists_every_menu_command_with_a_key(window, qtbot):
    rows, _ = shortcut_rows(window, qtbot)
    by_command = {(menu, command): keys for menu, command, keys in rows}
    listed = 0
    for top in window.menuBar().actions():
        for action in top.menu().actions():
            if action.menu() is None and not action.isSeparator() and action.shortcuts():
                menu, command = top.text().replace("&", ""), action.text().replace("&", "")
                keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
                assert (menu, command) in by_command, f"{menu} ▸ {command} is not listed"
                assert by_command[(menu, command)].split(", ") == keys
                listed += 1
    assert listed >= 25
    assert by_command[("View", "Split Compare")] == "C"
    assert by_command[("Mask", "Bigger Brush")] == "]"
    canvas = {command: keys for menu, command, keys in rows if menu == "Canvas"}
    assert "Space" in canvas["Pan"] and "Alt" in canvas["Remove from the mask with any mask tool"]
    assert canvas["Smaller / bigger brush"].split() == ["[", "/", "]"] and "\\" in canvas["Peek at the original"]


def test_keyboard_shortcuts_follow_the_actions_and_filter(window, qtbot):
    window.act_fill.setShortcut(QKeySequence("Ctrl+Alt+F"))
    rows, shown = shortcut_rows(window, qtbot, "zoom")
    assert ("Mask", "Fill Mask", QKeySequence("Ctrl+Alt+F").toString(QKeySequence.SequenceFormat.NativeText)) in rows
    assert shown and len(shown) < len(rows)
    assert all("zoom" in " ".join(row).lower() for row in shown)
    assert ("View", "Zoom In", "Ctrl++, Ctrl+=") in shown
