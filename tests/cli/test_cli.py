import os
import subprocess
import sys

import numpy as np
from PIL import Image

from restorer_gui import __version__


def run(*args, env_extra=None, timeout=120):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_version_and_info():
    proc = run("-m", "restorer_gui.cli", "--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"restorer {__version__}"
    proc = run("-m", "restorer_gui.cli", "info")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Devices:" in out and "cpu" in out and "Folders:" in out
    assert os.environ["RESTORER_HOME"] in out


def test_usage_errors_exit_2():
    assert run("-m", "restorer_gui.cli").returncode == 2
    assert run("-m", "restorer_gui.cli", "no-such-command").returncode == 2


def test_screenshot_of_the_empty_window(tmp_path):
    out = tmp_path / "shot.png"
    proc = run("-m", "restorer_gui", "--screenshot", str(out), env_extra={"RESTORER_STARTUP_T0": "0"})
    assert proc.returncode == 0, proc.stderr
    image = Image.open(out)
    assert image.width > 600 and image.height > 400
    assert "torch-loaded False" in proc.stdout  # the window comes up without torch
    assert len(set(np.asarray(image.convert("L")).ravel().tolist())) > 10  # something was painted


def test_screenshot_with_an_image_shows_it(tmp_path):
    photo = tmp_path / "red.png"
    Image.new("RGB", (400, 300), (220, 10, 10)).save(photo)
    out = tmp_path / "shot.png"
    proc = run("-m", "restorer_gui", str(photo), "--screenshot", str(out))
    assert proc.returncode == 0, proc.stderr
    rgb = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3)
    red = np.count_nonzero((rgb[:, 0] > 200) & (rgb[:, 1] < 40) & (rgb[:, 2] < 40))
    assert red > 50_000  # the photo fills a good part of the window


def test_screenshot_with_a_corrupt_image_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "shot.png"
    proc = run("-m", "restorer_gui", str(bad), "--screenshot", str(out))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "bad.png" in proc.stderr
    assert out.exists()  # the window was still captured


def test_install_desktop_entry_flag(tmp_path):
    proc = run("-m", "restorer_gui", "--install-desktop-entry", env_extra={"XDG_DATA_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    desktop = tmp_path / "applications" / "io.github.restorer_gui.RestorerGui.desktop"
    assert desktop.exists() and "Exec=" in desktop.read_text()
    assert (tmp_path / "icons" / "hicolor" / "256x256" / "apps" / "io.github.restorer_gui.RestorerGui.png").exists()


def test_train_and_eval_are_restorer_commands():
    proc = run("-m", "restorer_gui.cli", "--help")
    assert "train" in proc.stdout and "eval" in proc.stdout
    assert run("-m", "restorer_gui.cli", "train", "nonsense").returncode == 2
