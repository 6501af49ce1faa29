"""The main window: menus, tool bars, canvas, layers and history panels; opening and saving."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QUrl
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QPixmap,
    QUndoGroup,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QColorDialog,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QUndoView,
    QWidget,
)

from restorer_gui import paths
from restorer_gui import settings as settings_mod
from restorer_gui.core import imageio, mask_ops
from restorer_gui.core.document import Document
from restorer_gui.core.errors import ImageError
from restorer_gui.core.project import PROJECT_SUFFIX, ProjectError, ProjectSnapshot, load_project, save_project
from restorer_gui.qt.autosave import Autosave
from restorer_gui.qt.canvas.view import CanvasView
from restorer_gui.qt.dialogs.about import AboutDialog
from restorer_gui.qt.dialogs.preferences import PreferencesDialog
from restorer_gui.qt.dialogs.shortcuts import ShortcutsDialog
from restorer_gui.qt.document_model import DocumentModel
from restorer_gui.qt.layers_panel import LayersPanel
from restorer_gui.qt.restore import RestoreController
from restorer_gui.qt.tools import Tool, ToolSettings
from restorer_gui.qt.welcome import WelcomePage

if TYPE_CHECKING:
    from restorer_gui.qt.batch_dialog import BatchChoices
    from restorer_gui.qt.batch_window import BatchWindow

log = logging.getLogger(__name__)


@contextmanager
def busy_cursor():
    """A wait cursor while the GUI thread reads or writes a file."""
    QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        yield
    finally:
        QApplication.restoreOverrideCursor()

OPEN_FILTER = "Photos and projects ({} *{});;All files (*)".format(
    " ".join("*" + s for s in imageio.OPEN_FILTER_SUFFIXES), PROJECT_SUFFIX)
PROJECT_FILTER = f"restorer-gui project (*{PROJECT_SUFFIX})"
SAVE_FILTERS = {
    "PNG image (*.png)": ".png",
    "TIFF image, keeps 16 bits (*.tif *.tiff)": ".tif",
    "JPEG image, 8 bits (*.jpg *.jpeg)": ".jpg",
}


class MainWindow(QMainWindow):
    def __init__(self, settings: settings_mod.Settings | None = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else settings_mod.load()
        self.model: DocumentModel | None = None
        self.undo_group = QUndoGroup(self)
        self.tool_settings = ToolSettings(brush_size=self.settings.brush_size, hardness=self.settings.brush_hardness)
        self.view = CanvasView(self.tool_settings)
        self.view.set_overlay_style(QColor(self.settings.overlay_color), self.settings.overlay_opacity)
        self.welcome = WelcomePage()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.view)
        self.setCentralWidget(self.stack)
        self.setAcceptDrops(True)
        self.setWindowTitle("restorer-gui")
        self.resize(1280, 820)
        self._make_docks()
        self._make_actions()
        self.restore = RestoreController(self)
        self.autosave = Autosave(self, self.settings.autosave_minutes, lambda: self.model, self.restore)
        self._batch_window: BatchWindow | None = None
        self._make_menus()
        self._make_toolbars()
        self._make_status_bar()
        self._connect()
        self._update_title()
        self._update_enabled()
        self._move_projects_out_of_recent_photos()
        self.welcome.set_recent(self.settings.recent_files, self.settings.recent_projects)
        QApplication.instance().installEventFilter(self)
        self._restore_layout()
        paths.set_user_models_dir(self.settings.models_dir or None)

    # --- construction --------------------------------------------------------------------
    def _make_docks(self) -> None:
        self.layers_panel = LayersPanel()
        self.layers_dock = QDockWidget("Layers", self)
        self.layers_dock.setObjectName("LayersDock")
        self.layers_dock.setWidget(self.layers_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.layers_dock)
        self.history_view = QUndoView(self.undo_group)
        self.history_view.setEmptyLabel("Opened")
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("HistoryDock")
        self.history_dock.setWidget(self.history_view)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.history_dock)

    def _action(self, text: str, slot=None, shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts(shortcut)
            else:
                action.setShortcut(shortcut)
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even with menus hidden
        return action

    def _make_actions(self) -> None:
        S = QKeySequence.StandardKey
        a = self._action
        self.act_open = a("&Open…", self.open_dialog, S.Open, tip="Open a photo")
        # Export writes the visible result as a flat picture; Save Project keeps the layers and the mask.
        # Ctrl+S and Ctrl+Shift+S keep doing what they always did; Ctrl+E / Ctrl+Shift+E as in GIMP.
        self.act_save = a("&Export Image", self.save, [*QKeySequence.keyBindings(S.Save), QKeySequence("Ctrl+E")],
                          tip="Write the visible result as a flat picture (PNG, TIFF, JPEG); "
                              "layers and the mask are kept by Save Project")
        self.act_save_as = a("Export Image &As…", self.save_as,
                             [*QKeySequence.keyBindings(S.SaveAs), QKeySequence("Ctrl+Shift+E")],
                             tip="Write the visible result as a flat picture under a new name")
        self.act_import_layer = a("Import Image as &Layer…", self.import_layer_dialog, tip="Add a same-sized picture as a result layer")
        self.act_import_mask = a("Import &Mask…", self.import_mask_dialog)
        self.act_export_mask = a("&Export Mask…", self.export_mask_dialog)
        self.act_close = a("&Close Photo", self.close_document, S.Close)
        self.act_quit = a("&Quit", self.close, S.Quit)
        self.act_undo = self.undo_group.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts([QKeySequence(S.Undo)])
        self.act_redo = self.undo_group.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_undo.setIconText("Undo")  # tool bar stays put; the menu shows what will be undone
        self.act_redo.setIconText("Redo")
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        self.act_fit = a("&Fit to Window", self.view.fit, QKeySequence("Ctrl+0"))
        self.act_100 = a("&Actual Pixels (100 %)", self.view.zoom_100, QKeySequence("Ctrl+1"))
        self.act_zoom_in = a("Zoom &In", lambda: self.view.zoom_by(2**0.5), [QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")])
        self.act_zoom_out = a("Zoom &Out", lambda: self.view.zoom_by(2**-0.5), QKeySequence("Ctrl+-"))
        self.act_compare = a("&Split Compare", self.view.set_compare, QKeySequence("C"), checkable=True,
                             tip="Original left of the divider, the selected result right of it (drag the divider)")
        self.act_show_original = a("Show &Original", self.view.set_show_original, QKeySequence("O"), checkable=True,
                                   tip="Toggle between the original and the result (hold \\ to peek)")
        self.act_show_mask = a("Show &Mask", self.view.set_mask_visible, QKeySequence("M"), checkable=True)
        self.act_show_mask.setChecked(True)
        self.act_fill = a("&Fill Mask", self._fill_mask)
        self.act_clear = a("&Clear Mask", self._clear_mask, QKeySequence("Ctrl+Shift+Backspace"))
        self.act_invert = a("&Invert Mask", self._invert_mask, QKeySequence("Ctrl+I"))
        self.act_grow = a("&Grow Mask…", lambda: self._grow_shrink(True))
        self.act_shrink = a("S&hrink Mask…", lambda: self._grow_shrink(False))
        self.act_overlay_color = a("Overlay &Colour…", self._choose_overlay_color)
        self.act_bigger = a("Bigger Brush", lambda: self.view.step_brush_size(True), QKeySequence("]"))
        self.act_smaller = a("Smaller Brush", lambda: self.view.step_brush_size(False), QKeySequence("["))
        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[Tool, QAction] = {}
        for tool, key in ((Tool.BRUSH, "B"), (Tool.ERASER, "E"), (Tool.RECT, "R"), (Tool.LASSO, "L")):
            act = a(tool.label, lambda _=False, t=tool: self.set_tool(t), QKeySequence(key), checkable=True,
                    tip=f"{tool.label} ({key}); Alt or the right button removes from the mask")
            self.tool_group.addAction(act)
            self.tool_actions[tool] = act
        self.tool_actions[Tool.BRUSH].setChecked(True)
        for act, short in ((self.act_fit, "Fit"), (self.act_100, "100 %"), (self.act_compare, "Compare"),
                           (self.act_show_original, "Original"), (self.act_overlay_color, "Colour…"),
                           (self.act_save, "Export")):
            act.setIconText(short)
        self.act_swap = a("Swap Brush/Eraser", self._swap_brush, QKeySequence("X"))
        self.act_open_project = a("Open &Project…", self.open_project_dialog, QKeySequence("Ctrl+Shift+O"))
        self.act_save_project = a("Save Pro&ject", self.save_project, QKeySequence("Ctrl+Alt+S"),
                                  tip="Save the photo, the mask and every layer in one file")
        self.act_save_project_as = a("Save Project As…", self.save_project_as)
        self.act_preferences = a("&Preferences…", self.preferences_dialog, S.Preferences)
        self.act_sample = a("Open &Sample Photo", self.open_sample)
        self.act_about = a("&About restorer-gui", self._about)
        self.act_shortcuts = a("&Keyboard Shortcuts…", self._shortcuts,
                               tip="Every command with a key, and the keys of the canvas")
        # --- batch restore: the restore chain over a folder (restorer_gui/qt/batch_window.py) ---
        self.act_batch = a("&Batch Restore Folder…", self.open_batch_dialog,
                           tip="Restore every photo of a folder (repair, denoise, fix fading) into another folder")

    def _make_menus(self) -> None:
        bar = self.menuBar()
        m = bar.addMenu("&File")
        m.addActions([self.act_open])
        self.recent_menu = m.addMenu("Open &Recent")
        m.addSeparator()
        m.addActions([self.act_save, self.act_save_as])
        m.addSeparator()
        m.addActions([self.act_open_project, self.act_save_project, self.act_save_project_as])
        m.addSeparator()
        m.addActions([self.act_import_layer, self.act_import_mask, self.act_export_mask, self.restore.act_export_recipe,
                      self.restore.act_import_model])
        m.addSeparator()
        m.addAction(self.act_batch)
        m.addSeparator()
        m.addActions([self.act_close, self.act_quit])
        m = bar.addMenu("&Edit")
        m.addActions([self.act_undo, self.act_redo])
        m.addSeparator()
        m.addAction(self.act_preferences)
        m = bar.addMenu("&View")
        m.addActions([self.act_fit, self.act_100, self.act_zoom_in, self.act_zoom_out])
        m.addSeparator()
        m.addActions([self.act_compare, self.act_show_original, self.act_show_mask])
        m.addSeparator()
        m.addActions([self.layers_dock.toggleViewAction(), self.history_dock.toggleViewAction()])
        m = bar.addMenu("&Mask")
        m.addActions(list(self.tool_actions.values()) + [self.act_swap])
        m.addSeparator()
        m.addActions([self.act_bigger, self.act_smaller])
        m.addSeparator()
        m.addActions([self.act_fill, self.act_clear, self.act_invert, self.act_grow, self.act_shrink])
        m.addSeparator()
        m.addActions([self.act_overlay_color, self.act_import_mask, self.act_export_mask])
        m = bar.addMenu("&Restore")
        r = self.restore
        for act in r.menu_actions():
            m.addAction(act) if act is not None else m.addSeparator()
        m.addSeparator()
        m.addAction(r.act_cancel)
        m = bar.addMenu("&Help")
        m.addActions([self.act_sample, self.act_shortcuts, self.act_about])
        self._rebuild_recent_menu()

    def _make_toolbars(self) -> None:
        tb = self.addToolBar("File")
        tb.setObjectName("FileToolBar")
        tb.addActions([self.act_open, self.act_save, self.act_undo, self.act_redo])
        tb = self.addToolBar("Tools")
        tb.setObjectName("ToolsToolBar")
        tb.addActions(list(self.tool_actions.values()))
        tb.addSeparator()
        tb.addWidget(QLabel(" Size "))
        self.size_spin = QSpinBox()
        self.size_spin.setRange(1, 1000)
        self.size_spin.setSuffix(" px")
        self.size_spin.setValue(self.tool_settings.brush_size)
        self.size_spin.setToolTip("Brush diameter in image pixels ([ and ] change it)")
        tb.addWidget(self.size_spin)
        tb.addWidget(QLabel(" Hardness "))
        self.hardness_spin = QDoubleSpinBox()
        self.hardness_spin.setRange(0.0, 1.0)
        self.hardness_spin.setSingleStep(0.1)
        self.hardness_spin.setValue(self.tool_settings.hardness)
        tb.addWidget(self.hardness_spin)
        # second row (so that everything fits an 800 px window): what is shown, then restoring
        self.addToolBarBreak()
        tb = self.addToolBar("View")
        tb.setObjectName("ViewToolBar")
        tb.addActions([self.act_fit, self.act_100, self.act_compare, self.act_show_original])
        tb.addSeparator()
        tb.addWidget(QLabel(" Overlay "))
        self.overlay_slider = QSlider(Qt.Orientation.Horizontal)
        self.overlay_slider.setRange(0, 100)
        self.overlay_slider.setMaximumWidth(100)
        self.overlay_slider.setValue(round(self.settings.overlay_opacity * 100))
        self.overlay_slider.setToolTip("Mask overlay opacity")
        tb.addWidget(self.overlay_slider)
        tb.addAction(self.act_overlay_color)  # a swatch of the colour
        self._update_overlay_swatch()
        tb = self.addToolBar("Restore")
        tb.setObjectName("RestoreToolBar")
        r = self.restore
        for act, short in ((r.act_inpaint, "Inpaint"), (r.act_denoise, "Denoise…"), (r.act_detect, "Detect scratches")):
            act.setIconText(short)
            tb.addAction(act)

    def _make_status_bar(self) -> None:
        self.pos_label = QLabel()
        self.zoom_label = QLabel()
        self.info_label = QLabel()
        for w in (self.info_label, self.pos_label, self.zoom_label):
            self.statusBar().addPermanentWidget(w)

    def _connect(self) -> None:
        self.welcome.open_requested.connect(self.open_dialog)
        self.welcome.sample_requested.connect(self.open_sample)
        self.welcome.recent_requested.connect(self.open_path)
        self.welcome.recent_project_requested.connect(self.open_project)
        self.layers_panel.import_requested.connect(self.import_layer_dialog)
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        self.view.cursor_moved.connect(self._on_cursor_moved)
        self.view.brush_size_changed.connect(self._on_brush_size_changed)
        self.view.compare_changed.connect(self.act_compare.setChecked)
        self.view.show_original_changed.connect(self.act_show_original.setChecked)
        self.size_spin.valueChanged.connect(self.view.set_brush_size)
        self.hardness_spin.valueChanged.connect(self._on_hardness_changed)
        self.overlay_slider.valueChanged.connect(self._on_overlay_opacity)

    # --- documents -----------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = self.settings.last_open_dir or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", start, OPEN_FILTER)
        if path:
            self.open_path(path)

    def open_sample(self) -> None:
        self.open_path(str(paths.sample_photo()))

    def open_path(self, path: str | Path) -> bool:
        """Open a photo or a project; on failure show why and keep the current document."""
        if Path(path).suffix.lower() == PROJECT_SUFFIX:
            return self.open_project(path)
        if not self.maybe_discard_changes():
            return False
        try:
            with busy_cursor():
                image = imageio.load_image(path, max_pixels=self.settings.max_image_pixels)
        except ImageError as exc:
            self.show_error("Cannot open the photo", str(exc))
            return False
        self.set_document(Document(image))
        self._remember_opened(path)
        return True

    def _remember_opened(self, path: str | Path) -> None:
        """Recent files (menu and start page) and the folder the next Open starts in."""
        self.settings.add_recent(path)
        self.settings.last_open_dir = str(Path(path).resolve().parent)
        self._recent_changed()

    def _remember_project(self, path: str | Path) -> None:
        """A project saved or opened: recent projects (menu and start page) and the folder the next
        Open Project / Save Project As starts in."""
        self.settings.add_recent_project(path)
        self.settings.last_project_dir = str(Path(path).resolve().parent)
        self._recent_changed()

    def _recent_changed(self) -> None:
        settings_mod.save(self.settings)
        self._rebuild_recent_menu()
        self.welcome.set_recent(self.settings.recent_files, self.settings.recent_projects)

    def _move_projects_out_of_recent_photos(self) -> None:
        """Projects opened before they had a list of their own were kept among the recent photos."""
        s = self.settings
        projects = [f for f in s.recent_files if f.lower().endswith(PROJECT_SUFFIX)]
        if projects:
            s.recent_files = [f for f in s.recent_files if f not in projects]
            s.recent_projects = (s.recent_projects + [p for p in projects if p not in s.recent_projects])
            del s.recent_projects[settings_mod.MAX_RECENT:]

    def set_document(self, document: Document | None) -> None:
        old = self.model
        if old is not None:
            self.undo_group.removeStack(old.undo_stack)
            old.undo_stack_replaced.disconnect(self._on_undo_stack_replaced)
        self.model = None
        if document is not None:
            self.model = DocumentModel(document, self.settings.undo_budget_mb * 1024 * 1024, self)
            self.model.undo_stack_replaced.connect(self._on_undo_stack_replaced)
            self._adopt_stack(self.model.undo_stack)
        self.view.set_model(self.model)
        self.layers_panel.set_model(self.model)
        if old is not None:
            old.deleteLater()
        self.stack.setCurrentWidget(self.view if self.model else self.welcome)
        if self.model is not None:
            self.model.layers_changed.connect(self._update_enabled)
            self.model.selection_changed.connect(self._update_enabled)
            self.view.setFocus()
            self.view.fit()
        self.autosave.discard()
        self.autosave.watch(self.model)
        self._update_title()
        self._update_enabled()

    def _adopt_stack(self, stack) -> None:
        self.undo_group.addStack(stack)
        self.undo_group.setActiveStack(stack)
        stack.cleanChanged.connect(self._update_title)

    def _on_undo_stack_replaced(self, old, new) -> None:
        self.undo_group.removeStack(old)
        self._adopt_stack(new)
        self.statusBar().showMessage("Undo memory budget reached: the oldest steps were dropped.", 5000)

    def close_document(self) -> None:
        if self.maybe_discard_changes():
            self.set_document(None)

    def maybe_discard_changes(self) -> bool:
        """True when there are no unsaved changes, or the user saved or discarded them.

        Work a flat picture cannot hold (result layers, a painted mask) is offered a project save;
        a photo without any is offered a save of the picture, as always.
        """
        if self.model is None or not self.model.modified:
            return True
        if self.model.doc.has_layered_work:
            return self._ask_to_save_project()
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to {self.model.doc.title} first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def _ask_to_save_project(self) -> bool:
        """The close prompt for layered work: save the project, discard, or cancel."""
        assert self.model is not None
        doc = self.model.doc
        SB = QMessageBox.StandardButton
        text = f"Closing {doc.title} loses {doc.layered_work_text()}, which only a project keeps. "
        text += "Save a project?" if doc.project_path is None else f"Save {doc.project_path.name}?"
        if doc.saved_path is not None:
            text += f"\n\nThe exported picture {doc.saved_path.name} holds only the visible result."
        box = QMessageBox(QMessageBox.Icon.Warning, "Save the project?", text, SB.Save | SB.Discard | SB.Cancel, self)
        box.button(SB.Save).setText("Save Project…" if doc.project_path is None else "Save Project")
        box.button(SB.Discard).setText("Close Without Saving")
        box.setDefaultButton(SB.Save)
        answer = SB(box.exec())
        if answer == SB.Save:
            return self.save_project()
        return answer == SB.Discard

    # --- saving --------------------------------------------------------------------------
    def suggested_save_path(self) -> Path:
        doc = self.model.doc if self.model else None
        if doc is None or doc.path is None:
            return Path.home() / "restored.png"
        if doc.saved_path is not None:
            return doc.saved_path
        suffix = doc.path.suffix.lower()
        if suffix not in imageio.SUPPORTED_SAVE_SUFFIXES or (suffix in (".jpg", ".jpeg") and doc.bit_depth == 16):
            suffix = "." + self.settings.default_save_format
            if doc.bit_depth == 16 and suffix == ".jpg":
                suffix = ".tif"  # JPEG would drop the 16 bits
        return doc.path.with_name(f"{doc.path.stem}-restored{suffix}")

    def save(self) -> bool:
        if self.model is None:
            return False
        if self.model.doc.saved_path is None:
            return self.save_as()
        return self.save_to(self.model.doc.saved_path)

    def save_as(self) -> bool:
        if self.model is None:
            return False
        suggested = self.suggested_save_path()
        selected = next((f for f, s in SAVE_FILTERS.items() if suggested.suffix.lower() in f), None)
        path, chosen = QFileDialog.getSaveFileName(self, "Export the restored photo", str(suggested), ";;".join(SAVE_FILTERS), selected)
        if not path:
            return False
        target = Path(path)
        if target.suffix.lower() not in imageio.SUPPORTED_SAVE_SUFFIXES:
            target = target.with_name(target.name + SAVE_FILTERS.get(chosen, ".png"))
        return self.save_to(target)

    def _is_original(self, target: Path) -> bool:
        doc = self.model.doc if self.model else None
        if doc is None or doc.path is None or not target.exists():
            return False
        try:
            return target.resolve() == doc.path.resolve() or target.samefile(doc.path)
        except OSError:
            return False

    def save_to(self, target: Path | str) -> bool:
        """Export the flattened visible result; never replaces the original without asking.

        A photo with result layers or a painted mask stays unsaved (and keeps its autosave): the
        picture does not hold them; File ▸ Save Project does.
        """
        if self.model is None:
            return False
        target = Path(target)
        doc = self.model.doc
        if self._is_original(target):
            answer = QMessageBox.warning(
                self,
                "Replace the original?",
                f"{target.name} is the original photo. Replace it with the restored version?\n"
                "The original cannot be recovered afterwards.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        try:
            with busy_cursor():
                imageio.save_image(
                    target, doc.flatten(), icc_profile=doc.image.icc_profile, exif=doc.image.exif,
                    quality=self.settings.jpeg_quality, dpi=doc.image.dpi, color_chunks=doc.image.color_chunks,
                )
        except ImageError as exc:
            self.show_error("Cannot save the photo", str(exc))
            return False
        except MemoryError:
            self.show_error("Cannot save the photo", "Not enough memory to save this photo.")
            return False
        doc.saved_path = target
        note = " (JPEG keeps 8 bits)" if target.suffix.lower() in (".jpg", ".jpeg") and doc.bit_depth == 16 else ""
        if doc.has_layered_work:
            self.statusBar().showMessage(
                f"Exported {target}{note}. To keep {doc.layered_work_text()}, use File ▸ Save Project.", 10_000)
        else:
            self.model.mark_saved()
            self.autosave.discard()
            self.statusBar().showMessage(f"Saved {target}{note}", 5000)
        self._update_title()
        return True

    # --- layers and masks from files -----------------------------------------------------
    def _pick_image(self, title: str) -> str:
        start = self.settings.last_open_dir or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, title, start, OPEN_FILTER)
        return path

    def import_layer_dialog(self) -> None:
        path = self._pick_image("Import an image as a layer")
        if path:
            self.import_layer(path)

    def import_layer(self, path: str | Path) -> bool:
        if self.model is None:
            return False
        try:
            image = imageio.load_image(path, max_pixels=self.settings.max_image_pixels)
            layer = self.model.doc.make_layer(Path(path).stem, image.pixels, "import", source=str(path))
        except ImageError as exc:
            self.show_error("Cannot import the layer", str(exc))
            return False
        except ValueError as exc:
            self.show_error("Cannot import the layer", f"{Path(path).name}: {exc}; a layer must be the same size.")
            return False
        self.model.add_layer(layer)
        return True

    def import_mask_dialog(self) -> None:
        path = self._pick_image("Import a mask (white = damage)")
        if path:
            self.import_mask(path)

    def import_mask(self, path: str | Path) -> bool:
        if self.model is None:
            return False
        try:
            image = imageio.load_image(path, max_pixels=self.settings.max_image_pixels)
        except ImageError as exc:
            self.show_error("Cannot import the mask", str(exc))
            return False
        doc = self.model.doc
        mask = mask_ops.mask_from_image(image.pixels, doc.width, doc.height)
        if image.width != doc.width or image.height != doc.height:
            self.statusBar().showMessage(f"The mask was {image.width}×{image.height}; scaled to the photo's size.", 8000)
        self.model.replace_mask(mask, "Import mask")
        return True

    def export_mask_dialog(self) -> None:
        if self.model is None:
            return
        doc = self.model.doc
        default = (doc.path.with_name(doc.path.stem + "-mask.png") if doc.path else Path.home() / "mask.png")
        path, _ = QFileDialog.getSaveFileName(self, "Export the mask", str(default), "PNG image (*.png)")
        if path:
            self.export_mask(path if path.lower().endswith(".png") else path + ".png")

    def export_mask(self, path: str | Path) -> bool:
        if self.model is None:
            return False
        if self._is_original(Path(path)):
            self.show_error("Cannot export the mask", "That file is the original photo; choose another name.")
            return False
        try:
            imageio.save_image(path, self.model.doc.mask[..., None], dpi=self.model.doc.image.dpi)
        except ImageError as exc:
            self.show_error("Cannot export the mask", str(exc))
            return False
        self.statusBar().showMessage(f"Mask exported to {path}", 5000)
        return True

    # --- mask edits ----------------------------------------------------------------------
    def _fill_mask(self) -> None:
        if self.model:
            self.model.replace_mask(np.full_like(self.model.doc.mask, 255), "Fill mask")

    def _clear_mask(self) -> None:
        if self.model:
            self.model.replace_mask(np.zeros_like(self.model.doc.mask), "Clear mask")

    def _invert_mask(self) -> None:
        if self.model:
            self.model.replace_mask(mask_ops.invert(self.model.doc.mask), "Invert mask")

    def _grow_shrink(self, grow: bool) -> None:
        if self.model is None:
            return
        label = "Grow the mask by (pixels):" if grow else "Shrink the mask by (pixels):"
        n, ok = QInputDialog.getInt(self, "Grow mask" if grow else "Shrink mask", label, 4, 1, 500)
        if ok:
            self.grow_mask(n if grow else -n)

    def grow_mask(self, pixels: int) -> None:
        """Grow (positive) or shrink (negative) the mask by a number of pixels, one undo step."""
        if self.model is None or pixels == 0:
            return
        mask = self.model.doc.mask
        new = mask_ops.grow(mask, pixels) if pixels > 0 else mask_ops.shrink(mask, -pixels)
        self.model.replace_mask(new, f"{'Grow' if pixels > 0 else 'Shrink'} mask by {abs(pixels)} px")

    # --- tools and options ---------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.view.set_tool(tool)
        self.tool_actions[tool].setChecked(True)

    def _swap_brush(self) -> None:
        self.set_tool(Tool.ERASER if self.tool_settings.tool == Tool.BRUSH else Tool.BRUSH)

    def _on_brush_size_changed(self, size: int) -> None:
        self.size_spin.blockSignals(True)
        self.size_spin.setValue(size)
        self.size_spin.blockSignals(False)
        self.settings.brush_size = size

    def _on_hardness_changed(self, value: float) -> None:
        self.tool_settings.hardness = float(value)
        self.settings.brush_hardness = float(value)

    def _on_overlay_opacity(self, value: int) -> None:
        self.settings.overlay_opacity = value / 100.0
        self.view.set_overlay_style(QColor(self.settings.overlay_color), self.settings.overlay_opacity)

    def _choose_overlay_color(self) -> None:
        color = QColorDialog.getColor(QColor(self.settings.overlay_color), self, "Mask overlay colour")
        if color.isValid():
            self.settings.overlay_color = color.name()
            self.view.set_overlay_style(color, self.settings.overlay_opacity)
            self._update_overlay_swatch()

    def _update_overlay_swatch(self) -> None:
        """The Overlay Colour action shows the colour (the tool bar shows only this swatch)."""
        swatch = QPixmap(16, 16)
        swatch.fill(QColor(self.settings.overlay_color))
        self.act_overlay_color.setIcon(QIcon(swatch))
        self.act_overlay_color.setToolTip(f"Mask overlay colour ({QColor(self.settings.overlay_color).name()})")

    # --- status and state ----------------------------------------------------------------
    def _on_cursor_moved(self, x: int, y: int) -> None:
        self.pos_label.setText(f"{x}, {y}" if x >= 0 else "")

    def _update_title(self, *_args) -> None:
        if self.model is None:
            self.setWindowTitle("restorer-gui")
            self.info_label.setText("")
            return
        doc = self.model.doc
        name = doc.project_path.name if doc.project_path is not None else doc.title
        self.setWindowTitle(f"{name}[*] — restorer-gui")
        self.setWindowModified(self.model.modified)
        self.info_label.setText(f"{doc.width}×{doc.height}, {doc.bit_depth}-bit")

    def _update_enabled(self, *_args) -> None:
        has_doc = self.model is not None
        for act in (self.act_save, self.act_save_as, self.act_save_project, self.act_save_project_as, self.act_import_layer, self.act_import_mask, self.act_export_mask,
                    self.act_close, self.act_fit, self.act_100, self.act_zoom_in, self.act_zoom_out,
                    self.act_show_original, self.act_show_mask, self.act_fill, self.act_clear, self.act_invert,
                    self.act_grow, self.act_shrink):
            act.setEnabled(has_doc)
        self.act_compare.setEnabled(has_doc and self.view.can_compare())
        self.restore.update_enabled()

    def _rebuild_recent_menu(self) -> None:
        """Recent photos, then (after a line) recent projects."""
        self.recent_menu.clear()
        photos, projects = self.settings.recent_files, self.settings.recent_projects
        for f in photos:
            act = self.recent_menu.addAction(Path(f).name)
            act.setToolTip(f)
            act.triggered.connect(lambda _=False, p=f: self.open_path(p))
        if photos and projects:
            self.recent_menu.addSeparator()
        for f in projects:
            act = self.recent_menu.addAction(Path(f).name)
            act.setToolTip(f)
            act.triggered.connect(lambda _=False, p=f: self.open_project(p))
        self.recent_menu.setEnabled(bool(photos or projects))

    errors_to_stderr = False  # headless runs (--screenshot) print instead of opening dialogs

    def show_error(self, title: str, message: str, details: str = "") -> None:
        log.warning("%s: %s", title, message)
        if self.errors_to_stderr:
            print(f"restorer-gui: {message}", file=sys.stderr)
            return
        if not details:
            QMessageBox.critical(self, title, message)
            return
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, self)
        box.setDetailedText(details)
        box.exec()

    # --- projects, autosave and recovery -------------------------------------------------
    def open_project_dialog(self) -> None:
        start = self.settings.last_project_dir or self.settings.last_open_dir or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a project", start, PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        if not self.maybe_discard_changes():
            return False
        try:
            with busy_cursor():
                doc, selected = load_project(path, self.settings.max_image_pixels)
        except ProjectError as exc:
            self.show_error("Cannot open the project", str(exc))
            return False
        self._show_document(doc, selected)
        self._remember_project(path)
        return True

    def _show_document(self, doc: Document, selected: int | None) -> None:
        self.set_document(doc)
        if self.model is not None and selected is not None and 0 <= selected < len(doc.layers):
            self.model.select_layer(doc.layers[selected].uid)

    def save_project(self) -> bool:
        if self.model is None:
            return False
        if self.model.doc.project_path is None:
            return self.save_project_as()
        return self.save_project_to(self.model.doc.project_path)

    def save_project_as(self) -> bool:
        if self.model is None:
            return False
        doc = self.model.doc
        name = (doc.path.stem if doc.path else "restoration") + PROJECT_SUFFIX
        if self.settings.last_project_dir:  # where the last project was saved or opened
            base = Path(self.settings.last_project_dir) / name
        else:
            base = doc.path.with_name(name) if doc.path else Path.home() / name
        path, _ = QFileDialog.getSaveFileName(self, "Save the project", str(doc.project_path or base), PROJECT_FILTER)
        if not path:
            return False
        target = Path(path)
        if target.suffix.lower() != PROJECT_SUFFIX:
            target = target.with_name(target.name + PROJECT_SUFFIX)
        return self.save_project_to(target)

    def save_project_to(self, target: Path | str) -> bool:
        if self.model is None:
            return False
        target = Path(target)
        if self._is_original(target):
            self.show_error("Cannot save the project", "That file is the original photo; choose another name.")
            return False
        try:
            with busy_cursor():
                save_project(target, ProjectSnapshot.of(self.model.doc, self.model.selected_uid))
        except ProjectError as exc:
            self.show_error("Cannot save the project", str(exc))
            return False
        self.model.doc.project_path = target
        self.model.mark_saved()
        self.autosave.discard()
        self.statusBar().showMessage(f"Project saved to {target}", 5000)
        self._remember_project(target)
        self._update_title()
        return True

    def offer_recovery(self) -> bool:
        """After a crash, offer the work an earlier session autosaved; True when recovered."""
        orphans = self.autosave.orphans()
        if not orphans:
            return False
        project, info = orphans[0]
        when = info.get("time")
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if isinstance(when, (int, float)) else "earlier"
        answer = QMessageBox.question(
            self, "Recover your work?",
            f"restorer-gui did not close normally. Recover “{info.get('title', 'the photo')}” as autosaved {stamp}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes,
        )
        if answer != QMessageBox.StandardButton.Yes:
            for old, _ in orphans:
                self.autosave.remove(old)
            return False
        try:
            doc, selected = self.autosave.recover(project, self.settings.max_image_pixels)
        except ProjectError as exc:
            self.show_error("Cannot recover the work", str(exc))
            return False
        self._show_document(doc, selected)
        assert self.model is not None
        self.model.recovered = True
        self._update_title()
        for old, _ in orphans:
            self.autosave.remove(old)
        self.statusBar().showMessage("Recovered. File ▸ Save Project keeps it with its layers and mask.", 10_000)
        return True

    # --- preferences, about, layout ------------------------------------------------------
    def preferences_dialog(self) -> None:
        dialog = PreferencesDialog(self.settings, self)
        if dialog.exec() == PreferencesDialog.DialogCode.Accepted:
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, new: settings_mod.Settings) -> None:
        self.settings = new
        paths.set_user_models_dir(new.models_dir or None)
        self.autosave.set_interval(new.autosave_minutes)
        self.view.set_brush_size(new.brush_size)
        self.hardness_spin.setValue(new.brush_hardness)
        self.overlay_slider.setValue(round(new.overlay_opacity * 100))
        self.view.set_overlay_style(QColor(new.overlay_color), new.overlay_opacity)
        self._update_overlay_swatch()
        if self.model is not None:
            self.model.undo_budget = new.undo_budget_mb * 1024 * 1024
        self.restore.device_label.setText(f"Device: {new.device}")
        settings_mod.save(new)

    def open_batch_dialog(self) -> BatchWindow | None:
        """File ▸ Batch Restore Folder…: the running batch's window, or the options dialog and a new batch."""
        from restorer_gui.qt.batch_window import ask_for_batch

        running = self._batch_window
        if running is not None and running.running:
            running.show()
            running.raise_()
            running.activateWindow()
            return running
        choices = ask_for_batch(self, self.settings, self.show_error)
        return None if choices is None else self.start_batch(choices)

    def start_batch(self, choices: BatchChoices) -> BatchWindow:
        """Run a batch on the workers' model lane in a non-modal progress window (one per main window)."""
        from restorer_gui.qt.batch_window import start_batch

        self._batch_window = start_batch(self, self.settings, self.restore.pool, choices, self._batch_window)
        return self._batch_window

    def _about(self) -> None:
        AboutDialog(self.restore.device_label.text(), self).exec()

    def _shortcuts(self) -> None:
        ShortcutsDialog(self.menuBar(), self).exec()

    def _restore_layout(self) -> None:
        from PySide6.QtCore import QByteArray

        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode("ascii")))
        if self.settings.window_state:
            self.restoreState(QByteArray.fromBase64(self.settings.window_state.encode("ascii")))

    # --- hold a key to peek at the original --------------------------------------------
    PEEK_KEY = Qt.Key.Key_Backslash

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Holding `\\` anywhere in this window shows the original until the key is released."""
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and event.key() == self.PEEK_KEY:
            in_window = isinstance(watched, QWidget) and watched.window() is self
            if in_window and not isinstance(watched, (QLineEdit, QAbstractSpinBox)):
                if not event.isAutoRepeat():
                    self.view.set_hold_original(kind == QEvent.Type.KeyPress)
                return True
        elif kind == QEvent.Type.ApplicationDeactivate:
            self.view.set_hold_original(False)
        return False

    # --- drag and drop, closing ----------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = [url.toLocalFile() for url in event.mimeData().urls() if isinstance(url, QUrl) and url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.maybe_discard_changes():
            event.ignore()
            return
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
        self.settings.window_state = bytes(self.saveState().toBase64()).decode("ascii")
        settings_mod.save(self.settings)
        self.restore.shutdown()
        self.autosave.discard()
        event.accept()
