"""The Denoise dialog shows the strength Auto found and lets the user move from there; keep grain (#19)."""

import numpy as np
from PySide6.QtCore import QTimer

from restorer_gui import paths
from restorer_gui.qt.dialogs.denoise import DenoiseDialog
from tests.noise_estimators import save_estimator
from tests.tiny_models import save_model


def test_auto_found_goes_on_the_slider_and_moving_it_leaves_auto(qtbot):
    asked = []
    crop = np.full((24, 32, 3), 90, np.uint8)
    dialog = DenoiseDialog([("a", "Model A")], has_mask=False, sigma=15, auto=True, preview_crop=crop,
                           request_preview=lambda *args: asked.append(args), keep_grain=10)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: bool(asked))  # the first preview asks for Auto with the remembered grain
    assert asked[-1] == (None, "a", 10.0)
    dialog.show_preview(crop, 18.3, True)
    assert dialog.found.text().startswith("Auto found 18;")
    assert dialog.spin.value() == 18 and dialog.slider.value() == 18
    assert dialog.auto.isChecked() and dialog.options().sigma is None  # showing it is not a choice
    count = len(asked)
    dialog.slider.setValue(22)  # the user moves the slider from Auto's strength
    assert not dialog.auto.isChecked() and dialog.options().sigma == 22.0
    qtbot.waitUntil(lambda: len(asked) > count and asked[-1][0] == 22.0)
    dialog.show_preview(crop, 22.0, False)
    assert dialog.found.text().startswith("Auto found 18; now 22")
    dialog.grain.setValue(35)
    qtbot.waitUntil(lambda: asked[-1] == (22.0, "a", 35.0))
    assert dialog.options().keep_grain == 35.0 and dialog.grain_slider.value() == 35


def test_the_dialog_runs_the_estimator_and_keeps_the_grain_asked_for(window, open_doc, qtbot):
    save_model(paths.user_models_dir(), "tiny-den", "denoise", untrained=False)
    save_estimator(paths.user_models_dir(), "tiny-noise", level=18.0)
    rng = np.random.default_rng(1)
    photo = np.clip(120 + 20 * rng.standard_normal((72, 88, 3)), 0, 255).astype(np.uint8)
    model = open_doc(photo)
    window.settings.device = "cpu"
    window.settings.denoise_model = "tiny-den"
    window.settings.denoise_auto = True
    seen = {}

    def drive():
        d = window.restore.denoise_dialog_open
        assert d is not None and d.after is not None
        try:
            qtbot.waitUntil(lambda: d.found.text().startswith("Auto found 18;"), timeout=20_000)
            seen["spin"] = d.spin.value()
            seen["auto"] = d.auto.isChecked()
            d.grain.setValue(100)  # all the grain back: the preview is the photo itself
            qtbot.waitUntil(lambda: d.after.pixmap().toImage() == d.before.pixmap().toImage(), timeout=20_000)
        except BaseException:
            d.reject()
            raise
        d.accept()

    QTimer.singleShot(0, drive)
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.denoise_dialog()
    assert seen["spin"] == 18 and seen["auto"]
    layer = model.doc.layers[-1]
    assert layer.name == "Denoise (auto, σ≈18.0), 100 % grain kept"
    assert layer.params["keep_grain"] == 100.0 and layer.params["sigma"] == 18.0
    assert layer.step.params["keep_grain"] == 100.0 and layer.step.params["auto"] is True
    assert np.array_equal(layer.pixels, photo)
    assert window.settings.denoise_keep_grain == 100
