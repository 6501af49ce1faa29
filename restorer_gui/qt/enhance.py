"""Restore ▸ Fix Fading and Colour…: the dialog with its live preview, then the run as an undoable layer.

Commands of the Restore controller kept in their own module: `EnhanceCommands` is mixed into
`qt.restore.RestoreController` (its actions call `enhance_dialog` and `enhance`); this module imports nothing of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from restorer_gui.inference import registry

if TYPE_CHECKING:
    from restorer_gui.qt.workers import Job

TITLE = "Fix fading and colour"
NO_MODEL = ("No enhancement model is installed yet. Train one with `restorer train enhance` and export it, or "
            "import one with File ▸ Import Model…")


def _preview_job(image: np.ndarray, box: tuple[int, int, int, int], strength: float, model_id: str, device: str,
                 precision: str, cache: dict[str, Any]):
    """Correct the preview region as the run would: the correction is predicted from the whole photo once
    per model (kept in ``cache``), then applied to the region, so the preview shows the run's pixels."""

    def fn(progress, cancel):
        from restorer_gui.inference import ops
        from restorer_gui.inference.ops import enhance as op

        models = ops.ModelSet.for_this_thread(device, precision)
        net = models.get(op.TASKS, model_id)
        key = f"{model_id}@{net.device}"
        if key not in cache:
            cache.clear()
            cache[key] = op.predict(image, net)
        out = op.enhance(image, net, strength, box=box, params=cache[key], cancel=cancel)
        return out, str(net.device)

    return fn


class EnhanceCommands:
    """Fix Fading and Colour…'s two commands, mixed into the Restore controller (`qt.restore.RestoreController`,
    whose job plumbing they use as ``self``): the dialog with its live preview, and the run."""

    def enhance_dialog(self) -> None:
        from restorer_gui.qt.dialogs.enhance import EnhanceDialog
        from restorer_gui.qt.dialogs.preview import PreviewRunner, crop_box

        model = self.window.model
        if model is None:
            return
        infos = registry.list_models("enhance")
        if not infos:
            self.window.show_error("No model", NO_MODEL)
            return
        default = self._model_for("enhance")
        if default is not None:
            infos.sort(key=lambda i: i.id != default.id)
        s = self.window.settings
        base = model.doc.flatten()
        box = crop_box(self.window.view, base)
        crop = np.ascontiguousarray(base[box[1]:box[3], box[0]:box[2]])
        cache: dict[str, Any] = {}
        runner = PreviewRunner(self, "Fix fading preview", lambda pixels: dialog.show_preview(pixels))

        def request(strength: float, model_id: str) -> None:
            runner.submit(_preview_job(base, box, strength, model_id, self.device, self.precision, cache))

        dialog = EnhanceDialog([(i.id, i.label) for i in infos], bool(model.doc.mask.max()), s.enhance_strength,
                               self.window, preview_crop=crop, request_preview=request)
        self.enhance_dialog_open = dialog
        try:
            accepted = dialog.exec() == EnhanceDialog.DialogCode.Accepted
        finally:
            self.enhance_dialog_open = None
            runner.stop()
        if not accepted:
            return
        options = dialog.options()
        s.enhance_strength = int(options.strength)
        self.enhance(options.strength, options.inside_mask, options.model_id)

    def enhance(self, strength: float = 100.0, inside_mask: bool = False, model_id: str | None = None) -> Job | None:
        """Fix the fading of the visible photo (or inside the mask): a new layer, one undo step."""
        model = self.window.model
        if model is None:
            return None
        if model_id:
            info = self._find(model_id)
        elif not registry.list_models("enhance"):
            self.window.show_error("No model", NO_MODEL)
            return None
        else:
            info = self._model_for("enhance")
        if info is None:
            return None
        params = {"strength": float(strength), "inside_mask": inside_mask, "model": info.id}
        step = self._step(TITLE, "enhance", params)
        if step is None:
            return None

        def apply(result) -> None:
            self._add_layer(result.image, result.label, "enhance", step=step, **params)

        return self._run(TITLE, "enhance", step, apply, mask=model.doc.mask.copy() if inside_mask else None,
                        model_label=info.label)
