"""Turn a model (card or bare weights file) into a ready-to-run :class:`LoadedModel`.

Our own architectures are built from the card (``archs.build`` + strict ``load_state_dict``);
anything else goes through spandrel's architecture detection on the safely loaded state dict
(spandrel's own file loading is never used).  Models run in eval mode without gradients, on
the chosen device and precision, and are cached: switching models frees the previous one.
"""

from __future__ import annotations

import contextlib
import gc
import math
import weakref
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from restorer_gui.core.errors import a_an
from restorer_gui.inference import archs
from restorer_gui.inference import device as devices
from restorer_gui.inference.jobs import CancelToken, ProgressFn, check_cancel
from restorer_gui.inference.registry import ModelInfo, find_model
from restorer_gui.inference.safe_load import ModelLoadError, StateDict, count_parameters, load_state_dict

# spandrel purpose → our task; "Restoration" models that are denoisers by design become "denoise".
_PURPOSE_TASK = {"SR": "upscale", "FaceSR": "face", "Inpainting": "inpaint", "Restoration": "restore"}
_DENOISERS = {"DnCNN", "DRUNet", "SCUNet"}
_SIGMA_MAPS = {"DRUNet"}  # take a noise-level map as an extra input channel (FDnCNN too, by tag)
FACE_SIZE = 512
_MAP_TASKS = ("detect-scratches", "noise-estimate")  # one output channel whatever the image's


@dataclass(eq=False)
class LoadedModel:
    """A model on its device with a uniform call per task.

    ``model(x, sigma=..., mask=...)`` takes a B×C×H×W float tensor in [0, 1] with C = 1 or 3
    (channels are adapted to the network) and returns float32 on the model's device:
    the image (H·scale × W·scale) for image tasks, or a 1-channel map: the probability for
    detect-scratches, the noise's std (0–1 scale) for noise-estimate.  Inputs are padded to the model's size rules and cropped back.
    """

    info: ModelInfo
    module: torch.nn.Module
    task: str
    architecture: str
    device: torch.device
    dtype: torch.dtype
    forward: Callable[[torch.Tensor, float | None, torch.Tensor | None], torch.Tensor]
    scale: int = 1
    size_multiple: int = 1
    min_size: int = 0
    supports_half: bool = False
    supports_bfloat16: bool = False
    in_channels: int = 3
    tiling: str = "supported"  # "supported" | "discouraged" | "internal" (never tile)
    accepts_sigma: bool = False  # takes a noise level
    needs_sigma: bool = False  # has no blind mode: a level must be given or estimated
    feature_width: int = 64  # full-resolution feature channels, for memory estimates
    params: int = 0
    tags: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.info.id

    def __call__(
        self, x: torch.Tensor, *, sigma: float | None = None, mask: torch.Tensor | None = None,
        cancel: CancelToken | None = None, progress: ProgressFn | None = None,
    ) -> torch.Tensor:
        """One forward pass. With ``cancel`` the pass stops at the next layer or solver step once the
        token is set (`JobCancelled`), so even one large crop answers a cancel in a fraction of a
        second; with ``progress`` it reports how far the pass is (0–1, ""; see `_layer_hooks`). The
        hooks live on the module for the call, which is safe because a loaded model is never shared
        between threads (`ops.ModelSet`)."""
        x = x.to(self.device, self.dtype)
        mask = None if mask is None else mask.to(self.device, self.dtype)
        _, channels, h, w = x.shape
        with torch.inference_mode(), _layer_hooks(self.module, cancel, progress):
            x = pad_to_rules(x, self.size_multiple, self.min_size)
            if mask is not None:
                mask = pad_to_rules(mask, self.size_multiple, self.min_size)
            y = self._adapted(x, sigma, mask, channels)
            y = y[..., : h * self.scale, : w * self.scale]
            return y.float().clamp_(0.0, 1.0)

    def _adapted(self, x: torch.Tensor, sigma: float | None, mask: torch.Tensor | None, channels: int) -> torch.Tensor:
        """Match the image's channels to the network's (gray↔RGB) around one forward call."""
        net = self.in_channels
        if channels == net:
            y = self.forward(x, sigma, mask)
        elif channels == 1 and net == 3:
            y = self.forward(x.expand(-1, 3, -1, -1).contiguous(), sigma, mask)
        elif channels == 3 and net == 1 and self.task == "detect-scratches":
            y = self.forward(x.mean(dim=1, keepdim=True), sigma, mask)
        elif channels == 3 and net == 1:
            y = torch.cat([self.forward(x[:, c : c + 1], sigma, mask) for c in range(3)], dim=1)
        else:
            raise ValueError(f"model {self.id!r} takes {net}-channel images, not {channels}-channel ones")
        if self.task not in _MAP_TASKS and y.shape[1] != channels:
            y = y.mean(dim=1, keepdim=True) if channels == 1 else y[:, :1].expand(-1, channels, -1, -1)
        return y

    def bytes_per_pixel(self) -> int:
        """Rough working memory per input pixel for one forward pass (~16 live feature maps)."""
        elem = 2 if self.dtype in (torch.float16, torch.bfloat16) else 4
        return int(elem * self.feature_width * 16 * max(1, self.scale) ** 2)


#: The share of a pass's progress given to an architecture's own steps before its first layer (the
#: inpainter's smooth-fill solver); the layers share the rest.
PRE_LAYER_SHARE = 0.3


@contextlib.contextmanager
def _layer_hooks(module: torch.nn.Module, cancel: CancelToken | None, progress: ProgressFn | None) -> Iterator[None]:
    """Forward pre-hooks on every leaf layer of *module* for the length of one call: each checks
    *cancel* and reports progress; *cancel* is also checked at the architecture's own
    `archs.checkpoint` calls (solver steps that are not layers). Progress: those steps before the
    first layer creep towards PRE_LAYER_SHARE (their number is not known ahead), then the share of
    layers run fills the rest (capped below 1: a layer may run more than once). Nothing is
    registered when both are None."""
    if cancel is None and progress is None:
        yield
        return
    leaves = [m for m in module.modules() if next(m.children(), None) is None]
    layers, steps = [0], [0]

    def report() -> None:
        if progress is None:
            return
        if layers[0] == 0:
            progress(PRE_LAYER_SHARE * (1.0 - math.exp(-steps[0] / 70.0)), "")  # the inpainter: 200 steps
        else:
            share = layers[0] / max(1, len(leaves))
            progress(min(0.99, PRE_LAYER_SHARE + (1.0 - PRE_LAYER_SHARE) * share), "")

    def hook(_m: torch.nn.Module, _inputs: Any) -> None:
        check_cancel(cancel)
        layers[0] += 1
        report()

    def step() -> None:
        check_cancel(cancel)
        if layers[0] == 0:
            steps[0] += 1
            report()

    handles = [m.register_forward_pre_hook(hook) for m in leaves]
    try:
        with archs.checking(step):
            yield
    finally:
        for handle in handles:
            handle.remove()


def pad_to_rules(t: torch.Tensor, multiple: int, minimum: int) -> torch.Tensor:
    """Pad bottom/right to at least *minimum* and a multiple of *multiple* (reflect, then replicate)."""
    h, w = t.shape[-2:]
    th = max(h, minimum)
    tw = max(w, minimum)
    th = -(-th // multiple) * multiple
    tw = -(-tw // multiple) * multiple
    ph, pw = th - h, tw - w
    if not (ph or pw):
        return t
    rh, rw = min(ph, h - 1), min(pw, w - 1)
    if rh or rw:
        t = F.pad(t, (0, rw, 0, rh), mode="reflect")
    if ph - rh or pw - rw:
        t = F.pad(t, (0, pw - rw, 0, ph - rh), mode="replicate")
    return t


# --------------------------------------------------------------------------- building


@dataclass
class _Built:
    module: torch.nn.Module
    task: str
    architecture: str
    forward_factory: Callable[[torch.nn.Module], Callable[..., torch.Tensor]]
    meta: dict[str, Any]


def _first_detail(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = lines[1] if len(lines) > 1 and lines[0].startswith("Error(s) in loading") else (lines[0] if lines else "")
    detail = detail or type(exc).__name__
    return detail if len(detail) <= 240 else detail[:237] + "..."


def _build_own(info: ModelInfo, state: StateDict) -> _Built:
    name = str(info.architecture)
    try:
        module = archs.build(name, **info.hparams)
    except KeyError as exc:
        raise ModelLoadError(f"{info.path.name}: {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{info.path.name}: bad hyper-parameters for {name!r}: {_first_detail(exc)}") from None
    _check_dtypes(module, state, info.path.name)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(f"{info.path.name}: the weights do not fit {name!r}: {_first_detail(exc)}") from None
    task = str(getattr(module, "task", None) or info.task)
    if info.task and task != info.task:
        raise ModelLoadError(f"{info.path.name}: the card says task {info.task!r} but {name!r} is {a_an(task)} model")

    def factory(m: torch.nn.Module) -> Callable[..., torch.Tensor]:
        def run(x: torch.Tensor, sigma: float | None, mask: torch.Tensor | None) -> torch.Tensor:
            if task == "denoise":
                level = (
                    None if sigma is None else torch.full((x.shape[0],), sigma / 255.0, device=x.device, dtype=x.dtype)
                )
                return m(x, level)
            if task == "inpaint":
                assert mask is not None, "inpainting needs a mask"
                return m(x * (1 - mask), mask)
            if task == "detect-scratches":
                return torch.sigmoid(m(x).float())
            return m(x)

        return run

    meta = {
        "scale": int(getattr(module, "scale", 1)),
        "size_multiple": int(getattr(module, "size_multiple", 1)),
        "min_size": int(getattr(module, "min_size", 0)),
        "supports_half": bool(getattr(module, "supports_half", False)),
        "supports_bfloat16": bool(getattr(module, "supports_bfloat16", getattr(module, "supports_half", False))),
        "in_channels": int(getattr(module, "in_channels", 1 if _first_conv_in(state) == 1 else 3)),
        "accepts_sigma": task == "denoise",
        "needs_sigma": False,
        "tiling": "supported",
    }
    return _Built(module, task, name, factory, meta)


def _check_dtypes(module: torch.nn.Module, state: StateDict, name: str) -> None:
    """Refuse integer, boolean or complex values for floating-point weights (load_state_dict
    would cast them silently into a model that computes nonsense)."""
    expected = module.state_dict()
    for key, value in state.items():
        target = expected.get(key)
        if target is not None and target.is_floating_point() and not value.is_floating_point():
            raise ModelLoadError(
                f"{name}: weight {key!r} holds {str(value.dtype).removeprefix('torch.')} values; "
                "the model needs floating-point weights"
            )


def _first_conv_in(state: StateDict) -> int:
    for t in state.values():
        if t.ndim == 4:
            return int(t.shape[1])
    return 3


def _build_spandrel(info: ModelInfo, state: StateDict) -> _Built:
    try:
        import spandrel
    except ImportError as exc:  # e.g. a CPU bundle built without torchvision, which spandrel needs
        raise ModelLoadError(
            f"{info.path.name}: third-party architectures are not available in this build ({exc})"
        ) from None

    try:
        desc = spandrel.ModelLoader(device="cpu").load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        raise ModelLoadError(
            f"{info.path.name}: not a model architecture this app recognises "
            "(our own models need their card; community models must be one spandrel detects, "
            "e.g. ESRGAN, SwinIR, DnCNN, LaMa)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a detected arch whose weights do not fit
        raise ModelLoadError(
            f"{info.path.name}: the weights could not be built into a model: {_first_detail(exc)}"
        ) from None
    _check_dtypes(desc.model, state, info.path.name)
    arch_id = str(desc.architecture.id)
    task = _PURPOSE_TASK.get(str(desc.purpose), "restore")
    if task == "restore" and arch_id in _DENOISERS:
        task = "denoise"
    sigma_map = arch_id in _SIGMA_MAPS or (arch_id == "DnCNN" and "FDnCNN" in desc.tags)
    tiling = {1: "supported", 2: "discouraged", 3: "internal"}.get(int(desc.tiling.value), "supported")
    req = desc.size_requirements

    def factory(m: torch.nn.Module) -> Callable[..., torch.Tensor]:
        # desc.model is m (nn.Module.to works in place), so the descriptor runs the moved module.
        def run(x: torch.Tensor, sigma: float | None, mask: torch.Tensor | None) -> torch.Tensor:
            if task == "inpaint":
                assert mask is not None, "inpainting needs a mask"
                return desc(x * (1 - mask), mask)
            if sigma_map and sigma is not None:
                level = torch.full_like(x[:, :1], sigma / 255.0)
                return m(torch.cat([x, level], dim=1))
            return desc(x)

        return run

    meta = {
        "scale": int(desc.scale),
        "size_multiple": int(req.multiple_of),
        "min_size": int(req.minimum),
        "supports_half": bool(desc.supports_half),
        "supports_bfloat16": bool(desc.supports_bfloat16),
        "in_channels": int(desc.input_channels),
        "accepts_sigma": sigma_map,
        "needs_sigma": sigma_map,
        "tiling": tiling,
        "tags": list(desc.tags),
    }
    if req.square:
        meta["tiling"] = "internal"
    return _Built(desc.model, task, f"spandrel:{arch_id}", factory, meta)


def _build(info: ModelInfo, state: StateDict) -> _Built:
    return _build_spandrel(info, state) if info.uses_spandrel else _build_own(info, state)


def _feature_width(state: StateDict) -> int:
    """Widest convolution fed by an image-like input (≤ 4 channels, e.g. the head): the
    full-resolution feature width, which dominates activation memory in most restorers."""
    widths = [int(t.shape[0]) for t in state.values() if t.ndim == 4 and t.is_floating_point() and t.shape[1] <= 4]
    return max(32, min(max(widths, default=64), 512))


def inspect(info: ModelInfo) -> tuple[StateDict, dict[str, Any]]:
    """Load and build *info* on the CPU to validate it; returns the state dict and a summary."""
    state = load_state_dict(info.path)
    params = count_parameters(state)
    built = _build(info, dict(state))
    summary: dict[str, Any] = {
        "task": built.task,
        "architecture": built.architecture,
        "params": params,
        "scale": built.meta["scale"],
        "size_multiple": built.meta["size_multiple"],
    }
    if built.meta.get("tags"):
        summary["tags"] = built.meta["tags"]
    del built
    return state, summary


def load_model(
    ref: str | os.PathLike[str] | ModelInfo, device: str | torch.device = "auto", precision: str = "auto"
) -> LoadedModel:
    """Load a model by id, path or info onto *device* (uncached; see :func:`get_model`).

    *precision*: "auto" (fp16/bf16 on CUDA when the model supports it, else fp32) or "fp32".
    Raises ModelLoadError / RegistryError / DeviceError with one-line messages.
    """
    info = find_model(ref)
    dev = devices.resolve_device(device)
    state = load_state_dict(info.path)
    params = count_parameters(state)
    width = _feature_width(state)
    built = _build(info, state)
    del state
    meta = built.meta
    task = built.task
    if info.task and info.task != task:
        if not {info.task, task} <= {"denoise", "restore"}:
            raise ModelLoadError(
                f"{info.path.name}: the card says task {info.task!r} but the weights are a {task} model"
            )
        task = info.task  # the card may call a generic restorer a denoiser, or the reverse
    dtype = torch.float32
    if precision == "auto":
        dtype = devices.choose_dtype(dev, meta["supports_half"], meta["supports_bfloat16"])
    elif precision != "fp32":
        raise ValueError(f"unknown precision {precision!r}")
    module = built.module.eval().requires_grad_(False).to(device=dev, dtype=dtype)
    return LoadedModel(
        info=info,
        module=module,
        task=task,
        architecture=built.architecture,
        device=dev,
        dtype=dtype,
        forward=built.forward_factory(module),
        scale=meta["scale"],
        size_multiple=max(1, meta["size_multiple"]),
        min_size=meta["min_size"],
        supports_half=meta["supports_half"],
        supports_bfloat16=meta["supports_bfloat16"],
        in_channels=meta["in_channels"],
        tiling=meta["tiling"],
        accepts_sigma=meta["accepts_sigma"],
        needs_sigma=meta["needs_sigma"],
        feature_width=width,
        params=params,
        tags=list(meta.get("tags", [])),
    )


class ModelCache:
    """Keeps the most recently used model(s) loaded; evicted models free their memory."""

    def __init__(self, capacity: int = 1) -> None:
        self.capacity = max(1, capacity)
        self._lock = threading.Lock()
        self._items: dict[tuple[Any, ...], LoadedModel] = {}

    def get(
        self, ref: str | os.PathLike[str] | ModelInfo, device: str | torch.device = "auto", precision: str = "auto"
    ) -> LoadedModel:
        info = find_model(ref)
        dev = devices.resolve_device(device)
        key = _cache_key(info.path, dev, precision)
        with self._lock:
            model = self._items.pop(key, None)
            if model is None:
                while len(self._items) >= self.capacity:
                    self._evict_oldest()
                model = load_model(info, dev, precision)
            self._items[key] = model  # most recent last
            return model

    def _evict_oldest(self) -> None:
        key = next(iter(self._items))
        old = self._items.pop(key)
        dev = old.device
        alive = weakref.ref(old.module)
        del old
        if alive() is not None:  # a reference cycle: a full collection (it holds the GIL a while)
            gc.collect()
        devices.empty_cache(dev)

    def clear(self) -> None:
        with self._lock:
            while self._items:
                self._evict_oldest()


def _cache_key(path: Path, dev: torch.device, precision: str) -> tuple[Any, ...]:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size, str(dev), precision)


_CACHE = ModelCache()


def get_model(
    ref: str | os.PathLike[str] | ModelInfo, device: str | torch.device = "auto", precision: str = "auto"
) -> LoadedModel:
    """Cached :func:`load_model`: the GUI calls this; switching models frees the previous one."""
    return _CACHE.get(ref, device, precision)


def clear_cache() -> None:
    _CACHE.clear()
