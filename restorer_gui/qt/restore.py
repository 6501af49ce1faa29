"""The Restore menu: run models on the worker pool and turn results into undoable layers.

Everything sent to a worker is plain data (arrays, model infos); results come back as arrays and
are applied on the GUI thread, to the document they were computed for.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLabel, QMessageBox, QProgressBar, QToolButton

from restorer_gui.core.document import Document
from restorer_gui.core.imageio import ImageData
from restorer_gui.core.layers import Layer, composite
from restorer_gui.core.recipe import RecipeError, Step
from restorer_gui.inference import registry
from restorer_gui.qt.dialogs.denoise import DenoiseDialog
from restorer_gui.qt.enhance import EnhanceCommands
from restorer_gui.qt.restore_chain import ChainCommands
from restorer_gui.qt import recipe_export
from restorer_gui.qt.review import DamageReview
from restorer_gui.qt.document_model import DocumentModel
from restorer_gui.qt.workers import Job, WorkerPool
from restorer_gui.settings import MODEL_CHOICE_FIELDS

if TYPE_CHECKING:
    from restorer_gui.qt.host import EditorWindow

log = logging.getLogger(__name__)

MODEL_FILTER = "Model weights (*.safetensors *.pth *.pt *.ckpt *.bin);;All files (*)"


@dataclass
class _Pending:
    job: Job
    model: DocumentModel | None  # the document the result belongs to (None: not document-bound)
    apply: Callable[[Any], None]
    model_label: str = ""
    quiet: bool = False  # background work (autosave): no progress display, not cancelled by Cancel


def _snapshot(doc: Document) -> tuple[np.ndarray, list[Layer]]:
    """What a job needs to rebuild the visible image off the GUI thread (arrays are read-only)."""
    return doc.original, [dataclasses.replace(layer) for layer in doc.layers]


def _visible(original: np.ndarray, layers: list[Layer]) -> np.ndarray:
    return composite(original, layers) if any(l.visible for l in layers) else original


def _op_job(op_name: str, params: Any, original: np.ndarray, layers: list[Layer], mask: np.ndarray | None,
            device: str, precision: str, tile: int | None, stage: str = "run"):
    """A worker function running one operation (or one stage of one) on the visible image, with the
    lane thread's own models. Returns (OpResult, device name)."""

    def fn(progress, cancel):
        from restorer_gui.inference import ops
        from restorer_gui.inference.chain import run_step
        from restorer_gui.inference.jobs import Progress

        op = ops.get(op_name)
        models = ops.ModelSet.for_this_thread(device, precision)
        ctx = ops.OpContext(_visible(original, layers), models, mask, tile, Progress.wrap(progress), cancel)
        if stage != "run":  # a stage of a multi-stage operation (repair: detect, then fill)
            op = dataclasses.replace(op, run=getattr(importlib.import_module(op.run.__module__), stage))
        result = run_step(op, params, ctx, name_step=False)  # the job's title names it already
        return result, models.last_device

    return fn


def _preview_job(image: np.ndarray, crop: np.ndarray, sigma: float | None, model_id: str, device: str,
                 precision: str, keep: float = 0.0):
    """Denoise a preview crop as the run would (Auto estimates σ on the whole photo, with the noise estimator
    when one is installed, as the run does; ``keep`` % of the grain laid back)."""

    def fn(progress, cancel):
        from restorer_gui.inference import ops
        from restorer_gui.inference.ops.denoise import TASKS, DenoiseParams, denoise, keep_grain, noise_level

        models = ops.ModelSet.for_this_thread(device, precision)
        net = models.get(TASKS, model_id)
        used, estimated = noise_level(image, net, DenoiseParams(strength=sigma, auto=sigma is None), models)
        out = keep_grain(crop, denoise(crop, net, sigma=used, cancel=cancel), keep)
        return (out, used, estimated), str(net.device)

    return fn


class RestoreController(ChainCommands, EnhanceCommands, QObject):
    """Owns the worker pool, the Restore actions and the progress widgets in the status bar."""

    def __init__(self, window: EditorWindow) -> None:
        super().__init__(window)
        self.window = window
        self.pool = WorkerPool(parent=self)
        self._pending: dict[int, _Pending] = {}
        self.pool.job_started.connect(self._on_started)
        self.pool.job_progressed.connect(self._on_progress)
        self.pool.job_finished.connect(self._on_finished)
        self.pool.job_failed.connect(self._on_failed)
        self.pool.job_cancelled.connect(self._on_cancelled)
        self._make_actions()
        self._make_status_widgets()
        self.review = DamageReview(window, fill=self.fill_damage, show_mask=self._show_mask)
        self.denoise_dialog_open: DenoiseDialog | None = None
        self.enhance_dialog_open = None  # the Fix Fading and Colour dialog while it is open
        self._cancelling = False
        self._repair_detector: str | None = None  # the detector whose damage is under review
        self._lane_device: tuple[str, str] | None = None  # (device setting, the lane it resolved to)
        self._early_lanes: list[str] = []  # settings whose jobs went out before torch was loaded
        self._lane_names: dict[str, str] = {}  # resolved device → the early lane that serves it
        self.update_enabled()

    # --- construction --------------------------------------------------------------------
    def _make_actions(self) -> None:
        w = self.window
        self.act_restore_photo = w._action("Restore &Photo…", self.restore_photo_dialog, QKeySequence("Ctrl+Shift+P"),
                                           tip="Run the whole chain (repair, denoise, fix fading, upscale) on the "
                                               "photo, each step a layer")
        self.act_inpaint = w._action("&Inpaint Masked Area", self.inpaint, QKeySequence("Ctrl+Return"),
                                     tip="Fill the painted damage from its surroundings")
        self.act_denoise = w._action("&Denoise…", self.denoise_dialog, QKeySequence("Ctrl+Shift+D"),
                                     tip="Remove noise and grain, on the whole photo or inside the mask")
        self.act_enhance = w._action("Fix &Fading and Colour…", self.enhance_dialog,
                                     tip="Bring back faded colour and contrast (casts, yellowing, uneven fading)")
        self.act_detect = w._action("Detect &Scratches", self.detect_scratches, QKeySequence("Ctrl+Shift+M"),
                                    tip="Mark scratches, dust and cracks in the mask (one undo step)")
        self.act_repair = w._action("&Repair Damage…", self.repair, QKeySequence("Ctrl+Shift+R"),
                                    tip="Find cracks, creases, tears and dust, review the mask, then fill them")
        self.act_run_model = w._action("&Run Model…", self.run_model_dialog, tip="Apply any imported model")
        self.act_import_model = w._action("Import &Model…", self.import_model_dialog,
                                          tip="Add a model file (.safetensors, .pth) to your models")
        self.act_export_recipe = w._action("Export &Recipe…", lambda: recipe_export.export_recipe_dialog(w),
                                           tip="Write the steps that made the visible result as a recipe file "
                                               "for `restorer batch --recipe`")
        self.act_cancel = w._action("&Cancel", self.cancel_all, QKeySequence("Esc"))
        self.act_cancel.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.actions_for_document = [self.act_restore_photo, self.act_repair, self.act_inpaint, self.act_denoise, self.act_enhance,
                                     self.act_detect, self.act_run_model]
        # the Restore menu's action of each registered operation (checked against the registry in the tests;
        # upscale and face run their models through Run Model…)
        self.op_actions = {"repair": self.act_repair, "inpaint": self.act_inpaint, "denoise": self.act_denoise,
                           "enhance": self.act_enhance,
                           "detect-scratches": self.act_detect, "run-model": self.act_run_model,
                           "upscale": self.act_run_model, "face": self.act_run_model}

    def _make_status_widgets(self) -> None:
        bar = self.window.statusBar()
        self.device_label = QLabel(f"Device: {self.window.settings.device}")
        self.model_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(180)
        self.progress_label = QLabel("")
        self.cancel_button = QToolButton()
        self.cancel_button.setDefaultAction(self.act_cancel)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.setVisible(False)
            bar.addPermanentWidget(widget)  # permanent: a status message never draws over the job's progress
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.device_label)

    def menu_actions(self) -> list:
        """The Restore menu's operation actions, in order (None: a separator)."""
        return [self.act_restore_photo, None, self.act_repair, self.act_inpaint, self.act_denoise, self.act_enhance,
                self.act_detect, None,
                self.act_run_model,
                self.act_import_model]

    def update_enabled(self) -> None:
        has_doc = self.window.model is not None
        for act in self.actions_for_document:
            act.setEnabled(has_doc)
        self.act_export_recipe.setEnabled(recipe_export.has_steps(self.window.model.doc if has_doc else None))
        self.act_cancel.setEnabled(bool(self._visible_jobs()))

    # --- running jobs --------------------------------------------------------------------
    @property
    def device(self) -> str:
        return self.window.settings.device

    @property
    def precision(self) -> str:
        return self.window.settings.precision

    @property
    def tile(self) -> int | None:
        return self.window.settings.tile_size or None

    @property
    def lane_device(self) -> str:
        """The device the model jobs run on ("auto" resolved: "cuda:0", "mps" or "cpu"), so that one device
        is one lane whatever the setting says; re-resolved when the device setting changes. A device this
        machine lacks keeps its name (its jobs fail with the reason).

        Resolving needs torch, and importing it here would hold the window for seconds, so until a job
        has loaded it (on its worker) a job goes to the lane its setting names; once torch is in, that
        lane keeps serving the device the setting resolves to, so one device still has one lane."""
        setting = self.device
        devices = sys.modules.get("restorer_gui.inference.device")
        if devices is None:
            if setting not in self._early_lanes:
                self._early_lanes.append(setting)
            return setting
        if self._lane_device is None or self._lane_device[0] != setting:
            for early in self._early_lanes:
                self._lane_names.setdefault(_resolved_name(devices, early), early)
            self._early_lanes.clear()
            name = _resolved_name(devices, setting)
            self._lane_device = (setting, self._lane_names.get(name, name))
        return self._lane_device[1]

    def submit(self, title: str, fn, apply: Callable[[Any], None], document_bound: bool = True, lane: str | None = None,
               model_label: str = "", quiet: bool = False) -> Job:
        job = Job(title, fn, lane=lane or f"model:{self.lane_device}")
        self._pending[job.id] = _Pending(job, self.window.model if document_bound else None, apply, model_label, quiet)
        self.pool.submit(job)
        if not quiet:
            self._show_progress(0.0, f"{title}: waiting…")
        self.update_enabled()
        return job

    def _visible_jobs(self) -> list[_Pending]:
        return [p for p in self._pending.values() if not p.quiet]

    def _model_for(self, *tasks: str) -> registry.ModelInfo | None:
        """The model chosen for *tasks[0]* in Preferences ▸ Models when it is still there and does
        one of *tasks*, else the automatic choice (trained built-in models first); see `ops.model_for`."""
        from restorer_gui.core.errors import RestorerError
        from restorer_gui.inference import ops

        field = MODEL_CHOICE_FIELDS.get(tasks[0], "")
        chosen = getattr(self.window.settings, field, "")
        if chosen and ops.chosen_model(tasks, chosen) is None:
            # gone (removed, or the models folder changed): back to automatic, saved, and said
            self.window.apply_settings(dataclasses.replace(self.window.settings, **{field: ""}))
            self.window.statusBar().showMessage(
                f"The {tasks[0]} model chosen in Preferences ({chosen}) is no longer available; "
                "using the automatic choice.", 10_000)
        try:
            return ops.model_for(tasks, None, {tasks[0]: getattr(self.window.settings, field, "")})
        except RestorerError:
            self.window.show_error(
                "No model", f"There is no {tasks[0]} model yet. Import one with File ▸ Import Model…"
            )
            return None

    def _find(self, model_id: str) -> registry.ModelInfo | None:
        """A model by id or path; None (after saying why) when it has gone, e.g. removed meanwhile."""
        try:
            return registry.find_model(model_id)
        except registry.RegistryError as exc:
            self.window.show_error("Model not found", str(exc))
            return None

    def _step(self, title: str, op_name: str, params: dict[str, Any]) -> Step | None:
        """The recipe step of running *op_name* with *params* (checked): what its result layer records.
        None after saying what is wrong with them."""
        from restorer_gui.inference import ops

        try:
            return Step.of(op_name, ops.get(op_name).parse(params))
        except RecipeError as exc:
            self.window.show_error(title, str(exc))
            return None

    def _run(self, title: str, op_name: str, params: dict[str, Any] | Step, apply: Callable[[Any], None], *,
             mask: np.ndarray | None = None, stage: str = "run", model_label: str = "", skip_top: int = 0) -> Job | None:
        """Submit one operation (or stage) on the current photo; *apply* gets its OpResult on the GUI thread."""
        from restorer_gui.inference import ops

        model = self.window.model
        if model is None:
            return None
        step = params if isinstance(params, Step) else self._step(title, op_name, params)
        if step is None:
            return None
        parsed = ops.get(op_name).parse(step.params)
        original, layers = _snapshot(model.doc)
        if skip_top:  # the run replaces the top layer(s): it works on what lies under them
            layers = layers[:-skip_top]
        fn = _op_job(op_name, parsed, original, layers, mask, self.device, self.precision, self.tile, stage)
        return self.submit(title, fn, apply, model_label=model_label)

    def inpaint(self) -> Job | None:
        model = self.window.model
        if model is None:
            return None
        if model.doc.mask.max() == 0:
            self.window.show_error("Nothing to inpaint", "Paint over the damage first: the mask is empty.")
            return None
        info = self._model_for("inpaint")
        step = self._step("Inpaint", "inpaint", {"model": info.id}) if info is not None else None
        if step is None:
            return None

        def apply(result) -> None:
            self._add_layer(result.image, "Inpaint", "inpaint", step=step, model=info.id)
            self._hide_mask_for_result()

        return self._run("Inpaint", "inpaint", step, apply, mask=model.doc.mask.copy(), model_label=info.label)

    def _previous_denoise(self) -> Layer | None:
        """The top layer when it is a Denoise result (a new run can replace it)."""
        model = self.window.model
        layers = model.doc.layers if model is not None else []
        return layers[-1] if layers and layers[-1].operation == "denoise" else None

    def _preview_crop(self, image: np.ndarray, side: int) -> tuple[int, int, int, int]:
        """The side × side box of the photo around the centre of the view (clipped to the photo)."""
        from restorer_gui.qt.dialogs.preview import crop_box

        return crop_box(self.window.view, image, side)

    def denoise_dialog(self) -> None:
        from restorer_gui.qt.dialogs.preview import PREVIEW_SIDE, PreviewRunner

        model = self.window.model
        if model is None:
            return
        infos = registry.list_models("denoise") + registry.list_models("restore")
        if not infos:
            self.window.show_error("No model", "There is no denoise model yet. Import one with File ▸ Import Model…")
            return
        s = self.window.settings
        previous = self._previous_denoise()
        original, layers = _snapshot(model.doc)
        base = _visible(original, layers[:-1] if previous is not None else layers)
        x0, y0, x1, y1 = self._preview_crop(base, PREVIEW_SIDE)
        crop = np.ascontiguousarray(base[y0:y1, x0:x1])
        runner = PreviewRunner(self, "Denoise preview", lambda r: dialog.show_preview(*r))

        def request(sigma: float | None, model_id: str, keep: float = 0.0) -> None:
            runner.submit(_preview_job(base, crop, sigma, model_id, self.device, self.precision, keep))

        dialog = DenoiseDialog([(i.id, i.label) for i in infos], bool(model.doc.mask.max()), s.denoise_sigma,
                               s.denoise_auto, self.window, preview_crop=crop, request_preview=request,
                               previous_result=previous.name if previous is not None else "",
                               keep_grain=s.denoise_keep_grain)
        self.denoise_dialog_open = dialog
        try:
            accepted = dialog.exec() == DenoiseDialog.DialogCode.Accepted
        finally:
            self.denoise_dialog_open = None
            runner.stop()
        if not accepted:
            return
        options = dialog.options()
        s.denoise_auto = options.sigma is None
        s.denoise_keep_grain = int(options.keep_grain)
        if options.sigma is not None:
            s.denoise_sigma = int(options.sigma)
        self.denoise(options.sigma, options.inside_mask, options.model_id, replace_previous=options.replace_previous,
                     keep_grain=options.keep_grain)

    def denoise(self, sigma: float | None, inside_mask: bool = False, model_id: str | None = None,
                replace_previous: bool = False, keep_grain: float = 0.0) -> Job | None:
        model = self.window.model
        if model is None:
            return None
        info = self._find(model_id) if model_id else self._model_for("denoise", "restore")
        if info is None:
            return None
        step = self._step("Denoise", "denoise", {"strength": sigma, "auto": sigma is None, "inside_mask": inside_mask,
                                                 "model": info.id, "keep_grain": keep_grain})
        if step is None:
            return None
        previous = self._previous_denoise() if replace_previous else None

        def apply(result) -> None:
            used = result.info["sigma"]
            fields = dict(sigma=used, auto=sigma is None, inside_mask=inside_mask, model=info.id, keep_grain=keep_grain)
            if previous is not None and model.doc.layers and model.doc.layers[-1] is previous:
                self._replace_layer(previous, result.image, result.label, "denoise", step=step, **fields)
            else:
                self._add_layer(result.image, result.label, "denoise", step=step, **fields)

        skip = 1 if previous is not None else 0
        return self._run("Denoise", "denoise", step, apply, mask=model.doc.mask.copy() if inside_mask else None,
                         model_label=info.label, skip_top=skip)

    def detect_scratches(self) -> Job | None:
        model = self.window.model
        if model is None:
            return None
        info = self._model_for("detect-scratches")
        if info is None:
            return None

        def apply(result) -> None:
            merged = np.maximum(model.doc.mask, result.mask)
            if model.replace_mask(merged, "Detect scratches"):
                self._show_mask()
            self.window.statusBar().showMessage(result.info["summary"], 10_000)

        return self._run("Detect scratches", "detect-scratches", {"model": info.id}, apply, model_label=info.label)

    # --- repair: detect → review the mask → fill ----------------------------------------------
    def repair(self, then: Callable[[], Any] | None = None) -> Job | None:
        """Stage 1 of Restore ▸ Repair Damage: find the damage and show its mask for review; *then* (Restore
        Photo's remaining steps) runs after the reviewed mask is filled."""
        model = self.window.model
        if model is None:
            return None
        detector = self._model_for("detect-scratches")
        if detector is None:
            return None
        params = self._repair_params(detector.id)

        def apply(result) -> None:
            self._repair_detector = detector.id  # the fill's recipe step names the detector that found it
            self.review.start(model, result, params, then=then if callable(then) else None)

        return self._run("Repair damage: finding the damage", "repair", params, apply, mask=model.doc.mask.copy(),
                         stage="detect_damage", model_label=detector.label)

    def _repair_params(self, detector: str | None, inpainter: str | None = None) -> dict[str, Any]:
        s = self.window.settings
        params: dict[str, Any] = {"detector": detector, "use_mask": True, "threshold": s.repair_threshold or None}
        if inpainter:
            params["inpainter"] = inpainter
        return params

    def fill_damage(self) -> Job | None:
        """Stage 2: fill the (reviewed) mask with structure and the local grain."""
        model = self.window.model
        if model is None:
            return None
        if model.doc.mask.max() == 0:
            self.window.show_error("Nothing to repair", "The damage mask is empty: paint over the damage or "
                                   "raise the sensitivity.")
            return None
        inpainter = self._model_for("inpaint")
        if inpainter is None:
            return None
        detector = self._repair_detector if self.review.model is model else None
        # the step of the whole repair: the detector that found the damage, the sensitivity it was reviewed at
        step = self._step("Repair damage", "repair", {**self._repair_params(detector, inpainter.id), "grain": True})
        if step is None:
            return None
        then = self.review.then if self.review.model is model else None  # Restore Photo's remaining steps
        self.review.finish()

        def apply(result) -> None:
            self._add_layer(result.image, "Repair damage", "repair", step=step, model=inpainter.id, grain=True)
            self._hide_mask_for_result()
            if then is not None:
                then()

        return self._run("Repair damage", "repair", step, apply, mask=model.doc.mask.copy(), stage="fill_damage",
                         model_label=inpainter.label)

    def _show_mask(self) -> None:
        if not self.window.act_show_mask.isChecked():
            self.window.act_show_mask.trigger()

    def _hide_mask_for_result(self) -> None:
        """The result shows at once: the mask that made it is kept (for a re-run) but hidden."""
        if self.window.act_show_mask.isChecked():
            self.window.act_show_mask.trigger()

    def run_model_dialog(self) -> None:
        if self.window.model is None:
            return
        infos = registry.list_models()
        if not infos:
            self.window.show_error("No model", "Import a model first with File ▸ Import Model…")
            return
        labels = [f"{i.label} — {i.task or 'unknown task'} ({i.source})" for i in infos]
        choice, ok = QInputDialog.getItem(self.window, "Run model", "Model:", labels, 0, False)
        if ok:
            self.run_model(infos[labels.index(choice)].id)

    def run_model(self, model_id: str) -> Job | None:
        model = self.window.model
        if model is None:
            return None
        info = self._find(model_id)
        if info is None:
            return None
        mask = model.doc.mask.copy() if model.doc.mask.max() else None
        step = self._step(f"Run {info.label}", "run-model", {"model": str(model_id)})
        if step is None:
            return None

        def apply(result) -> None:
            if result.image is None and result.mask is not None:
                model.replace_mask(np.maximum(model.doc.mask, result.mask), f"Detect scratches ({info.label})")
                self._show_mask()
            elif result.image.shape[:2] != model.doc.original.shape[:2]:
                self._open_as_new_photo(result.image, info.label)
            else:
                self._add_layer(result.image, info.label, info.task or "run-model", step=step, model=info.id)

        return self._run(f"Run {info.label}", "run-model", step, apply, mask=mask,
                         model_label=info.label)

    def import_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import a model", str(Path.home()), MODEL_FILTER)
        if path:
            self.import_model(path)

    def import_model(self, path: str | Path) -> Job:
        def fn(progress, cancel):
            from restorer_gui.inference.model_import import import_model

            progress(0.1, "Checking the model file…")
            return import_model(path), ""

        def apply(info: registry.ModelInfo) -> None:
            self.window.statusBar().showMessage(f"Imported {info.label} ({info.task}).", 8000)

        return self.submit("Import model", fn, apply, document_bound=False, lane="io")

    # --- results -------------------------------------------------------------------------
    def _add_layer(self, pixels: np.ndarray, name: str, operation: str, *, step: Step | None = None,
                   **params: Any) -> None:
        """A result layer (named apart from the others), one undo step; *step* is the recipe step that made it."""
        model = self.window.model
        assert model is not None
        taken = {layer.name for layer in model.doc.layers}
        if name in taken:  # a second Inpaint is "Inpaint 2", so the Layers panel tells them apart
            name = next(f"{name} {n}" for n in range(2, len(taken) + 3) if f"{name} {n}" not in taken)
        layer = model.doc.make_layer(name, pixels, operation, step=step, **params)
        model.add_layer(layer)
        self.window.statusBar().showMessage(f"{name}: added as a layer (C compares it with the original).", 8000)

    def _replace_layer(self, old: Layer, pixels: np.ndarray, name: str, operation: str, *, step: Step | None = None,
                       **params: Any) -> None:
        """Swap a result layer for a new one in one undo step."""
        from restorer_gui.core.history import AddLayerEdit, CompoundEdit, RemoveLayerEdit

        model = self.window.model
        assert model is not None
        index = model.doc.layer_index(old.uid)
        layer = model.doc.make_layer(name, pixels, operation, step=step, **params)
        model.push(CompoundEdit([RemoveLayerEdit(old, index), AddLayerEdit(layer, index)], f"Replace “{old.name}”"))
        self.window.statusBar().showMessage(f"{name}: replaced “{old.name}”.", 8000)

    def _open_as_new_photo(self, pixels: np.ndarray, label: str) -> None:
        model = self.window.model
        assert model is not None
        h, w = pixels.shape[:2]
        answer = QMessageBox.question(
            self.window, "A larger picture",
            f"{label} made a {w}×{h} picture, larger than the photo. Open it as a new photo?",
        )
        if answer == QMessageBox.StandardButton.Yes and self.window.maybe_discard_changes():
            image = model.doc.image
            self.window.set_document(Document(ImageData(pixels=pixels, icc_profile=image.icc_profile, exif=image.exif,
                                                        dpi=image.dpi_for(pixels), color_chunks=image.color_chunks)))

    def _on_started(self, job_id: int, title: str) -> None:
        pending = self._pending.get(job_id)
        if pending is None or pending.quiet:
            return
        self._show_progress(0.0, title)
        if pending.model_label:
            self.model_label.setText(f"Model: {pending.model_label}")

    def _on_progress(self, job_id: int, fraction: float, message: str) -> None:
        pending = self._pending.get(job_id)
        if pending is not None and not pending.quiet and not pending.job.cancel.cancelled:
            self._show_progress(fraction, f"{pending.job.title}: {message}" if message else pending.job.title)

    def _on_finished(self, job_id: int, payload: object) -> None:
        pending = self._pending.pop(job_id, None)
        self._job_done()
        if pending is None:
            return
        result, device = payload if isinstance(payload, tuple) and len(payload) == 2 else (payload, "")
        if device:
            self.device_label.setText(f"Device: {device}")
        if pending.model is not None and pending.model is not self.window.model:
            self.window.statusBar().showMessage(f"{pending.job.title}: the photo was closed; result dropped.", 8000)
            return
        try:
            pending.apply(result)
        except ValueError as exc:
            self.window.show_error(pending.job.title, str(exc))

    def _on_failed(self, job_id: int, message: str, details: str) -> None:
        pending = self._pending.pop(job_id, None)
        self._job_done()
        if pending is None:  # another owner's job on the shared pool (the batch window reports its own)
            return
        if pending.quiet:
            log.warning("%s failed: %s", pending.job.title, message)
            self.window.statusBar().showMessage(f"{pending.job.title} failed: {message}", 10_000)
            return
        self.window.show_error(f"{pending.job.title} failed", message, details)

    def _on_cancelled(self, job_id: int) -> None:
        pending = self._pending.pop(job_id, None)
        self._job_done()
        if pending is not None and not pending.quiet:
            self.window.statusBar().showMessage(f"{pending.job.title}: cancelled.", 5000)

    def _job_done(self) -> None:
        if not self._visible_jobs():
            self._cancelling = False
            for widget in (self.progress_label, self.progress, self.cancel_button):
                widget.setVisible(False)
        self.update_enabled()

    def _show_progress(self, fraction: float, text: str) -> None:
        queued = len(self._visible_jobs()) - 1
        self.progress_label.setText(text + (f"  (+{queued} queued)" if queued > 0 else ""))
        self.progress.setValue(int(round(fraction * 1000)))
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.setVisible(True)

    def cancel_all(self) -> None:
        """Cancel the user's jobs (running and queued); background saves go on. Until the running job
        reaches its next cancel point the status bar says "Cancelling…"."""
        visible = self._visible_jobs()
        for pending in visible:
            self.pool.cancel(pending.job.id)
        if visible:
            self._cancelling = True
            self.progress_label.setText(f"{visible[0].job.title}: cancelling…")
            self.act_cancel.setEnabled(False)

    def shutdown(self) -> bool:
        """Cancel and join every worker (the window is closing)."""
        return self.pool.shutdown()


def _resolved_name(devices: Any, setting: str) -> str:
    """*setting* resolved by the (loaded) device module: "cuda:N", "mps" or "cpu"; itself when this
    machine lacks it."""
    try:
        dev = devices.resolve_device(setting)
    except devices.DeviceError:
        return setting
    return f"cuda:{dev.index or 0}" if dev.type == "cuda" else dev.type
