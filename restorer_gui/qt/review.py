"""Restore ▸ Repair Damage's review step: the found damage is shown as the mask, a sensitivity slider
re-cuts the detector's probability map at once (no model run), the brush edits it, Fill Damage fills it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QSlider, QToolBar

from restorer_gui.core import mask_ops

if TYPE_CHECKING:
    from restorer_gui.qt.document_model import DocumentModel
    from restorer_gui.qt.host import EditorWindow


def sensitivity_to_threshold(sensitivity: int) -> float:
    """Sensitivity 0–100 % (more finds more) → the detector's probability cut."""
    return float(np.clip(1.0 - sensitivity / 100.0, 0.02, 0.98))


def threshold_to_sensitivity(threshold: float) -> int:
    return int(round((1.0 - float(threshold)) * 100))


class DamageReview(QToolBar):
    """A bar above the photo while a detected damage mask is being reviewed."""

    def __init__(self, host: EditorWindow, fill: Callable[[], Any], show_mask: Callable[[], None]) -> None:
        """*host* is the main window; *fill* is Fill Damage (stage 2); *show_mask* turns the mask overlay on."""
        super().__init__("Review damage", host)
        self.setObjectName("ReviewDamageBar")
        self.host = host
        self._show_mask = show_mask
        self.model: DocumentModel | None = None
        self._prob: np.ndarray | None = None
        self._base: np.ndarray | None = None
        self._grow = 0
        self.then: Callable[[], Any] | None = None  # what runs after the fill (Restore Photo's remaining steps)
        self.addWidget(QLabel(" Review the damage mask: paint to add, Alt-paint to remove.   Sensitivity "))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(2, 98)
        self.slider.setMaximumWidth(220)
        self.slider.setTracking(False)  # a drag applies once, on release; keys apply at once
        self.slider.setToolTip("Higher finds fainter damage (and more false marks)")
        self.slider.valueChanged.connect(self._on_sensitivity_changed)
        self.addWidget(self.slider)
        self.value_label = QLabel("")
        self.addWidget(self.value_label)
        self.fill_button = QPushButton("Fill Damage")
        self.fill_button.setDefault(True)
        self.fill_button.clicked.connect(fill)
        self.addWidget(self.fill_button)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.finish)
        self.addWidget(self.close_button)
        host.addToolBar(Qt.ToolBarArea.TopToolBarArea, self)
        self.setVisible(False)

    @property
    def active(self) -> bool:
        return self.model is not None

    def start(self, model: DocumentModel, result: Any, params: dict[str, Any],
              then: Callable[[], Any] | None = None) -> None:
        """Show what stage 1 found (one undo step) and open the review; *then* runs after the fill."""
        self.model = model
        self.then = then
        self.fill_button.setText("Fill Damage and Go On" if then is not None else "Fill Damage")
        self._prob = result.extras.get("probability")
        self._base = model.doc.mask.copy()
        self._grow = int(result.info.get("grow", 0))
        threshold = float(result.info.get("threshold", 0.5))
        self.slider.blockSignals(True)
        self.slider.setValue(threshold_to_sensitivity(threshold))
        self.slider.blockSignals(False)
        self.value_label.setText(f" {self.slider.value()} % ")
        model.replace_mask(np.maximum(self._base, result.mask), "Detect damage")
        self._show_mask()
        self.setVisible(True)
        self.host.statusBar().showMessage(
            f"{result.info.get('summary', '')} Review the mask, then {self.fill_button.text()}.", 15_000)

    def _on_sensitivity_changed(self, value: int) -> None:
        self.value_label.setText(f" {value} % ")
        if self.model is None or self._prob is None or self.model is not self.host.model:
            return
        from restorer_gui.inference.ops.detect import describe

        found = mask_ops.threshold_probability(self._prob, sensitivity_to_threshold(value))
        if self._grow and found.any():
            found = mask_ops.grow(found, self._grow)
        mask = np.maximum(self._base, found)
        self.model.replace_mask(mask, f"Damage sensitivity {value} %")
        self.host.settings.repair_threshold = sensitivity_to_threshold(value)
        self.host.statusBar().showMessage(describe(found)[0], 8000)

    def finish(self) -> None:
        self.model = None
        self.then = None
        self._prob = self._base = None
        self.setVisible(False)
