"""Model jobs run one at a time per device: the Restore controller keys a job's lane by the device its
setting resolves to, not by the setting as typed."""

import threading

import numpy as np
import pytest
from PySide6.QtCore import QThread

from .tiny_models import install_all


@pytest.fixture
def models(isolated_home):
    install_all()


def _cpu_only() -> bool:
    from restorer_gui.inference import device as devices

    return devices.available_devices() == ["cpu"]


def test_auto_and_cpu_jobs_share_one_lane_on_a_cpu_only_machine(window, open_doc, qtbot, models, monkeypatch):
    if not _cpu_only():
        pytest.skip("on this machine 'auto' is a GPU")
    from restorer_gui.inference.ops import denoise as denoise_op

    doc = open_doc(np.full((40, 48, 3), 100, np.uint8))
    real = denoise_op.denoise
    events: list[tuple[str, str]] = []
    first_running, release = threading.Event(), threading.Event()

    def gated(image, model, **kw):  # the first job holds its lane until the second is queued
        lane = QThread.currentThread().objectName()
        events.append(("start", lane))
        if len(events) == 1:
            first_running.set()
            assert release.wait(20)
        out = real(image, model, **kw)
        events.append(("end", lane))
        return out

    monkeypatch.setattr(denoise_op, "denoise", gated)
    pool = window.restore.pool
    window.settings.device = "auto"
    first = window.restore.denoise(10.0)
    qtbot.waitUntil(first_running.is_set, timeout=20_000)
    window.settings.device = "cpu"
    second = window.restore.denoise(20.0)
    assert first.lane == second.lane == "model:cpu"
    assert list(pool._lanes) == ["model:cpu"] and len(pool._lanes["model:cpu"]) == 1
    release.set()
    qtbot.waitUntil(lambda: len(doc.doc.layers) == 2, timeout=30_000)
    # one thread ran both, one after the other
    assert events == [("start", "model:cpu-0"), ("end", "model:cpu-0"), ("start", "model:cpu-0"),
                      ("end", "model:cpu-0")]


def test_the_lane_follows_the_device_setting(window):
    if not _cpu_only():
        pytest.skip("on this machine 'auto' is a GPU")
    restore = window.restore
    window.settings.device = "auto"
    assert restore.lane_device == "cpu"
    window.settings.device = "cuda"  # not here: its jobs fail with the device's message, on a lane of its own
    assert restore.lane_device == "cuda"
    window.settings.device = "auto"
    assert restore.lane_device == "cpu"


def test_the_first_jobs_never_load_torch_on_the_gui_thread_and_keep_one_lane_per_device(window, monkeypatch):
    """Before any job has loaded torch, the lane is named by the setting (resolving it would import
    torch on the GUI thread: seconds of a frozen window); once torch is in, that early lane keeps
    serving its device, so "auto" then "cpu" still share one lane."""
    import sys

    if not _cpu_only():
        pytest.skip("on this machine 'auto' is a GPU")
    restore = window.restore
    devices = sys.modules["restorer_gui.inference.device"]
    monkeypatch.delitem(sys.modules, "restorer_gui.inference.device")  # as before the first job
    window.settings.device = "auto"
    assert restore.lane_device == "auto"
    assert "restorer_gui.inference.device" not in sys.modules  # not imported to answer
    monkeypatch.setitem(sys.modules, "restorer_gui.inference.device", devices)  # a job loaded it
    assert restore.lane_device == "auto"  # the early lane serves the CPU now
    window.settings.device = "cpu"
    assert restore.lane_device == "auto"  # the same device: the same lane
    window.settings.device = "cuda"  # not here: a lane of its own
    assert restore.lane_device == "cuda"
