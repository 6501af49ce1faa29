"""Uncaught exceptions anywhere (GUI thread or any other thread) become a dialog; the app goes on."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from restorer_gui.logs import log_file

log = logging.getLogger("restorer_gui.crash")


class CrashReporter(QObject):
    """Installs sys.excepthook and threading.excepthook; reports land on the GUI thread."""

    reported = Signal(str, str)  # one-line message, details

    def __init__(self, parent_window: QWidget | None = None) -> None:
        super().__init__()
        self.window = parent_window
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self._previous = (sys.excepthook, threading.excepthook)
        self.count = 0
        self.show_dialogs = True

    def install(self) -> None:
        sys.excepthook = self._hook
        threading.excepthook = lambda args: self._hook(args.exc_type, args.exc_value, args.exc_traceback)

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous

    def _hook(self, kind: type[BaseException], value: BaseException | None, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._previous[0](kind, value, tb)  # type: ignore[arg-type]
            return
        details = "".join(traceback.format_exception(kind, value, tb))
        log.error("uncaught exception:\n%s", details)
        message = f"{kind.__name__}: {value}".strip().splitlines()[0]
        self.count += 1
        self.reported.emit(message, details)

    def _show(self, message: str, details: str) -> None:
        if not self.show_dialogs:
            return
        box = QMessageBox(QMessageBox.Icon.Critical, "Something went wrong",
                          "An unexpected error occurred. Your work is still open; saving it is a good idea.\n\n"
                          f"{message}\n\nDetails are in the log: {log_file()}",
                          QMessageBox.StandardButton.Ok, self.window)
        box.setDetailedText(details)
        box.exec()
