"""Paths a person typed or pasted: whatever the text, a usable :class:`~pathlib.Path` or a one-line reason.

Text from a line edit can be anything: half a path, ``/``, ``~`` or ``~someone``, a NUL byte, thousands
of characters, control characters, characters the file system cannot store.  ``Path`` itself
raises for some of these (``RuntimeError`` for an unknown ``~user``, ``ValueError`` for a NUL
byte, ``OSError`` for a name that is too long), so the checks here never let one escape.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

__all__ = ["PathTextError", "is_dir", "exists", "path_from_text", "shown"]

SHOWN_LIMIT = 80


class PathTextError(ValueError):
    """The text cannot name a file or folder; the message is one line for the user."""


def path_from_text(text: str) -> Path:
    """The absolute path *text* names (``~`` expanded, ``..`` resolved lexically, links kept).

    Raises :class:`PathTextError` for text that cannot be a path: empty, a NUL byte, characters
    the file system cannot store, or ``~name`` for a user this computer does not know.
    """
    if not text:
        raise PathTextError("no folder or file given")
    if "\0" in text:
        raise PathTextError("a file or folder name cannot contain a NUL character")
    try:
        os.fsencode(text)
    except UnicodeError:
        raise PathTextError("the name holds characters the file system cannot store") from None
    try:
        path = Path(text).expanduser()
    except (RuntimeError, KeyError, ValueError, OSError):
        user = text.split("/", 1)[0].split(os.sep, 1)[0]
        raise PathTextError(f"no user named “{shown(user[1:])}” on this computer") from None
    return Path(os.path.abspath(path))


def is_dir(path: Path) -> bool:
    """``path.is_dir()`` that answers False, never raises (too long, NUL, no permission…)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def exists(path: Path) -> bool:
    """``path.exists()`` that answers False, never raises."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def shown(text: str | os.PathLike[str], limit: int = SHOWN_LIMIT) -> str:
    """*text* fit for one line of a message: control characters made visible, the middle of a
    long text left out (``/home/…/scans``)."""
    s = os.fspath(text)
    if isinstance(s, bytes):
        s = os.fsdecode(s)
    s = "".join(_visible(ch) for ch in s)
    if len(s) > limit:
        keep = max(1, limit - 1)
        s = s[: keep // 2] + "…" + s[len(s) - (keep - keep // 2):]
    return s


def _visible(ch: str) -> str:
    if ch == "\0":
        return "␀"
    if unicodedata.category(ch) in ("Cc", "Cs") or ch in ("\u2028", "\u2029"):
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return ch
