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


class StrengthControl:
    """σ slider + spin box (0–50 on the 8-bit scale) and an Auto check box that disables them."""

    def __init__(self, sigma: int, auto: bool, auto_text: str = "Auto (estimate the noise level)") -> None:
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, MAX_SIGMA)
        self.spin = QSpinBox()
        self.spin.setRange(0, MAX_SIGMA)
        self.slider.valueChanged.connect(self.spin.setValue)
        self.spin.valueChanged.connect(self.slider.setValue)
        self.slider.setValue(int(sigma))
        self.auto = QCheckBox(auto_text)
        self.auto.toggled.connect(lambda on: (self.slider.setEnabled(not on), self.spin.setEnabled(not on)))
        self.auto.setChecked(auto)
        self.row = QHBoxLayout()
        self.row.addWidget(self.slider, 1)
        self.row.addWidget(self.spin)

    @property
    def sigma(self) -> float | None:
        return None if self.auto.isChecked() else float(self.spin.value())


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
        self.strength = StrengthControl(sigma, auto)
        self.slider, self.spin, self.auto = self.strength.slider, self.strength.spin, self.strength.auto
        strength = self.strength.row
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
            sigma=self.strength.sigma,
            inside_mask=self.in_mask.isChecked(),
            model_id=str(self.model.currentData()),
        )
