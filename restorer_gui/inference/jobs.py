"""Progress reporting and cancellation shared by every inference job (no torch, no Qt)."""

from __future__ import annotations

import threading
from collections.abc import Callable

ProgressFn = Callable[[float, str], None]
"""Called with a fraction in [0, 1] and a short message for the user."""


class JobCancelled(Exception):
    """The job was cancelled through its :class:`CancelToken`."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class CancelToken:
    """Thread-safe cancel flag: the GUI sets it, the worker checks it between tiles."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled()


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise :class:`JobCancelled` when *cancel* is set (``None``: never)."""
    if cancel is not None:
        cancel.raise_if_cancelled()


class Progress:
    """Monotonic progress over a sub-range [start, end] of a parent callback.

    Values never go backwards and are clamped to [0, 1]; ``sub()`` hands a nested step
    its own slice, so a pipeline can split its range between stages.
    """

    def __init__(
        self, fn: ProgressFn | None, start: float = 0.0, end: float = 1.0, _shared: list[float] | None = None
    ) -> None:
        self._fn = fn
        self._start = start
        self._end = end
        self._shared = _shared if _shared is not None else [-1.0]  # last value, shared with children

    def __call__(self, fraction: float, message: str = "") -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        value = self._start + (self._end - self._start) * fraction
        value = max(value, self._shared[0])
        self._shared[0] = value
        if self._fn is not None:
            self._fn(value, message)

    def sub(self, start: float, end: float) -> Progress:
        """A child reporting into [start, end] of this progress's own range."""
        span = self._end - self._start
        return Progress(self._fn, self._start + span * start, self._start + span * end, self._shared)

    @staticmethod
    def wrap(fn: ProgressFn | Progress | None) -> Progress:
        return fn if isinstance(fn, Progress) else Progress(fn)
