"""GUI entry point: `restorer-gui [IMAGE] [--screenshot OUT.png]`. Imports Qt only, never torch."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

_T0 = time.perf_counter()


def _parse(argv: list[str]) -> argparse.Namespace:
    from restorer_gui import __version__

    parser = argparse.ArgumentParser(prog="restorer-gui", description="Restore scanned old photos.")
    parser.add_argument("image", nargs="?", help="a photo to open")
    parser.add_argument("--screenshot", metavar="OUT.png", help="show the window, save a grab of it and exit")
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add restorer-gui to this user's application menu and file associations, then exit")
    parser.add_argument("--self-test", action="store_true",
                        help="load every built-in model, restore the sample photo headless, exit 0 when all is well")
    parser.add_argument("--version", action="version", version=f"restorer-gui {__version__}")
    return parser.parse_args(argv)


def _report_startup(window) -> None:
    """For benchmarks: print the time from process start to a painted window."""
    t0 = os.environ.get("RESTORER_STARTUP_T0")
    if t0:
        elapsed = time.time() - float(t0)
        print(f"window-painted {elapsed:.3f} in-process {time.perf_counter() - _T0:.3f} "
              f"torch-loaded {'torch' in sys.modules}", flush=True)


def _screenshot(app, window, out: Path) -> int:
    app.processEvents()
    window.repaint()
    app.processEvents()
    _report_startup(window)
    image = window.grab()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    if not image.save(str(out), "PNG"):
        print(f"restorer-gui: cannot write the screenshot to {out}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from restorer_gui.selftest import run_self_test

        return run_self_test()
    if args.install_desktop_entry:
        from restorer_gui.desktop import install_desktop_entry_main

        return install_desktop_entry_main()
    from restorer_gui.logs import quiet_library_warnings, setup_logging

    setup_logging()
    quiet_library_warnings()
    if args.screenshot and not os.environ.get("QT_QPA_PLATFORM") and not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from restorer_gui import paths
    from restorer_gui.qt.crash import CrashReporter
    from restorer_gui.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("restorer-gui")
    app.setOrganizationName("restorer-gui")
    icon = paths.resources_dir() / "icons" / "restorer-gui.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    window = MainWindow()
    crashes = CrashReporter(window)
    crashes.install()
    if args.screenshot:
        window.errors_to_stderr = True
        crashes.show_dialogs = False
    window.show()
    ok = True
    if args.image:
        ok = window.open_path(args.image)
    if args.screenshot:
        code = _screenshot(app, window, Path(args.screenshot))
        window.close()
        return code if ok else 1
    QTimer.singleShot(0, lambda: _report_startup(window))
    if not args.image:
        QTimer.singleShot(0, window.offer_recovery)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
