import os

import pytest
import torch

import restorer_gui.inference  # noqa: F401 - sets the MPS fallback
from restorer_gui.inference import device


def test_mps_fallback_is_set_by_the_package():
    assert os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") == "1"


def test_auto_picks_the_best_available_device():
    found = device.available_devices()
    assert found[-1] == "cpu"
    auto = device.resolve_device("auto")
    assert str(auto) == found[0]
    if not torch.cuda.is_available() and "mps" not in found:
        assert auto == torch.device("cpu")


def test_explicit_devices_and_errors():
    assert device.resolve_device("cpu") == torch.device("cpu")
    assert device.resolve_device(" CPU ") == torch.device("cpu")
    assert device.resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(device.DeviceError, match="unknown device 'tpu'"):
        device.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(device.DeviceError, match="'cuda' is not available"):
            device.resolve_device("cuda")
    else:
        with pytest.raises(device.DeviceError, match="does not exist"):
            device.resolve_device(f"cuda:{torch.cuda.device_count()}")
    if "mps" not in device.available_devices():
        with pytest.raises(device.DeviceError, match="'mps' is not available"):
            device.resolve_device("mps")


def test_precision_policy():
    cpu, mps, cuda = torch.device("cpu"), torch.device("mps"), torch.device("cuda")
    assert device.choose_dtype(cpu, supports_half=True, supports_bfloat16=True) == torch.float32
    assert device.choose_dtype(mps, supports_half=True) == torch.float32
    assert device.choose_dtype(cuda, supports_half=True) == torch.float16
    assert device.choose_dtype(cuda, supports_half=False, supports_bfloat16=False) == torch.float32


def test_free_memory_and_oom_detection():
    assert device.free_memory(torch.device("cpu")) > 0
    assert device.is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 20 GiB"))
    assert device.is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"))
    assert device.is_out_of_memory(torch.cuda.OutOfMemoryError("x"))
    assert not device.is_out_of_memory(RuntimeError("size mismatch"))
