"""File ▸ Batch Restore Folder…: choose folders, the chain's steps (repair, denoise, fix fading) and their settings,
the output format and policies.

The dialog only collects choices (remembered in :class:`~restorer_gui.settings.Settings`);
:mod:`restorer_gui.qt.batch_window` runs the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from restorer_gui.core.batch import (
    DEFAULT_PATTERNS,
    FORMATS,
    POLICIES,
    BatchOptions,
    BatchPlanError,
    default_output_dir,
)
from restorer_gui.core.pathtext import PathTextError, exists, is_dir, path_from_text, shown
from restorer_gui.inference import registry
from restorer_gui.qt.dialogs.denoise import MAX_SIGMA, StrengthControl
from restorer_gui.qt.dialogs.restore_photo import MAX_SENSITIVITY
from restorer_gui.qt.review import sensitivity_to_threshold, threshold_to_sensitivity
from restorer_gui.settings import Settings
FORMAT_LABELS = {"same": "Same as the input", "png": "PNG", "jpg": "JPEG (8-bit)", "tiff": "TIFF (keeps 16 bits)"}
POLICY_LABELS = {
    "skip": "Skip them (resumes an interrupted batch)",
    "rename": "Write a new file: name (1).ext",
    "overwrite": "Overwrite them",
}


@dataclass(frozen=True)
class BatchChoices:
    """Everything the batch needs from the dialog (plain data, sent to the worker)."""

    options: BatchOptions
    model_id: str
    sigma: float | None  # None = Auto (estimated per photo)
    jpeg_quality: int = 95
    keep_metadata: bool = True
    steps: tuple[str, ...] = ("denoise",)  # the chain each photo goes through, in order
    loaded: Any = None  # a Recipe loaded from a file (Load Recipe…): run instead of *steps*
    repair_threshold: float | None = None  # the repair step's detector cut (None: the detector's own)
    enhance_strength: float = 100.0  # the fix-fading step's strength, %

    def recipe(self):
        """The recipe of these choices (the same chain `restorer batch --steps` runs), or the loaded one."""
        from restorer_gui.core.recipe import Recipe, Step

        if self.loaded is not None:
            return self.loaded

        params = {"denoise": {"strength": self.sigma, "auto": self.sigma is None, "model": self.model_id or None},
                  "repair": {"threshold": self.repair_threshold}, "enhance": {"strength": self.enhance_strength}}
        return Recipe(tuple(Step(name, params.get(name, {})) for name in self.steps))


#: the steps the dialog offers (registry names, in chain order) and their labels
STEP_LABELS = {"repair": "Repair damage (cracks, creases, tears, dust)", "denoise": "Denoise",
               "enhance": "Fix fading and colour"}


class BatchDialog(QDialog):
    """Modal options dialog; :meth:`choices` gives the result after ``exec()`` accepted."""

    def __init__(self, models: list[tuple[str, str]], settings: Settings, parent: QWidget | None = None) -> None:
        """*models*: (id, label) pairs of denoise models, the default first."""
        super().__init__(parent)
        self.setWindowTitle("Batch Restore Folder")
        self.settings = settings
        self._output_auto = True  # the output follows the input (sibling "<name>-restored")
        layout = QVBoxLayout(self)
        layout.addWidget(self._input_group())
        layout.addWidget(self._output_group())
        layout.addWidget(self._steps_group())
        layout.addWidget(self._model_group(models))
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #c0392b")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.start_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Start")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._load(settings)

    # --- construction --------------------------------------------------------------------
    def _folder_row(self, edit: QLineEdit, pick) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(pick)
        row.addWidget(browse)
        return row

    def _input_group(self) -> QGroupBox:
        box = QGroupBox("Photos to restore")
        form = QFormLayout(box)
        self.input_edit = QLineEdit()
        self.input_edit.setPlaceholderText("A folder of scans")
        self.input_edit.textChanged.connect(self._on_input_changed)
        self.input_edit.textChanged.connect(self._show_live_problem)
        form.addRow("Folder", self._folder_row(self.input_edit, self._pick_input))
        self.recursive = QCheckBox("Include sub-folders")
        form.addRow("", self.recursive)
        self.patterns = QLineEdit()
        self.patterns.setPlaceholderText(DEFAULT_PATTERNS)
        self.patterns.setToolTip("File name patterns separated by ';' (case does not matter)")
        form.addRow("Files", self.patterns)
        return box

    def _output_group(self) -> QGroupBox:
        box = QGroupBox("Results")
        form = QFormLayout(box)
        self.output_edit = QLineEdit()
        self.output_edit.textEdited.connect(self._on_output_edited)
        self.output_edit.textChanged.connect(self._update_hint)
        self.output_edit.textChanged.connect(self._show_live_problem)
        form.addRow("Folder", self._folder_row(self.output_edit, self._pick_output))
        self.output_hint = QLabel("")
        self.output_hint.setWordWrap(True)
        form.addRow("", self.output_hint)
        self.format = QComboBox()
        for key in FORMATS:
            self.format.addItem(FORMAT_LABELS[key], key)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setPrefix("quality ")
        self.format.currentIndexChanged.connect(self._update_quality)
        row = QHBoxLayout()
        row.addWidget(self.format, 1)
        row.addWidget(self.quality)
        form.addRow("Format", row)
        self.policy = QComboBox()
        for key in POLICIES:
            self.policy.addItem(POLICY_LABELS[key], key)
        form.addRow("Existing results", self.policy)
        self.keep_metadata = QCheckBox("Keep metadata (EXIF, colour profile)")
        form.addRow("", self.keep_metadata)
        return box

    def _steps_group(self) -> QGroupBox:
        box = QGroupBox("Steps, in this order")
        row = QVBoxLayout(box)
        self.step_boxes = {}
        for name, label in STEP_LABELS.items():
            check = QCheckBox(label)
            check.toggled.connect(self._show_live_problem)
            line = QHBoxLayout()
            line.addWidget(check, 1)
            row.addLayout(line)
            self.step_boxes[name] = check
            if name == "repair":  # the same sensitivity as Restore Photo and Repair Damage's review
                self.sensitivity = _step_spin(line, check, "Sensitivity", MAX_SENSITIVITY, " %", "the detector's own")
            elif name == "enhance":  # the same strength as Restore Photo and Fix Fading and Colour
                self.enhance_strength = _step_spin(line, check, "Strength", 100, " %")
        self.step_boxes["denoise"].toggled.connect(lambda on: self.denoise_box.setEnabled(on))
        self.loaded_recipe = None  # a recipe from a file, run instead of the boxes above
        self.recipe_label = QLabel("")
        self.recipe_label.setWordWrap(True)
        row.addWidget(self.recipe_label)
        buttons = QHBoxLayout()
        self.load_recipe_button = QPushButton("Load Recipe…")
        self.load_recipe_button.setToolTip("Run the steps of a recipe file: File ▸ Export Recipe… writes one, "
                                           "and a batch of several steps leaves one next to its results")
        self.load_recipe_button.clicked.connect(self._pick_recipe)
        self.clear_recipe_button = QPushButton("Use the Boxes Above")
        self.clear_recipe_button.clicked.connect(self.clear_recipe)
        self.clear_recipe_button.setVisible(False)
        buttons.addWidget(self.load_recipe_button)
        buttons.addWidget(self.clear_recipe_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        return box

    def _model_group(self, models: list[tuple[str, str]]) -> QGroupBox:
        box = QGroupBox("Denoising")
        self.denoise_box = box
        form = QFormLayout(box)
        self.model = QComboBox()
        for model_id, label in models:
            self.model.addItem(label, model_id)
        form.addRow("Model", self.model)
        self.strength = StrengthControl(0, False, "Auto (estimate each photo's noise level)")
        self.slider, self.spin, self.auto = self.strength.slider, self.strength.spin, self.strength.auto
        form.addRow("Strength (σ, 0–255)", self.strength.row)
        form.addRow("", self.auto)
        return box

    def _load(self, s: Settings) -> None:
        self.input_edit.setText(s.batch_input_dir)
        remembered = s.batch_output_dir
        if remembered and (not s.batch_input_dir or _folder(remembered) != _default_output(s.batch_input_dir)):
            self._output_auto = False
            self.output_edit.setText(remembered)
        self.recursive.setChecked(s.batch_recursive)
        self.patterns.setText(s.batch_patterns or DEFAULT_PATTERNS)
        self.format.setCurrentIndex(max(0, self.format.findData(s.batch_format)))
        self.quality.setValue(s.batch_jpeg_quality if 1 <= s.batch_jpeg_quality <= 100 else 95)
        self.policy.setCurrentIndex(max(0, self.policy.findData(s.batch_on_existing)))
        self.keep_metadata.setChecked(s.batch_keep_metadata)
        self.model.setCurrentIndex(max(0, self.model.findData(s.batch_model)))
        self.slider.setValue(max(0, min(MAX_SIGMA, s.batch_sigma)))
        self.auto.setChecked(s.batch_auto)
        steps = [n for n in s.batch_steps.split(",") if n in self.step_boxes] or ["denoise"]
        for name, check in self.step_boxes.items():
            check.setChecked(name in steps)
        self.sensitivity.setValue(threshold_to_sensitivity(s.repair_threshold) if s.repair_threshold else 0)
        self.enhance_strength.setValue(s.enhance_strength)
        self._update_quality()
        self._update_hint()
        self._show_live_problem()

    # --- reactions -----------------------------------------------------------------------
    def _pick_input(self) -> None:
        start = self.input_edit.text() or self.settings.last_open_dir or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos to restore", start)
        if folder:
            self.input_edit.setText(folder)

    def _pick_output(self) -> None:
        start = self.output_edit.text() or self.input_edit.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder for the restored photos", start)
        if folder:
            self._output_auto = False
            self.output_edit.setText(folder)

    def _pick_recipe(self) -> None:
        start = self.settings.last_project_dir or self.input_edit.text() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Load a recipe", start, "Recipe (*.json);;All files (*)")
        if path:
            self.load_recipe(path)

    def load_recipe(self, path: str | Path) -> bool:
        """Run the steps of the recipe file at *path* (operations and parameters checked now); a file that is
        not a usable recipe is refused with the reason, and the choices stay as they were."""
        from restorer_gui.core.recipe import Recipe, RecipeError
        from restorer_gui.inference import ops

        try:
            recipe = Recipe.load(path)
            titles = [ops.get(step.op).title for step in recipe.steps]
            for step in recipe.steps:
                ops.get(step.op).parse(step.params)
        except RecipeError as exc:
            self.error_label.setText(f"{Path(path).name}: {exc}")
            return False
        self.loaded_recipe = recipe
        self.recipe_label.setText(f"From {Path(path).name}: {' → '.join(titles)}")
        self._show_recipe()
        return True

    def clear_recipe(self) -> None:
        self.loaded_recipe = None
        self.recipe_label.setText("")
        self._show_recipe()

    def _show_recipe(self) -> None:
        """A loaded recipe holds its steps and their settings: the boxes and the denoise settings rest."""
        loaded = self.loaded_recipe is not None
        for check in self.step_boxes.values():
            check.setEnabled(not loaded)
        self.denoise_box.setEnabled(not loaded and self.step_boxes["denoise"].isChecked())
        self.sensitivity.setEnabled(not loaded and self.step_boxes["repair"].isChecked())
        self.enhance_strength.setEnabled(not loaded and self.step_boxes["enhance"].isChecked())
        self.clear_recipe_button.setVisible(loaded)
        self._show_live_problem()

    def _on_input_changed(self, text: str) -> None:
        if self._output_auto:
            default = _default_output(text.strip())
            self.output_edit.setText(str(default) if default is not None else "")

    def _on_output_edited(self, text: str) -> None:
        self._output_auto = not text.strip()  # clearing the field returns to the default

    def _update_quality(self) -> None:
        self.quality.setEnabled(self.format.currentData() == "jpg")

    def _update_hint(self) -> None:
        src, out = self.input_edit.text().strip(), self.output_edit.text().strip()
        if src and out and _same_folder(src, out):
            self.output_hint.setText("Next to the originals, named like photo-restored.jpg; originals are never changed.")
        else:
            self.output_hint.setText("Sub-folders are mirrored; originals are never changed.")

    # --- result --------------------------------------------------------------------------
    def validate(self) -> str:
        """The reason the choices cannot start a batch, or "" when they can (one line, any text)."""
        src = self.input_edit.text().strip()
        out = self.output_edit.text().strip()
        if not src:
            return "Choose the folder of photos."
        try:
            src_dir = path_from_text(src)
        except PathTextError as exc:
            return f"Photos: {exc}."
        if not is_dir(src_dir):
            return f"{shown(src)} is not a folder." if exists(src_dir) else f"There is no folder {shown(src)}."
        if not out:
            return "Choose where to save the results."
        try:
            out_dir = path_from_text(out)
        except PathTextError as exc:
            return f"Results: {exc}."
        if exists(out_dir) and not is_dir(out_dir):
            return f"{shown(out)} is a file, not a folder."
        if self.loaded_recipe is not None:
            return ""  # checked when loaded; its models are loaded (and any problem said) when the batch starts
        if not any(check.isChecked() for check in self.step_boxes.values()):
            return "Choose at least one step."
        if self.step_boxes["denoise"].isChecked() and self.model.count() == 0:
            return "There is no denoise model."
        if self.step_boxes["enhance"].isChecked() and not registry.list_models("enhance"):
            return "No enhancement model is installed (train one with `restorer train enhance`)."
        return ""

    def _show_live_problem(self, *_args) -> None:
        """While the user types: what is wrong with the folders so far (nothing for empty fields)."""
        problem = self.validate()
        if problem.startswith("Choose "):
            problem = ""
        self.error_label.setText(problem)

    def accept(self) -> None:
        problem = self.validate()
        if problem:
            self.error_label.setText(problem)
            return
        self.remember(self.settings)
        super().accept()

    def choices(self) -> BatchChoices:
        options = BatchOptions(
            input_dir=_folder(self.input_edit.text().strip()),
            output_dir=_folder(self.output_edit.text().strip()),
            recursive=self.recursive.isChecked(),
            patterns=self.patterns.text().strip() or DEFAULT_PATTERNS,
            fmt=str(self.format.currentData()),
            on_existing=str(self.policy.currentData()),
        )
        return BatchChoices(
            options=options,
            model_id=str(self.model.currentData() or ""),
            sigma=None if self.auto.isChecked() else float(self.spin.value()),
            jpeg_quality=self.quality.value(),
            keep_metadata=self.keep_metadata.isChecked(),
            steps=tuple(name for name, check in self.step_boxes.items() if check.isChecked()),
            loaded=self.loaded_recipe,
            repair_threshold=sensitivity_to_threshold(self.sensitivity.value()) if self.sensitivity.value() else None,
            enhance_strength=float(self.enhance_strength.value()),
        )

    def remember(self, s: Settings) -> None:
        """Store the choices in *s* (the caller saves the settings)."""
        c = self.choices()
        s.batch_input_dir = str(c.options.input_dir)
        s.batch_output_dir = "" if self._output_auto else str(c.options.output_dir)
        s.batch_recursive = c.options.recursive
        s.batch_patterns = c.options.patterns
        s.batch_format = c.options.fmt
        s.batch_jpeg_quality = c.jpeg_quality
        s.batch_on_existing = c.options.on_existing
        s.batch_keep_metadata = c.keep_metadata
        s.batch_model = c.model_id
        s.batch_steps = ",".join(c.steps)
        s.repair_threshold = c.repair_threshold or 0.0
        s.enhance_strength = int(c.enhance_strength)
        s.batch_auto = c.sigma is None
        if c.sigma is not None:
            s.batch_sigma = int(c.sigma)


def _step_spin(line: QHBoxLayout, check: QCheckBox, label: str, maximum: int, suffix: str,
               special: str = "") -> QSpinBox:
    """A step's setting at the end of its row (0–*maximum*), enabled with the step."""
    spin = QSpinBox()
    spin.setRange(0, maximum)
    spin.setSuffix(suffix)
    if special:
        spin.setSpecialValueText(special)
        spin.setMinimumWidth(spin.fontMetrics().horizontalAdvance(special) + 40)  # the whole text, with the arrows
    text = QLabel(label)
    for widget in (text, spin):
        line.addWidget(widget)
        widget.setEnabled(False)
        check.toggled.connect(widget.setEnabled)
    return spin


def _folder(text: str) -> Path:
    """The folder *text* names, or the text as it is when it cannot name one (validate() says why)."""
    try:
        return path_from_text(text)
    except PathTextError:
        return Path(text.replace("\0", ""))


def _default_output(input_text: str) -> Path | None:
    """The default results folder for the typed input folder, or None when there is none yet."""
    if not input_text:
        return None
    try:
        return default_output_dir(input_text)
    except BatchPlanError:
        return None


def _same_folder(a: str, b: str) -> bool:
    try:
        return path_from_text(a).resolve() == path_from_text(b).resolve()
    except (OSError, ValueError, RuntimeError):
        return False
