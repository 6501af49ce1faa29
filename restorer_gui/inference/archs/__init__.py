"""Our own network architectures, built by name from a model card.

Each architecture module registers a builder with `@register("name")`. A built module carries:
  task: str            "denoise" | "inpaint" | "detect-scratches"
  size_multiple: int   input height/width must be a multiple of this (pad otherwise)
  supports_half: bool  fp16/bf16 inference is safe
Forward signatures by task (tensors B×C×H×W, float, values in [0, 1]):
  denoise:          forward(x, sigma) -> x̂; sigma: B-tensor of levels on the 0–1 scale, or None (blind)
  inpaint:          forward(image, mask) -> image; mask B×1×H×W with 1 = hole
  detect-scratches: forward(image) -> logits B×1×H×W
  enhance:          forward(image) -> the corrected image (any size; fading, casts, contrast)
  noise-estimate:   forward(image) -> B×1×H×W map of the noise's std (0–1 scale)
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

_BUILDERS: dict[str, Callable[..., Any]] = {}
_MODULES = (
    "restorer_gui.inference.archs.denoise_unet",
    "restorer_gui.inference.archs.enhance_curves",
    "restorer_gui.inference.archs.inpaint_net",
    "restorer_gui.inference.archs.noise_estimator",
    "restorer_gui.inference.archs.scratch_unet",
)


_CHECK = threading.local()


def checkpoint() -> None:
    """Called by an architecture between the steps of a long computation that is not a layer (an
    iterative solver, say): the loader's cancel check runs there, so a cancel is answered inside one
    forward pass too. Does nothing outside `checking`."""
    check = getattr(_CHECK, "fn", None)
    if check is not None:
        check()


@contextlib.contextmanager
def checking(fn: Callable[[], None] | None) -> Iterator[None]:
    """Run *fn* at every `checkpoint` on this thread while the block runs (None: nothing)."""
    previous = getattr(_CHECK, "fn", None)
    _CHECK.fn = fn
    try:
        yield
    finally:
        _CHECK.fn = previous


def register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(builder: Callable[..., Any]) -> Callable[..., Any]:
        _BUILDERS[name] = builder
        return builder

    return wrap


def _load_all() -> None:
    for module in _MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def names() -> list[str]:
    _load_all()
    return sorted(_BUILDERS)


def build(name: str, **hparams: Any) -> Any:
    """Build an architecture by its registered name with the card's hyper-parameters."""
    _load_all()
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r} (known: {', '.join(sorted(_BUILDERS)) or 'none'})") from None
    return builder(**hparams)
