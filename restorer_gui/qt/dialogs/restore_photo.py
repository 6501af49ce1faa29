"""Restore ▸ Restore Photo…: the whole restore chain in one dialog. Each step of the chain (repair → denoise → fix
fading → upscale, the chain's own order) is a check box with its settings; a preview shows the chain's result on a
reduced copy of the photo. The dialog only collects the choices (`RestorePhotoOptions`); `qt.restore_chain` runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from restorer_gui.qt.dialogs.denoise import StrengthControl
from restorer_gui.qt.dialogs.op_fields import linked_slider, live_preview, run_buttons

#: the steps the dialog offers, in chain order, with their titles
STEP_TITLES = {"repair": "Repair damage (cracks, creases, tears, dust)", "denoise": "Denoise",
               "enhance": "Fix fading and colour", "upscale": "Upscale"}
MAX_SENSITIVITY = 98  # % (the review bar's range); 0 = the detector's own cut


@dataclass
class RestorePhotoOptions:
    """The dialog's choices (plain data; remembered in the settings)."""

    steps: tuple[str, ...] = ("repair", "denoise")  # chain order
    review: bool = False  # stop after finding the damage: review the mask, then go on
    sensitivity: int = 0  # repair: 2–98 %, 0 = the detector's own
    sigma: int = 15  # denoise: σ on the 0–255 scale …
    auto: bool = True  # … or estimated from the photo
    keep_grain: int = 0  # denoise: % of the removed grain laid back
    strength: float = 100.0  # fix fading: % of the correction
    upscale_model: str = ""  # upscale: the model (its factor is the model's)


class RestorePhotoDialog(QDialog):
    def __init__(self, options: RestorePhotoOptions, parent: QWidget | None = None, *,
                 unavailable: dict[str, str] | None = None, upscalers: list[tuple[str, str]] | None = None,
                 preview: np.ndarray | None = None,
                 request_preview: Callable[[RestorePhotoOptions], None] | None = None) -> None:
        """``unavailable``: step → why it cannot run (no model), shown in its box, which stays off. ``upscalers``:
        (id, label) of the upscale models. With ``preview`` (the photo, reduced) and ``request_preview(options)``
        (answered by `show_preview`), a before/after preview of the chain."""
        super().__init__(parent)
        self.setWindowTitle("Restore Photo")
        unavailable = dict(unavailable or {})
        upscalers = list(upscalers or [])
        if not upscalers:
            unavailable.setdefault("upscale", "No upscale model is installed: import one with File ▸ Import Model…")
        self.step_boxes: dict[str, QGroupBox] = {}
        steps = QVBoxLayout()
        for name, title in STEP_TITLES.items():
            box = QGroupBox(title)
            box.setCheckable(True)
            box.setChecked(name in options.steps and name not in unavailable)
            self.step_boxes[name] = box
            steps.addWidget(box)
        form = self._form("repair")
        self.sensitivity_slider, self.sensitivity, row = linked_slider(MAX_SENSITIVITY, options.sensitivity, " %")
        self.sensitivity.setSpecialValueText("the detector's own")
        self.sensitivity.setToolTip("Higher finds fainter damage (and more false marks)")
        form.addRow("Sensitivity", row)
        self.review = QCheckBox("Review the damage mask before filling")
        self.review.setToolTip("Stop after finding the damage: paint to add, Alt-paint to remove, then Fill Damage "
                               "and Go On runs the remaining steps")
        self.review.setChecked(options.review)
        form.addRow("", self.review)
        form = self._form("denoise")
        self.denoise = StrengthControl(options.sigma, options.auto)
        form.addRow("Strength (σ, 0–255)", self.denoise.row)
        form.addRow("", self.denoise.auto)
        self.grain_slider, self.keep_grain, row = linked_slider(100, options.keep_grain, " %")
        self.keep_grain.setToolTip("Lay this share of the removed grain back, so the scan still looks like a photograph")
        form.addRow("Keep grain", row)
        form = self._form("enhance")
        self.strength_slider, self.strength, row = linked_slider(100, int(round(options.strength)), " %")
        form.addRow("Strength", row)
        form = self._form("upscale")
        self.upscale_model = QComboBox()
        for model_id, label in upscalers:
            self.upscale_model.addItem(label, model_id)
        self.upscale_model.setCurrentIndex(max(0, self.upscale_model.findData(options.upscale_model)))
        form.addRow("Model", self.upscale_model)
        if "upscale" not in unavailable:
            form.addRow("", _note("The larger picture opens as a new photo after the other steps' layers."))
        for name, reason in unavailable.items():
            if name in self.step_boxes:
                box = self.step_boxes[name]
                box.setChecked(False)
                box.setEnabled(False)
                box.setToolTip(reason)
                box.layout().addRow(_note(reason))

        hint = _note("Each step becomes a layer of its own (Ctrl+Z undoes one step at a time); Cancel (Esc) stops "
                     "the run.")
        self._request = request_preview
        changed = [self.sensitivity.valueChanged, self.denoise.spin.valueChanged, self.denoise.auto.toggled,
                   self.keep_grain.valueChanged, self.strength.valueChanged] + [box.toggled for box in self.step_boxes.values()]
        self.preview = live_preview(self, preview, request_preview, self._ask_preview, changed)
        self.before, self.after = (self.preview.before, self.preview.after) if self.preview else (None, None)
        buttons = run_buttons(self, "Restore")
        self.run_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        for box in self.step_boxes.values():
            box.toggled.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addLayout(steps)
        if self.preview is not None:
            row = QHBoxLayout()
            for title, label in (("Before (the whole photo, reduced)", self.before),
                                 ("After (the steps above; upscale not shown)", self.after)):
                col = QVBoxLayout()
                col.addWidget(QLabel(title))
                col.addWidget(label)
                col.addStretch(1)
                row.addLayout(col)
            layout.addLayout(row)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self._update()

    def _form(self, name: str) -> QFormLayout:
        return QFormLayout(self.step_boxes[name])

    def _update(self, *_args: object) -> None:
        self.run_button.setEnabled(bool(self.checked_steps()))

    def checked_steps(self) -> tuple[str, ...]:
        return tuple(name for name, box in self.step_boxes.items() if box.isEnabled() and box.isChecked())

    def _ask_preview(self) -> None:
        if self._request is not None:
            self._request(self.options())

    def show_preview(self, pixels: np.ndarray) -> None:
        if self.preview is not None:
            self.preview.show(pixels)

    def options(self) -> RestorePhotoOptions:
        return RestorePhotoOptions(
            steps=self.checked_steps(), review=self.review.isChecked(), sensitivity=self.sensitivity.value(),
            sigma=self.denoise.spin.value(), auto=self.denoise.auto.isChecked(),
            keep_grain=self.keep_grain.value(), strength=float(self.strength.value()),
            upscale_model=str(self.upscale_model.currentData() or ""))


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label
