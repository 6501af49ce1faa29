"""Fix Fading and Colour options: strength 0–100 %, whole photo or inside the mask, model; a live preview."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from restorer_gui.qt.dialogs.op_fields import ScopeAndModel, linked_slider, live_preview, run_buttons


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
        self.slider, self.spin, row = linked_slider(100, strength, " %")
        scope = ScopeAndModel(models, has_mask, "Only inside the mask (stains, a faded corner)")
        self.whole, self.in_mask, self.model = scope.whole, scope.in_mask, scope.model
        form = QFormLayout()
        form.addRow("Strength", row)
        scope.add_rows(form)
        hint = QLabel("Brings back faded colour and contrast: colour casts, yellowed paper, lifted blacks and "
                      "uneven fading. A B&W print comes out neutral gray; lower the strength to keep some warmth.")
        hint.setWordWrap(True)
        self._request = request_preview
        self.preview = live_preview(self, preview_crop, request_preview, self._ask_preview,
                                    (self.spin.valueChanged, self.model.currentIndexChanged))
        self.before, self.after = (self.preview.before, self.preview.after) if self.preview else (None, None)
        buttons = run_buttons(self, "Fix Fading")
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
