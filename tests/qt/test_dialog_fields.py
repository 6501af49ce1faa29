"""Every dialog reachable from the menus takes anything typed or pasted into its fields.

Each dialog is opened the way a user opens it (its menu item), and each of its line edits, spin
boxes and combo boxes gets awkward text typed key by key (partial paths, "/", "~", unicode,
long text) and pasted (a NUL byte, control characters, thousands of characters).  Nothing may
escape as an exception (pytest-qt fails the test on exceptions in Qt callbacks; the app's crash
reporter counts them too), no error dialog may open, and the dialog must still be open and take
more typing.  A dialog in which no field is found fails the test, so a renamed widget or a
dialog that no longer opens cannot make the test pass by doing nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QLineEdit,
    QMenu,
    QStackedWidget,
    QTabWidget,
    QWidget,
)

from restorer_gui.core.recipe import Step
from restorer_gui.qt.crash import CrashReporter

from .conftest import solid
from .tiny_models import install_all

# Typed key by key.  Tab, Return and Escape are left out on purpose: they move the focus or press
# the dialog's buttons, which is what they should do.
TYPED = [
    "/",
    "~",
    "~nobody-here/scans",
    "/ho",
    "../..",
    "./",
    "C:\\Photos\\",
    "é☃ 写真 Ωµ",
    "𝄞🙂",  # outside the BMP: typed as surrogate pairs
    "-1e999",
    "99999999999999999999",
    "0x7fffffff",
    "%s%n{0}$(rm)`x`",
    "x" * 300,
]
# Pasted (typing cannot enter these).
PASTED = [
    "/tmp/scans\0evil",
    "\0",
    "a\tb\nc\rd\x1b\x7f\x01",
    "\u202e\u200b\ufeff",
    "/" + "long-folder-name/" * 400,
]


@pytest.fixture
def models(isolated_home):
    from restorer_gui import paths
    from tests.tiny_enhancer import save_enhancer

    install_all()
    save_enhancer(paths.user_models_dir())


@pytest.fixture
def crash_reports():
    """The app's own crash reporter, installed for the test: the dialog it opens must never be hit."""
    reporter = CrashReporter()
    reporter.show_dialogs = False
    reports: list[str] = []
    reporter.reported.connect(lambda message, details: reports.append(details))
    reporter.install()
    yield reports
    reporter.uninstall()


def menu_action(window, *path: str):
    """The action at menu path ("File", "Batch Restore Folder…"), as the menu bar shows it."""

    def plain(text: str) -> str:
        return text.replace("&", "")

    actions = window.menuBar().actions()
    for i, name in enumerate(path):
        action = next((a for a in actions if plain(a.text()) == name), None)
        assert action is not None, f"no menu item {name!r} in {[plain(a.text()) for a in actions]}"
        if i == len(path) - 1:
            return action
        menu = action.menu()
        assert isinstance(menu, QMenu)
        actions = menu.actions()
    raise AssertionError(path)


def visible_fields(dialog: QWidget) -> list[QWidget]:
    """Line edits, spin boxes and combo boxes a user can see and type into now (not the line edits
    inside a spin box or a combo box: those are typed into through their owner)."""
    found = []
    for w in dialog.findChildren(QWidget):
        if not w.isVisibleTo(dialog):
            continue
        if isinstance(w, QLineEdit) and isinstance(w.parent(), (QAbstractSpinBox, QComboBox)):
            continue
        if isinstance(w, (QLineEdit, QAbstractSpinBox, QComboBox)):
            found.append(w)
    return found


def fields_of(dialog: QWidget) -> list[QWidget]:
    """Every field of *dialog*, on every page of its tabs."""
    found = visible_fields(dialog)
    for tabs in dialog.findChildren(QTabWidget):
        for i in range(tabs.count()):
            tabs.setCurrentIndex(i)
            found += [w for w in visible_fields(dialog) if w not in found]
    return found


def show_field(field: QWidget) -> None:
    """Bring the tab page holding *field* to the front, as a user would before typing."""
    w = field
    while w is not None:
        parent = w.parentWidget()
        if isinstance(parent, QStackedWidget) and isinstance(parent.parentWidget(), QTabWidget):
            parent.parentWidget().setCurrentWidget(w)
        w = parent


def type_text(qtbot, field: QWidget, text: str) -> None:
    """Type *text* key by key: ASCII through qtbot.keyClicks; other characters (which QTest cannot
    map to a key: it aborts) as key events carrying the character, as an input method sends them."""
    for ch in text:
        if " " <= ch <= "~":
            qtbot.keyClicks(field, ch)
        else:
            for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                QApplication.sendEvent(field, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier, ch))


def clear(qtbot, field: QWidget) -> None:
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(field, Qt.Key.Key_Backspace)


def paste(qtbot, field: QWidget, text: str) -> None:
    QApplication.clipboard().setText(text)
    clear(qtbot, field)
    qtbot.keyClick(field, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)


def text_of(field: QWidget) -> str:
    if isinstance(field, QComboBox):
        return field.currentText()
    if isinstance(field, QAbstractSpinBox):
        return field.lineEdit().text()
    return field.text()


def hammer(qtbot, dialog: QDialog, field: QWidget, shown: list) -> None:
    """Type and paste every awkward text into *field*; the dialog must stay open after each."""
    for text in TYPED:
        clear(qtbot, field)
        type_text(qtbot, field, text)
        assert dialog.isVisible(), f"{type(dialog).__name__} closed after typing {text!r}"
        assert QApplication.activeModalWidget() is dialog, f"another window took the keyboard after {text!r}"
        plain_edit = isinstance(field, QLineEdit) and not field.validator() and not field.inputMask()
        if plain_edit and field.maxLength() >= len(text):
            assert field.text() == text, "the typed text was changed or lost"
    for text in PASTED:
        paste(qtbot, field, text)
        assert dialog.isVisible(), f"{type(dialog).__name__} closed after pasting {text[:20]!r}"
        assert QApplication.activeModalWidget() is dialog
    assert shown == [], f"an error dialog opened: {shown}"
    # still usable: it takes ordinary typing after all that
    clear(qtbot, field)
    qtbot.keyClicks(field, "12")
    assert field.isEnabled() and dialog.isVisible()
    if isinstance(field, QLineEdit):
        assert "12" in field.text()
    elif isinstance(field, QAbstractSpinBox):
        assert text_of(field).strip(), "the spin box shows nothing after typing"


def exercise(qtbot, window, action, check=None, min_fields: int = 1) -> list[str]:
    """Trigger *action*, then work every field of the modal dialog it opens and close it.

    Returns the class names of the fields worked.  *check(qtbot, dialog)* runs afterwards, while the
    dialog is still open.
    """
    state: dict = {"done": False, "error": None, "fields": []}

    def work() -> None:
        dialog = QApplication.activeModalWidget()
        try:
            assert isinstance(dialog, QDialog), f"{action.text()!r} opened no dialog"
            fields = fields_of(dialog)
            state["fields"] = [type(f).__name__ for f in fields]
            assert len(fields) >= min_fields, f"{type(dialog).__name__}: no fields found"
            for field in fields:
                show_field(field)
                if field.isEnabled():
                    hammer(qtbot, dialog, field, window._shown_dialogs)
            if check is not None:
                check(qtbot, dialog)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after the dialog is closed
            state["error"] = exc
        finally:
            state["done"] = True
            if isinstance(dialog, QDialog):
                dialog.reject()

    QTimer.singleShot(0, work)
    action.trigger()
    qtbot.waitUntil(lambda: state["done"], timeout=20_000)
    if state["error"] is not None:
        raise state["error"]
    return state["fields"]


@pytest.fixture
def ready(window, open_doc, dialogs, models, crash_reports):
    """The main window with a photo open (a painted mask too) and models installed."""
    model = open_doc(solid(40, 30, (120, 110, 100)))
    model.replace_mask(np.full_like(model.doc.mask, 255), "Fill")
    step = Step("inpaint", {"model": "tiny-inpaint", "grain": False})  # a result layer: Export Recipe… has a recipe
    model.add_layer(model.doc.make_layer("Inpaint", solid(40, 30, (128, 128, 128)), "inpaint", step=step))
    window._shown_dialogs = dialogs.shown
    yield window
    assert crash_reports == [], "the crash reporter was hit:\n" + "\n".join(crash_reports)


def _batch_check(qtbot, dialog) -> None:
    # emptying the results field makes it follow the photos folder again; "/" has a default too
    clear(qtbot, dialog.output_edit)
    clear(qtbot, dialog.input_edit)
    type_text(qtbot, dialog.input_edit, "/")
    assert dialog.output_edit.text() == "/restored"
    type_text(qtbot, dialog.input_edit, "tmp")
    assert dialog.output_edit.text() == "/tmp-restored" and dialog.error_label.text() == ""
    paste(qtbot, dialog.input_edit, "/tmp/a\0b")
    assert "NUL" in dialog.error_label.text() and "\n" not in dialog.error_label.text()
    assert dialog.input_edit.text() == "/tmp/a\0b"  # what was pasted stays in the field
    dialog.input_edit.setText("~nobody-here/x")
    assert "no user" in dialog.error_label.text()
    dialog.input_edit.setText("x" * 5000)
    dialog.accept()  # Start: says why in the dialog and stays open
    assert dialog.isVisible() and dialog.error_label.text() and len(dialog.error_label.text()) < 200


def _preferences_check(qtbot, dialog) -> None:
    dialog.models_dir.setText("/tmp/models\0x")
    assert "NUL" in dialog.error_label.text()
    dialog.accept()
    assert dialog.isVisible()  # OK refused, the reason in the dialog
    dialog.models_dir.setText("")
    assert dialog.error_label.text() == ""


CASES = {
    "batch": (("File", "Batch Restore Folder…"), _batch_check, 4),
    "restore_photo": (("Restore", "Restore Photo…"), None, 3),  # sensitivity, σ, fading strength
    "preferences": (("Edit", "Preferences…"), _preferences_check, 15),
    "denoise": (("Restore", "Denoise…"), None, 2),
    "grow": (("Mask", "Grow Mask…"), None, 1),
    "shrink": (("Mask", "Shrink Mask…"), None, 1),
    "run_model": (("Restore", "Run Model…"), None, 1),
    "overlay_colour": (("Mask", "Overlay Colour…"), None, 1),
    # Qt's own file dialogs: a file name field each
    "open": (("File", "Open…"), None, 1),
    "export_image_as": (("File", "Export Image As…"), None, 1),
    "open_project": (("File", "Open Project…"), None, 1),
    "save_project_as": (("File", "Save Project As…"), None, 1),
    "import_layer": (("File", "Import Image as Layer…"), None, 1),
    "import_mask": (("Mask", "Import Mask…"), None, 1),
    "export_mask": (("Mask", "Export Mask…"), None, 1),
    "export_recipe": (("File", "Export Recipe…"), None, 1),
    "import_model": (("Restore", "Import Model…"), None, 1),
    "shortcuts": (("Help", "Keyboard Shortcuts…"), None, 1),  # its filter field
    "enhance": (("Restore", "Fix Fading and Colour…"), None, 1),  # its strength field
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_field_takes_any_text(ready, qtbot, case):
    path, check, min_fields = CASES[case]
    fields = exercise(qtbot, ready, menu_action(ready, *path), check, min_fields)
    assert len(fields) >= min_fields, fields


def dialog_menu_items(window) -> dict[QAction, tuple[str, ...]]:
    """Every menu item that opens a dialog (its text ends with "…", as the convention is), with
    the first menu path it is found under (some items are in two menus)."""
    found: dict[QAction, tuple[str, ...]] = {}

    def walk(menu: QMenu, path: tuple[str, ...]) -> None:
        for action in menu.actions():
            text = action.text().replace("&", "")
            if action.menu() is not None:
                walk(action.menu(), (*path, text))
            elif text.endswith("…"):
                found.setdefault(action, (*path, text))

    for top in window.menuBar().actions():
        walk(top.menu(), (top.text().replace("&", ""),))
    return found


# Items whose "…" leads to something other than a dialog.
NOT_DIALOGS = {
    ("Restore", "Repair Damage…"),  # runs the detector, then a review bar (a slider, no text field)
}


def test_every_dialog_in_the_menus_is_exercised(ready):
    """A new menu item that opens a dialog must join CASES (and so get its fields tested)."""
    paths = [path for path, _check, _n in CASES.values()] + list(NOT_DIALOGS)
    covered = {menu_action(ready, *path) for path in paths}
    found = dialog_menu_items(ready)
    missing = sorted(path for action, path in found.items() if action not in covered)
    assert len(found) >= 10 and not missing, f"add these to CASES: {missing}"


def test_about_opens_and_has_nothing_to_type_into(ready, qtbot):
    state = {}

    def look() -> None:
        dialog = QApplication.activeModalWidget()
        state["title"] = dialog.windowTitle() if dialog else None
        state["fields"] = fields_of(dialog) if dialog else None
        if dialog:
            dialog.reject()

    QTimer.singleShot(0, look)
    menu_action(ready, "Help", "About restorer-gui").trigger()
    qtbot.waitUntil(lambda: "fields" in state)
    assert state["title"] == "About restorer-gui" and state["fields"] == []


def test_the_main_window_tool_bar_fields_take_any_text(ready, qtbot):
    for field in (ready.size_spin, ready.hardness_spin):
        for text in TYPED:
            clear(qtbot, field)
            type_text(qtbot, field, text)
        for text in PASTED:
            paste(qtbot, field, text)
        clear(qtbot, field)
        qtbot.keyClicks(field, "1")
        assert field.lineEdit().text().startswith("1")
    assert ready._shown_dialogs == []


def test_a_dialog_without_fields_fails_the_field_test(ready, qtbot):
    """The harness itself: a dialog with no fields is reported, not passed."""
    with pytest.raises(AssertionError, match="no fields found"):
        exercise(qtbot, ready, menu_action(ready, "Help", "About restorer-gui"))
