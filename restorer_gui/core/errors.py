"""The project's one exception family (no Qt, no torch): every error meant for the user derives from
:class:`RestorerError`, wherever below the GUI it is raised, and ``str(error)`` is its one-line message."""

from __future__ import annotations

__all__ = ["ImageError", "RestorerError", "StepError", "a_an"]


class RestorerError(Exception):
    """An error whose message is meant for the user as it is: one line, no traceback.

    Front ends show ``str(error)`` (the GUI in a dialog, the command line on stderr); anything else that
    escapes an operation is a bug and is logged with its traceback.
    """


class ImageError(RestorerError):
    """A photo could not be loaded or saved.

    ``str(error)`` is one line meant for the user, e.g.
    ``"photo.png: the file is truncated or corrupt"``; the underlying library
    error, if any, is chained as ``__cause__``.
    """


class StepError(RestorerError):
    """A step of a restoration chain failed; the message names the step (``"Repair damage: …"``)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step


def a_an(word: str) -> str:
    """``word`` with its indefinite article, for messages: "an inpaint", "a denoise", "an upscale"."""
    return f"{'an' if str(word)[:1].lower() in 'aeiou' else 'a'} {word}"
