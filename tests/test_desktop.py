"""restorer_gui.desktop: installing the desktop entry for the current user (XDG_DATA_HOME)."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from restorer_gui import desktop
from restorer_gui.desktop import APP_ID, ICON_SIZES


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def _exec(entry: Path) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(entry.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]["Exec"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop entries are for Linux")
def test_install_into_xdg_data_home(xdg: Path) -> None:
    installed = desktop.install_desktop_entry()
    entry = xdg / "applications" / f"{APP_ID}.desktop"
    expected = {entry, xdg / "metainfo" / f"{APP_ID}.metainfo.xml", xdg / f"icons/hicolor/scalable/apps/{APP_ID}.svg"}
    expected |= {xdg / f"icons/hicolor/{s}x{s}/apps/{APP_ID}.png" for s in ICON_SIZES}
    assert set(installed) == expected
    assert all(p.is_file() for p in installed)
    command = shlex.split(_exec(entry))
    assert command[-1] == "%F"
    assert command[:-1] == desktop.launcher_command()
    assert Path(command[0]).is_file()
    if shutil.which("desktop-file-validate"):
        done = subprocess.run(["desktop-file-validate", str(entry)], check=False, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout


def test_prefix_argument_wins(xdg: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "elsewhere"
    installed = desktop.install_desktop_entry(prefix)
    assert installed and all(prefix in p.parents for p in installed)
    assert not xdg.exists()
    removed = desktop.uninstall_desktop_entry(prefix)
    assert set(removed) == set(installed)
    assert not any(p.exists() for p in installed)


def test_exec_line_quotes_as_the_spec_says() -> None:
    assert desktop.exec_line(["/usr/bin/restorer-gui"]) == "/usr/bin/restorer-gui %F"
    assert desktop.exec_line(["/opt/my apps/python", "-m", "restorer_gui"]) == '"/opt/my apps/python" -m restorer_gui %F'
    assert desktop.exec_line(['/a$b"c']) == '"/a\\\\$b\\\\"c" %F'
    assert desktop.exec_line(["/x/100%"]) == "/x/100%% %F"


def test_launcher_is_the_frozen_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    exe = tmp_path / "restorer-gui"
    exe.write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    assert desktop.launcher_command() == [str(exe.resolve())]


def test_failure_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert desktop.install_desktop_entry_main(blocker) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("restorer-gui: cannot install the desktop entry into") and "\n" not in err


def test_main_prints_what_it_installed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert desktop.install_desktop_entry_main(tmp_path / "p") == 0
    out = capsys.readouterr().out
    assert f"{APP_ID}.desktop" in out and "the desktop entry starts" in out


def test_installed_tree_validates(tmp_path: Path) -> None:
    exe = shutil.which("appstreamcli")
    if exe is None:
        pytest.skip("appstreamcli is not installed (apt-get install appstream)")
    desktop.install_desktop_entry(tmp_path / "usr" / "share")
    done = subprocess.run([exe, "validate-tree", "--no-net", str(tmp_path)], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
