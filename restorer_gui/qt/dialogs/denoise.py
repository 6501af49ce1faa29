"""Denoise options: strength (σ on the 0–255 scale) or Auto, whole photo or inside the mask, model."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
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

MAX_SIGMA = 50


@dataclass
class DenoiseOptions:
    sigma: float | None  # None = Auto (estimated)
    inside_mask: bool
    model_id: str


class DenoiseDialog(QDialog):
    def __init__(self, models: list[tuple[str, str]], has_mask: bool, sigma: int = 15, auto: bool = False,
                 parent: QWidget | None = None) -> None:
        """`models`: (id, label) pairs for the task, the default first."""
        super().__init__(parent)
        self.setWindowTitle("Denoise")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, MAX_SIGMA)
        self.spin = QSpinBox()
        self.spin.setRange(0, MAX_SIGMA)
        self.slider.valueChanged.connect(self.spin.setValue)
        self.spin.valueChanged.connect(self.slider.setValue)
        self.slider.setValue(int(sigma))
        self.auto = QCheckBox("Auto (estimate the noise level)")
        self.auto.toggled.connect(lambda on: (self.slider.setEnabled(not on), self.spin.setEnabled(not on)))
        self.auto.setChecked(auto)
        strength = QHBoxLayout()
        strength.addWidget(self.slider, 1)
        strength.addWidget(self.spin)
        self.whole = QRadioButton("Whole photo")
        self.in_mask = QRadioButton("Only inside the mask")
        self.whole.setChecked(True)
        self.in_mask.setEnabled(has_mask)
        if not has_mask:
            self.in_mask.setToolTip("Paint a mask first")
        self.model = QComboBox()
        for model_id, label in models:
            self.model.addItem(label, model_id)
        form = QFormLayout()
        form.addRow("Strength (σ, 0–255 scale)", strength)
        form.addRow("", self.auto)
        form.addRow("Apply to", self.whole)
        form.addRow("", self.in_mask)
        form.addRow("Model", self.model)
        hint = QLabel("Film grain in old prints is usually σ 10–25; heavy noise 30–50.")
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Denoise")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def options(self) -> DenoiseOptions:
        return DenoiseOptions(
            sigma=None if self.auto.isChecked() else float(self.spin.value()),
            inside_mask=self.in_mask.isChecked(),
            model_id=str(self.model.currentData()),
        )
