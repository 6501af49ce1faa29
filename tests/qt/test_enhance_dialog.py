"""Restore ▸ Fix Fading and Colour…: no model said plainly; the live preview shows the run's pixels; a layer
that the command line reproduces; the batch dialog's step."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer

from restorer_gui import paths
from restorer_gui.core import imageio
from tests.tiny_enhancer import save_enhancer


def _faded(h=90, w=110, seed=0):
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.normal(0, 4, (h, w, 3)), axis=1) + np.array([150, 120, 90])
    return np.clip(base, 0, 255).astype(np.uint8)


def test_without_a_model_the_dialog_says_none_is_installed(window, open_doc, dialogs):
    open_doc(_faded())
    window.restore.act_enhance.trigger()
    assert dialogs.shown and "No enhancement model is installed" in dialogs.shown[-1][2]
    assert window.model.doc.layers == []


def test_preview_is_the_runs_pixels_and_the_result_is_the_command_lines(window, open_doc, qtbot, tmp_path):
    save_enhancer(paths.user_models_dir())
    photo = _faded()
    model = open_doc(photo)
    window.settings.device = "cpu"
    seen = {}

    def drive():
        d = window.restore.enhance_dialog_open
        assert d is not None and d.after is not None
        shown = d.show_preview
        d.show_preview = lambda pixels: (seen.setdefault("previews", []).append(pixels), shown(pixels))
        qtbot.waitUntil(lambda: len(seen.get("previews", [])) == 1, timeout=20_000)
        d.spin.setValue(60)
        qtbot.waitUntil(lambda: len(seen["previews"]) == 2, timeout=20_000)
        assert not d.after.pixmap().isNull()
        d.accept()

    QTimer.singleShot(0, drive)
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.enhance_dialog()
    layer = model.doc.layers[-1]
    assert layer.operation == "enhance" and layer.params["strength"] == 60.0 and layer.name == "Fix fading 60 %"
    assert window.settings.enhance_strength == 60

    # the preview showed exactly the result's pixels in its region
    from restorer_gui.qt.dialogs.preview import crop_box

    x0, y0, x1, y1 = crop_box(window.view, photo)
    np.testing.assert_array_equal(seen["previews"][-1], layer.pixels[y0:y1, x0:x1])
    assert np.abs(seen["previews"][0].astype(int) - seen["previews"][1]).mean() > 0.5  # 100 % then 60 %

    # the command line gives the same pixels
    from restorer_gui.cli import main

    src = tmp_path / "in.png"
    imageio.save_image(src, photo)
    assert main(["enhance", str(src), "-o", str(tmp_path / "out.png"), "--strength", "60", "--device", "cpu"]) == 0
    np.testing.assert_array_equal(imageio.load_image(tmp_path / "out.png").pixels, layer.pixels)


def test_inside_the_mask_leaves_the_rest_alone(window, open_doc, qtbot):
    save_enhancer(paths.user_models_dir())
    photo = _faded()
    model = open_doc(photo)
    window.settings.device = "cpu"
    model.doc.mask[20:50, 30:80] = 255
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.enhance(100.0, inside_mask=True)
    out = model.doc.layers[-1].pixels
    outside = model.doc.mask == 0
    np.testing.assert_array_equal(out[outside], photo[outside])
    assert np.abs(out[~outside].astype(int) - photo[~outside]).mean() > 1


def test_the_batch_dialog_offers_the_step_and_needs_a_model(window, tmp_path):
    from restorer_gui.qt.batch_dialog import BatchDialog

    dialog = BatchDialog([("tiny-denoise", "Tiny")], window.settings)
    assert "enhance" in dialog.step_boxes
    dialog.input_edit.setText(str(tmp_path))
    dialog.output_edit.setText(str(tmp_path / "out"))
    for name, check in dialog.step_boxes.items():
        check.setChecked(name == "enhance")
    assert "No enhancement model is installed" in dialog.validate()
    save_enhancer(paths.user_models_dir())
    assert dialog.validate() == ""
    assert dialog.choices().recipe().names == ["enhance"]


def test_preferences_choose_the_enhancement_model(window, open_doc, qtbot):
    from restorer_gui.qt.dialogs.preferences import PreferencesDialog

    save_enhancer(paths.user_models_dir(), "enh-a", seed=1)
    save_enhancer(paths.user_models_dir(), "enh-b", seed=2)
    dialog = PreferencesDialog(window.settings)
    box = dialog.task_models["enhance"]
    assert [box.itemData(i) for i in range(box.count())] == ["", "enh-a", "enh-b"]
    box.setCurrentIndex(box.findData("enh-b"))
    chosen = dialog.result_settings()
    assert chosen.enhance_model == "enh-b"
    window.apply_settings(chosen)
    model = open_doc(_faded())
    window.settings.device = "cpu"
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.enhance()
    assert model.doc.layers[-1].params["model"] == "enh-b"
