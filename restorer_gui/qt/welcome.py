"""What the window shows before a photo is open: open a photo, try the sample, or pick a recent
project or photo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class WelcomePage(QWidget):
    open_requested = Signal()
    sample_requested = Signal()
    recent_requested = Signal(str)  # a photo
    recent_project_requested = Signal(str)  # a project file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h2>Bring an old photo back</h2>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "Open a scanned photo (or drop it here), paint over scratches, tears and stains,\n"
            "and compare every result with the original."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.open_button = QPushButton("Open a photo…")
        self.sample_button = QPushButton("Try the sample photo")
        self.open_button.clicked.connect(self.open_requested)
        self.sample_button.clicked.connect(self.sample_requested)
        self.recent_projects_label, self.recent_projects = self._recent_list("Recent projects",
                                                                             self.recent_project_requested)
        self.recent_label, self.recent = self._recent_list("Recent photos", self.recent_requested)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        layout.addWidget(hint)
        for w in (self.open_button, self.sample_button):
            w.setMinimumWidth(240)
            layout.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(16)
        lists = QHBoxLayout()
        lists.addStretch(1)
        for label, view in ((self.recent_projects_label, self.recent_projects), (self.recent_label, self.recent)):
            column = QVBoxLayout()
            column.addWidget(label, 0, Qt.AlignmentFlag.AlignHCenter)
            column.addWidget(view, 1)
            lists.addLayout(column)
        lists.addStretch(1)
        layout.addLayout(lists, 1)
        layout.addStretch(2)
        self.set_recent([], [])

    @staticmethod
    def _recent_list(title: str, signal) -> tuple[QLabel, QListWidget]:
        label = QLabel(title)
        view = QListWidget()
        view.setMinimumWidth(260)
        view.setMaximumWidth(420)
        view.itemActivated.connect(lambda item: signal.emit(item.data(Qt.ItemDataRole.UserRole)))
        return label, view

    @staticmethod
    def _fill(label: QLabel, view: QListWidget, files: list[str]) -> None:
        view.clear()
        for f in files:
            item = QListWidgetItem(Path(f).name)
            item.setToolTip(f)
            item.setData(Qt.ItemDataRole.UserRole, f)
            view.addItem(item)
        view.setVisible(bool(files))
        label.setVisible(bool(files))

    def set_recent(self, files: list[str], projects: list[str] | None = None) -> None:
        """The recent photos and (when given) the recent projects; an empty list is hidden."""
        self._fill(self.recent_label, self.recent, files)
        if projects is not None:
            self._fill(self.recent_projects_label, self.recent_projects, projects)
