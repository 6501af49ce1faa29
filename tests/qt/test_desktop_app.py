import json
import os
import subprocess
import sys
import threading

import numpy as np
from PySide6.QtWidgets import QMessageBox

from restorer_gui import paths, settings
from restorer_gui.logs import log_file, setup_logging
from restorer_gui.qt.crash import CrashReporter
from restorer_gui.qt.dialogs.about import AboutDialog
from restorer_gui.qt.dialogs.preferences import PreferencesDialog
from restorer_gui.qt.main_window import MainWindow

from .conftest import solid
from .tiny_models import install_all


def test_project_save_and_open_restores_layers_mask_and_selection(window, open_doc, tmp_path):
    model = open_doc(solid(40, 30, (1000, 2000, 3000), np.uint16))
    model.doc.mask[3:9, 4:12] = 255
    layer = model.doc.make_layer("denoised", solid(40, 30, (9, 9, 9), np.uint16), "denoise", sigma=10)
    model.add_layer(layer)
    model.change_layer(layer.uid, opacity=0.3)
    path = tmp_path / "job.rgproj"
    assert window.save_project_to(path)
    assert not model.modified
    window.set_document(None)
    assert window.open_path(path)
    doc = window.model.doc
    assert doc.bit_depth == 16 and doc.layers[0].opacity == 0.3 and doc.layers[0].params == {"sigma": 10}
    assert (doc.mask[3:9, 4:12] == 255).all() and doc.mask.sum() == 255 * 48
    assert window.model.selected_uid == doc.layers[0].uid and doc.project_path == path
    assert window.view.can_compare()


def test_a_broken_project_shows_an_error(window, tmp_path, dialogs):
    bad = tmp_path / "bad.rgproj"
    bad.write_bytes(b"PK nothing")
    assert not window.open_path(bad)
    assert dialogs.shown[-1][0] == "critical" and "bad.rgproj" in dialogs.shown[-1][2]


def test_autosave_after_a_result_and_recovery_after_a_crash(window, open_doc, qtbot, dialogs, isolated_home):
    model = open_doc(solid(32, 24, (50, 60, 70)))
    model.doc.mask[:5] = 255
    model.add_layer(model.doc.make_layer("result", solid(32, 24, (1, 2, 3)), "test"))
    with qtbot.waitSignal(window.restore.pool.job_finished, timeout=10_000):
        assert window.autosave.save_now() is not None
    project = window.autosave.project
    assert project.exists() and json.loads(window.autosave.info.read_text())["pid"] == os.getpid()
    assert not window.restore.progress.isVisible()  # autosave is quiet
    # pretend that session died: its autosave is now an orphan for a new window
    dead = project.with_name("session-999999.rgproj")
    project.rename(dead)
    info = json.loads(window.autosave.info.read_text())
    info["pid"] = 999999
    dead.with_suffix(".json").write_text(json.dumps(info))
    window.autosave.info.unlink()
    other = MainWindow(settings.Settings())
    qtbot.addWidget(other)
    dialogs.answer = QMessageBox.StandardButton.Yes
    assert other.offer_recovery()
    doc = other.model.doc
    assert [l.name for l in doc.layers] == ["result"] and doc.mask[:5].min() == 255
    assert other.model.modified and doc.project_path is None
    assert not dead.exists()
    other.model.mark_saved()
    other.close()


def test_declining_recovery_removes_the_orphan(window, dialogs, isolated_home):
    folder = paths.autosave_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "session-999998.rgproj").write_bytes(b"x")
    (folder / "session-999998.json").write_text(json.dumps({"pid": 999998}))
    dialogs.answer = QMessageBox.StandardButton.No
    assert not window.offer_recovery()
    assert list(folder.iterdir()) == []


def test_saving_removes_the_autosave(window, open_doc, qtbot, tmp_path):
    open_doc(solid(16, 16, (0, 0, 0)))
    window.act_fill.trigger()
    with qtbot.waitSignal(window.restore.pool.job_finished, timeout=10_000):
        window.autosave.save_now()
    assert window.autosave.project.exists()
    assert window.save_to(tmp_path / "out.png")
    assert window.autosave.project.exists()  # the picture does not hold the mask
    assert window.save_project_to(tmp_path / "out.rgproj")
    assert not window.autosave.project.exists()
    window.act_clear.trigger()  # a photo with nothing a picture cannot hold: exporting saves it
    with qtbot.waitSignal(window.restore.pool.job_finished, timeout=10_000):
        window.autosave.save_now()
    assert window.autosave.project.exists()
    assert window.save_to(tmp_path / "out.png")
    assert not window.autosave.project.exists() and not window.model.modified


def test_preferences_apply_and_persist(window, qtbot, tmp_path):
    dialog = PreferencesDialog(window.settings, window)
    qtbot.addWidget(dialog)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.tile.setValue(512)
    dialog.models_dir.setText(str(tmp_path / "my-models"))
    dialog.brush_size.setValue(77)
    dialog.autosave.setValue(0)
    new = dialog.result_settings()
    window.apply_settings(new)
    assert window.settings.device == "cpu" and window.restore.tile == 512
    assert paths.user_models_dir() == tmp_path / "my-models"
    assert window.view.tools.brush_size == 77 and not window.autosave.timer.isActive()
    assert settings.load().tile_size == 512
    paths.set_user_models_dir(None)


def test_about_lists_models_and_versions(window, qtbot, isolated_home):
    install_all()
    dialog = AboutDialog("Device: cpu", window)
    qtbot.addWidget(dialog)
    names = {dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())}
    assert {"tiny-denoise", "tiny-inpaint", "tiny-detect"} <= names


def test_window_layout_is_restored(qtbot, dialogs):
    w = MainWindow(settings.Settings())
    qtbot.addWidget(w)
    w.resize(760, 520)  # fits the offscreen screen (800×600)
    w.history_dock.hide()
    w.show()
    w.close()
    saved = settings.load()
    assert saved.window_geometry and saved.window_state
    again = MainWindow(saved)
    qtbot.addWidget(again)
    again.show()
    assert again.size().width() == 760 and not again.history_dock.isVisible()
    again.close()


def test_uncaught_exceptions_become_a_dialog_and_are_logged(qtbot, isolated_home):
    setup_logging(to_stderr=False)
    reporter = CrashReporter()
    reporter.install()
    shown = []
    reporter.show_dialogs = False
    reporter.reported.connect(lambda msg, details: shown.append((msg, details)))
    try:
        with qtbot.waitSignal(reporter.reported, timeout=5000):
            try:
                raise RuntimeError("kaboom in a slot")
            except RuntimeError:
                sys.excepthook(*sys.exc_info())
        with qtbot.waitSignal(reporter.reported, timeout=5000):
            t = threading.Thread(target=lambda: 1 / 0)
            t.start()
            t.join()
    finally:
        reporter.uninstall()
    assert shown[0][0] == "RuntimeError: kaboom in a slot" and "Traceback" in shown[0][1]
    assert shown[1][0].startswith("ZeroDivisionError")
    text = log_file().read_text()
    assert "kaboom in a slot" in text and "ZeroDivisionError" in text


def test_kill_9_during_autosave_keeps_the_previous_one(tmp_path):
    """A process killed while writing leaves the previous autosave loadable (atomic rename)."""
    script = tmp_path / "writer.py"
    target = tmp_path / "session.rgproj"
    script.write_text(
        "import sys, numpy as np, os, signal\n"
        "from restorer_gui.core.document import Document\n"
        "from restorer_gui.core.imageio import ImageData\n"
        "from restorer_gui.core import project\n"
        "doc = Document(ImageData(pixels=np.full((64, 64, 3), int(sys.argv[2]), np.uint8)))\n"
        "if sys.argv[3] == 'die':\n"
        "    real = project.save_image\n"
        "    def dying(path, pixels, **kw):\n"
        "        real(path, pixels, **kw)\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    project.save_image = dying\n"
        "project.save_project(sys.argv[1], project.ProjectSnapshot.of(doc))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    assert subprocess.run([sys.executable, str(script), str(target), "7", "ok"], env=env).returncode == 0
    killed = subprocess.run([sys.executable, str(script), str(target), "200", "die"], env=env)
    assert killed.returncode == -9
    from restorer_gui.core.project import load_project

    doc, _ = load_project(target)
    assert int(doc.original[0, 0, 0]) == 7
