"""Export writes the picture, Save Project keeps the work (as a retoucher knows it from GIMP).

A flat PNG/TIFF/JPEG does not hold result layers or the mask: writing one must not mark such a
photo saved nor delete its autosave, and closing it offers to save the project.  A photo without
layers or a mask behaves as before: exporting it saves it.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from restorer_gui.core import imageio
from restorer_gui.core.project import load_project

SB = QMessageBox.StandardButton


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "scan.png"
    imageio.save_image(path, np.full((60, 80, 3), 90, np.uint8))
    return path


@pytest.fixture
def file_dialog(monkeypatch):
    """Answers the save-file dialogs with the paths queued in the returned list."""
    answers: list = []
    asked: list[str] = []

    def get_save_file_name(parent, caption, start="", filters="", selected="", *args, **kwargs):
        asked.append(caption)
        path = answers.pop(0) if answers else ""
        return str(path), selected or ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(get_save_file_name))
    return answers, asked


@pytest.fixture
def prompts(monkeypatch, dialogs):
    """Records the close prompt's buttons as shown (text) and answers with dialogs.answer."""
    seen: list[dict] = []

    def exec_box(box):
        seen.append({"title": box.windowTitle(), "text": box.text(),
                     "buttons": {SB(box.standardButton(b)): b.text() for b in box.buttons()},
                     "default": box.defaultButton().text() if box.defaultButton() else None})
        dialogs.shown.append(("box", box.windowTitle(), box.text(), ""))
        return dialogs.answer

    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    return seen


def paint_and_add_layer(window, qtbot):
    """A brush click on the canvas and a result layer: work that only a project can hold."""
    model = window.model
    window.view.zoom_100()
    p = window.view.mapFromScene(QPointF(30, 30))
    qtbot.mousePress(window.view.viewport(), Qt.MouseButton.LeftButton, pos=p)
    qtbot.mouseRelease(window.view.viewport(), Qt.MouseButton.LeftButton, pos=p)
    assert model.doc.mask.max() == 255
    model.add_layer(model.doc.make_layer("brighter", np.full((60, 80, 3), 200, np.uint8), "test"))
    return model


def autosave_now(window, qtbot):
    with qtbot.waitSignal(window.restore.pool.job_finished, timeout=10_000):
        assert window.autosave.save_now() is not None
    assert window.autosave.project.exists()


def test_export_as_png_then_close_asks_and_saves_the_project(window, qtbot, photo, tmp_path, dialogs, prompts,
                                                             file_dialog):
    answers, asked = file_dialog
    assert window.open_path(photo)
    model = paint_and_add_layer(window, qtbot)
    autosave_now(window, qtbot)
    out = tmp_path / "scan-restored.png"
    answers.append(out)
    window.act_save_as.trigger()  # File ▸ Export Image As…
    assert asked == ["Export the restored photo"]
    np.testing.assert_array_equal(imageio.load_image(out).pixels, model.doc.flatten())
    # the picture is written, the work is not saved: still marked modified, autosave kept
    assert model.modified and window.isWindowModified()
    assert window.autosave.project.exists()
    assert "Save Project" in window.statusBar().currentMessage()
    mask, layer = model.doc.mask.copy(), model.doc.layers[0].pixels.copy()

    dialogs.answer = SB.Save
    answers.append(tmp_path / "scan-work")  # the suffix is added
    assert window.close()
    (prompt,) = prompts
    assert prompt["title"] == "Save the project?"
    assert "1 result layer and the mask" in prompt["text"] and "scan-restored.png" in prompt["text"]
    assert prompt["buttons"][SB.Save] == "Save Project…" and prompt["default"] == "Save Project…"
    assert asked[-1] == "Save the project"
    project = tmp_path / "scan-work.rgproj"
    doc, _ = load_project(project)
    np.testing.assert_array_equal(doc.mask, mask)
    np.testing.assert_array_equal(doc.layers[0].pixels, layer)
    assert not window.autosave.project.exists()  # saved in the project, then closed


def test_cancel_at_the_close_prompt_keeps_everything(window, qtbot, photo, tmp_path, dialogs, prompts, file_dialog):
    assert window.open_path(photo)
    model = paint_and_add_layer(window, qtbot)
    autosave_now(window, qtbot)
    assert window.save_to(tmp_path / "out.tif")
    dialogs.answer = SB.Cancel
    assert not window.close()
    assert window.isVisible() and window.model is model and model.modified
    assert window.autosave.project.exists() and len(model.doc.layers) == 1
    # a project save file dialog that is cancelled keeps the window open too
    dialogs.answer = SB.Save
    assert not window.close()  # no path given in the file dialog
    assert window.isVisible() and window.autosave.project.exists()
    dialogs.answer = SB.Discard  # the user's explicit choice
    assert window.close()
    assert not window.autosave.project.exists()


def test_a_saved_project_needs_no_prompt_and_export_does_not_unsave_it(window, qtbot, photo, tmp_path, prompts):
    assert window.open_path(photo)
    model = paint_and_add_layer(window, qtbot)
    assert window.save_project_to(tmp_path / "job.rgproj")
    assert not model.modified and not window.isWindowModified()
    assert window.save_to(tmp_path / "job.jpg")
    assert not model.modified
    model.add_layer(model.doc.make_layer("second", np.zeros((60, 80, 3), np.uint8), "test"))
    assert window.save_to(tmp_path / "job.jpg")
    assert model.modified  # the second layer is only in the window
    window.act_save_project.trigger()  # Save Project: to the same file, no dialog
    assert not model.modified
    assert len(load_project(tmp_path / "job.rgproj")[0].layers) == 2
    assert window.close() and prompts == []


def test_opening_another_photo_offers_the_project_first(window, qtbot, photo, tmp_path, dialogs, prompts,
                                                        file_dialog):
    answers, _ = file_dialog
    other = tmp_path / "other.png"
    imageio.save_image(other, np.zeros((10, 10, 3), np.uint8))
    assert window.open_path(photo)
    paint_and_add_layer(window, qtbot)
    assert window.save_to(tmp_path / "flat.png")
    dialogs.answer = SB.Save
    answers.append(tmp_path / "kept.rgproj")
    assert window.open_path(other)
    assert window.model.doc.path == other and len(prompts) == 1
    assert len(load_project(tmp_path / "kept.rgproj")[0].layers) == 1


def test_a_photo_without_layers_or_mask_is_saved_by_exporting(window, qtbot, photo, tmp_path, dialogs, prompts):
    assert window.open_path(photo)
    model = window.model
    model.add_layer(model.doc.make_layer("tried", np.zeros((60, 80, 3), np.uint8), "test"))
    model.remove_layer(model.doc.layers[0].uid)  # changed, but flat again
    autosave_now(window, qtbot)
    assert model.modified and not model.doc.has_layered_work
    assert window.save_to(tmp_path / "flat.png")
    assert not model.modified and not window.isWindowModified()
    assert not window.autosave.project.exists()
    assert window.close() and prompts == [] and dialogs.shown == []


def test_a_flat_photo_still_gets_the_save_changes_question(window, qtbot, photo, tmp_path, dialogs, file_dialog):
    answers, _ = file_dialog
    assert window.open_path(photo)
    window.act_fill.trigger()
    window.act_clear.trigger()
    dialogs.answer = SB.Save
    answers.append(tmp_path / "flat.png")
    assert window.close()
    assert dialogs.shown[-1][:2] == ("question", "Unsaved changes")
    assert imageio.load_image(tmp_path / "flat.png").pixels.shape == (60, 80, 3)


def test_menu_names_and_shortcuts(window):
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    names = [a.text().replace("&", "") for a in file_menu.actions()]
    assert "Export Image" in names and "Export Image As…" in names and "Save Project" in names
    assert QKeySequence("Ctrl+S") in window.act_save.shortcuts()  # the old key still exports
    assert QKeySequence("Ctrl+E") in window.act_save.shortcuts()
    assert QKeySequence("Ctrl+Shift+S") in window.act_save_as.shortcuts()
    assert QKeySequence("Ctrl+Shift+E") in window.act_save_as.shortcuts()
    assert window.act_save_project.shortcut() == QKeySequence("Ctrl+Alt+S")


def test_ctrl_s_exports_to_the_last_picture(window, qtbot, photo, tmp_path):
    assert window.open_path(photo)
    model = paint_and_add_layer(window, qtbot)
    out = tmp_path / "again.png"
    assert window.save_to(out)
    out.unlink()
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(out.exists, timeout=5000)
    np.testing.assert_array_equal(imageio.load_image(out).pixels, model.doc.flatten())
