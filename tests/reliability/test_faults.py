"""Injected faults: out of memory during inference (smaller tiles, then the CPU), a full or
read-only disk while saving (GUI save, export, project, autosave, batch), cancel at every stage of
a job, and kill -9 in the middle of an autosave.  Nothing is lost: earlier outputs, the original
and the previous autosave stay intact, no temporary file is left, and the app goes on."""

from __future__ import annotations

import dataclasses
import errno
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from restorer_gui import paths, settings
from restorer_gui.cli import main
from restorer_gui.core import imageio, project
from restorer_gui.core.imageio import load_image, save_image
from restorer_gui.core.project import load_project
from restorer_gui.inference import loader
from restorer_gui.inference.ops import denoise as denoise_op
from restorer_gui.inference.ops import detect as detect_op
from restorer_gui.inference.ops import inpaint as inpaint_op
from restorer_gui.qt.main_window import MainWindow
from tests.reliability.conftest import untouched
from tests.reliability.corpus import sha256

FAULTS = {"ENOSPC": "no space left on device", "EROFS": "the disk is read-only", "EDQUOT": "disk quota exceeded"}


def _photo(path: Path, w: int = 96, h: int = 80, seed: int = 0) -> Path:
    save_image(path, np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))
    return path


def _oom(size: int) -> torch.cuda.OutOfMemoryError:
    return torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {size} MiB")


# --------------------------------------------------------------------------- out of memory


@pytest.fixture
def tiny(tiny_models):
    return {task: loader.load_model(task, "cpu") for task in ("tiny-denoise", "tiny-inpaint", "tiny-detect")}


def test_out_of_memory_halves_the_tiles_then_completes(tiny, tally):
    model = tiny["tiny-denoise"]
    seen: list[int] = []

    def forward(x, sigma, mask):
        seen.append(max(x.shape[-2:]))
        if max(x.shape[-2:]) > 50:
            raise _oom(64)
        return model.forward(x, sigma, mask)

    image = np.random.default_rng(1).integers(0, 256, (80, 96, 3), dtype=np.uint8)
    expected = denoise_op.denoise(image, model, sigma=10, tile=96)
    out = denoise_op.denoise(image, dataclasses.replace(model, forward=forward), sigma=10, tile=96)
    np.testing.assert_array_equal(out, expected)
    # 96 → a limit of 48 (balanced tiles of up to 48), and no later tile goes above it or halves again
    assert seen[0] == 96 and 24 < max(seen[1:]) <= 48 and min(seen[1:]) > 24
    tally["fault injections: out of memory → smaller tiles"] += 1


class _Mover(torch.nn.Module):
    """Stands in for a module on a GPU: records where it is moved instead of moving."""

    def __init__(self) -> None:
        super().__init__()
        self.moves: list[str] = []

    def to(self, *args, **kwargs):
        self.moves.append(str(kwargs.get("device", args[0] if args else "")))
        return self


def _on_full_gpu(model: loader.LoadedModel, mover: _Mover) -> loader.LoadedModel:
    """The model as if it lived on a GPU without free memory: any input on that device fails.
    ("meta" is a device every torch build has; tensors there have no data.)"""

    def forward(x, sigma, mask):
        if x.is_meta:
            raise _oom(2)
        return model.forward(x, sigma, mask)

    return dataclasses.replace(model, module=mover, device=torch.device("meta"), dtype=torch.float16, forward=forward)


@pytest.mark.parametrize("task", ["denoise", "inpaint", "detect-scratches"])
def test_out_of_memory_even_for_small_tiles_on_a_gpu_goes_on_on_the_cpu(tiny, task, tally):
    image = np.random.default_rng(2).integers(0, 256, (72, 88, 3), dtype=np.uint8)
    mask = np.zeros((72, 88), np.uint8)
    mask[20:40, 30:50] = 255
    model = tiny[{"denoise": "tiny-denoise", "inpaint": "tiny-inpaint"}.get(task, "tiny-detect")]
    run = {
        "denoise": lambda m: denoise_op.denoise(image, m, sigma=10, tile=64),
        "inpaint": lambda m: inpaint_op.inpaint(image, mask, m, max_side=64),
        "detect-scratches": lambda m: detect_op.detect_scratches(image, m, tile=64),
    }[task]
    expected = run(model)
    mover = _Mover()
    gpu = _on_full_gpu(model, mover)
    np.testing.assert_array_equal(run(gpu), expected)
    assert mover.moves == ["cpu", "meta"]  # to the CPU for the job, then back home
    assert gpu.device == torch.device("meta") and gpu.dtype == torch.float16
    tally["fault injections: out of memory on a GPU → the CPU"] += 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_out_of_memory_on_a_real_gpu_goes_on_on_the_cpu_and_the_model_goes_back(tiny, tally):
    image = np.random.default_rng(3).integers(0, 256, (72, 88, 3), dtype=np.uint8)
    model = loader.load_model("tiny-denoise", "cuda")
    real = model.forward

    def forward(x, sigma, mask):
        if x.is_cuda:
            raise _oom(2)
        return real(x, sigma, mask)

    gpu = dataclasses.replace(model, forward=forward)
    out = denoise_op.denoise(image, gpu, sigma=10, tile=64)
    np.testing.assert_array_equal(out, denoise_op.denoise(image, tiny["tiny-denoise"], sigma=10, tile=64))
    assert gpu.device.type == "cuda" and next(model.module.parameters()).is_cuda
    tally["fault injections: out of memory on a GPU → the CPU"] += 1


def test_out_of_memory_on_the_cpu_too_fails_the_job_clearly_and_the_app_goes_on(
    window, open_doc, qtbot, dialogs, tiny_models, tally
):
    model = open_doc(np.full((64, 64, 3), 80, np.uint8))
    model.doc.mask[10:20, 10:20] = 255
    window.settings.device = "cpu"

    def no_memory(self, *args):
        raise MemoryError()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loader.LoadedModel, "_adapted", no_memory)
        for start, reason in ((lambda: window.restore.denoise(10.0), "not enough memory even for"),
                              (window.restore.inpaint, "not enough memory to inpaint")):
            with qtbot.waitSignal(window.restore.pool.job_failed, timeout=30_000) as failed:
                start()
            assert reason in failed.args[1] and "\n" not in failed.args[1]
            tally["fault injections: out of memory on the CPU → clear failure"] += 1
    assert model.doc.layers == [] and [d[0] for d in dialogs.shown] == ["box", "box"]
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.denoise(10.0)


# --------------------------------------------------------------------------- full / read-only disk


def _inject(mp: pytest.MonkeyPatch, fault: str) -> None:
    """Make every imageio write fail: ENOSPC/EDQUOT half way through the data, EROFS at creation."""
    code = getattr(errno, fault)
    if fault == "EROFS":
        def refuse(*args, **kwargs):
            raise OSError(code, os.strerror(code), str(args[0]))

        mp.setattr(imageio, "open", refuse, raising=False)
        return
    for kind, writer in list(imageio._WRITERS.items()):
        def half_then_full(f, a, *rest, _writer=writer):
            _writer(f, a[: max(1, a.shape[0] // 2)], *rest)
            raise OSError(code, os.strerror(code))

        mp.setitem(imageio._WRITERS, kind, half_then_full)


def _temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_full_or_read_only_disk_during_save_loses_nothing(window, dialogs, tmp_path, fault, tally):
    photo = _photo(tmp_path / "photo.png")
    out, new, mask_png = tmp_path / "photo-restored.png", tmp_path / "copy.tif", tmp_path / "mask.png"
    with untouched([photo]):
        assert window.open_path(photo)
        model = window.model
        model.replace_mask(np.full_like(model.doc.mask, 255), "Fill")
        model.add_layer(model.doc.make_layer("first", np.zeros((80, 96, 3), np.uint8), "test"))
        assert window.save_to(out) and window.export_mask(mask_png)
        earlier = {p: sha256(p) for p in (out, mask_png)}
        model.add_layer(model.doc.make_layer("second", np.full((80, 96, 3), 200, np.uint8), "test"))
        with pytest.MonkeyPatch.context() as mp:
            _inject(mp, fault)
            for action, target in ((window.save_to, out), (window.save_to, new), (window.export_mask, mask_png)):
                before = len(dialogs.shown)
                assert not action(target)
                (kind, _title, text), = [d[:3] for d in dialogs.shown[before:]]
                assert kind == "critical" and text == f"cannot write {target.name}: {FAULTS[fault]}", text
                tally["fault injections: full/read-only disk during GUI save/export"] += 1
        assert {p: sha256(p) for p in earlier} == earlier and not new.exists()
        assert not _temporaries(tmp_path) and model.modified and model.doc.saved_path == out
        assert window.save_to(out) and load_image(out).pixels[0, 0, 0] == 200


@pytest.mark.parametrize("fault", ["ENOSPC", "EROFS"])
def test_a_full_or_read_only_disk_during_project_save_keeps_the_previous_project(
    window, open_doc, dialogs, tmp_path, monkeypatch, fault, tally
):
    model = open_doc(np.full((30, 40, 3), 60, np.uint8))
    target = tmp_path / "job.rgproj"
    model.replace_mask(np.full_like(model.doc.mask, 255), "Fill")
    assert window.save_project_to(target)
    earlier = sha256(target)
    model.replace_mask(np.zeros_like(model.doc.mask), "Clear")
    code = getattr(errno, fault)

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    if fault == "EROFS":
        monkeypatch.setattr(project.tempfile, "mkstemp", fail)
    else:
        monkeypatch.setattr(zipfile.ZipFile, "write", fail)
    assert not window.save_project_to(target)
    kind, _title, text = dialogs.shown[-1][:3]
    assert kind == "critical" and text == f"cannot write job.rgproj: {os.strerror(code)}"
    assert sha256(target) == earlier and not _temporaries(tmp_path) and model.modified
    doc, _ = load_project(target)
    assert doc.mask.min() == 255
    tally["fault injections: full/read-only disk during project save"] += 1


def _autosave(window, qtbot) -> None:
    assert window.autosave.save_now() is not None
    qtbot.waitUntil(lambda: not window.autosave._busy, timeout=10_000)


def test_a_full_disk_during_autosave_keeps_the_previous_autosave(window, open_doc, qtbot, dialogs, tally):
    model = open_doc(np.full((30, 40, 3), 60, np.uint8))
    pool = window.restore.pool
    model.replace_mask(np.full_like(model.doc.mask, 255), "Fill")
    _autosave(window, qtbot)
    earlier = sha256(window.autosave.project)
    model.replace_mask(np.zeros_like(model.doc.mask), "Clear")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    failures: list[str] = []
    pool.job_failed.connect(lambda _id, message, _details: failures.append(message))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(zipfile.ZipFile, "write", full)
        _autosave(window, qtbot)
    assert "No space left" in failures[0] and not dialogs.shown  # quiet: a status bar message
    assert sha256(window.autosave.project) == earlier and not _temporaries(paths.autosave_dir())
    assert load_project(window.autosave.project)[0].mask.min() == 255
    model.replace_mask(np.full_like(model.doc.mask, 1), "Fill 1")
    _autosave(window, qtbot)  # the next autosave works again
    assert load_project(window.autosave.project)[0].mask.max() == 1
    tally["fault injections: full disk during autosave"] += 1


@pytest.mark.parametrize("fault", ["ENOSPC", "EROFS"])
def test_a_full_or_read_only_disk_stops_a_batch_and_keeps_what_was_written(
    tiny_models, tmp_path, capsys, fault, tally
):
    from restorer_gui import cli

    if not hasattr(cli, "cmd_batch"):
        pytest.skip("`restorer batch` does not exist yet")
    (tmp_path / "in").mkdir()
    inputs = [_photo(tmp_path / "in" / f"p{i}.png", 40, 30, seed=i) for i in range(4)]
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "in"), str(out), "--strength", "10"]) == 0
    first = {p: sha256(p) for p in out.iterdir()}
    assert len(first) == 4
    for p in inputs[2:]:
        (out / p.name).unlink()  # as if an earlier run was stopped half way
        del first[out / p.name]
    capsys.readouterr()
    with untouched(inputs), pytest.MonkeyPatch.context() as mp:
        _inject(mp, fault)
        code = main(["batch", str(tmp_path / "in"), str(out), "--strength", "10"])
    _, err = capsys.readouterr()
    assert code == 1 and "the batch was stopped" in err and FAULTS[fault] in err and "Traceback" not in err
    assert {p: sha256(p) for p in out.iterdir()} == first and not _temporaries(tmp_path)
    assert main(["batch", str(tmp_path / "in"), str(out), "--strength", "10"]) == 0  # resumes
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in inputs)
    tally["fault injections: full/read-only disk during batch"] += 1


# --------------------------------------------------------------------------- cancel


class _Gate:
    """Holds a worker at the n-th call of a patched function until the test opens it."""

    def __init__(self, n: int = 1, after: bool = False) -> None:
        self.n, self.after, self.calls = n, after, 0
        self.reached, self.open = threading.Event(), threading.Event()

    def wrap(self, fn):
        def gated(*args, **kwargs):
            self.calls += 1
            stop = self.calls == self.n
            if stop and not self.after:
                self.hold()
            result = fn(*args, **kwargs)
            if stop and self.after:
                self.hold()
            return result

        return gated

    def hold(self) -> None:
        self.reached.set()
        assert self.open.wait(30), "the test never opened the gate"


STAGES = [
    ("denoise", "queued behind another job"),
    ("denoise", "loading the model"),
    ("denoise", "between tiles"),
    ("denoise", "after the last tile"),
    ("inpaint", "loading the model"),
    ("inpaint", "between regions"),
    ("inpaint", "inside one network pass"),
    ("detect", "between tiles"),
    ("detect", "after the last tile"),
]


@pytest.mark.parametrize("task, stage", STAGES, ids=[f"{t}-{s.replace(' ', '-')}" for t, s in STAGES])
def test_cancel_at_every_stage_drops_the_job_and_the_app_goes_on(
    window, open_doc, qtbot, dialogs, tiny_models, monkeypatch, task, stage, tally
):
    from restorer_gui.inference import tiling

    pixels = np.full((96, 300, 3), 90, np.uint8)
    pixels[:, 140:160] = 250  # something for the detector
    model = open_doc(pixels)
    for x in (20, 150, 280):  # three regions far apart: three inpainting crops
        model.doc.mask[40:50, x - 5 : x + 5] = 255
    window.settings.device, window.settings.tile_size = "cpu", 32
    mask, undo_count = model.doc.mask.copy(), model.undo_stack.count()
    gate = _Gate()
    loads = _Gate(n=10**9)
    # the GUI's operations load their models through ModelSet → loader.load_model
    monkeypatch.setattr(loader, "load_model", loads.wrap(loader.load_model))
    if stage == "loading the model":
        monkeypatch.setattr(loader, "load_model", gate.wrap(loader.load_model))
    elif stage == "between tiles":
        gate.n = 4
        monkeypatch.setattr(tiling, "check_cancel", gate.wrap(tiling.check_cancel))
    elif stage == "between regions":
        gate.n = 2
        monkeypatch.setattr(inpaint_op, "check_cancel", gate.wrap(inpaint_op.check_cancel))  # before each region
    elif stage == "inside one network pass":
        gate.n = 2  # the pre-hook of the tiny inpainter's second layer, in the middle of its forward
        monkeypatch.setattr(loader, "check_cancel", gate.wrap(loader.check_cancel))
    elif stage == "after the last tile":
        # the network call of each step, looked up by the step at run time
        op, name = (denoise_op, "denoise") if task == "denoise" else (detect_op, "detect_probability")
        gate.after = True
        monkeypatch.setattr(op, name, gate.wrap(getattr(op, name)))
    cancelled: list[int] = []
    window.restore.pool.job_cancelled.connect(cancelled.append)
    start = {"denoise": lambda: window.restore.denoise(10.0), "inpaint": window.restore.inpaint,
             "detect": window.restore.detect_scratches}[task]
    if stage == "queued behind another job":
        blocker = window.restore.submit("Blocker", lambda progress, cancel: gate.hold(), lambda r: None)
        qtbot.waitUntil(gate.reached.is_set)
        job = start()
        window.restore.act_cancel.trigger()
        gate.open.set()
        qtbot.waitUntil(lambda: blocker.id in cancelled and job.id in cancelled, timeout=30_000)
        assert loads.calls == 0  # never started
    else:
        job = start()
        qtbot.waitUntil(gate.reached.is_set, timeout=30_000)
        window.restore.act_cancel.trigger()
        gate.open.set()
        qtbot.waitUntil(lambda: job.id in cancelled, timeout=30_000)
    assert model.doc.layers == [] and np.array_equal(model.doc.mask, mask)
    assert model.undo_stack.count() == undo_count and not window.restore.act_cancel.isEnabled()
    assert not window.restore.progress.isVisible() and not dialogs.shown
    tally["fault injections: cancel at a stage of a job"] += 1
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):  # the app goes on
        window.restore.denoise(10.0)
    assert len(model.doc.layers) == 1


# --------------------------------------------------------------------------- kill -9 during an autosave

_AUTOSAVE_SCRIPT = r"""
import os, signal, sys, zipfile
import numpy as np
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication
from restorer_gui import settings
from restorer_gui.core import project
from restorer_gui.core.document import Document
from restorer_gui.core.imageio import ImageData
from restorer_gui.qt.main_window import MainWindow

app = QApplication([])
window = MainWindow(settings.Settings())
window.set_document(Document(ImageData(pixels=np.full((24, 32, 3), 7, np.uint8))))
model = window.model

def autosave():
    window.autosave.save_now()
    while window.autosave._busy:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

model.replace_mask(np.full_like(model.doc.mask, 255), "Fill")
autosave()
print("first autosave done", flush=True)
model.replace_mask(np.zeros_like(model.doc.mask), "Clear")

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

point = sys.argv[1]
if point == "while-writing-members":
    real = zipfile.ZipFile.write
    def write(self, *args, **kwargs):
        real(self, *args, **kwargs)
        die()
    zipfile.ZipFile.write = write
elif point == "before-the-rename":
    project.os.replace = die
else:  # after the project's rename, before its info file is updated
    real_replace = os.replace
    def replace(src, dst):
        if str(src).endswith(".json.tmp"):
            die()
        real_replace(src, dst)
    os.replace = replace
autosave()
print("not killed", flush=True)
"""


@pytest.mark.parametrize("point, recovered_fill", [
    ("while-writing-members", 255), ("before-the-rename", 255), ("after-the-rename", 0)])
def test_kill_9_during_an_autosave_leaves_a_recoverable_autosave(qtbot, dialogs, point, recovered_fill, tally):
    env = dict(os.environ, PYTHONPATH=os.getcwd(), QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([sys.executable, "-c", _AUTOSAVE_SCRIPT, point], env=env, capture_output=True, check=False,
                         text=True, timeout=120)
    assert run.returncode == -9 and "first autosave done" in run.stdout, run.stderr
    window = MainWindow(settings.Settings())
    qtbot.addWidget(window)
    dialogs.answer = QMessageBox.StandardButton.Yes
    assert window.offer_recovery()
    assert window.model.doc.mask.min() == window.model.doc.mask.max() == recovered_fill
    assert list(paths.autosave_dir().iterdir()) == []  # the orphan and its temporaries are gone
    window.model.mark_saved()
    window.close()
    tally["fault injections: kill -9 during an autosave"] += 1
