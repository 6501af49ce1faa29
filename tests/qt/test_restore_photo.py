"""Restore ▸ Restore Photo… and File ▸ Batch Restore Folder… (#20) as a user walks them: the whole chain on the open
photo, each step a layer and an undo item; the mask review in the middle of the chain; the chain over a folder."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from restorer_gui import paths
from restorer_gui import settings as settings_mod
from restorer_gui.cli import main as cli_main
from restorer_gui.core import imageio
from restorer_gui.qt.dialogs.restore_photo import RestorePhotoDialog
from restorer_gui.qt.restore_chain import options_from
from tests.tiny_enhancer import save_enhancer

from .test_dialog_fields import crash_reports, menu_action  # noqa: F401 - fixture: the crash reporter, never hit
from .test_repair_flow import _history
from .test_scenarios import CTRL, SHIFT, file_dialogs, key, layer_rows, open_photo, shown, stroke  # noqa: F401
from .tiny_models import install_all


@pytest.fixture
def models(isolated_home):
    install_all()  # tiny detector (near-white), inpainter (mid-grey), denoiser (0.5·x + 0.25)
    save_enhancer(paths.user_models_dir())  # a tiny random-weight enhancer that changes the colours


def _scan(seed=3):
    """A grainy photo with a white crack (the tiny detector finds it) and a dark stain (it does not)."""
    rng = np.random.default_rng(seed)
    photo = np.clip(np.array([110, 95, 80]) + 12 * rng.standard_normal((64, 96, 3)), 0, 255).astype(np.uint8)
    photo[20:23, 6:90] = 250
    photo[44:50, 12:20] = 12
    return photo


def _drive(qtbot, window, steps, *, review=False, strength=None, seen=None):
    """Restore Photo's dialog: tick *steps* (the others off), wait for the preview, press Restore."""

    def drive():
        dialog = window.restore.restore_dialog_open
        assert dialog is not None and dialog.isVisible()
        for name, box in dialog.step_boxes.items():
            box.setChecked(name in steps)
        dialog.review.setChecked(review)
        if strength is not None:
            dialog.strength.setValue(strength)
        with qtbot.waitSignal(window.restore.pool.job_finished, timeout=30_000):  # the preview of these steps
            pass
        qtbot.waitUntil(lambda: not dialog.after.pixmap().isNull(), timeout=30_000)
        if seen is not None:
            seen["preview"] = dialog.after.pixmap().toImage()
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, drive)


def test_restore_photo_three_steps_three_layers_undone_one_by_one(window, qtbot, models, file_dialogs, tmp_path,
                                                                    dialogs, crash_reports):  # noqa: F811
    photo = _scan()
    src = tmp_path / "scan.png"
    imageio.save_image(src, photo)
    window.settings.device = "cpu"
    open_photo(qtbot, window, file_dialogs, src)
    view, model = window.view, window.model
    seen = {}

    # Restore ▸ Restore Photo… (Ctrl+Shift+P): repair, denoise and fix fading, no review
    _drive(qtbot, window, ("repair", "denoise", "enhance"), seen=seen)
    key(qtbot, window, Qt.Key.Key_P, CTRL | SHIFT)
    qtbot.waitUntil(lambda: len(model.doc.layers) == 3, timeout=60_000)
    assert not seen["preview"].isNull()
    assert [layer.operation for layer in model.doc.layers] == ["repair", "denoise", "enhance"]
    rows = layer_rows(window)
    assert len(rows) == 4 and rows[0].startswith("Fix fading") and rows[1].startswith("Denoise")
    assert rows[2] == "Repair damage" and rows[3].startswith("Original")
    assert [layer.step.op for layer in model.doc.layers] == ["repair", "denoise", "enhance"]
    assert model.doc.recipe().names == ["repair", "denoise", "enhance"]
    assert _history(model)[-3:] == [f"Add layer “{layer.name}”" for layer in model.doc.layers]
    assert "3 steps added as layers" in window.statusBar().currentMessage()

    # the canvas shows the chain's result: the crack filled, the colours changed; the command line gives the same
    screen = shown(view)
    np.testing.assert_array_equal(screen, model.doc.layers[-1].pixels)
    assert np.abs(screen.astype(int) - photo).mean() > 5 and screen[20:23, 10:86].mean() < 200
    assert cli_main(["restore", str(src), "-o", str(tmp_path / "cli.png"), "--steps", "repair,denoise,enhance",
                     "--device", "cpu"]) == 0
    np.testing.assert_array_equal(imageio.load_image(tmp_path / "cli.png").pixels, model.doc.layers[-1].pixels)

    # each undo (Ctrl+Z) takes one step away, and the canvas shows the step below
    for remaining in (2, 1, 0):
        key(qtbot, window, Qt.Key.Key_Z, CTRL)
        assert len(model.doc.layers) == remaining and len(layer_rows(window)) == remaining + 1
        below = model.doc.layers[-1].pixels if remaining else photo
        np.testing.assert_array_equal(shown(view), below)

    # the choices are remembered (on disk too, with the window's settings) for the next time
    assert window.settings.restore_steps == "repair,denoise,enhance" and not window.settings.restore_review
    again = RestorePhotoDialog(options_from(window.settings))
    assert again.checked_steps() == ("repair", "denoise", "enhance") and again.denoise.auto.isChecked()
    assert dialogs.shown == [] and crash_reports == []


def test_review_the_mask_paint_a_stroke_then_go_on(window, qtbot, models, file_dialogs, tmp_path, dialogs):
    photo = _scan(5)
    src = tmp_path / "scan.png"
    imageio.save_image(src, photo)
    window.settings.device = "cpu"
    open_photo(qtbot, window, file_dialogs, src)
    view, model = window.view, window.model

    # with the review on, the chain stops after finding the damage: the mask on screen, the review bar, no layer
    _drive(qtbot, window, ("repair", "denoise"), review=True)
    with qtbot.waitSignal(model.mask_changed, timeout=60_000):
        key(qtbot, window, Qt.Key.Key_P, CTRL | SHIFT)
    review = window.restore.review
    assert review.isVisible() and review.fill_button.text() == "Fill Damage and Go On"
    assert window.act_show_mask.isChecked() and model.doc.layers == []
    assert (model.doc.mask[20:23, 6:90] > 0).all() and model.doc.mask[44:50, 12:20].max() == 0

    # the user paints the stain the detector missed, then goes on
    key(qtbot, view, Qt.Key.Key_B)
    stroke(qtbot, view, [(13, 47), (16, 47), (19, 47)])
    painted = model.doc.mask.copy()
    assert (painted[44:50, 12:20] > 0).all() and review.isVisible() and model.doc.layers == []
    qtbot.mouseClick(review.fill_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(model.doc.layers) == 2, timeout=60_000)
    assert not review.isVisible()
    repair, denoise = model.doc.layers
    assert (repair.operation, denoise.operation) == ("repair", "denoise")
    # the fill covers the painted stroke (the dark stain is gone) and the crack; the rest is the photo
    assert repair.pixels[44:50, 12:20].mean() > 60 and repair.pixels[20:23, 10:86].mean() < 200
    outside = painted == 0
    np.testing.assert_array_equal(repair.pixels[outside], photo[outside])
    # the remaining step ran on the filled photo
    expected = np.rint((repair.pixels / 255 * 0.5 + 0.25) * 255)
    assert np.abs(denoise.pixels.astype(int) - expected).max() <= 1
    np.testing.assert_array_equal(shown(view), denoise.pixels)
    history = _history(model)
    assert history[0] == "Detect damage" and history[-2:] == ["Add layer “Repair damage”",
                                                              f"Add layer “{denoise.name}”"]
    assert dialogs.shown == []


def test_closing_the_review_drops_the_remaining_steps(window, open_doc, qtbot, models):
    model = open_doc(_scan())
    window.settings.device = "cpu"
    from restorer_gui.qt.restore_chain import RestorePhotoOptions

    with qtbot.waitSignal(model.mask_changed, timeout=60_000):
        window.restore.restore_photo(RestorePhotoOptions(steps=("repair", "denoise"), review=True))
    window.restore.review.close_button.click()
    assert not window.restore.review.isVisible()
    # a later Repair Damage of the user's own fills and stops there
    window.restore.act_repair.trigger()
    qtbot.waitUntil(window.restore.review.isVisible, timeout=60_000)
    assert window.restore.review.fill_button.text() == "Fill Damage"
    with qtbot.waitSignal(model.layers_changed, timeout=60_000):
        window.restore.review.fill_button.click()
    qtbot.waitUntil(lambda: not window.restore.pool.busy, timeout=30_000)
    assert [layer.operation for layer in model.doc.layers] == ["repair"]


def test_cancel_stops_the_chain_with_progress_naming_the_step(window, open_doc, qtbot, models, monkeypatch):
    from restorer_gui.inference.ops import enhance as enhance_op
    from restorer_gui.qt.restore_chain import RestorePhotoOptions

    model = open_doc(_scan())
    window.settings.device = "cpu"
    reached, release = threading.Event(), threading.Event()
    real = enhance_op.enhance

    def slow(*args, **kwargs):  # a long correction, reporting its progress until it is let go
        reached.set()
        while not release.wait(0.02):
            kwargs["progress"](0.5, "correcting")
        return real(*args, **kwargs)

    monkeypatch.setattr(enhance_op, "enhance", slow)
    window.restore.restore_photo(RestorePhotoOptions(steps=("denoise", "enhance")))
    qtbot.waitUntil(reached.is_set, timeout=30_000)
    label = window.restore.progress_label
    qtbot.waitUntil(lambda: label.text() == "Restore photo: Fix fading and colour (2/2): correcting", timeout=10_000)
    key(qtbot, window, Qt.Key.Key_Escape)  # Cancel (Esc)
    with qtbot.waitSignal(window.restore.pool.job_cancelled, timeout=30_000):
        release.set()
    assert model.doc.layers == [] and not label.isVisible()


def test_a_failing_step_is_named_in_one_line(window, open_doc, qtbot, models, monkeypatch, dialogs):
    from restorer_gui.inference.ops import enhance as enhance_op
    from restorer_gui.qt.restore_chain import RestorePhotoOptions

    model = open_doc(_scan())
    window.settings.device = "cpu"

    def broken(*args, **kwargs):
        raise RuntimeError("the curves came out wrong\n  File 'x.py', line 3")

    monkeypatch.setattr(enhance_op, "enhance", broken)
    with qtbot.waitSignal(window.restore.pool.job_failed, timeout=30_000):
        window.restore.restore_photo(RestorePhotoOptions(steps=("denoise", "enhance")))
    assert model.doc.layers == []
    kind, title, text = dialogs.shown[-1][:3]
    assert title == "Restore photo failed" and text == "Fix Fading and Colour: the curves came out wrong"


def test_a_step_without_a_model_cannot_be_ticked(window, open_doc, qtbot, isolated_home):
    install_all()  # no enhancement model, no upscaler
    open_doc(_scan())
    state = {}

    def look():
        dialog = window.restore.restore_dialog_open
        for name in ("enhance", "upscale"):
            box = dialog.step_boxes[name]
            state[name] = (box.isEnabled(), box.isChecked(), box.toolTip())
        dialog.step_boxes["denoise"].setChecked(False)
        dialog.step_boxes["repair"].setChecked(False)
        state["run"] = dialog.run_button.isEnabled()  # nothing ticked: nothing to run
        dialog.reject()

    window.settings.restore_steps = "repair,enhance,upscale"
    QTimer.singleShot(0, look)
    window.restore.act_restore_photo.trigger()
    assert state["enhance"][:2] == (False, False) and "No enhancement model" in state["enhance"][2]
    assert state["upscale"][:2] == (False, False) and "No upscale model" in state["upscale"][2]
    assert state["run"] is False


def test_batch_restore_folder_runs_the_chain_over_a_folder(window, qtbot, models, tmp_path, dialogs,
                                                           crash_reports):  # noqa: F811
    src = tmp_path / "scans"
    src.mkdir()
    photos = {"a.png": _scan(1), "b.png": _scan(2)}
    for name, pixels in photos.items():
        imageio.save_image(src / name, pixels)
    window.settings.device = "cpu"
    seen = {}

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        seen["title"] = dialog.windowTitle()
        dialog.input_edit.setText(str(src))
        for name, check in dialog.step_boxes.items():
            check.setChecked(name in ("repair", "denoise", "enhance"))
        dialog.auto.setChecked(True)
        dialog.enhance_strength.setValue(60)
        seen["error"] = dialog.error_label.text()
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)

    # File ▸ Batch Restore Folder…
    QTimer.singleShot(0, fill_in)
    menu_action(window, "File", "Batch Restore Folder…").trigger()
    assert seen == {"title": "Batch Restore Folder", "error": ""}
    batch = window._batch_window
    with qtbot.waitSignal(batch.ended, timeout=60_000) as ended:
        pass
    assert ended.args[0] is not None and len(ended.args[0].done) == 2
    out = tmp_path / "scans-restored"
    recipe = json.loads((out / "restorer-recipe.json").read_text())
    assert [s["op"] for s in recipe["steps"]] == ["repair", "denoise", "enhance"]
    assert recipe["steps"][2]["params"]["strength"] == 60.0 and recipe["steps"][1]["params"]["auto"] is True
    # each photo went through the whole chain: the command line's `restore` with the same recipe gives its pixels
    for name, pixels in photos.items():
        written = imageio.load_image(out / name).pixels
        assert written[20:23, 10:86].mean() < 200  # the crack filled
        assert cli_main(["restore", str(src / name), "-o", str(tmp_path / f"cli-{name}"), "--recipe",
                         str(out / "restorer-recipe.json"), "--device", "cpu"]) == 0
        np.testing.assert_array_equal(written, imageio.load_image(tmp_path / f"cli-{name}").pixels)
    stored = settings_mod.load()
    assert stored.batch_steps == "repair,denoise,enhance" and stored.enhance_strength == 60
    assert dialogs.shown == [] and crash_reports == []


def test_upscale_as_the_last_step_opens_the_larger_picture(window, open_doc, qtbot, models, tmp_path, dialogs,
                                                          monkeypatch):
    import torch
    from spandrel.architectures.ESRGAN import ESRGAN

    from restorer_gui.inference.model_import import import_model
    from restorer_gui.qt.restore_chain import RestorePhotoOptions

    torch.manual_seed(0)
    weights = tmp_path / "2x_tiny.pth"
    torch.save(ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2).state_dict(), weights)
    upscaler = import_model(weights)
    assert upscaler.task == "upscale"
    photo = _scan()
    model = open_doc(photo)
    window.settings.device = "cpu"
    options = RestorePhotoOptions(steps=("denoise", "upscale"), upscale_model=upscaler.id)

    # answered No: the denoise layer stays, the larger picture was offered with its size
    with qtbot.waitSignal(model.layers_changed, timeout=60_000):
        window.restore.restore_photo(options)
    assert [layer.operation for layer in model.doc.layers] == ["denoise"]
    assert dialogs.shown[-1][1] == "A larger picture" and "192×128" in dialogs.shown[-1][2]

    # answered Yes: the upscaled chain result (of the denoised photo) opens as the new photo
    denoised = model.doc.layers[-1].pixels
    model.undo_stack.undo()
    dialogs.answer = dialogs.answer.Yes
    monkeypatch.setattr(window, "maybe_discard_changes", lambda: True)
    window.restore.restore_photo(options)
    qtbot.waitUntil(lambda: window.model is not model, timeout=60_000)
    big = window.model.doc.original
    assert big.shape == (128, 192, 3)
    from restorer_gui.inference import ops
    from restorer_gui.inference.ops.upscale import upscale

    expected = upscale(denoised, ops.ModelSet("cpu").get(("upscale",), upscaler.id))
    np.testing.assert_array_equal(big, expected)


def test_keep_grain_in_restore_photo_reaches_the_denoise_step_and_is_remembered(qtbot):
    """The Keep grain the user sets in Restore Photo is the denoise step's `keep_grain` (what the layer records
    and the command line's --keep-grain runs), and it is the Denoise dialog's remembered setting too."""
    from restorer_gui.qt.restore_chain import chain_recipe, remember

    s = settings_mod.Settings()
    s.denoise_keep_grain = 30
    dialog = RestorePhotoDialog(options_from(s))
    qtbot.addWidget(dialog)
    assert dialog.keep_grain.value() == 30
    dialog.keep_grain.setValue(45)
    options = dialog.options()
    assert options.keep_grain == 45
    recipe = chain_recipe(options, {}, ("denoise",))
    assert recipe.steps[0].params["keep_grain"] == 45.0
    remember(s, options)
    assert s.denoise_keep_grain == 45 and options_from(s).keep_grain == 45
