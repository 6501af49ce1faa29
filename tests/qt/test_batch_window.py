"""File ▸ Batch Restore Folder…: the dialog, the non-modal progress window, cancel and failures."""

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication

from restorer_gui import settings as settings_mod
from restorer_gui.core import imageio
from restorer_gui.core.batch import BatchOptions
from restorer_gui.inference import batch as batch_mod
from restorer_gui.qt.batch_dialog import BatchChoices, BatchDialog
from tests.batch_helpers import digests, flat_folder, mixed_folder, temp_files

from .tiny_models import install_all


@pytest.fixture
def models(isolated_home):
    install_all()


@pytest.fixture
def accept_dialog(monkeypatch):
    """Makes the dialog's exec() fill in the given fields and press Start."""

    def use(**fields):
        def exec_(dialog):
            for name, value in fields.items():
                widget = getattr(dialog, name)
                if hasattr(widget, "setText"):
                    widget.setText(str(value))
                else:
                    widget.setCurrentIndex(widget.findData(value))
            dialog.accept()
            return dialog.result()

        monkeypatch.setattr(BatchDialog, "exec", exec_)

    return use


def test_menu_runs_the_batch_and_shows_the_summary(window, qtbot, models, tmp_path, accept_dialog, monkeypatch):
    src = tmp_path / "scans"
    mixed_folder(src)
    before = digests(src)
    window.settings.device = "cpu"
    accept_dialog(input_edit=src, format="png")
    window.act_batch.trigger()
    batch = window._batch_window
    assert batch.isVisible() and not batch.isModal() and QApplication.activeModalWidget() is None
    with qtbot.waitSignal(batch.ended, timeout=30_000) as ended:
        pass
    summary = ended.args[0]
    out = tmp_path / "scans-restored"  # the default: a sibling folder
    assert summary is not None and len(summary.done) == 2 and summary.failed == []  # not recursive
    a = imageio.load_image(out / "a.png").pixels
    expected = np.rint((imageio.load_image(src / "a.png").pixels / 255 * 0.5 + 0.25) * 255)
    assert np.abs(a.astype(int) - expected).max() <= 1
    assert batch.files_bar.value() == 2 and "2 / 2 files" == batch.files_bar.text()
    assert batch.summary_label.text().startswith("Finished: 2 written")
    assert batch.log_label.text() == f"Log: {summary.log_path}"
    assert batch.close_button.isVisible() and not batch.cancel_button.isVisible()
    assert window.settings.batch_input_dir == str(src) and window.settings.batch_format == "png"
    assert settings_mod.load().batch_input_dir == str(src)  # remembered on disk too
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url.toLocalFile())))
    batch.open_button.click()
    assert opened == [str(out)]
    assert digests(src) == before
    batch.close()
    assert not batch.isVisible()


def test_failures_are_listed_while_the_batch_runs(window, qtbot, models, tmp_path):
    src = tmp_path / "scans"
    mixed_folder(src)
    choices = BatchChoices(BatchOptions(src, tmp_path / "out", recursive=True), "tiny-denoise", None)
    window.settings.device = "cpu"
    batch = window.start_batch(choices)
    with qtbot.waitSignal(batch.ended, timeout=30_000):
        pass
    text = batch.failures.toPlainText()
    assert "broken.jpg: the file is truncated or corrupt" in text and "notes.png: not an image" in text
    assert "5 written, 2 failed" in batch.summary_label.text()
    assert batch.status.text() == "Done, with failures."


def test_cancel_from_the_window_keeps_finished_files_only(window, qtbot, models, tmp_path, monkeypatch):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 6)
    window.settings.device = "cpu"
    go_on = threading.Event()
    from restorer_gui.inference.ops import denoise as denoise_op

    real = denoise_op.denoise  # what the denoise step runs
    calls = []

    def gated(image, model, **kw):  # the second photo waits until the window has cancelled
        calls.append(1)
        if len(calls) == 2:
            assert go_on.wait(20)
        return real(image, model, **kw)

    monkeypatch.setattr(denoise_op, "denoise", gated)
    batch = window.start_batch(BatchChoices(BatchOptions(src, out), "tiny-denoise", 10.0))
    with qtbot.waitSignal(batch.signals.file_finished, timeout=30_000):
        pass
    assert batch.running
    batch.close()  # closing while running only hides it; the menu shows it again
    assert not batch.isVisible() and window.open_batch_dialog() is batch and batch.isVisible()
    batch.cancel_button.click()
    assert batch.status.text() == "Stopping after the current tile…"
    with qtbot.waitSignal(batch.ended, timeout=30_000) as ended:
        go_on.set()
    summary = ended.args[0]
    assert summary.cancelled and len(summary.done) == 1
    assert [p.name for p in out.iterdir()] == ["p00.png"] and temp_files(tmp_path) == []
    assert "Run the batch again" in batch.summary_label.text()


def test_a_batch_that_cannot_start_says_why(window, qtbot, models, tmp_path):
    batch = window.start_batch(BatchChoices(BatchOptions(tmp_path / "gone", tmp_path / "o"), "x", 5.0))
    with qtbot.waitSignal(batch.ended, timeout=10_000) as ended:
        pass
    assert ended.args[0] is None
    assert batch.summary_label.text().startswith("The batch could not run:") and "does not exist" in batch.summary_label.text()


def test_dialog_defaults_validation_and_memory(qtbot, models, tmp_path):
    src = tmp_path / "scans"
    src.mkdir()
    s = settings_mod.Settings()
    dialog = BatchDialog([("tiny-denoise", "Tiny")], s)
    qtbot.addWidget(dialog)
    dialog.accept()
    assert dialog.error_label.text() == "Choose the folder of photos." and dialog.result() == 0
    dialog.input_edit.setText(str(src))
    assert dialog.output_edit.text() == str(tmp_path / "scans-restored")
    dialog.output_edit.setText(str(src))
    dialog._on_output_edited(str(src))  # as typed by the user: the input folder, chosen explicitly
    assert "photo-restored" in dialog.output_hint.text()
    dialog.auto.setChecked(True)
    dialog.format.setCurrentIndex(dialog.format.findData("jpg"))
    assert dialog.quality.isEnabled()
    dialog.quality.setValue(80)
    dialog.policy.setCurrentIndex(dialog.policy.findData("rename"))
    dialog.keep_metadata.setChecked(False)
    dialog.accept()
    assert dialog.result() == 1
    c = dialog.choices()
    assert c.sigma is None and c.jpeg_quality == 80 and not c.keep_metadata
    assert c.options.output_dir == src and c.options.on_existing == "rename" and c.options.fmt == "jpg"
    again = BatchDialog([("tiny-denoise", "Tiny")], s)
    qtbot.addWidget(again)
    assert again.choices() == c  # every choice is remembered
    assert Path(again.output_edit.text()) == src


def test_batch_restore_runs_the_chosen_steps_and_remembers_them(window, qtbot, models, tmp_path):
    from restorer_gui.core.recipe import Recipe

    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 3)
    window.settings.device = "cpu"
    dialog = BatchDialog([("tiny-denoise", "Tiny")], window.settings)
    qtbot.addWidget(dialog)
    dialog.input_edit.setText(str(src))
    dialog.output_edit.setText(str(out))
    dialog.step_boxes["denoise"].setChecked(False)
    assert dialog.validate() == "Choose at least one step."
    dialog.step_boxes["repair"].setChecked(True)
    dialog.step_boxes["denoise"].setChecked(True)
    assert dialog.validate() == ""
    choices = dialog.choices()
    assert choices.steps == ("repair", "denoise") and choices.recipe().names == ["repair", "denoise"]
    dialog.remember(window.settings)
    assert BatchDialog([("tiny-denoise", "Tiny")], window.settings).choices().steps == ("repair", "denoise")

    batch = window.start_batch(choices)
    with qtbot.waitSignal(batch.ended, timeout=60_000):
        pass
    assert "3 written" in batch.summary_label.text()
    assert Recipe.from_json((out / "restorer-recipe.json").read_text()) == choices.recipe()
    # the GUI's batch gives what the command line's chain gives for the same recipe
    from restorer_gui.cli import main as cli_main

    assert cli_main(["restore", str(src / "p00.png"), "-o", str(tmp_path / "cli.png"), "--device", "cpu",
                     "--recipe", str(out / "restorer-recipe.json")]) == 0
    assert imageio.load_image(tmp_path / "cli.png").pixels.tobytes() == imageio.load_image(out / "p00.png").pixels.tobytes()
