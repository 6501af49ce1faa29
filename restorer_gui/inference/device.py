"""Compute devices: resolve "auto|cpu|cuda|mps", pick a precision, estimate free memory."""

from __future__ import annotations

import ctypes
import os
import sys

os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")  # before torch is imported

import torch  # noqa: E402
from restorer_gui.core.errors import RestorerError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
_CPU_FALLBACK_FREE = 4 << 30


class DeviceError(RestorerError, ValueError):
    """The requested device does not exist on this machine (one-line message)."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """Device names usable here, best first (always ends with "cpu")."""
    found = []
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        found.append("mps")
    return found + ["cpu"]


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """ "auto" → CUDA, then MPS, then CPU; an explicit name must be available."""
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device(available_devices()[0])
    kind = name.split(":", 1)[0]
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError("device 'cuda' is not available on this machine (no usable NVIDIA GPU)")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} does not exist ({torch.cuda.device_count()} CUDA device(s))")
        return dev
    if kind == "mps":
        if not _mps_available():
            raise DeviceError("device 'mps' is not available on this machine (no Apple GPU)")
        return torch.device("mps")
    raise DeviceError(f"unknown device {name!r} (choose from {', '.join(DEVICE_CHOICES)})")


def choose_dtype(device: torch.device, supports_half: bool, supports_bfloat16: bool = False) -> torch.dtype:
    """fp16 (or else bf16) on CUDA when the model allows it; fp32 on MPS and CPU."""
    if device.type != "cuda":
        return torch.float32
    if supports_half:
        return torch.float16
    if supports_bfloat16 and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def free_memory(device: torch.device) -> int:
    """Bytes that a job could still allocate on *device* (a conservative estimate)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    if device.type == "mps":
        mps = torch.mps
        try:
            limit = int(mps.recommended_max_memory())
            return max(0, limit - int(mps.driver_allocated_memory()))
        except (AttributeError, RuntimeError):
            return _system_available()
    return _system_available()


def _system_available() -> int:
    """MemAvailable from /proc/meminfo, else physical pages via sysconf, else 4 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return _CPU_FALLBACK_FREE


def empty_cache(device: torch.device | None = None) -> None:
    """Give cached allocator memory back after a model switch or an out-of-memory error."""
    if torch.cuda.is_available() and (device is None or device.type == "cuda"):
        torch.cuda.empty_cache()
    if _mps_available() and (device is None or device.type == "mps"):
        torch.mps.empty_cache()


def trim_host_memory() -> None:
    """Hand freed heap memory back to the system (glibc's malloc_trim). Between the differently
    sized pieces of a long job glibc keeps freed blocks, and the process's resident memory climbs
    with the photo's size although the live data do not; elsewhere this does nothing."""
    global _malloc_trim
    if _malloc_trim is None:
        _malloc_trim = False
        if sys.platform.startswith("linux"):
            try:
                _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):
                pass
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocation failures raised by torch."""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text
    return False
