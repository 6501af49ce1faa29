"""What the operation dialogs (Denoise, Fix Fading and Colour) share: where to apply the operation (the whole
photo or inside the mask) and with which model, a live preview wired to the values, and the run button."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QRadioButton,
    QSlider,
    QSpinBox,
)

from restorer_gui.qt.dialogs.preview import LivePreview


def linked_slider(maximum: int, value: int, suffix: str = "") -> tuple[QSlider, QSpinBox, QHBoxLayout]:
    """A 0–*maximum* slider and spin box that follow each other, in one row (the slider stretches)."""
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, maximum)
    spin = QSpinBox()
    spin.setRange(0, maximum)
    if suffix:
        spin.setSuffix(suffix)
    slider.valueChanged.connect(spin.setValue)
    spin.valueChanged.connect(slider.setValue)
    spin.setValue(max(0, min(maximum, int(value))))
    row = QHBoxLayout()
    row.addWidget(slider, 1)
    row.addWidget(spin)
    return slider, spin, row


class ScopeAndModel:
    """"Whole photo" / "Only inside the mask" (disabled, with the reason, when nothing is painted) and the model
    combo of (id, label) pairs, the default first."""

    def __init__(self, models: list[tuple[str, str]], has_mask: bool,
                 inside_text: str = "Only inside the mask") -> None:
        self.whole = QRadioButton("Whole photo")
        self.in_mask = QRadioButton(inside_text)
        self.whole.setChecked(True)
        self.in_mask.setEnabled(has_mask)
        if not has_mask:
            self.in_mask.setToolTip("Paint a mask first")
        self.model = QComboBox()
        for model_id, label in models:
            self.model.addItem(label, model_id)

    def add_rows(self, form: QFormLayout) -> None:
        form.addRow("Apply to", self.whole)
        form.addRow("", self.in_mask)
        form.addRow("Model", self.model)


def live_preview(dialog: QDialog, crop: np.ndarray | None, request: Callable[..., None] | None,
                 ask: Callable[[], None], changed: Iterable[Any]) -> LivePreview | None:
    """A `LivePreview` of ``crop`` that calls ``ask`` a moment after any of the ``changed`` signals; None without
    a crop or a way to run the preview (``request``)."""
    if crop is None or request is None:
        return None
    preview = LivePreview(crop, ask, dialog)
    for signal in changed:
        signal.connect(preview.schedule)
    return preview


def run_buttons(dialog: QDialog, text: str) -> QDialogButtonBox:
    """OK (named ``text``) and Cancel, wired to the dialog."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons
