"""What an operation is: typed parameters, the models it uses, what it returns, and a run function.

Importing this module (and every operation module) loads no torch: the GUI builds its menus from the
registry before torch has loaded; the engine (`inference/engine.py`) loads none on import either, and
operations import torch inside the functions that run a network.
"""

from __future__ import annotations

import dataclasses
import threading
import typing
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from restorer_gui.core.errors import RestorerError, a_an
from restorer_gui.core.recipe import RecipeError
from restorer_gui.inference.jobs import CancelToken, Progress

__all__ = ["ModelSet", "OpContext", "OpResult", "Operation", "chosen_model", "model_for", "parse_params"]

RETURNS = ("image", "mask", "image+mask")


@dataclass(frozen=True)
class Operation:
    """One thing the app does to a photo. ``models`` maps each role (e.g. "model", "detector") to the
    model tasks that can fill it, the first being the task whose default model is used; ``params`` is a
    dataclass whose fields are the step's parameters (a field named like a role picks that role's model)."""

    name: str  # the step kind, the CLI subcommand and the recipe name
    title: str  # menu text and layer name
    help: str
    params: type
    run: Callable[[OpContext, Any], OpResult]
    models: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    returns: str = "image"
    mask: str = "optional"  # "none" | "optional" | "required": does it read the document's mask?

    def __post_init__(self) -> None:
        if self.returns not in RETURNS or self.mask not in ("none", "optional", "required"):
            raise ValueError(f"operation {self.name}: bad returns/mask declaration")
        if not dataclasses.is_dataclass(self.params):
            raise ValueError(f"operation {self.name}: params must be a dataclass")

    def parse(self, values: Mapping[str, Any] | None = None) -> Any:
        return parse_params(self, values or {})


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def parse_params(op: Operation, values: Mapping[str, Any]) -> Any:
    """The op's parameter dataclass from plain values (a recipe's JSON, CLI flags); unknown names and values
    of the wrong kind raise RecipeError naming the step, and the dataclass checks its own ranges."""
    if isinstance(values, op.params):
        return values
    hints = _field_types(op.params)
    names = [f.name for f in dataclasses.fields(op.params)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise RecipeError(f"{op.name}: unknown parameter {unknown[0]!r} (known: {', '.join(names)})")
    kwargs = {}
    for name, value in values.items():
        kwargs[name] = _coerce(op.name, name, value, hints[name])
    try:
        return op.params(**kwargs)
    except RestorerError:
        raise
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{op.name}: {exc}") from None


def _coerce(op: str, name: str, value: Any, hint: Any) -> Any:
    kinds = typing.get_args(hint) or (hint,)
    if value is None:
        if type(None) in kinds:
            return None
        raise RecipeError(f"{op}: {name} needs a value")
    for kind in kinds:
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
    wanted = " or ".join(getattr(k, "__name__", str(k)) for k in kinds if k is not type(None))
    raise RecipeError(f"{op}: {name} must be {wanted}, not {value!r}")


@dataclass
class OpResult:
    """What a step made: a new image, a new mask, or both; ``label`` names the result layer and ``info``
    holds what the user should see about it (the noise level used, the share of the photo marked …)."""

    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    label: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. the detector's probability map


@dataclass
class OpContext:
    """The inputs of one step: the image (uint8/uint16 H×W×C), the mask (uint8 H×W, 255 = damage, or
    None), where models come from, the tile size, and progress / cancel."""

    image: np.ndarray
    models: ModelSet
    mask: np.ndarray | None = None
    tile: int | None = None
    progress: Progress = field(default_factory=lambda: Progress(None))
    cancel: CancelToken | None = None


def chosen_model(tasks: tuple[str, ...], chosen: str) -> Any:
    """The model chosen by id (Preferences ▸ Models) when it still exists and does one of ``tasks``, else None."""
    from restorer_gui.inference import registry

    if not chosen:
        return None
    try:
        info = registry.find_model(chosen)
    except registry.RegistryError:
        return None
    return info if info.task in tasks else None


def model_for(tasks: tuple[str, ...], ref: str | None = None, preferred: Mapping[str, str] | None = None) -> Any:
    """The model info for a role: ``ref`` (id or path) when given, else the model chosen for the role's
    first task in ``preferred`` (Preferences ▸ Models) when it still exists and fits, else the default
    model of the first task that has one. Raises RestorerError when there is none or it does not fit."""
    from restorer_gui.inference import registry

    if ref:
        info = registry.find_model(ref)
        if info.task and info.task not in tasks:
            raise RestorerError(f"model {info.id!r} is {a_an(info.task)} model; it cannot be used for {tasks[0]}")
        return info
    info = chosen_model(tasks, (preferred or {}).get(tasks[0], ""))
    if info is not None:
        return info
    for task in tasks:
        info = registry.default_model(task)
        if info is not None:
            return info
    raise RestorerError(
        f"no {tasks[0]} model is installed: import one with File ▸ Import Model… or `restorer models import FILE`"
    )


class ModelSet:
    """The models a thread's steps use, loaded once and kept (most recent ``capacity``) across photos.

    Never shared between threads: each worker (GUI lane, batch runner, cluster actor) owns one, so the
    CPU fallback that moves a model in place can never surprise another thread. ``loads`` counts the
    loads, so callers (and tests) can see that a chain over a folder loads each model once.
    """

    def __init__(self, device: str = "auto", precision: str = "auto", preferred: Mapping[str, str] | None = None,
                 capacity: int = 4) -> None:
        self.device, self.precision = device, precision
        self.preferred = dict(preferred or {})
        self.capacity = max(1, capacity)
        self.loads = 0
        self._owner = threading.get_ident()
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, tasks: tuple[str, ...], ref: str | None = None, progress: Progress | None = None) -> Any:
        """A loaded model for a role (see `model_for`), loading it on first use."""
        if threading.get_ident() != self._owner:
            raise RuntimeError("a ModelSet belongs to the thread that made it")
        from restorer_gui.inference import device as devices
        from restorer_gui.inference import loader

        info = model_for(tasks, ref, self.preferred)
        dev = devices.resolve_device(self.device)
        st = info.path.stat()
        key = (str(info.path.resolve()), st.st_mtime_ns, st.st_size, str(dev), self.precision)
        model = self._items.pop(key, None)
        if model is None:
            while len(self._items) >= self.capacity:
                self._items.popitem(last=False)
                devices.empty_cache(dev)
            if progress is not None:
                progress(0.0, f"Loading {info.label}…")
            model = loader.load_model(info, dev, self.precision)
            self.loads += 1
            if model.task not in tasks:
                raise RestorerError(f"model {model.id!r} is {a_an(model.task)} model; it cannot be used for {tasks[0]}")
        self._items[key] = model
        return model

    _local = threading.local()

    @classmethod
    def for_this_thread(cls, device: str = "auto", precision: str = "auto") -> ModelSet:
        """The calling thread's own set (a GUI worker lane keeps its models across jobs); a new one when
        the device or precision setting changed."""
        current = getattr(cls._local, "models", None)
        if current is None or (current.device, current.precision) != (device, precision):
            current = cls(device, precision)
            cls._local.models = current
        return current

    def add(self, model: Any) -> None:
        """Keep an already loaded model (for callers that loaded it themselves)."""
        st = model.info.path.stat()
        key = (str(model.info.path.resolve()), st.st_mtime_ns, st.st_size, str(model.device), self.precision)
        self._items[key] = model

    @property
    def last_device(self) -> str:
        """The device of the most recently used model ("" before any)."""
        return str(next(reversed(self._items.values())).device) if self._items else ""

    def clear(self) -> None:
        self._items.clear()
