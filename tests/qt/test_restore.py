import numpy as np
import pytest

from restorer_gui import paths
from restorer_gui.qt.dialogs.denoise import DenoiseDialog

from tests.tiny_models import save_model

from .conftest import solid
from .tiny_models import install_all


@pytest.fixture
def models(isolated_home):
    install_all()


def test_denoise_adds_a_layer_that_undo_removes(window, open_doc, qtbot, models):
    model = open_doc(solid(64, 48, (100, 100, 100)))
    window.settings.device = "cpu"
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.denoise(25.0)
    layer = model.doc.layers[-1]
    assert layer.operation == "denoise" and layer.params["sigma"] == 25.0 and layer.params["model"] == "tiny-denoise"
    expected = round((100 / 255 * 0.5 + 0.25) * 255)
    assert np.abs(layer.pixels.astype(int) - expected).max() <= 1
    assert window.view.can_compare() and window.act_compare.isEnabled()
    assert "Device: cpu" in window.restore.device_label.text()
    assert window.restore.model_label.text() == "Model: tiny-denoise"
    assert not window.restore.progress.isVisible()
    window.act_undo.trigger()
    assert model.doc.layers == []


def test_denoise_16_bit_inside_the_mask_only(window, open_doc, qtbot, models):
    model = open_doc(solid(40, 30, (20000, 20000, 20000), np.uint16))
    model.doc.mask[10:20, 10:20] = 255
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.denoise(None, inside_mask=True)
    out = model.doc.layers[-1].pixels
    assert out.dtype == np.uint16
    assert (out[0:5, 0:5] == 20000).all()
    assert abs(int(out[15, 15, 0]) - round((20000 / 65535 * 0.5 + 0.25) * 65535)) <= 2
    assert model.doc.layers[-1].params["auto"] is True


def test_inpaint_changes_only_the_masked_pixels(window, open_doc, qtbot, models):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    model = open_doc(pixels)
    model.doc.mask[20:30, 30:40] = 255
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.act_inpaint.trigger()
    out = model.doc.layers[-1].pixels
    outside = model.doc.mask == 0
    np.testing.assert_array_equal(out[outside], pixels[outside])
    assert np.abs(out[22:28, 32:38].astype(int) - 128).max() <= 1


def test_inpaint_with_an_empty_mask_explains(window, open_doc, dialogs, models):
    open_doc(solid(20, 20, (0, 0, 0)))
    assert window.restore.inpaint() is None
    assert "mask is empty" in dialogs.shown[-1][2]


def test_detect_scratches_fills_the_mask_in_one_step(window, open_doc, qtbot, models):
    pixels = solid(60, 40, (30, 30, 30))
    pixels[:, 25:27] = 255
    model = open_doc(pixels)
    with qtbot.waitSignal(model.mask_changed, timeout=30_000):
        window.restore.act_detect.trigger()
    assert (model.doc.mask[:, 25:27] == 255).all() and model.doc.mask[:, :20].max() == 0
    assert model.undo_stack.count() == 1 and model.undo_stack.undoText() == "Detect scratches"
    window.act_undo.trigger()
    assert model.doc.mask.max() == 0


def test_cancel_drops_the_result(window, open_doc, qtbot, models):
    model = open_doc(solid(64, 64, (1, 2, 3)))
    with qtbot.waitSignal(window.restore.pool.job_cancelled, timeout=30_000):
        window.restore.denoise(10.0)
        window.restore.act_cancel.trigger()
    assert model.doc.layers == []
    assert not window.restore.act_cancel.isEnabled()


def test_a_broken_model_file_shows_an_error_and_the_app_goes_on(window, open_doc, qtbot, dialogs, models):
    (paths.user_models_dir() / "tiny-denoise.safetensors").write_bytes(b"\x00" * 20)
    model = open_doc(solid(16, 16, (1, 2, 3)))
    with qtbot.waitSignal(window.restore.pool.job_failed, timeout=30_000):
        window.restore.denoise(10.0)
    kind, title, text, *_ = dialogs.shown[-1]
    assert "failed" in title and "tiny-denoise" in text and "Traceback" not in text
    assert model.doc.layers == []
    model.replace_mask(np.full_like(model.doc.mask, 255), "Fill")
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):  # other models still work
        window.restore.act_inpaint.trigger()


def test_no_model_for_a_task_is_explained(window, open_doc, dialogs):
    open_doc(solid(16, 16, (1, 2, 3)))
    assert window.restore.detect_scratches() is None
    assert "Import Model" in dialogs.shown[-1][2]


def test_import_model_from_the_file_menu(window, qtbot, models, tmp_path):
    src = paths.user_models_dir() / "tiny-denoise.safetensors"
    copy = tmp_path / "my-denoiser.safetensors"
    copy.write_bytes(src.read_bytes())
    (paths.user_models_dir() / "tiny-denoise.json").unlink()
    src.unlink()
    with qtbot.waitSignal(window.restore.pool.job_failed, timeout=30_000) as blocker:
        window.restore.import_model(copy)  # no card and no known architecture: refused with a reason
    assert "recognise" in blocker.args[1]


def test_closing_the_window_joins_the_workers(qtbot, dialogs, models):
    from restorer_gui import settings
    from restorer_gui.qt.main_window import MainWindow

    w = MainWindow(settings.Settings())
    qtbot.addWidget(w)
    from restorer_gui.core.document import Document
    from restorer_gui.core.imageio import ImageData

    w.set_document(Document(ImageData(pixels=solid(32, 32, (5, 5, 5)))))
    w.restore.denoise(5.0)
    w.model.mark_saved()
    w.close()
    threads = [t for lane in w.restore.pool._lanes.values() for t in lane]
    assert all(not t.isRunning() for t in threads)


def test_denoise_dialog_options(qtbot):
    dialog = DenoiseDialog([("a", "Model A"), ("b", "Model B")], has_mask=False, sigma=20)
    qtbot.addWidget(dialog)
    assert dialog.options().sigma == 20.0 and not dialog.in_mask.isEnabled()
    dialog.slider.setValue(35)
    dialog.model.setCurrentIndex(1)
    assert dialog.options().sigma == 35.0 and dialog.options().model_id == "b"
    dialog.auto.setChecked(True)  # the slider stays live: it shows Auto's strength and moving it leaves Auto
    assert dialog.options().sigma is None and dialog.slider.isEnabled()
    dialog.slider.setValue(30)
    assert dialog.options().sigma == 30.0 and not dialog.auto.isChecked()


def test_preferences_choose_the_model_each_command_uses(window, open_doc, qtbot, models):
    from safetensors.torch import load_file, save_file

    from restorer_gui import settings
    from restorer_gui.inference import registry
    from restorer_gui.qt.dialogs.preferences import PreferencesDialog

    from .tiny_models import TinyInpaint, install

    install("grey-inpaint", "test_tiny_inpaint", "inpaint", TinyInpaint())
    weights_file = paths.user_models_dir() / "grey-inpaint.safetensors"
    weights = load_file(str(weights_file))
    weights["conv.bias"].fill_(0.2)  # fills with dark grey, the other tiny inpainter with mid-grey
    save_file(weights, str(weights_file))

    dialog = PreferencesDialog(window.settings, window)
    qtbot.addWidget(dialog)
    box = dialog.task_models["inpaint"]
    assert [box.itemData(i) for i in range(box.count())] == ["", "grey-inpaint", "tiny-inpaint"]
    assert box.currentIndex() == 0 and box.itemText(0).startswith("Automatic (currently ")
    denoisers = dialog.task_models["denoise"]
    assert [denoisers.itemData(i) for i in range(denoisers.count())] == ["", "tiny-denoise"]
    box.setCurrentIndex(box.findData("grey-inpaint"))
    window.apply_settings(dialog.result_settings())
    assert settings.load().inpaint_model == "grey-inpaint" and settings.load().denoise_model == ""

    model = open_doc(np.zeros((40, 40, 3), np.uint8))
    model.doc.mask[10:20, 10:20] = 255
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.act_inpaint.trigger()
    layer = model.doc.layers[-1]
    assert layer.params["model"] == "grey-inpaint" and abs(int(layer.pixels[15, 15, 0]) - 51) <= 1

    # the chosen model removed meanwhile: the automatic choice runs, and the status bar says why
    registry.remove_model("grey-inpaint")
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.act_inpaint.trigger()
        assert "no longer available" in window.statusBar().currentMessage()
    layer = model.doc.layers[-1]
    assert layer.params["model"] == "tiny-inpaint" and abs(int(layer.pixels[15, 15, 0]) - 128) <= 1
    assert window.settings.inpaint_model == "" and settings.load().inpaint_model == ""


def test_denoise_preview_follows_the_values_and_a_rerun_replaces_the_result(window, open_doc, qtbot, models):
    from PySide6.QtCore import QTimer

    rng = np.random.default_rng(0)
    model = open_doc(np.clip(100 + 20 * rng.standard_normal((80, 90, 3)), 0, 255).astype(np.uint8))
    window.settings.device = "cpu"
    # a denoiser whose output depends on σ (the qt tiny one ignores it, and then whether the preview
    # "changes" at σ 40 raced against the first preview's arrival)
    save_model(paths.user_models_dir(), "tiny-den", "denoise", untrained=False)
    window.settings.denoise_model = "tiny-den"
    seen = {}

    def drive(sigma, auto=False):
        d = window.restore.denoise_dialog_open
        assert d is not None and d.after is not None
        try:
            qtbot.waitUntil(lambda: d.after.pixmap() is not None and not d.after.pixmap().isNull(), timeout=20_000)
            first = d.after.pixmap().toImage()
            if auto:
                d.auto.setChecked(True)
                qtbot.waitUntil(lambda: "Auto found " in d.found.text(), timeout=20_000)
            else:
                d.spin.setValue(sigma)
                qtbot.waitUntil(lambda: d.after.pixmap().toImage() != first, timeout=20_000)
            seen.setdefault("replace", []).append((d.replace.isVisible(), d.replace.isChecked()))
        except BaseException:
            d.reject()  # a failed check must fail the test, not leave the modal dialog open for ever
            raise
        d.accept()

    QTimer.singleShot(0, lambda: drive(40))
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.denoise_dialog()
    assert [layer.name for layer in model.doc.layers] == ["Denoise σ 40"]
    first_result = model.doc.layers[0]

    QTimer.singleShot(0, lambda: drive(0, auto=True))
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.denoise_dialog()
    assert seen["replace"] == [(False, False), (True, True)]
    assert len(model.doc.layers) == 1 and model.doc.layers[0].name.startswith("Denoise (auto")
    assert model.undo_stack.text(model.undo_stack.count() - 1) == "Replace “Denoise σ 40”"
    window.act_undo.trigger()
    assert model.doc.layers == [first_result]
