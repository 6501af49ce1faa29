"""Preferences: device, precision, tile size, models folder, the model for each command, saving, brush,
undo memory, autosave."""

from __future__ import annotations

from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from restorer_gui import paths
from restorer_gui.core.pathtext import PathTextError, exists, is_dir, path_from_text, shown
from restorer_gui.inference import registry
from restorer_gui.settings import MODEL_CHOICE_FIELDS, Settings

DEVICES = [("Automatic (CUDA, then Apple GPU, then CPU)", "auto"), ("CPU", "cpu"), ("NVIDIA GPU (CUDA)", "cuda"),
           ("Apple GPU (MPS)", "mps")]
PRECISIONS = [("Automatic (half precision on CUDA where safe)", "auto"), ("Always full precision (fp32)", "fp32")]
FORMATS = [("PNG", "png"), ("TIFF (keeps 16 bits)", "tif"), ("JPEG (8 bits)", "jpg")]


def _combo(items: list[tuple[str, str]], current: str) -> QComboBox:
    box = QComboBox()
    for label, value in items:
        box.addItem(label, value)
    index = box.findData(current)
    box.setCurrentIndex(max(index, 0))
    return box


# the GUI command each task's model serves, and the model tasks it accepts
MODEL_COMMANDS = {"inpaint": ("Inpaint", ("inpaint",)), "denoise": ("Denoise", ("denoise", "restore")),
                  "detect-scratches": ("Detect scratches", ("detect-scratches",)),
                  "enhance": ("Fix fading and colour", ("enhance",))}


def model_choices(tasks: tuple[str, ...]) -> list[tuple[str, str]]:
    """(label, id) for a model combo: "automatic" (naming the model it picks now), then every
    registered model that does one of *tasks*."""
    models = [m for task in tasks for m in registry.list_models(task)]
    auto = next((m for m in (registry.default_model(t) for t in tasks) if m is not None), None)
    items = [(f"Automatic (currently {auto.label})" if auto else "Automatic (no model yet)", "")]
    return items + [(f"{m.label} ({m.source})", m.id) for m in models]


def _spin(lo: int, hi: int, value: int, suffix: str = "", special: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(lo, hi)
    spin.setValue(value)
    spin.setSuffix(suffix)
    if special:
        spin.setSpecialValueText(special)
    return spin


DEFAULT_OVERLAY_COLOR = Settings().overlay_color


class ColorButton(QPushButton):
    """A button showing a colour (a swatch and its hex name); clicking it opens the colour picker."""

    def __init__(self, color: QColor, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = title
        self._color = QColor()
        self.set_color(color)
        self.clicked.connect(self.choose)

    def color(self) -> QColor:
        return QColor(self._color)

    def set_color(self, color: QColor) -> None:
        self._color = QColor(color)
        swatch = QPixmap(28, 14)
        swatch.fill(self._color)
        self.setIcon(QIcon(swatch))
        self.setIconSize(swatch.size())
        self.setText(self._color.name())
        self.setToolTip(f"{self._color.name()}: click to choose another colour")

    def choose(self) -> None:
        color = QColorDialog.getColor(self._color, self, self._title)
        if color.isValid():
            self.set_color(color)


def _saved_color(text: str) -> QColor:
    """The colour a saved setting names (a hex value such as #ff2a2a, or a colour name); the default
    when it names none."""
    text = text.strip()
    if "\0" not in text and QColor.isValidColorName(text):
        return QColor(text)
    return QColor(DEFAULT_OVERLAY_COLOR)


class PreferencesDialog(QDialog):
    """Edits a copy of the settings; `result_settings()` returns the edited copy."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._base = settings
        s = settings
        self.device = _combo(DEVICES, s.device)
        self.precision = _combo(PRECISIONS, s.precision)
        self.tile = _spin(0, 8192, s.tile_size, " px", "Automatic (from free memory)")
        self.tile.setSingleStep(64)
        self.models_dir = QLineEdit(s.models_dir)
        self.models_dir.setPlaceholderText(str(paths.data_dir() / "models"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_models)
        models_row = QHBoxLayout()
        models_row.addWidget(self.models_dir, 1)
        models_row.addWidget(browse)
        self.save_format = _combo(FORMATS, s.default_save_format)
        self.jpeg_quality = _spin(1, 100, s.jpeg_quality)
        self.max_mp = _spin(1, 10_000, int(s.max_image_megapixels), " MP")
        self.autosave = _spin(0, 120, s.autosave_minutes, " min", "Off")
        self.brush_size = _spin(1, 1000, s.brush_size, " px")
        self.hardness = QDoubleSpinBox()
        self.hardness.setRange(0.0, 1.0)
        self.hardness.setSingleStep(0.1)
        self.hardness.setValue(s.brush_hardness)
        self.overlay_color = ColorButton(_saved_color(s.overlay_color), "Mask overlay colour")
        self.overlay_opacity = _spin(0, 100, round(s.overlay_opacity * 100), " %")
        self.undo_mb = _spin(16, 65_536, s.undo_budget_mb, " MB")
        self.task_models = {task: _combo(model_choices(accepts), getattr(s, MODEL_CHOICE_FIELDS[task]))
                            for task, (_, accepts) in MODEL_COMMANDS.items()}

        tabs = QTabWidget()
        tabs.addTab(self._page(("Device", self.device), ("Precision", self.precision), ("Tile size", self.tile),
                               ("Models folder", models_row)), "Processing")
        tabs.addTab(self._page(*((label, self.task_models[task]) for task, (label, _) in MODEL_COMMANDS.items())),
                    "Models")
        tabs.addTab(self._page(("Save new files as", self.save_format), ("JPEG quality", self.jpeg_quality),
                               ("Largest photo", self.max_mp), ("Autosave every", self.autosave)), "Files")
        tabs.addTab(self._page(("Brush size", self.brush_size), ("Brush hardness", self.hardness),
                               ("Mask colour", self.overlay_color), ("Mask opacity", self.overlay_opacity),
                               ("Undo memory", self.undo_mb)), "Editing")
        self.tabs = tabs
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #c0392b")
        self.error_label.setWordWrap(True)
        self.models_dir.textChanged.connect(self._show_problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self._show_problem()

    @staticmethod
    def _page(*rows) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        for label, widget in rows:
            if isinstance(widget, QHBoxLayout):
                form.addRow(label, widget)
            else:
                form.addRow(label, widget)
        return page

    def _browse_models(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder", self.models_dir.text() or str(paths.data_dir()))
        if folder:
            self.models_dir.setText(folder)

    def models_dir_problem(self) -> str:
        """Why the models folder cannot be used ("" when it can; empty means the default folder)."""
        text = self.models_dir.text().strip()
        if not text:
            return ""
        try:
            folder = path_from_text(text)
        except PathTextError as exc:
            return f"Models folder: {exc}."
        if exists(folder) and not is_dir(folder):
            return f"Models folder: {shown(text)} is a file, not a folder."
        return ""

    def _show_problem(self, *_args) -> None:
        self.error_label.setText(self.models_dir_problem())

    def accept(self) -> None:
        """OK applies the choices unless the models folder cannot be used (said in the dialog)."""
        problem = self.models_dir_problem()
        if problem:
            self.error_label.setText(problem)
            self.tabs.setCurrentIndex(0)
            self.models_dir.setFocus()
            return
        super().accept()

    def _chosen_overlay_color(self) -> str:
        """The picked colour as #rrggbb; the saved text as it was when no other colour was picked."""
        chosen = self.overlay_color.color()
        return self._base.overlay_color if chosen == _saved_color(self._base.overlay_color) else chosen.name()

    def result_settings(self) -> Settings:
        import dataclasses

        return dataclasses.replace(
            self._base,
            device=str(self.device.currentData()),
            precision=str(self.precision.currentData()),
            tile_size=self.tile.value(),
            models_dir=self._base.models_dir if self.models_dir_problem() else self.models_dir.text().strip(),
            default_save_format=str(self.save_format.currentData()),
            jpeg_quality=self.jpeg_quality.value(),
            max_image_megapixels=float(self.max_mp.value()),
            autosave_minutes=self.autosave.value(),
            brush_size=self.brush_size.value(),
            brush_hardness=float(self.hardness.value()),
            overlay_color=self._chosen_overlay_color(),
            overlay_opacity=self.overlay_opacity.value() / 100.0,
            undo_budget_mb=self.undo_mb.value(),
            recent_files=list(self._base.recent_files),
            **{MODEL_CHOICE_FIELDS[task]: str(box.currentData()) for task, box in self.task_models.items()},
        )
