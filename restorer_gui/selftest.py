"""``restorer-gui --self-test``: check an installation or a packaged bundle headless.

Loads every built-in model and runs it on the sample photo, restores the sample (denoise, then
inpaint with the sample mask) and writes it as PNG and TIFF, and opens the main window offscreen
with the sample photo. Prints one line per check and returns 0 when every check passed, else 1.
Settings, logs and autosaves go to a temporary folder unless ``RESTORER_HOME`` is set.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from restorer_gui import __version__, paths

SMALL = 96  # side of the crop each model runs on in its own check


class CheckFailed(Exception):
    """A check found something wrong (one-line message)."""


@dataclass
class Report:
    """Check results, printed as they come."""

    lines: list[tuple[str, str, str]] = field(default_factory=list)
    failed: int = 0

    def add(self, status: str, name: str, detail: str) -> None:
        self.lines.append((status, name, detail))
        self.failed += status == "FAIL"
        print(f"  {status:<5} {name:<22} {detail}", flush=True)

    def run(self, name: str, check: Callable[[], str]) -> bool:
        """Run *check* (returns a detail line); any exception is a failure with its one-line reason."""
        t0 = time.perf_counter()
        try:
            detail = check()
        except Exception as exc:  # noqa: BLE001 - a self-test reports, it never crashes
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.add("FAIL", name, f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
            return False
        self.add("ok", name, f"{detail} ({time.perf_counter() - t0:.2f} s)")
        return True


@dataclass
class _Sample:
    pixels: np.ndarray
    mask: np.ndarray


def _headless() -> None:
    """Offscreen Qt unless a display exists (Windows and macOS always have one)."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _load_sample(state: dict[str, Any]) -> str:
    from restorer_gui.core.imageio import load_image

    folder = paths.resources_dir()
    for name in ("icons/restorer-gui.svg", "icons/restorer-gui-256.png"):
        if not (folder / name).is_file():
            raise CheckFailed(f"{name} is missing from {folder}")
    photo = load_image(paths.sample_photo()).pixels
    mask = load_image(folder / "sample_photo_mask.png").pixels[..., 0]
    if mask.shape != photo.shape[:2] or not mask.any():
        raise CheckFailed("the sample mask does not fit the sample photo")
    state["sample"] = _Sample(photo, mask)
    return f"sample photo {photo.shape[1]}×{photo.shape[0]}, mask, icons in {folder}"


def _open_window(state: dict[str, Any]) -> str:
    _headless()
    from PySide6.QtWidgets import QApplication

    from restorer_gui.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow()
    window.errors_to_stderr = True
    try:
        window.show()
        if not window.open_path(paths.sample_photo()):
            raise CheckFailed("the main window could not open the sample photo")
        for _ in range(3):
            app.processEvents()
        image = window.grab().toImage()
        if image.isNull() or image.width() < 200 or image.height() < 200:
            raise CheckFailed("the window grab is empty")
        colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 37)}
        if len(colours) < 8:
            raise CheckFailed("the window grab is blank")
        return f"{image.width()}×{image.height()} grab with the sample photo, {app.platformName()} platform"
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


def _torch(state: dict[str, Any], device: str) -> str:
    import torch

    from restorer_gui.inference import device as devices

    dev = devices.resolve_device(device)
    x = torch.rand(1, 3, 32, 32, device=dev)
    y = torch.nn.functional.conv2d(x, torch.ones(3, 3, 3, 3, device=dev) / 27, padding=1)
    if not bool(torch.isfinite(y).all()):
        raise CheckFailed(f"a convolution on {dev} gave non-finite values")
    state["device"] = dev
    return f"torch {torch.__version__} on {dev} (available: {', '.join(devices.available_devices())})"


def _check_output(out: np.ndarray, image: np.ndarray, task: str, scale: int) -> None:
    h, w = image.shape[:2]
    want = (h, w) if task == "detect-scratches" else (h * scale, w * scale, image.shape[2])
    if out.shape != want or out.dtype != np.uint8:
        raise CheckFailed(f"output {out.shape} {out.dtype}, expected {want} uint8")


def _model(state: dict[str, Any], info: Any) -> str:
    from restorer_gui.inference.loader import load_model
    from restorer_gui.inference.ops.run_model import run_model

    sample: _Sample = state["sample"]
    model = load_model(info, state["device"])
    ys, xs = np.nonzero(sample.mask)
    y0 = int(np.clip(ys.mean() - SMALL // 2, 0, sample.mask.shape[0] - SMALL))
    x0 = int(np.clip(xs.mean() - SMALL // 2, 0, sample.mask.shape[1] - SMALL))
    crop = np.ascontiguousarray(sample.pixels[y0 : y0 + SMALL, x0 : x0 + SMALL])
    mask = np.ascontiguousarray(sample.mask[y0 : y0 + SMALL, x0 : x0 + SMALL])
    if model.task == "noise-estimate":  # a map of the noise level, not a picture
        from restorer_gui.inference.noise_level import noise_map

        level = noise_map(crop, model)
        if level.shape != crop.shape[:2] or not np.isfinite(level).all():
            raise CheckFailed(f"noise map {level.shape}, expected {crop.shape[:2]} with finite levels")
    else:
        out = run_model(crop, model, mask=mask if model.task == "inpaint" else None)
        _check_output(out, crop, model.task, model.scale)
    untrained = ", untrained" if info.untrained else ""
    return f"{model.task}, {model.architecture}, {model.params:,} parameters on {model.device}{untrained}"


def _restore(state: dict[str, Any], models: list[Any]) -> str:
    from restorer_gui.core.imageio import load_image, save_image
    from restorer_gui.inference.loader import load_model
    from restorer_gui.inference.ops.denoise import denoise
    from restorer_gui.inference.ops.inpaint import inpaint

    sample: _Sample = state["sample"]
    image, steps = sample.pixels, []
    by_task = {task: [m for m in models if m.task == task] for task in ("denoise", "inpaint")}
    for task, found in by_task.items():
        if not found:
            continue
        info = min(found, key=lambda m: m.untrained)
        model = load_model(info, state["device"])
        image = denoise(image, model) if task == "denoise" else inpaint(image, sample.mask, model)
        _check_output(image, sample.pixels, task, 1)
        steps.append(f"{'denoised' if task == 'denoise' else 'inpainted'} with {info.id}")
    with tempfile.TemporaryDirectory(prefix="restorer-selftest-") as tmp:
        for name in ("restored.png", "restored.tif"):
            save_image(Path(tmp) / name, image)
            back = load_image(Path(tmp) / name).pixels
            if not np.array_equal(back, image):
                raise CheckFailed(f"{name} did not read back identical")
    done = ", ".join(steps) if steps else "no denoise or inpaint model, image I/O only"
    return f"sample photo {done}; written and read back as PNG and TIFF"


def _community_models() -> tuple[str, str]:
    """Whether spandrel (third-party architectures) imports: a note when not, never a failure."""
    try:
        import spandrel
    except Exception as exc:  # noqa: BLE001 - e.g. a bundle built without torchvision
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return "note", f"third-party architectures unavailable in this build: {reason}"
    return "ok", f"spandrel {getattr(spandrel, '__version__', '?')} loads third-party architectures"


def _run_checks(report: Report, device: str) -> None:
    from restorer_gui.inference import registry

    state: dict[str, Any] = {}
    if not report.run("resources", lambda: _load_sample(state)):
        return
    report.run("main window", lambda: _open_window(state))
    if not report.run("torch", lambda: _torch(state, device)):
        return
    folder = paths.builtin_models_dir()
    models = [m for m in registry.list_models() if m.builtin]
    if not models:
        report.add("note", "built-in models", f"none in {folder}: model checks skipped")
    for info in models:
        report.run(f"model {info.id}", lambda info=info: _model(state, info))
    report.run("restore sample", lambda: _restore(state, models))
    t0 = time.perf_counter()
    status, detail = _community_models()
    report.add(status, "community models", f"{detail} ({time.perf_counter() - t0:.2f} s)")


def run_self_test(device: str = "auto") -> int:
    """Run every check on *device* ("auto", "cpu", "cuda", "mps"); print a report; 0 = passed, 1 = failed."""
    t0 = time.perf_counter()
    frozen = " (bundle)" if getattr(sys, "frozen", False) else ""
    print(f"restorer-gui {__version__} self-test{frozen}: Python {platform.python_version()}, "
          f"{platform.system()} {platform.machine()}", flush=True)
    report = Report()
    own_home = None if os.environ.get("RESTORER_HOME") else tempfile.TemporaryDirectory(prefix="restorer-selftest-home-")
    if own_home is not None:
        os.environ["RESTORER_HOME"] = own_home.name
    try:
        _run_checks(report, device)
    finally:
        if own_home is not None:
            os.environ.pop("RESTORER_HOME", None)
            own_home.cleanup()
    verdict = "FAILED" if report.failed else "passed"
    print(f"self-test {verdict} in {time.perf_counter() - t0:.1f} s"
          + (f" ({report.failed} check(s) failed)" if report.failed else ""), flush=True)
    return 1 if report.failed else 0
