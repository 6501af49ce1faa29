"""The batch pipeline on generated folders: formats, failures, fatal write errors, cancel, resume,
bounded memory, order; the originals are never touched."""

import errno
import json
import threading

import numpy as np
import pytest

from restorer_gui.core import imageio
from restorer_gui.core.batch import BatchOptions, plan_batch
from restorer_gui.inference import batch as batch_mod
from restorer_gui.inference.batch import BatchCallbacks, BatchRunner, RunSettings
from restorer_gui.inference.jobs import CancelToken
from restorer_gui.inference.loader import load_model
from tests.batch_helpers import SRGB, digests, flat_folder, mixed_folder, temp_files
from tests.tiny_models import save_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    weights = save_model(tmp_path_factory.mktemp("models"), "tiny-dn", "denoise", seed=3)
    return load_model(weights, "cpu")


def run(src, out, model, *, callbacks=None, cancel=None, **kw):
    opts = {k: kw.pop(k) for k in ("recursive", "fmt", "on_existing", "patterns") if k in kw}
    plan = plan_batch(BatchOptions(src, out, **opts))
    settings = RunSettings(**{"sigma": 10.0, "log_dir": out.parent / "logs", **kw})
    return BatchRunner(plan, model, settings, callbacks, cancel).run()


def test_mixed_nested_folder(tmp_path, model):
    src, out = tmp_path / "scans", tmp_path / "out"
    good = mixed_folder(src)
    before = digests(src)
    summary = run(src, out, model, recursive=True)
    assert sorted(str(o.source.relative_to(src)) for o in summary.done) == sorted(good)
    reasons = {str(p.relative_to(src)): r for p, r in summary.failed}
    assert reasons == {
        "sub/broken.jpg": "the file is truncated or corrupt",
        "sub/deep/notes.png": "not an image file (or an unsupported format)",
    }
    assert summary.ok is False and summary.fatal is None and not summary.cancelled
    for rel, pixels in good.items():
        result = imageio.load_image(out / rel)
        assert result.pixels.shape == pixels.shape and result.pixels.dtype == pixels.dtype  # bits, channels
        assert not np.array_equal(result.pixels[..., :3], pixels[..., :3])  # the model did something
    np.testing.assert_array_equal(imageio.load_image(out / "sub/d.png").pixels[..., 3], good["sub/d.png"][..., 3])
    a = imageio.load_image(out / "a.png")
    assert a.icc_profile == SRGB and b"wedding 1931" in a.exif
    assert digests(src) == before  # originals byte-identical, nothing added next to them
    assert temp_files(tmp_path) == []
    events = [json.loads(line) for line in summary.log_path.read_text().splitlines()]
    assert [e["event"] for e in events].count("done") == 5
    assert [e["event"] for e in events].count("failed") == 2
    assert events[0]["event"] == "start" and events[-1]["event"] == "end" and events[-1]["failed"] == 2


def test_formats_metadata_off_and_too_large(tmp_path, model):
    src, out = tmp_path / "scans", tmp_path / "out"
    mixed_folder(src)
    summary = run(src, out, model, recursive=True, fmt="jpg", keep_metadata=False, max_pixels=500, auto=True)
    done = {str(o.source.relative_to(src)) for o in summary.done}
    assert done == {"sub/c.tif", "sub/d.png", "sub/deep/e.png"}  # a.png and b.jpg are over 500 pixels
    too_large = next(r for p, r in summary.failed if p.name == "a.png")
    assert "more than the limit" in too_large
    d = imageio.load_image(out / "sub/d.jpg")
    assert d.pixels.dtype == np.uint8 and d.pixels.shape[2] == 3  # JPEG: 8-bit, alpha composited
    e = imageio.load_image(out / "sub/deep/e.jpg")
    assert e.icc_profile is None and e.exif is None
    assert all(o.sigma is not None for o in summary.done)  # auto: estimated per file


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_full_or_read_only_disk_stops_the_batch(tmp_path, model, monkeypatch, code):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 6)

    def refuse(target, write):
        raise OSError(code, "refused")

    monkeypatch.setattr(imageio, "_atomic_write", refuse)
    summary = run(src, out, model)
    expected = "no space left on device" if code == errno.ENOSPC else "the disk is read-only"
    assert summary.fatal is not None and expected in summary.fatal
    assert summary.done == [] and len(summary.failed) == 1 and summary.not_processed == 5
    assert "stopped" in summary.lines()[0].lower()
    assert not list(out.glob("*.png"))


def test_per_file_model_error_skips_that_file(tmp_path, model, monkeypatch):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 3)
    from restorer_gui.inference.ops import denoise as denoise_op

    real = denoise_op.denoise  # the denoise step calls it through this name
    calls = []

    def flaky(image, net, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("CUDA error: an illegal memory access\nmore")
        return real(image, net, **kw)

    monkeypatch.setattr(denoise_op, "denoise", flaky)
    summary = run(src, out, model)
    assert [p.name for p, _ in summary.failed] == ["p01.png"]
    assert summary.failed[0][1] == "CUDA error: an illegal memory access"
    assert sorted(p.name for p in out.iterdir()) == ["p00.png", "p02.png"]


def test_cancel_after_the_first_file_then_resume(tmp_path, model):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 8)
    before = digests(src)
    cancel = CancelToken()
    summary = run(src, out, model, cancel=cancel, callbacks=BatchCallbacks(file_done=lambda o: cancel.cancel()))
    assert summary.cancelled and len(summary.done) == 1 and summary.not_processed == 7
    assert [p.name for p in out.iterdir()] == ["p00.png"]  # nothing else, no temporaries
    first = digests(out)
    started = []
    resumed = run(src, out, model, callbacks=BatchCallbacks(file_started=lambda i, item: started.append(item.source.name)))
    assert resumed.ok and len(resumed.done) == 7 and len(resumed.skipped) == 1
    assert started == [f"p{i:02d}.png" for i in range(1, 8)]  # only what was missing
    assert digests(out)["p00.png"] == first["p00.png"]
    assert digests(src) == before and temp_files(tmp_path) == []


def test_cancel_stops_within_a_tile(tmp_path, model):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 2, size=(256, 256))
    cancel = CancelToken()
    ticks = []

    def progress(index, fraction):
        ticks.append(fraction)
        if fraction > 0:
            cancel.cancel()

    summary = run(src, out, model, tile=32, cancel=cancel, callbacks=BatchCallbacks(file_progress=progress))
    assert summary.cancelled and summary.done == []
    assert len([t for t in ticks if t > 0]) == 1  # not one more tile after the cancel
    assert not out.exists() or list(out.iterdir()) == []


def test_memory_is_bounded_by_the_queues(tmp_path, model, monkeypatch):
    """With the writer stuck, decoding stops after decode + 2 queues + model + writer images."""
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 20, size=(8, 8))
    loads = []
    stuck_at = []
    release = threading.Event()
    saturated = threading.Event()
    real_load, real_save = batch_mod.load_image, batch_mod.save_image

    def load(path, **kw):
        loads.append(path.name)
        if len(loads) == 7:
            saturated.set()
        return real_load(path, **kw)

    def save(path, pixels, **kw):
        if not release.is_set():
            saturated.wait(10)
            stuck_at.append(len(loads))  # nothing can move while this write is held
            release.set()
        return real_save(path, pixels, **kw)

    monkeypatch.setattr(batch_mod, "load_image", load)
    monkeypatch.setattr(batch_mod, "save_image", save)
    summary = run(src, out, model, decode_threads=1, encode_threads=1, queue_size=2)
    assert stuck_at == [7]  # 1 writing + 2 queued + 1 in the model + 2 queued + 1 decoded
    assert len(summary.done) == 20


def test_several_decode_threads_keep_the_order(tmp_path, model):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 12, size=(8, 8))
    order = []
    summary = run(src, out, model, decode_threads=3, encode_threads=2,
                  callbacks=BatchCallbacks(file_started=lambda i, item: order.append(i)))
    assert order == list(range(12)) and summary.ok


def test_an_interrupt_in_the_model_thread_leaves_nothing_behind(tmp_path, model):
    """A second Ctrl-C arrives as KeyboardInterrupt in the model thread: the I/O threads stop,
    the file being written is finished, the log is closed, and the interrupt propagates."""
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 6)
    before = {t.name for t in threading.enumerate()}

    def interrupt(index, item):
        if index == 2:
            raise KeyboardInterrupt

    plan = plan_batch(BatchOptions(src, out))
    runner = BatchRunner(plan, model, RunSettings(log_dir=tmp_path / "logs"), BatchCallbacks(file_started=interrupt))
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert {t.name for t in threading.enumerate()} == before  # every batch thread has ended
    assert temp_files(tmp_path) == [] and {p.name for p in (out.iterdir() if out.exists() else [])} <= {"p00.png", "p01.png"}
    log = next((tmp_path / "logs").glob("*.jsonl")).read_text().splitlines()
    assert json.loads(log[-1])["event"] == "end"
