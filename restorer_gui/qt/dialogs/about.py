"""About: versions, the device in use and the cards of every installed model."""

from __future__ import annotations

import platform
from importlib import metadata

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from restorer_gui import __version__
from restorer_gui.inference import registry
from restorer_gui.logs import log_file


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _metrics_text(metrics: dict) -> str:
    parts = []
    for key, value in list(metrics.items())[:4]:
        if isinstance(value, (int, float)):
            parts.append(f"{key} {value:.4g}")
        elif isinstance(value, dict):
            inner = ", ".join(f"{k} {v:.4g}" for k, v in list(value.items())[:3] if isinstance(v, (int, float)))
            if inner:
                parts.append(f"{key}: {inner}")
    return "; ".join(parts)


class AboutDialog(QDialog):
    def __init__(self, device_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About restorer-gui")
        self.setSizeGripEnabled(True)  # resizable; the table wraps to whatever width it gets
        self.resize(920, 560)
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is not None and screen.isValid():
            self.resize(min(920, screen.width() - 40), min(560, screen.height() - 60))
        text = (
            f"<h3>restorer-gui {__version__}</h3>"
            "<p>Restore scanned old photos: paint over damage, denoise, compare every result with the original.</p>"
            f"<p>Python {platform.python_version()} · Qt {qVersion()} · PySide6 {pyside_version} · "
            f"PyTorch {_version('torch')} · spandrel {_version('spandrel')} · numpy {_version('numpy')} · "
            f"Pillow {_version('pillow')}</p>"
            f"<p>{device_text}</p><p>Log file: {log_file()}</p>"
        )
        header = QLabel(text)
        header.setWordWrap(True)
        header.setTextInteractionFlags(header.textInteractionFlags() | header.textInteractionFlags().TextSelectableByMouse)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["Model", "Task", "Source", "Parameters", "Measured", "Trained on"])
        # Short columns take their text's width; the figures and the training data share the rest and
        # wrap (rows grow to hold them), so no text is cut off and nothing hides to the right.
        columns = self.table.horizontalHeader()
        for col in range(4):
            columns.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        columns.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        columns.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollMode(QTableWidget.ScrollMode.ScrollPerPixel)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)  # a list to read, not a form
        for info in registry.list_models():
            row = self.table.rowCount()
            self.table.insertRow(row)
            training = info.training if isinstance(info.training, str) else (
                (info.training or {}).get("data", "") if isinstance(info.training, dict) else "")
            values = [info.label, info.task or "", info.source, f"{info.params:,}" if info.params else "",
                      _metrics_text(info.metrics), str(training)]
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(info.description or info.reproduce or "")
                self.table.setItem(row, col, item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(header)
        layout.addWidget(QLabel(f"Models ({self.table.rowCount()})"))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
