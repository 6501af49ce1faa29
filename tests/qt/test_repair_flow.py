"""Restore ▸ Repair Damage as a user walks it, and the CLI giving the GUI's pixels for every operation."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from restorer_gui.cli import main as cli_main
from restorer_gui.core import imageio
from restorer_gui.inference import ops

from .tiny_models import install_all


@pytest.fixture
def models(isolated_home):
    install_all()


def _scan(seed=0):
    """A grainy grey photo with two white 'cracks' (the tiny detector marks near-white pixels)."""
    rng = np.random.default_rng(seed)
    px = np.clip(90 + 12 * rng.standard_normal((60, 80, 3)), 0, 255).astype(np.uint8)
    px[20:23, 5:75] = 250
    px[5:55, 40:42] = 248
    return px


def _history(model):
    stack = model.undo_stack
    return [stack.text(i) for i in range(stack.count())]


def test_repair_detect_review_sensitivity_fill(window, open_doc, qtbot, models):
    pixels = _scan()
    model = open_doc(pixels)
    window.settings.device = "cpu"
    window.act_show_mask.setChecked(False)  # the user had hidden the mask: the found damage must show anyway
    with qtbot.waitSignal(model.mask_changed, timeout=30_000):
        window.restore.act_repair.trigger()
    review = window.restore.review
    assert review.isVisible() and review.active
    assert window.act_show_mask.isChecked()
    found = model.doc.mask > 0
    assert found[21, 10:70].all() and found[10:50, 40].all()  # both cracks, rim included (grown)
    assert found.mean() < 0.2
    assert "Marked" in window.statusBar().currentMessage()
    assert _history(model) == ["Detect damage"]

    # lowering the sensitivity to the minimum drops the marks (one undo step), raising it brings them back
    before = model.doc.mask.copy()
    review.slider.setFocus()
    qtbot.keyClick(review.slider, Qt.Key.Key_Home)
    assert review.slider.value() == 2
    assert model.doc.mask.sum() < before.sum()
    assert _history(model)[-1] == "Damage sensitivity 2 %"
    window.act_undo.trigger()
    np.testing.assert_array_equal(model.doc.mask, before)

    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        review.fill_button.click()
    assert not review.isVisible()
    layer = model.doc.layers[-1]
    assert layer.name == "Repair damage" and layer.operation == "repair"
    outside = model.doc.mask == 0
    np.testing.assert_array_equal(layer.pixels[outside], pixels[outside])  # known pixels bit-identical
    assert np.abs(layer.pixels[21, 10:70].astype(int) - 250).min() > 40  # the white crack is gone
    assert not window.act_show_mask.isChecked()  # the result shows at once; the mask is kept, hidden
    assert model.doc.mask.any()
    assert _history(model)[-1] == "Add layer “Repair damage”"


def test_fill_with_an_empty_mask_explains(window, open_doc, dialogs, models):
    open_doc(np.zeros((20, 20, 3), np.uint8))
    assert window.restore.fill_damage() is None
    assert "empty" in dialogs.shown[-1][2]


def _gui_result(window, qtbot, model, action):
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        action()
    return model.doc.layers[-1].pixels


def test_cli_and_gui_give_identical_pixels(window, open_doc, qtbot, models, tmp_path, capsys):
    pixels = _scan(1)
    src = tmp_path / "scan.png"
    imageio.save_image(src, pixels)
    colour_mask = np.zeros((60, 80, 3), np.uint8)
    colour_mask[18:26, 3:77, 0] = 255  # painted in pure red elsewhere: full damage by the one mask rule
    imageio.save_image(tmp_path / "mask.png", colour_mask)
    model = open_doc(pixels)
    window.settings.device = "cpu"
    window.import_mask(tmp_path / "mask.png")
    assert model.doc.mask[20, 10] == 255

    def cli(*args):
        assert cli_main([str(a) for a in args] + ["--device", "cpu"]) == 0
        return imageio.load_image(args[args.index("-o") + 1]).pixels

    gui = _gui_result(window, qtbot, model, lambda: window.restore.denoise(25.0))
    np.testing.assert_array_equal(gui, cli("denoise", src, "-o", tmp_path / "d.png", "--strength", 25))
    window.act_undo.trigger()  # each operation below runs on the original again
    gui = _gui_result(window, qtbot, model, window.restore.inpaint)
    np.testing.assert_array_equal(gui, cli("inpaint", src, "--mask", tmp_path / "mask.png", "-o", tmp_path / "i.png"))
    window.act_undo.trigger()
    assert model.doc.layers == []

    model.replace_mask(np.zeros_like(model.doc.mask), "Clear")
    with qtbot.waitSignal(model.mask_changed, timeout=30_000):
        window.restore.detect_scratches()
    np.testing.assert_array_equal(model.doc.mask, cli("detect-scratches", src, "-o", tmp_path / "m.png")[..., 0])

    model.replace_mask(np.zeros_like(model.doc.mask), "Clear")
    with qtbot.waitSignal(model.mask_changed, timeout=30_000):
        window.restore.repair()
    gui_mask = model.doc.mask.copy()
    gui = _gui_result(window, qtbot, model, window.restore.fill_damage)
    out = cli("repair", src, "-o", tmp_path / "r.png", "--save-mask", tmp_path / "rm.png")
    np.testing.assert_array_equal(gui_mask, imageio.load_image(tmp_path / "rm.png").pixels[..., 0])
    np.testing.assert_array_equal(gui, out)


def test_every_operation_is_in_the_restore_menu(window):
    menu_actions = set(window.restore.menu_actions())
    for name in ops.OPERATIONS:
        action = window.restore.op_actions.get(name)
        assert action is not None and action in menu_actions, f"{name} has no Restore menu action"


def test_cancel_says_cancelling_until_the_job_stops(window, open_doc, qtbot, models, monkeypatch):
    import threading

    from restorer_gui.inference.ops import denoise as denoise_op

    model = open_doc(_scan())
    window.settings.device = "cpu"
    reached, release = threading.Event(), threading.Event()
    real = denoise_op.denoise

    def slow(*args, **kwargs):
        reached.set()
        release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(denoise_op, "denoise", slow)
    window.restore.denoise(10.0)
    qtbot.waitUntil(reached.is_set, timeout=20_000)
    window.statusBar().showMessage("a hint the user was reading")
    window.restore.act_cancel.trigger()
    label = window.restore.progress_label
    assert label.isVisible() and label.text() == "Denoise: cancelling…"
    assert not window.restore.act_cancel.isEnabled()
    with qtbot.waitSignal(window.restore.pool.job_cancelled, timeout=20_000):
        release.set()
    assert not label.isVisible() and model.doc.layers == []
