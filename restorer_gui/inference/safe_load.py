"""Read a model file into a plain state dict without ever running code from it.

Accepted: ``.safetensors``; PyTorch ``.pth``/``.ckpt``/``.pt`` files (zip or legacy pickle)
read with ``torch.load(weights_only=True)``, whose unpickler only builds tensors and plain
containers.  Refused with a one-line :class:`ModelLoadError`: TorchScript archives, pickles
naming any other global (they could run code), unknown formats, files over the size limit,
zip bombs, truncated files, non-tensor or complex entries and NaN/Inf weights.  The format is
found from the content, not from the file name.
"""

from __future__ import annotations

import math
import re
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from restorer_gui.core.errors import RestorerError

MAX_MODEL_BYTES = 4 << 30
_MAX_RATIO = 50  # torch.save stores records uncompressed; weights barely compress anyway
StateDict = dict[str, torch.Tensor]

# Checkpoints often nest the weights under one of these keys (first match wins; EMA first).
_WRAPPER_KEYS = ("params_ema", "params-ema", "model_state_dict", "state_dict", "params", "model", "net", "g_ema")
_STRIP_PREFIXES = ("module.", "netG.")
_GLOBAL_RE = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


class ModelLoadError(RestorerError):
    """A model file could not be used; ``str(error)`` is one line for the user."""


def load_state_dict(path: str | Path, *, max_bytes: int = MAX_MODEL_BYTES) -> StateDict:
    """Read the weights in *path* safely and return them as ``{name: tensor}`` on the CPU."""
    p = Path(path)
    head = _check_file(p, max_bytes)
    if head[:4] == b"PK\x03\x04":
        _check_archive(p, max_bytes)
        raw = torch_load_safely(p)
    elif head[:1] == b"\x80":
        raw = torch_load_safely(p)
    elif _looks_like_safetensors(head, p.stat().st_size):
        raw = _safetensors_load(p)
    else:
        raise ModelLoadError(f"{p.name}: not a model file (expected .safetensors, or .pth/.ckpt weights)")
    state = unwrap_state_dict(raw, p.name)
    validate_state_dict(state, p.name)
    return state


def _check_file(p: Path, max_bytes: int) -> bytes:
    try:
        if p.is_dir():
            raise ModelLoadError(f"{p.name}: this is a folder, not a model file")
        size = p.stat().st_size
        if size == 0:
            raise ModelLoadError(f"{p.name}: the file is empty")
        if size > max_bytes:
            raise ModelLoadError(
                f"{p.name}: {size / 2**30:.1f} GiB is larger than the {max_bytes / 2**30:.1f} GiB limit for model files"
            )
        with p.open("rb") as fh:
            return fh.read(16)
    except FileNotFoundError:
        raise ModelLoadError(f"{p.name}: the file does not exist") from None
    except PermissionError:
        raise ModelLoadError(f"{p.name}: permission denied") from None
    except OSError as exc:
        raise ModelLoadError(f"{p.name}: cannot read the file ({exc.strerror or exc})") from None


def _check_archive(p: Path, max_bytes: int) -> None:
    """Refuse TorchScript archives (they carry code: ``code/``, ``constants.pkl``) and zip bombs
    (members that would expand beyond the size limit, or far beyond what they take on disk:
    torch inflates every record in memory)."""
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelLoadError(f"{p.name}: the file is truncated or corrupt ({exc})") from None
    names = [i.filename for i in infos]
    expanded = sum(i.file_size for i in infos)
    inflated = any(i.file_size > _MAX_RATIO * i.compress_size + (1 << 20) for i in infos)
    if expanded > max_bytes or inflated:
        raise ModelLoadError(
            f"{p.name}: refused: the archive would expand to {expanded / 2**20:,.0f} MiB "
            "(a zip bomb, or not a PyTorch weights file)"
        )
    if any(n.endswith("/constants.pkl") or "/code/" in n or n.startswith("code/") for n in names):
        raise ModelLoadError(
            f"{p.name}: TorchScript files are refused because they contain code; "
            "use the plain weights (.pth or .safetensors)"
        )


def torch_load_safely(p: Path) -> Any:
    """``torch.load`` weights-only (tensors and plain data; a file cannot run code), every failure
    turned into a one-line :class:`ModelLoadError`."""
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line for the user
        text = str(exc)
        found = _GLOBAL_RE.search(text)
        if found:
            raise ModelLoadError(
                f"{p.name}: refused: the file refers to {found.group(1)!r}, which could run code; "
                "only plain weights are accepted (convert it to .safetensors)"
            ) from None
        if "Weights only load failed" in text or "Unsupported operand" in text:
            raise ModelLoadError(
                f"{p.name}: refused: the file holds more than plain weights (a pickle the safe reader does not accept)"
            ) from None
        raise ModelLoadError(f"{p.name}: the file is truncated or corrupt ({first_line(text)})") from None


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 2 <= n <= max(size - 8, 0) + (1 << 20)


def _safetensors_load(p: Path) -> StateDict:
    from safetensors.torch import load_file

    try:
        return load_file(str(p), device="cpu")
    except Exception as exc:  # noqa: BLE001 - SafetensorError and friends
        raise ModelLoadError(f"{p.name}: the file is truncated or corrupt ({first_line(str(exc))})") from None


def unwrap_state_dict(raw: Any, name: str = "model") -> StateDict:
    """Find the weights inside a checkpoint: known wrapper keys, a single nested dict, common prefixes."""
    if not isinstance(raw, Mapping):
        raise ModelLoadError(f"{name}: the file holds a {type(raw).__name__}, not a set of named weights")
    state: Mapping[Any, Any] = raw
    for key in _WRAPPER_KEYS:
        if isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if len(state) == 1:
        only = next(iter(state.values()))
        if isinstance(only, Mapping):
            state = only
    out = dict(state)
    for prefix in _STRIP_PREFIXES:
        if out and all(isinstance(k, str) and k.startswith(prefix) for k in out):
            out = {k[len(prefix) :]: v for k, v in out.items()}
    return out


def validate_state_dict(state: Mapping[Any, Any], name: str = "model") -> None:
    """Every entry must be a named tensor; floating weights must be finite."""
    if not state:
        raise ModelLoadError(f"{name}: the file contains no weights")
    for key, value in state.items():
        if not isinstance(key, str):
            raise ModelLoadError(f"{name}: entry {key!r} does not have a text name")
        if not isinstance(value, torch.Tensor):
            raise ModelLoadError(f"{name}: entry {key!r} is a {type(value).__name__}, not a tensor")
        if value.is_complex():
            raise ModelLoadError(f"{name}: entry {key!r} holds complex numbers, not weights")
        if value.is_floating_point() and value.numel() and not _all_finite(value):
            raise ModelLoadError(f"{name}: weight {key!r} contains NaN or infinite values")


def _all_finite(t: torch.Tensor) -> bool:
    """A NaN or Inf makes the sum non-finite (one fast reduction); only then check element-wise,
    so that a sum that merely overflowed is not mistaken for bad weights."""
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def first_line(text: str) -> str:
    """The first non-empty line of an error text, at most 200 characters."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "unknown error")
    return line if len(line) <= 200 else line[:197] + "..."


def count_parameters(state: Mapping[str, torch.Tensor]) -> int:
    """Number of floating-point weights (buffers such as index tables excluded)."""
    return int(sum(math.prod(t.shape) for t in state.values() if t.is_floating_point()))
