"""Install the app into the current user's desktop menu (freedesktop: Linux and the BSDs).

``restorer-gui --install-desktop-entry`` puts the .desktop file (its Exec pointing at the launcher
in use), the icons (hicolor theme) and the AppStream metainfo under ``$XDG_DATA_HOME`` (default
``~/.local/share``). Imports neither Qt nor torch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from restorer_gui import paths

APP_ID = "io.github.restorer_gui.RestorerGui"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`')


class DesktopInstallError(Exception):
    """The desktop entry could not be installed or removed (one-line message)."""


def data_home(prefix: Path | None = None) -> Path:
    """*prefix*, else ``$XDG_DATA_HOME``, else ``~/.local/share``."""
    if prefix is not None:
        return Path(prefix)
    env = os.environ.get("XDG_DATA_HOME", "")
    return Path(env) if os.path.isabs(env) else Path.home() / ".local" / "share"


def launcher_command() -> list[str]:
    """The command that starts this installation: the frozen bundle, the ``restorer-gui`` script
    beside this interpreter (a venv's bin/), the one on PATH, or ``python -m restorer_gui``."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    name = "restorer-gui.exe" if sys.platform == "win32" else "restorer-gui"
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("restorer-gui")
    if found:
        return [str(Path(found).resolve())]
    return [str(Path(sys.executable).resolve()), "-m", "restorer_gui"]


def exec_line(command: list[str]) -> str:
    """An ``Exec=`` value for *command* + ``%F``, quoted and escaped as the Desktop Entry spec says."""
    args = []
    for arg in command:
        arg = arg.replace("%", "%%")
        if any(c in _RESERVED for c in arg):
            arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
        args.append(arg.replace("\\", "\\\\"))  # the string-level escape of every desktop value
    return " ".join(args + ["%F"])


def _entry_text(template: Path, command: list[str]) -> str:
    """The shipped .desktop file with Exec/TryExec set to *command*."""
    lines = []
    for line in template.read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + exec_line(command)
        elif line.startswith("TryExec="):
            line = "TryExec=" + command[0].replace("\\", "\\\\")
        lines.append(line)
    return "\n".join(lines) + "\n"


def _targets(base: Path) -> dict[str, Path]:
    """Source name in resources/ → installed path, for every file but the .desktop entry."""
    icons = base / "icons" / "hicolor"
    targets = {f"icons/restorer-gui-{s}.png": icons / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in ICON_SIZES}
    targets["icons/restorer-gui.svg"] = icons / "scalable" / "apps" / f"{APP_ID}.svg"
    targets[f"{APP_ID}.metainfo.xml"] = base / "metainfo" / f"{APP_ID}.metainfo.xml"
    return targets


def _refresh_caches(base: Path) -> None:
    """Let menus and icon themes see the change now; missing tools or their failures do not matter."""
    for tool, args in (
        ("update-desktop-database", ["-q", str(base / "applications")]),
        ("gtk-update-icon-cache", ["-q", "-t", "-f", str(base / "icons" / "hicolor")]),
    ):
        exe = shutil.which(tool)
        if exe:
            try:
                subprocess.run([exe, *args], capture_output=True, timeout=60, check=False)
            except (OSError, subprocess.SubprocessError):
                pass


def _check_platform(prefix: Path | None) -> None:
    if prefix is None and sys.platform in ("win32", "darwin"):
        raise DesktopInstallError("desktop entries are for Linux and other freedesktop systems")


def install_desktop_entry(prefix: Path | None = None) -> list[Path]:
    """Install the .desktop file, icons and metainfo into *prefix* (default: the user's XDG data
    folder); returns the installed paths. Raises DesktopInstallError with a one-line reason."""
    _check_platform(prefix)
    base = data_home(prefix)
    resources = paths.resources_dir()
    template = resources / f"{APP_ID}.desktop"
    sources = {resources / name: target for name, target in _targets(base).items()}
    missing = [p.name for p in [template, *sources] if not p.is_file()]
    if missing:
        raise DesktopInstallError(f"the installation lacks {', '.join(missing)} in {resources}")
    installed: list[Path] = []
    try:
        entry = base / "applications" / f"{APP_ID}.desktop"
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_text(_entry_text(template, launcher_command()), encoding="utf-8")
        installed.append(entry)
        for source, target in sources.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            installed.append(target)
    except OSError as exc:
        raise DesktopInstallError(f"cannot install the desktop entry into {base}: {exc.strerror or exc}") from None
    _refresh_caches(base)
    return installed


def uninstall_desktop_entry(prefix: Path | None = None) -> list[Path]:
    """Remove what :func:`install_desktop_entry` installed; returns the removed paths."""
    _check_platform(prefix)
    base = data_home(prefix)
    removed = []
    try:
        for target in [base / "applications" / f"{APP_ID}.desktop", *_targets(base).values()]:
            if target.is_file():
                target.unlink()
                removed.append(target)
    except OSError as exc:
        raise DesktopInstallError(f"cannot remove the desktop entry from {base}: {exc.strerror or exc}") from None
    _refresh_caches(base)
    return removed


def install_desktop_entry_main(prefix: Path | None = None, *, uninstall: bool = False) -> int:
    """Command-line wrapper: prints what it did, or one error line; returns the exit status (0 or 1)."""
    try:
        done = (uninstall_desktop_entry if uninstall else install_desktop_entry)(prefix)
    except DesktopInstallError as exc:
        print(f"restorer-gui: {exc}", file=sys.stderr)
        return 1
    verb = "removed" if uninstall else "installed"
    for path in done:
        print(f"{verb} {path}")
    if not uninstall:
        print(f"restorer-gui: the desktop entry starts {' '.join(launcher_command())}")
    return 0
