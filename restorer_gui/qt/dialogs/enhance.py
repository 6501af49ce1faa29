"""Fix Fading and Colour options: strength 0–100 %, whole photo or inside the mask, model; a live preview."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from restorer_gui.qt.dialogs.preview import LivePreview


@dataclass
class EnhanceOptions:
    strength: float  # % of the correction
    inside_mask: bool
    model_id: str


class EnhanceDialog(QDialog):
    def __init__(self, models: list[tuple[str, str]], has_mask: bool, strength: int = 100,
                 parent: QWidget | None = None, *, preview_crop: np.ndarray | None = None,
                 request_preview: Callable[[float, str], None] | None = None) -> None:
        """`models`: (id, label) pairs of enhancement models, the default first. With `preview_crop` and
        `request_preview(strength, model_id)` (answered by `show_preview`), a live before/after preview."""
        super().__init__(parent)
        self.setWindowTitle("Fix Fading and Colour")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.spin = QSpinBox()
        self.spin.setRange(0, 100)
        self.spin.setSuffix(" %")
        self.slider.valueChanged.connect(self.spin.setValue)
        self.spin.valueChanged.connect(self.slider.setValue)
        self.spin.setValue(max(0, min(100, int(strength))))
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        self.whole = QRadioButton("Whole photo")
        self.in_mask = QRadioButton("Only inside the mask (stains, a faded corner)")
        self.whole.setChecked(True)
        self.in_mask.setEnabled(has_mask)
        if not has_mask:
            self.in_mask.setToolTip("Paint a mask first")
        self.model = QComboBox()
        for model_id, label in models:
            self.model.addItem(label, model_id)
        form = QFormLayout()
        form.addRow("Strength", row)
        form.addRow("Apply to", self.whole)
        form.addRow("", self.in_mask)
        form.addRow("Model", self.model)
        hint = QLabel("Brings back faded colour and contrast: colour casts, yellowed paper, lifted blacks and "
                      "uneven fading. A B&W print comes out neutral gray; lower the strength to keep some warmth.")
        hint.setWordWrap(True)
        self._request = request_preview
        self.preview = None
        self.before = self.after = None
        if preview_crop is not None and request_preview is not None:
            self.preview = LivePreview(preview_crop, self._ask_preview, self)
            self.before, self.after = self.preview.before, self.preview.after
            for signal in (self.spin.valueChanged, self.model.currentIndexChanged):
                signal.connect(self.preview.schedule)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Fix Fading")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        if self.preview is not None:
            layout.addLayout(self.preview.layout())
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def _ask_preview(self) -> None:
        if self._request is not None:
            self._request(float(self.spin.value()), str(self.model.currentData()))

    def show_preview(self, pixels: np.ndarray) -> None:
        if self.preview is not None:
            self.preview.show(pixels)

    def options(self) -> EnhanceOptions:
        return EnhanceOptions(strength=float(self.spin.value()), inside_mask=self.in_mask.isChecked(),
                              model_id=str(self.model.currentData()))
