"""Denoise options: strength (σ on the 0–255 scale) or Auto, keep grain, whole photo or inside the mask, model.

Auto's strength shows on the slider ("Auto found 18"); moving the slider starts from there (Auto goes off)."""

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
    """σ slider + spin box (0–50 on the 8-bit scale) and an Auto check box. By default Auto disables them;
    ``movable``: they stay live, show the strength Auto found (`show_found`), and moving them leaves Auto
    for a fixed strength from there."""

    def __init__(self, sigma: int, auto: bool, auto_text: str = "Auto (estimate the noise level)", *,
                 movable: bool = False) -> None:
        self.slider, self.spin, self.row = linked_slider(MAX_SIGMA, sigma)
        self.auto = QCheckBox(auto_text)
        if movable:
            self.spin.valueChanged.connect(lambda _v: self.auto.setChecked(False))
        else:
            self.auto.toggled.connect(lambda on: (self.slider.setEnabled(not on), self.spin.setEnabled(not on)))
        self.auto.setChecked(auto)

    @property
    def sigma(self) -> float | None:
        return None if self.auto.isChecked() else float(self.spin.value())

    def show_found(self, sigma: float) -> None:
        """Put Auto's strength on the slider and the spin box (Auto stays on; no change is signalled)."""
        value = int(round(min(max(sigma, 0.0), MAX_SIGMA)))
        for widget in (self.spin, self.slider):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)


@dataclass
class DenoiseOptions:
    sigma: float | None  # None = Auto (estimated)
    inside_mask: bool
    model_id: str
    replace_previous: bool = False  # run on what lies under the last Denoise result and replace it
    keep_grain: float = 0.0  # % of the removed grain laid back


class DenoiseDialog(QDialog):
    def __init__(self, models: list[tuple[str, str]], has_mask: bool, sigma: int = 15, auto: bool = False,
                 parent: QWidget | None = None, *, preview_crop: np.ndarray | None = None,
                 request_preview: Callable[[float | None, str, float], None] | None = None,
                 previous_result: str = "", keep_grain: int = 0) -> None:
        """`models`: (id, label) pairs for the task, the default first. With `preview_crop` (a region of the
        photo) and `request_preview(sigma, model_id, keep_grain)` (runs the denoiser on it off the GUI thread
        and answers with `show_preview`), the dialog shows the region at 100 % before and after, updated as
        the values change. `previous_result`: the name of a Denoise result on top, which this run can replace.
        `keep_grain`: the % of the removed grain laid back (0–100)."""
        super().__init__(parent)
        self.setWindowTitle("Denoise")
        self.strength = StrengthControl(sigma, auto, "Auto (find the noise level)", movable=True)
        self.slider, self.spin, self.auto = self.strength.slider, self.strength.spin, self.strength.auto
        self.grain_slider, self.grain, grain_row = linked_slider(100, keep_grain, " %")
        self.grain.setToolTip("Lay this share of the removed grain back, so the scan still looks like a photograph")
        self.auto_found: float | None = None  # the strength Auto found for this photo (from the preview)
        scope = ScopeAndModel(models, has_mask)
        self.whole, self.in_mask, self.model = scope.whole, scope.in_mask, scope.model
        form = QFormLayout()
        form.addRow("Strength (σ, 0–255 scale)", self.strength.row)
        form.addRow("", self.auto)
        form.addRow("Keep grain", grain_row)
        scope.add_rows(form)
        self.replace = QCheckBox(f"Replace “{previous_result}” (run on the photo under it)")
        self.replace.setChecked(bool(previous_result))
        self.replace.setVisible(bool(previous_result))
        form.addRow("", self.replace)
        hint = QLabel("Film grain in old prints is usually σ 10–25; heavy noise 30–50.")
        hint.setWordWrap(True)
        self.found = QLabel("")  # what Auto found, from the preview
        self._request = request_preview
        self.preview = live_preview(self, preview_crop, request_preview, self._ask_preview,
                                    (self.spin.valueChanged, self.auto.toggled, self.model.currentIndexChanged,
                                     self.grain.valueChanged))
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
            self._request(self.strength.sigma, str(self.model.currentData()), float(self.grain.value()))

    def show_preview(self, pixels: np.ndarray, sigma: float | None, estimated: bool) -> None:
        """The denoised region (GUI thread), and the level used: Auto's strength goes on the slider
        ("Auto found 18"), from where the user can move it."""
        if self.preview is None:
            return
        self.preview.show(pixels)
        if estimated and sigma is not None:
            self.auto_found = float(sigma)
            self.strength.show_found(sigma)
            self.found.setText(f"Auto found {self.spin.value()}; move the slider to start from there.")
        elif not estimated and self.auto_found is not None:
            self.found.setText(f"Auto found {int(round(min(self.auto_found, MAX_SIGMA)))}; "
                               f"now {self.spin.value()}. Tick Auto to go back.")
        elif not estimated:
            self.found.setText("")

    def options(self) -> DenoiseOptions:
        return DenoiseOptions(
            sigma=self.strength.sigma,
            inside_mask=self.in_mask.isChecked(),
            model_id=str(self.model.currentData()),
            replace_previous=self.replace.isChecked(),
            keep_grain=float(self.grain.value()),
        )
