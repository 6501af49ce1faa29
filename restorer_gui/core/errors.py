"""Exceptions raised by :mod:`restorer_gui.core`."""

from __future__ import annotations

__all__ = ["ImageError"]


class ImageError(Exception):
    """A photo could not be loaded or saved.

    ``str(error)`` is one line meant for the user, e.g.
    ``"photo.png: the file is truncated or corrupt"``; the underlying library
    error, if any, is chained as ``__cause__``.
    """
