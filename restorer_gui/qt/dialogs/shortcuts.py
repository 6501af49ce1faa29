"""Help ▸ Keyboard Shortcuts: every menu command that has a key, read from the actions themselves
(so the list cannot go stale), and the keys the canvas takes while painting."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# Keys the canvas handles itself (not menu commands): where, what, keys.
CANVAS_KEYS: list[tuple[str, str, str]] = [
    ("Canvas", "Pan", "Hold Space and drag (or drag with the middle button)"),
    ("Canvas", "Remove from the mask with any mask tool", "Hold Alt while painting (or paint with the right button)"),
    ("Canvas", "Smaller / bigger brush", "[  /  ]"),
    ("Canvas", "Peek at the original", "Hold \\"),
    ("Canvas", "Zoom around the cursor", "Mouse wheel"),
    ("Canvas", "Cancel a rectangle or lasso being drawn", "Esc"),
]


def plain_text(text: str) -> str:
    """A menu text as shown: mnemonic ampersands dropped ("&&" is a literal one)."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def keys_text(action: QAction) -> str:
    return ", ".join(seq.toString(QKeySequence.SequenceFormat.NativeText) for seq in action.shortcuts()
                     if not seq.isEmpty())


def menu_shortcuts(menu_bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu path, command, keys) for every action in the menus that has a shortcut, in menu order;
    an action in two menus is listed once, under the first."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.isSeparator():
                continue
            if action.menu() is not None:
                walk(action.menu(), f"{path} ▸ {plain_text(action.text())}")
                continue
            keys = keys_text(action)
            if keys and id(action) not in seen:
                seen.add(id(action))
                rows.append((path, plain_text(action.text()), keys))

    for top in menu_bar.actions():
        if top.menu() is not None:
            walk(top.menu(), plain_text(top.text()))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, menu_bar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.resize(640, 560)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter (a command, a menu or a key)")
        self.filter.setClearButtonEnabled(True)
        rows = menu_shortcuts(menu_bar) + CANVAS_KEYS
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Menu", "Command", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeRowsToContents()
        self.filter.textChanged.connect(self._apply_filter)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def rows(self, visible_only: bool = False) -> list[tuple[str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())
                if not (visible_only and self.table.isRowHidden(r))]

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        for r in range(self.table.rowCount()):
            hay = " ".join(self.table.item(r, c).text() for c in range(3)).casefold()
            self.table.setRowHidden(r, bool(needle) and needle not in hay)
