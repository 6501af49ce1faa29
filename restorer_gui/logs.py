"""Logging to a rotating file in the log folder (and to stderr). No Qt here."""

from __future__ import annotations

import logging
import logging.handlers
import warnings
from pathlib import Path

from restorer_gui import paths

LOG_NAME = "restorer-gui.log"
_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def log_file() -> Path:
    return paths.log_dir() / LOG_NAME


def setup_logging(level: int = logging.INFO, to_stderr: bool = True) -> Path | None:
    """Log to a rotating file (1 MB × 5); returns its path, or None when the folder is not writable."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_restorer", False):
            root.removeHandler(handler)
            handler.close()
    target: Path | None = log_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            target, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
        )
    except OSError:
        target = None
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler._restorer = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if to_stderr:
        console = logging.StreamHandler()
        console.setLevel(logging.WARNING)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        console._restorer = True  # type: ignore[attr-defined]
        root.addHandler(console)
    return target


def quiet_library_warnings() -> None:
    """Decoders and torch warn about damaged files on stderr; users get our one-line messages
    instead, and the warnings go to the log."""
    for module in (r"PIL(\..*)?", r"torch(\..*)?", r"tifffile(\..*)?"):
        warnings.filterwarnings("ignore", module=module)
    logging.captureWarnings(True)
