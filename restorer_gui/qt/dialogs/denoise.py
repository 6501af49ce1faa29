"""Denoise options: strength (σ on the 0–255 scale) or Auto, whole photo or inside the mask, model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from restorer_gui.qt.dialogs.op_fields import ScopeAndModel, linked_slider, live_preview, run_buttons
from restorer_gui.qt.dialogs.preview import PREVIEW_DELAY_MS, PREVIEW_SIDE

__all__ = ["PREVIEW_DELAY_MS", "PREVIEW_SIDE", "DenoiseDialog", "DenoiseOptions", "StrengthControl"]

MAX_SIGMA = 50


class StrengthControl:
    """σ slider + spin box (0–50 on the 8-bit scale) and an Auto check box that disables them."""

    def __init__(self, sigma: int, auto: bool, auto_text: str = "Auto (estimate the noise level)") -> None:
        self.slider, self.spin, self.row = linked_slider(MAX_SIGMA, sigma)
        self.auto = QCheckBox(auto_text)
        self.auto.toggled.connect(lambda on: (self.slider.setEnabled(not on), self.spin.setEnabled(not on)))
        self.auto.setChecked(auto)

    @property
    def sigma(self) -> float | None:
        return None if self.auto.isChecked() else float(self.spin.value())


@dataclass
class DenoiseOptions:
    sigma: float | None  # None = Auto (estimated)
    inside_mask: bool
    model_id: str
    replace_previous: bool = False  # run on what lies under the last Denoise result and replace it


class DenoiseDialog(QDialog):
    def __init__(self, models: list[tuple[str, str]], has_mask: bool, sigma: int = 15, auto: bool = False,
                 parent: QWidget | None = None, *, preview_crop: np.ndarray | None = None,
                 request_preview: Callable[[float | None, str], None] | None = None,
                 previous_result: str = "") -> None:
        """`models`: (id, label) pairs for the task, the default first. With `preview_crop` (a region of the
        photo) and `request_preview` (runs the denoiser on it off the GUI thread and answers with
        `show_preview`), the dialog shows the region at 100 % before and after, updated as the values change.
        `previous_result`: the name of a Denoise result on top, which this run can replace."""
        super().__init__(parent)
        self.setWindowTitle("Denoise")
        self.strength = StrengthControl(sigma, auto)
        self.slider, self.spin, self.auto = self.strength.slider, self.strength.spin, self.strength.auto
        strength = self.strength.row
        scope = ScopeAndModel(models, has_mask)
        self.whole, self.in_mask, self.model = scope.whole, scope.in_mask, scope.model
        form = QFormLayout()
        form.addRow("Strength (σ, 0–255 scale)", strength)
        form.addRow("", self.auto)
        scope.add_rows(form)
        self.replace = QCheckBox(f"Replace “{previous_result}” (run on the photo under it)")
        self.replace.setChecked(bool(previous_result))
        self.replace.setVisible(bool(previous_result))
        form.addRow("", self.replace)
        hint = QLabel("Film grain in old prints is usually σ 10–25; heavy noise 30–50.")
        hint.setWordWrap(True)
        self.found = QLabel("")  # what Auto estimated, from the preview
        self._request = request_preview
        self.preview = live_preview(self, preview_crop, request_preview, self._ask_preview,
                                    (self.spin.valueChanged, self.auto.toggled, self.model.currentIndexChanged))
        self.before, self.after = (self.preview.before, self.preview.after) if self.preview else (None, None)
        buttons = run_buttons(self, "Denoise")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        if self.preview is not None:
            layout.addLayout(self.preview.layout())
            layout.addWidget(self.found)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def _ask_preview(self) -> None:
        if self._request is not None:
            self._request(self.strength.sigma, str(self.model.currentData()))

    def show_preview(self, pixels: np.ndarray, sigma: float | None, estimated: bool) -> None:
        """The denoised region (GUI thread), and the level used ("Auto found σ 12.3" when estimated)."""
        if self.preview is None:
            return
        self.preview.show(pixels)
        if estimated and sigma is not None:
            self.found.setText(f"Auto found σ {sigma:.1f}; untick Auto to start from there.")
            self.spin.blockSignals(True)
            self.slider.blockSignals(True)
            self.spin.setValue(int(round(min(sigma, MAX_SIGMA))))
            self.slider.setValue(self.spin.value())
            self.spin.blockSignals(False)
            self.slider.blockSignals(False)
        elif not estimated:
            self.found.setText("")

    def options(self) -> DenoiseOptions:
        return DenoiseOptions(
            sigma=self.strength.sigma,
            inside_mask=self.in_mask.isChecked(),
            model_id=str(self.model.currentData()),
            replace_previous=self.replace.isChecked(),
        )
