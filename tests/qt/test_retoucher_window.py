"""Issue #18, the window as a retoucher uses it: the mask colour picker, the shortcut list, project
folders and recent projects, the title of an open project, the tool bar at 800 px, About's models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QColor, QFontMetrics, QKeySequence
from PySide6.QtWidgets import QApplication, QColorDialog, QDialog, QFileDialog, QLabel, QToolBar, QToolButton

from restorer_gui import settings
from restorer_gui.core import imageio
from restorer_gui.qt.dialogs.preferences import ColorButton, PreferencesDialog
from restorer_gui.qt.dialogs.shortcuts import ShortcutsDialog
from restorer_gui.qt.main_window import MainWindow

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


# --- 7. project dialogs remember their folder ---------------------------------------------------
def photo_file(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    imageio.save_image(path, solid(30, 20, (100, 90, 80)))
    return path


def test_project_dialogs_start_in_the_last_project_folder(window, qtbot, tmp_path, dialogs):
    projects = tmp_path / "projects"
    projects.mkdir()
    assert window.open_path(photo_file(tmp_path / "scans", "aunt.png"))
    window.act_fill.trigger()
    seen = {}

    def save_into_projects(dialog):
        assert isinstance(dialog, QFileDialog)
        seen["first"] = Path(dialog.directory().absolutePath())
        dialog.selectFile(str(projects / "aunt.rgproj"))
        dialog.accept()

    run_modal(qtbot, menu_action(window, "File", "Save Project As…").trigger, save_into_projects)
    assert seen["first"] == tmp_path / "scans"  # the first project goes next to its photo
    assert (projects / "aunt.rgproj").is_file() and not window.model.modified
    assert settings.load().last_project_dir == str(projects)  # on disk

    assert window.open_path(photo_file(tmp_path / "other", "uncle.png"))
    window.act_fill.trigger()

    def look(dialog):
        seen["second"] = Path(dialog.directory().absolutePath())
        seen["name"] = Path(dialog.selectedFiles()[0]).name

    run_modal(qtbot, menu_action(window, "File", "Save Project As…").trigger, look)
    assert seen["second"] == projects and seen["name"] == "uncle.rgproj"
    window.model.mark_saved()

    # a new session: Open Project starts there too
    again = MainWindow(settings.load())
    qtbot.addWidget(again)
    again.show()
    run_modal(qtbot, menu_action(again, "File", "Open Project…").trigger,
              lambda dialog: seen.update(opened=Path(dialog.directory().absolutePath())))
    assert seen["opened"] == projects
    again.close()


# --- 8. recent projects on the start page -------------------------------------------------------
def saved_project(window, path: Path) -> Path:
    assert window.open_path(photo_file(path.parent / "scans", path.stem + ".png"))
    model = window.model
    model.doc.mask[2:6, 3:9] = 255
    model.add_layer(model.doc.make_layer("denoised", solid(30, 20, (7, 7, 7)), "denoise"))
    assert window.save_project_to(path)
    return path


def test_the_start_page_lists_recent_projects_and_opens_them(window, qtbot, tmp_path):
    first = saved_project(window, tmp_path / "work" / "first.rgproj")
    second = saved_project(window, tmp_path / "work" / "second.rgproj")
    window.set_document(None)
    page = window.welcome
    assert window.stack.currentWidget() is page
    assert page.recent_projects.isVisible() and page.recent_projects_label.isVisible()
    names = [page.recent_projects.item(i).text() for i in range(page.recent_projects.count())]
    assert names == ["second.rgproj", "first.rgproj"]
    photos = [page.recent.item(i).text() for i in range(page.recent.count())]
    assert photos == ["second.png", "first.png"]  # projects are not listed as photos
    assert settings.load().recent_projects == [str(second), str(first)]

    # a new session opens one from its start page (double-click, as a user does)
    again = MainWindow(settings.load())
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    view = again.welcome.recent_projects
    item = view.item(1)
    assert item.text() == "first.rgproj" and view.isVisible()
    rect = view.visualItemRect(item)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # a double-click's first
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: again.model is not None)
    doc = again.model.doc
    assert doc.project_path == first and len(doc.layers) == 1 and doc.mask[3, 4] == 255
    assert again.stack.currentWidget() is again.view
    assert settings.load().recent_projects[0] == str(first)  # opening moves it to the top
    again.close()


def test_projects_kept_among_recent_photos_move_to_recent_projects(qtbot, tmp_path):
    old = settings.Settings(recent_files=[str(tmp_path / "a.png"), str(tmp_path / "b.rgproj")])
    w = MainWindow(old)
    qtbot.addWidget(w)
    assert w.settings.recent_files == [str(tmp_path / "a.png")]
    assert w.settings.recent_projects == [str(tmp_path / "b.rgproj")]
    assert [a.text() for a in w.recent_menu.actions() if not a.isSeparator()] == ["a.png", "b.rgproj"]


# --- 9. the title names the project -------------------------------------------------------------
def shown_title(window) -> str:
    return window.windowTitle().replace("[*]", "*" if window.isWindowModified() else "")


def test_the_title_names_the_open_project(window, tmp_path):
    path = saved_project(window, tmp_path / "grandma-1931.rgproj")
    assert shown_title(window) == "grandma-1931.rgproj — restorer-gui"  # saved: the project now
    window.set_document(None)
    assert window.open_path(path)
    assert shown_title(window) == "grandma-1931.rgproj — restorer-gui"
    window.act_invert.trigger()
    assert shown_title(window) == "grandma-1931.rgproj* — restorer-gui"
    window.act_undo.trigger()
    assert shown_title(window) == "grandma-1931.rgproj — restorer-gui"
    window.act_invert.trigger()
    assert window.save_project()
    assert shown_title(window) == "grandma-1931.rgproj — restorer-gui"
    assert window.open_path(photo_file(tmp_path / "scans", "plain.png"))
    assert shown_title(window) == "plain.png — restorer-gui"


# --- 10. the tool bars fit an 800 px window ------------------------------------------------------
def test_every_tool_bar_item_shows_in_an_800_px_window(qtbot, dialogs):
    w = MainWindow(settings.Settings())
    qtbot.addWidget(w)
    w.resize(800, 600)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.width() == 800)
    QApplication.processEvents()
    bars = [tb for tb in w.findChildren(QToolBar) if tb.isVisible()]
    assert len(bars) >= 4
    for tb in bars:
        assert w.rect().contains(tb.geometry()), f"{tb.windowTitle()} runs past the window: {tb.geometry()}"
        extension = tb.findChild(QToolButton, "qt_toolbar_ext_button")
        assert extension is None or not extension.isVisible(), f"{tb.windowTitle()} hides items behind »"
        for action in tb.actions():
            widget = tb.widgetForAction(action)
            assert widget is not None and widget.isVisible(), f"{action.iconText()!r} is hidden at 800 px"
    for action in (w.act_compare, w.act_show_original, w.act_overlay_color):
        assert any(tb.widgetForAction(action) is not None and tb.widgetForAction(action).isVisible() for tb in bars)
    assert w.overlay_slider.isVisible() and w.overlay_slider.width() >= 60
    # the colour button is a swatch of the overlay colour
    swatch = w.act_overlay_color.icon().pixmap(16, 16).toImage()
    assert swatch.pixelColor(8, 8).name() == settings.Settings().overlay_color
    w.close()


# --- 11. About shows the model figures in full ----------------------------------------------------
def long_models(monkeypatch):
    from restorer_gui.inference import registry
    from restorer_gui.qt.dialogs import about

    def card(i):
        return registry.ModelInfo(
            id=f"model-{i}", task="denoise", path=Path(f"/models/model-{i}.safetensors"),
            card_path=Path(f"/models/model-{i}.json"), name=f"Grain-aware denoiser number {i}",
            params=1_234_567 * (i + 1),
            metrics={"psnr_sigma15": 33.123456, "ssim_sigma15": 0.912345,
                     "real_scans": {"psnr": 31.5, "ssim": 0.88, "lpips": 0.123}, "speed_ms": 41.7},
            training={"data": "DIV2K + Flickr2K + 4,000 hand-cleaned family scans from 1890–1975, "
                              "synthetic grain at σ 5–50, JPEG quality 30–95, and halftone screens"})

    monkeypatch.setattr(about.registry, "list_models", lambda *a, **k: [card(i) for i in range(3)])


def test_about_shows_every_model_figure_in_full(window, qtbot, monkeypatch):
    long_models(monkeypatch)
    checked = {}

    def look(dialog):
        table = dialog.table
        assert table.rowCount() == 3
        qtbot.waitUntil(lambda: table.viewport().width() > 0)
        QApplication.processEvents()
        # nothing hides to the right: the columns share the table's width
        width = sum(table.columnWidth(c) for c in range(table.columnCount()))
        assert width <= table.viewport().width() + 1, (width, table.viewport().width())
        assert table.horizontalScrollBar().maximum() == 0
        # each cell is tall and wide enough for its wrapped text (nothing elided)
        style = table.style()
        margin = style.pixelMetric(style.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
        metrics = QFontMetrics(table.font())
        flags = int(Qt.TextFlag.TextWordWrap) | int(Qt.TextFlag.TextWrapAnywhere)
        for r in range(table.rowCount()):
            for c in range(table.columnCount()):
                text = table.item(r, c).text()
                room = QRect(0, 0, table.columnWidth(c) - 2 * margin, 10_000)
                need = metrics.boundingRect(room, flags, text)
                assert need.width() <= room.width() and need.height() <= table.rowHeight(r), (r, c, text)
        assert "psnr_sigma15 33.12" in table.item(0, 4).text()
        assert "halftone screens" in table.item(0, 5).text()
        # the versions above the table show in full too
        header = dialog.findChildren(QLabel)[0]
        assert header.heightForWidth(header.width()) <= header.height()
        assert dialog.isSizeGripEnabled()  # and it can be made bigger
        checked["done"] = True

    run_modal(qtbot, menu_action(window, "Help", "About restorer-gui").trigger, look)
    assert checked == {"done": True}


def test_about_rewraps_when_made_narrower(window, qtbot, monkeypatch):
    from restorer_gui.qt.dialogs.about import AboutDialog

    long_models(monkeypatch)
    dialog = AboutDialog("Device: cpu", window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    tall = dialog.table.rowHeight(0)
    dialog.resize(620, dialog.height())
    qtbot.waitUntil(lambda: dialog.table.rowHeight(0) > tall)
    table = dialog.table
    assert sum(table.columnWidth(c) for c in range(6)) <= table.viewport().width() + 1
