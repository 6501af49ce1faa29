"""Restore ▸ Restore Photo…: the whole restore chain on the open photo, each step a layer and an undo item.

The dialog's choices become a recipe (`core.recipe`, the chain the command line and batch run), which runs on
the model lane through `inference.chain.run_chain`; each step's image lands as its own result layer recording
its step. With "Review the damage mask before filling", the repair runs as Repair Damage does (find → review
the mask in the editor → Fill Damage and Go On), and the steps after it run when the user goes on.

`ChainCommands` is mixed into `qt.restore.RestoreController`, whose job plumbing it uses as ``self`` (as
`qt.enhance.EnhanceCommands` is); this module imports nothing of it at import time.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from restorer_gui.core.errors import RestorerError
from restorer_gui.core.layers import composite
from restorer_gui.core.recipe import Recipe, RecipeError, Step
from restorer_gui.inference import registry
from restorer_gui.qt.dialogs.restore_photo import STEP_TITLES, RestorePhotoOptions
from restorer_gui.qt.review import sensitivity_to_threshold, threshold_to_sensitivity
from restorer_gui.settings import MODEL_CHOICE_FIELDS, Settings

if TYPE_CHECKING:
    from restorer_gui.qt.workers import Job

TITLE = "Restore photo"
PREVIEW_SIDE = 240  # px: the longest side of the reduced photo the preview runs the chain on


def options_from(s: Settings) -> RestorePhotoOptions:
    """The dialog's remembered choices (the sensitivity is Repair Damage's, the strength Fix Fading's)."""
    steps = tuple(n for n in s.restore_steps.split(",") if n in STEP_TITLES)
    return RestorePhotoOptions(steps=steps, review=s.restore_review,
                               sensitivity=threshold_to_sensitivity(s.repair_threshold) if s.repair_threshold else 0,
                               sigma=s.restore_sigma, auto=s.restore_auto, keep_grain=s.denoise_keep_grain,
                               strength=float(s.enhance_strength),
                               upscale_model=s.restore_upscale_model)


def remember(s: Settings, o: RestorePhotoOptions) -> None:
    s.restore_steps = ",".join(o.steps)
    s.restore_review = o.review
    s.repair_threshold = sensitivity_to_threshold(o.sensitivity) if o.sensitivity else 0.0
    s.restore_sigma, s.restore_auto = int(o.sigma), o.auto
    s.denoise_keep_grain = int(o.keep_grain)
    s.enhance_strength = int(round(o.strength))
    if o.upscale_model:
        s.restore_upscale_model = o.upscale_model


def chain_models(s: Settings) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The models each step of the chain would use (step → role → model id: the Preferences ▸ Models choice or
    the default), and the steps that cannot run with the reason. Upscale's model is the dialog's choice."""
    from restorer_gui.inference import ops

    preferred = {task: getattr(s, field) for task, field in MODEL_CHOICE_FIELDS.items()}
    chosen: dict[str, dict[str, str]] = {}
    unavailable: dict[str, str] = {}
    for name in STEP_TITLES:
        if name == "upscale":
            continue
        if name == "enhance" and not registry.list_models("enhance"):
            unavailable[name] = "No enhancement model is installed yet (train one with `restorer train enhance`, " \
                                "or import one with File ▸ Import Model…)."
            continue
        try:
            chosen[name] = {role: ops.model_for(tasks, None, preferred).id for role, tasks in ops.get(name).models.items()}
        except RestorerError as exc:
            unavailable[name] = str(exc)[:1].upper() + str(exc)[1:] + "."
    return chosen, unavailable


def chain_recipe(o: RestorePhotoOptions, chosen: dict[str, dict[str, str]], steps: tuple[str, ...] | None = None) -> Recipe:
    """The recipe of the choices (their steps, or ``steps``), each step with its checked parameters; RecipeError
    when there is none or a value is wrong."""
    from restorer_gui.inference import ops

    params: dict[str, dict[str, Any]] = {
        "repair": {"threshold": sensitivity_to_threshold(o.sensitivity) if o.sensitivity else None, "use_mask": True,
                   "grain": True, **chosen.get("repair", {})},
        "denoise": {"strength": None if o.auto else float(o.sigma), "auto": o.auto, "keep_grain": float(o.keep_grain),
                    **chosen.get("denoise", {})},
        "enhance": {"strength": float(o.strength), **chosen.get("enhance", {})},
        "upscale": {"model": o.upscale_model or None},
    }
    names = o.steps if steps is None else steps
    return Recipe(tuple(Step.of(n, ops.get(n).parse(params[n])) for n in names))


def reduced(image: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    """``image`` block-averaged by a whole factor until its longest side is at most ``side`` (same dtype)."""
    h, w = image.shape[:2]
    f = max(1, -(-max(h, w) // side))
    if f == 1:
        return np.ascontiguousarray(image)
    hh, ww = h // f * f, w // f * f
    a = image[:hh, :ww].reshape(hh // f, f, ww // f, f, *image.shape[2:]).mean(axis=(1, 3))
    return np.rint(a).astype(image.dtype)


def _chain_job(original: np.ndarray, layers: list, recipe: Recipe, mask: np.ndarray | None, device: str,
               precision: str, tile: int | None):
    """Run ``recipe`` on the visible image (``original`` under copies of the document's ``layers``, composited on the
    worker) with the lane's models; progress names the step (“Denoise (2/3): …”)."""
    titles = [STEP_TITLES[n].split(" (")[0] for n in recipe.names]

    def fn(progress, cancel):
        from restorer_gui.inference import ops
        from restorer_gui.inference.chain import run_chain

        n = len(titles)

        def report(fraction: float, message: str = "") -> None:
            i = min(n - 1, int(fraction * n))
            text = f"{titles[i]} ({i + 1}/{n})" if n > 1 else titles[i]
            shown = message and message.lower() not in (titles[i].lower(), "done")
            progress(fraction, f"{text}: {message}" if shown else text)

        models = ops.ModelSet.for_this_thread(device, precision)
        image = composite(original, layers) if any(layer.visible for layer in layers) else original
        result = run_chain(image, recipe, models, mask=mask, tile=tile, progress=report, cancel=cancel)
        return result, models.last_device

    return fn


def _preview_job(thumb: np.ndarray, recipe: Recipe, device: str, precision: str):
    def fn(progress, cancel):
        from restorer_gui.inference import ops
        from restorer_gui.inference.chain import run_chain

        models = ops.ModelSet.for_this_thread(device, precision)
        return run_chain(thumb, recipe, models, cancel=cancel).image, models.last_device

    return fn


class ChainCommands:
    """Restore Photo…'s commands, mixed into the Restore controller (`qt.restore.RestoreController`)."""

    restore_dialog_open = None  # the Restore Photo dialog while it is open

    def restore_photo_dialog(self) -> None:
        from restorer_gui.qt.dialogs.preview import PreviewRunner
        from restorer_gui.qt.dialogs.restore_photo import RestorePhotoDialog

        model = self.window.model
        if model is None:
            return
        s = self.window.settings
        chosen, unavailable = chain_models(s)
        upscalers = [(i.id, _upscale_label(i)) for i in registry.list_models("upscale")]
        thumb = reduced(model.doc.flatten())
        runner = PreviewRunner(self, "Restore preview", lambda pixels: dialog.show_preview(pixels))

        def request(options: RestorePhotoOptions) -> None:
            shown = tuple(n for n in options.steps if n != "upscale")
            if not shown:
                runner.stop()
                dialog.show_preview(thumb)
                return
            try:
                recipe = chain_recipe(options, chosen, shown)
            except RecipeError as exc:
                dialog.after.setText(str(exc))
                return
            runner.submit(_preview_job(thumb, recipe, self.device, self.precision))

        dialog = RestorePhotoDialog(options_from(s), self.window, unavailable=unavailable, upscalers=upscalers,
                                    preview=thumb, request_preview=request)
        self.restore_dialog_open = dialog
        try:
            accepted = dialog.exec() == RestorePhotoDialog.DialogCode.Accepted
        finally:
            self.restore_dialog_open = None
            runner.stop()
        if not accepted:
            return
        options = dialog.options()
        remember(s, options)
        self.restore_photo(options, chosen)

    def restore_photo(self, options: RestorePhotoOptions, chosen: dict[str, dict[str, str]] | None = None) -> Job | None:
        """Run the chosen chain on the open photo (see the module's docstring)."""
        model = self.window.model
        if model is None or not options.steps:
            return None
        if chosen is None:
            chosen, unavailable = chain_models(self.window.settings)
            missing = [n for n in options.steps if n in unavailable]
            if missing:
                self.window.show_error(TITLE, unavailable[missing[0]])
                return None
        try:
            recipe = chain_recipe(options, chosen)
        except RecipeError as exc:
            self.window.show_error(TITLE, str(exc))
            return None
        if options.review and recipe.names[0] == "repair":
            self.window.settings.repair_threshold = recipe.steps[0].params["threshold"] or 0.0
            rest = Recipe(recipe.steps[1:]) if len(recipe.steps) > 1 else None
            return self.repair(then=(lambda: self.run_recipe(rest)) if rest is not None else None)
        return self.run_recipe(recipe)

    def run_recipe(self, recipe: Recipe, title: str = TITLE) -> Job | None:
        """Submit ``recipe`` on the visible photo (the painted mask too: repair fills it); each step's image
        becomes a result layer, one undo item each; an upscaled picture is offered as a new photo."""
        model = self.window.model
        if model is None:
            return None
        layers = [dataclasses.replace(layer) for layer in model.doc.layers]  # as shown now (arrays are read-only)
        mask = model.doc.mask.copy() if model.doc.mask.any() else None
        fn = _chain_job(model.doc.original, layers, recipe, mask, self.device, self.precision, self.tile)
        labels = dict.fromkeys(str(v) for s in recipe.steps for k, v in s.params.items()
                               if k in ("model", "detector", "inpainter") and v)

        def apply(result) -> None:
            shape = model.doc.original.shape[:2]
            added = 0
            for outcome in result.steps:
                image = outcome.result.image
                if image is None:
                    continue
                step = Step.of(outcome.op, outcome.params)
                if image.shape[:2] != shape:  # upscaled: a picture of its own (the chain's last step)
                    self._open_as_new_photo(image, outcome.result.label or STEP_TITLES[outcome.op])
                    continue
                extra = {"sigma": outcome.result.info["sigma"]} if "sigma" in outcome.result.info else {}
                label = outcome.result.label or STEP_TITLES[outcome.op]
                self._add_layer(image, label, outcome.op, step=step, **{**step.params, **extra})
                added += 1
            if "repair" in recipe.names and model.doc.mask.any():
                self._hide_mask_for_result()
            if added:
                self.window.statusBar().showMessage(
                    f"{title}: {added} step{'s' if added > 1 else ''} added as layers "
                    "(Ctrl+Z undoes one at a time; C compares with the original).", 10_000)

        return self.submit(title, fn, apply, model_label=", ".join(labels))


def _upscale_label(info: registry.ModelInfo) -> str:
    scale = info.hparams.get("scale") or info.card.get("scale")
    return f"{info.label} (×{scale})" if isinstance(scale, int) else info.label
