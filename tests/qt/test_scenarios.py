"""The editor's flows walked as a user walks them (#18, item 8): menus and keys, mouse strokes on the canvas,
the real dialogs; each step checked by what the user looks at — the pixels the canvas paints, the layers
panel, the window title, the files on disk.

The other tests of tests/qt check each part on its own; these check that the parts add up:

- open → paint → inpaint → compare → export
- repair damage: detect → review (a missed stain painted in) → fill
- denoise with the preview: the preview follows the strength and shows what the run gives
- batch with a path typed key by key into the dialog
- project round trip into a fresh window (as after a restart)
- closing with unsaved result layers, then the next start
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from restorer_gui import paths
from restorer_gui import settings as settings_mod
from restorer_gui.core import imageio
from restorer_gui.core.project import load_project
from restorer_gui.qt.main_window import MainWindow
from tests.tiny_models import save_model

from .test_dialog_fields import crash_reports  # noqa: F401 - fixture: the app's crash reporter, never hit
from .test_retoucher_canvas import hover
from .test_retoucher_window import shown_title
from .tiny_models import install_all

SB = QMessageBox.StandardButton
CTRL, SHIFT, ALT = (Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier,
                    Qt.KeyboardModifier.AltModifier)


@pytest.fixture
def models(isolated_home):
    install_all()


@pytest.fixture
def file_dialogs(monkeypatch):
    """The Open and Save file dialogs answer with the paths queued here; each records (caption, start folder)."""

    class Answers:
        def __init__(self):
            self.queue: list[Path] = []
            self.asked: list[tuple[str, str]] = []

        def answer(self, parent, caption, start="", *args, **kwargs):
            self.asked.append((caption, str(start)))
            return (str(self.queue.pop(0)) if self.queue else ""), ""

    answers = Answers()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(answers.answer))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answers.answer))
    return answers


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def key(qtbot, widget, k, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """A key press where the user has the focus: the window for menu keys, the canvas for tool keys."""
    widget.activateWindow()
    qtbot.waitUntil(widget.window().isActiveWindow, timeout=5000)
    widget.setFocus()
    qtbot.keyClick(widget, k, modifier)


def shown(view) -> np.ndarray:
    """The photo as the canvas paints it on screen (at 100 %, the whole photo in view): H×W×3 uint8."""
    screen = array_of(view.viewport().grab().toImage())
    corner = view.mapFromScene(QPointF(0, 0))
    w, h = int(view.sceneRect().width()), int(view.sceneRect().height())
    assert 0 <= corner.x() <= screen.shape[1] - w and 0 <= corner.y() <= screen.shape[0] - h  # all of it in view
    return screen[corner.y(): corner.y() + h, corner.x(): corner.x() + w].copy()


def array_of(image: QImage) -> np.ndarray:
    """A QImage (a screen grab, a preview) as H×W×3 uint8."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * image.height())
    return rows.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3).copy()


def stroke(qtbot, view, points) -> None:
    """Drag the left button through scene *points*, then move the cursor off the photo (its outline goes)."""
    vp = view.viewport()
    screen = [view.mapFromScene(QPointF(x + 0.5, y + 0.5)) for x, y in points]
    qtbot.mouseMove(vp, screen[0])
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, screen[0])
    for p in screen[1:]:
        qtbot.mouseMove(vp, p)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, screen[-1])
    hover(view, QPoint(2, 2))  # the cursor moves off the photo (centred in a larger viewport): no outline on it


def layer_rows(window) -> list[str]:
    panel = window.layers_panel.list
    return [panel.item(i).text() for i in range(panel.count())]


def open_photo(qtbot, window, file_dialogs, path: Path) -> None:
    """File ▸ Open (Ctrl+O), then View ▸ Actual Pixels (Ctrl+1)."""
    file_dialogs.queue.append(path)
    key(qtbot, window, Qt.Key.Key_O, CTRL)
    assert window.model is not None and window.model.doc.path == path
    key(qtbot, window, Qt.Key.Key_1, CTRL)


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(40, 200, (h, w, 3), dtype=np.uint8)


# --- open → paint → inpaint → compare → export --------------------------------------------------------------
def test_open_paint_inpaint_compare_export(window, qtbot, models, file_dialogs, tmp_path, dialogs):
    photo = textured(240, 360)  # small enough to show whole at 100 %, large enough for the compare labels
    photo[120:123, 10:351] = 255  # a white scratch across the photo
    src = tmp_path / "scan.png"
    imageio.save_image(src, photo)
    before = digest(src)
    window.settings.device = "cpu"

    open_photo(qtbot, window, file_dialogs, src)
    view, model = window.view, window.model
    assert shown_title(window) == "scan.png — restorer-gui"
    np.testing.assert_array_equal(shown(view), photo)  # the photo, pixel for pixel

    # paint along the scratch with the brush (B)
    key(qtbot, view, Qt.Key.Key_B)
    stroke(qtbot, view, [(x, 121) for x in range(10, 351, 10)])
    assert (model.doc.mask[120:123, 10:351] == 255).all() and model.doc.mask[:100].max() == 0
    painted = shown(view)
    assert (painted[121, 20:340] != 255).any(axis=1).all()  # the mask overlay tints the stroke
    np.testing.assert_array_equal(painted[:100], photo[:100])  # and nothing else
    assert shown_title(window) == "scan.png* — restorer-gui"

    # Restore ▸ Inpaint Masked Area (Ctrl+Return): a layer, the mask hidden, the fill on screen at once
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        key(qtbot, window, Qt.Key.Key_Return, CTRL)
    assert layer_rows(window) == ["Inpaint", "Original  (8-bit)"]
    assert not window.act_show_mask.isChecked()
    result = shown(view)
    mask = model.doc.mask
    np.testing.assert_array_equal(result[mask == 0], photo[mask == 0])
    assert np.abs(result[mask == 255].astype(int) - 128).max() <= 1  # the tiny inpainter fills mid-grey
    np.testing.assert_array_equal(result, model.doc.flatten())

    # Split Compare (C): the original left of the divider, the result right of it, each side labelled
    key(qtbot, view, Qt.Key.Key_C)
    assert view.compare and view.divider_x == 180
    assert {text for text, _ in view.compare_labels()} == {"Original", "Result: Inpaint"}
    split = shown(view)
    np.testing.assert_array_equal(split[121, 12:170], photo[121, 12:170])  # the white scratch, left
    assert np.abs(split[121, 190:348].astype(int) - 128).max() <= 1  # filled, right
    key(qtbot, view, Qt.Key.Key_C)
    assert not view.compare
    np.testing.assert_array_equal(shown(view), result)

    # File ▸ Export Image As (Ctrl+Shift+E): the picture on screen, on disk; the original untouched
    out = tmp_path / "scan-restored.png"
    file_dialogs.queue.append(out)
    key(qtbot, window, Qt.Key.Key_E, CTRL | SHIFT)
    assert file_dialogs.asked[-1][0] == "Export the restored photo"
    np.testing.assert_array_equal(imageio.load_image(out).pixels, result)
    assert digest(src) == before
    assert shown_title(window) == "scan.png* — restorer-gui"  # the layer and the mask are not in a picture
    assert dialogs.shown == []


# --- repair damage: detect → review → fill ------------------------------------------------------------------
def test_repair_detect_review_paint_a_missed_stain_fill(window, qtbot, models, file_dialogs, tmp_path):
    rng = np.random.default_rng(3)
    photo = np.clip(90 + 12 * rng.standard_normal((64, 96, 3)), 0, 255).astype(np.uint8)
    photo[20:23, 6:90] = 250  # a white crack: the tiny detector marks near-white pixels
    photo[44:50, 12:20] = 12  # a dark stain it does not see
    src = tmp_path / "damaged.png"
    imageio.save_image(src, photo)
    window.settings.device = "cpu"
    open_photo(qtbot, window, file_dialogs, src)
    view, model = window.view, window.model

    # Restore ▸ Repair Damage… (Ctrl+Shift+R): the found damage shows as the mask, with the review bar
    with qtbot.waitSignal(model.mask_changed, timeout=30_000):
        key(qtbot, window, Qt.Key.Key_R, CTRL | SHIFT)
    review = window.restore.review
    assert review.isVisible() and window.act_show_mask.isChecked()
    assert (model.doc.mask[20:23, 6:90] > 0).all() and model.doc.mask[44:50, 12:20].max() == 0
    assert "Marked" in window.statusBar().currentMessage()
    assert (shown(view)[21, 10:86] != photo[21, 10:86]).any(axis=1).all()  # the crack shows as marked

    # the user paints the stain the detector missed; the review stays open
    stroke(qtbot, view, [(13, 47), (16, 47), (19, 47)])
    assert (model.doc.mask[44:50, 12:20] > 0).all() and review.isVisible()

    # Fill Damage: one layer; the crack and the stain are gone from the screen, the rest is the photo
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        qtbot.mouseClick(review.fill_button, Qt.MouseButton.LeftButton)
    assert not review.isVisible() and layer_rows(window) == ["Repair damage", "Original  (8-bit)"]
    screen = shown(view)
    np.testing.assert_array_equal(screen, model.doc.flatten())
    assert screen[20:23, 10:86].mean() < 200 and screen[44:50, 12:20].mean() > 60
    outside = model.doc.mask == 0
    np.testing.assert_array_equal(screen[outside], photo[outside])

    # Undo (Ctrl+Z) takes the fill away again
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert layer_rows(window) == ["Original  (8-bit)"]
    window.act_show_mask.setChecked(False)
    np.testing.assert_array_equal(shown(view), photo)


# --- denoise with the preview -------------------------------------------------------------------------------
def test_denoise_preview_follows_the_strength_and_shows_the_result(window, qtbot, file_dialogs, tmp_path):
    save_model(paths.user_models_dir(), "tiny-den", "denoise", untrained=False)  # its output depends on σ
    rng = np.random.default_rng(5)
    photo = np.clip(110 + 25 * rng.standard_normal((80, 92, 3)), 0, 255).astype(np.uint8)
    src = tmp_path / "grainy.png"
    imageio.save_image(src, photo)
    window.settings.device = "cpu"
    window.settings.denoise_auto = False
    open_photo(qtbot, window, file_dialogs, src)
    model, pool = window.model, window.restore.pool
    seen: dict[str, np.ndarray] = {}

    def preview(dialog) -> np.ndarray:
        return array_of(dialog.after.pixmap().toImage())

    def drive() -> None:
        dialog = window.restore.denoise_dialog_open
        assert dialog is not None and dialog.isVisible()
        qtbot.waitUntil(lambda: not dialog.after.pixmap().isNull(), timeout=20_000)
        seen["first"] = preview(dialog)
        with qtbot.waitSignal(pool.job_finished, timeout=20_000):  # one preview job for the typed value
            dialog.spin.setFocus()
            qtbot.keyClick(dialog.spin, Qt.Key.Key_A, CTRL)
            qtbot.keyClicks(dialog.spin, "40")
        assert dialog.spin.value() == 40 and dialog.slider.value() == 40
        seen["40"] = preview(dialog)
        qtbot.keyClick(dialog.spin, Qt.Key.Key_Return)  # Enter: the dialog's default button, Denoise

    # Restore ▸ Denoise… (Ctrl+Shift+D)
    QTimer.singleShot(0, drive)
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        key(qtbot, window, Qt.Key.Key_D, CTRL | SHIFT)
    assert seen["first"].shape == photo.shape  # the whole (small) photo at 100 %
    assert np.abs(seen["40"].astype(int) - seen["first"].astype(int)).max() > 2  # σ 40 looks different
    assert layer_rows(window) == ["Denoise σ 40", "Original  (8-bit)"]
    result = model.doc.layers[0].pixels
    assert np.abs(result.astype(int) - seen["40"].astype(int)).max() <= 1  # the preview showed the result
    np.testing.assert_array_equal(shown(window.view), result)

    # hiding the result in the layers panel shows the photo again
    window.layers_panel.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    np.testing.assert_array_equal(shown(window.view), photo)


# --- batch with a typed path --------------------------------------------------------------------------------
def test_batch_with_a_folder_typed_into_the_dialog(window, qtbot, models, tmp_path, dialogs,
                                                   crash_reports):  # noqa: F811 - the imported fixture
    src = tmp_path / "scans"
    src.mkdir()
    photos = {name: textured(24, 32, seed) for seed, name in enumerate(("a.png", "b.png"))}
    for name, pixels in photos.items():
        imageio.save_image(src / name, pixels)
    before = {name: digest(src / name) for name in photos}
    window.settings.device = "cpu"
    typed: dict[str, str] = {}

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog is not None and dialog.windowTitle().startswith("Batch")
        field = dialog.input_edit
        field.setFocus()
        qtbot.keyClick(field, Qt.Key.Key_A, CTRL)
        qtbot.keyClick(field, Qt.Key.Key_Backspace)
        qtbot.keyClicks(field, str(src))  # key by key: "/" first (it used to crash here)
        typed["input"], typed["output"] = field.text(), dialog.output_edit.text()
        typed["error"] = dialog.error_label.text()
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)

    # File ▸ Batch Restore Folder…
    QTimer.singleShot(0, fill_in)
    window.act_batch.trigger()
    assert typed == {"input": str(src), "output": f"{src}-restored", "error": ""}
    batch = window._batch_window
    assert batch is not None and batch.isVisible()
    with qtbot.waitSignal(batch.ended, timeout=30_000) as ended:
        pass
    assert ended.args[0] is not None and len(ended.args[0].done) == 2
    out = tmp_path / "scans-restored"
    for name, pixels in photos.items():
        expected = np.rint((pixels / 255 * 0.5 + 0.25) * 255)
        assert np.abs(imageio.load_image(out / name).pixels.astype(int) - expected).max() <= 1
    assert batch.summary_label.text().startswith("Finished: 2 written")
    assert {name: digest(src / name) for name in photos} == before
    assert dialogs.shown == [] and crash_reports == []
    assert settings_mod.load().batch_input_dir == str(src)  # the next batch starts from here


# --- project round trip -------------------------------------------------------------------------------------
def test_project_round_trip_into_a_fresh_window(window, qtbot, models, file_dialogs, tmp_path, dialogs):
    photo = (np.random.default_rng(7).integers(0, 65536, (48, 64, 3))).astype(np.uint16)
    src = tmp_path / "scans" / "family.tif"
    src.parent.mkdir()
    imageio.save_image(src, photo)
    window.settings.device = "cpu"
    open_photo(qtbot, window, file_dialogs, src)
    view, model = window.view, window.model
    key(qtbot, view, Qt.Key.Key_B)
    stroke(qtbot, view, [(20, 20), (30, 22), (40, 24)])
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        key(qtbot, window, Qt.Key.Key_Return, CTRL)

    # rename the result in the layers panel (edit its row, type, Enter) and lower its opacity (PageDown)
    panel = window.layers_panel
    panel.list.editItem(panel.list.item(0))
    editor = QApplication.focusWidget()
    qtbot.keyClick(editor, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(editor, "faces mended")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    panel.opacity.setFocus()
    qtbot.keyClick(panel.opacity, Qt.Key.Key_PageDown)
    layer = model.doc.layers[0]
    assert layer.name == "faces mended" and 0 < layer.opacity < 1
    on_screen, mask = shown(view), model.doc.mask.copy()

    # File ▸ Save Project (Ctrl+Alt+S): the title names the project, nothing unsaved
    project = tmp_path / "projects" / "family.rgproj"
    project.parent.mkdir()
    file_dialogs.queue.append(project)
    key(qtbot, window, Qt.Key.Key_S, CTRL | ALT)
    assert project.is_file() and shown_title(window) == "family.rgproj — restorer-gui"
    assert window.close() and dialogs.shown == []  # saved: closing asks nothing

    # the next start: File ▸ Open Project (Ctrl+Shift+O) starts in the project's folder
    again = MainWindow(settings_mod.load())
    qtbot.addWidget(again)
    again.resize(900, 700)
    again.show()
    qtbot.waitExposed(again)
    try:
        file_dialogs.queue.append(project)
        key(qtbot, again, Qt.Key.Key_O, CTRL | SHIFT)
        assert file_dialogs.asked[-1] == ("Open a project", str(project.parent))
        assert shown_title(again) == "family.rgproj — restorer-gui"
        doc = again.model.doc
        assert doc.bit_depth == 16 and doc.original.dtype == np.uint16
        np.testing.assert_array_equal(doc.original, photo)
        np.testing.assert_array_equal(doc.mask, mask)
        assert layer_rows(again) == ["faces mended", "Original  (16-bit)"]
        assert doc.layers[0].opacity == layer.opacity
        np.testing.assert_array_equal(doc.layers[0].pixels, layer.pixels)
        key(qtbot, again, Qt.Key.Key_1, CTRL)
        if again.act_show_mask.isChecked():
            key(qtbot, again.view, Qt.Key.Key_M)  # the mask was hidden when the project was saved
        np.testing.assert_array_equal(shown(again.view), on_screen)
        assert again.model.undo_stack.count() == 0 and not again.isWindowModified()
    finally:
        again.close()


# --- closing with unsaved result layers ---------------------------------------------------------------------
def test_close_with_unsaved_layers_then_the_next_start(window, qtbot, models, file_dialogs, tmp_path, dialogs):
    photo = textured(40, 56, seed=9)
    src = tmp_path / "aunt.png"
    imageio.save_image(src, photo)
    window.settings.device = "cpu"
    open_photo(qtbot, window, file_dialogs, src)
    view, model = window.view, window.model
    key(qtbot, view, Qt.Key.Key_B)
    stroke(qtbot, view, [(10, 10), (20, 12)])
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        key(qtbot, window, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(window.autosave.project.exists, timeout=15_000)  # autosaved soon after the result
    result = shown(view)

    # the close button: "Save the project?" — Cancel keeps the window and the work
    dialogs.answer = SB.Cancel
    assert not window.close()
    kind, title, text, _ = dialogs.shown[-1]
    assert (kind, title) == ("box", "Save the project?") and "1 result layer and the mask" in text
    assert window.isVisible() and layer_rows(window) == ["Inpaint", "Original  (8-bit)"]
    np.testing.assert_array_equal(shown(view), result)
    assert window.autosave.project.exists()

    # again, Save Project…: the project is written, the window closes, the autosave goes
    dialogs.answer = SB.Save
    file_dialogs.queue.append(tmp_path / "aunt")  # the suffix is added
    assert window.close()
    assert file_dialogs.asked[-1][0] == "Save the project"
    project = tmp_path / "aunt.rgproj"
    doc, _ = load_project(project)
    np.testing.assert_array_equal(doc.flatten(), result)
    assert not window.autosave.project.exists()

    # the next start offers no recovery (nothing was lost); the start page lists the project, a double-click opens it
    shown_before = len(dialogs.shown)
    again = MainWindow(settings_mod.load())
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    try:
        assert not again.offer_recovery() and len(dialogs.shown) == shown_before
        recent = again.welcome.recent_projects
        assert recent.isVisible() and recent.item(0).text() == "aunt.rgproj"
        centre = recent.visualItemRect(recent.item(0)).center()
        qtbot.mouseClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.mouseDClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.waitUntil(lambda: again.model is not None)
        assert shown_title(again) == "aunt.rgproj — restorer-gui"
        assert layer_rows(again) == ["Inpaint", "Original  (8-bit)"]
    finally:
        again.close()
