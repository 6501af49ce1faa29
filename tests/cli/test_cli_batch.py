"""`restorer batch INPUT_DIR OUTPUT_DIR ...`: exit codes, summary, resume, Ctrl-C (in process)."""

import signal
import threading

import numpy as np
import pytest

from restorer_gui.cli import main
from restorer_gui.core import imageio
from restorer_gui.inference import batch as batch_mod
from tests.batch_helpers import digests, flat_folder, mixed_folder, temp_files
from tests.tiny_models import save_model


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("models"), "tiny-dn", "denoise")


def test_all_written_then_resume_does_nothing(cli, tmp_path, weights):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 3)
    code, stdout, _ = cli("batch", src, out, "--model", weights, "--strength", "20")
    assert code == 0
    assert "Finished: 3 written in" in stdout and "Log: " in stdout
    assert sorted(p.name for p in out.iterdir()) == ["p00.png", "p01.png", "p02.png"]
    code, stdout, _ = cli("batch", src, out, "--model", weights)
    assert code == 0 and "Nothing to do: 3 files skipped" in stdout


def test_some_failed_exit_1_with_reasons_on_stderr(cli, tmp_path, weights):
    src, out = tmp_path / "scans", tmp_path / "out"
    mixed_folder(src)
    before = digests(src)
    code, stdout, err = cli("batch", src, out, "--recursive", "--auto", "--format", "tiff", "--no-metadata",
                            "--model", weights)
    assert code == 1
    assert "5 written, 2 failed" in stdout
    assert f"restorer: {src / 'sub' / 'broken.jpg'}: the file is truncated or corrupt" in err
    assert "notes.png: not an image file" in err
    c = imageio.load_image(out / "sub" / "c.tif")
    assert c.pixels.dtype == np.uint16  # 16-bit TIFF stays 16-bit
    assert imageio.load_image(out / "a.tif").icc_profile is None  # --no-metadata
    assert digests(src) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nope", "{tmp}/out"], "the input folder does not exist"),
        (["{tmp}/scans", "{tmp}/scans/p00.png"], "is not a folder"),
        (["{tmp}/scans", "{tmp}/out", "--strength", "300"], "--strength must be between 0 and 255"),
        (["{tmp}/scans", "{tmp}/out", "--jpeg-quality", "0"], "--jpeg-quality must be between 1 and 100"),
        (["{tmp}/scans", "{tmp}/out", "--model", "no-such-model"], "no model with id 'no-such-model'"),
    ],
)
def test_usage_errors_exit_2(cli, tmp_path, args, message):
    flat_folder(tmp_path / "scans", 1)
    code, _, err = cli("batch", *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and message in err and err.count("\n") == 1


def test_bad_choice_is_an_argparse_usage_error(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["batch", str(tmp_path), str(tmp_path / "o"), "--format", "gif"])
    assert info.value.code == 2


def test_disk_full_stops_with_exit_1(cli, tmp_path, weights, monkeypatch):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 3)

    def full(target, write):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(imageio, "_atomic_write", full)
    code, stdout, err = cli("batch", src, out, "--model", weights)
    assert code == 1 and "Stopped: 0 written, 1 failed, 2 not processed" in stdout
    assert "the batch was stopped: cannot write p00.png: no space left on device" in err


def test_ctrl_c_stops_after_the_current_tile_and_resume_finishes(cli, tmp_path, weights, monkeypatch):
    """Ctrl-C while the second photo is in the model: the first is kept, nothing else is written."""
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 5)
    first_written = threading.Event()
    from restorer_gui.inference.ops import denoise as denoise_op

    real_save, real_denoise = batch_mod.save_image, denoise_op.denoise  # what the denoise step runs
    calls = []

    def save(path, pixels, **kw):
        real_save(path, pixels, **kw)
        first_written.set()

    def denoise(image, model, **kw):
        calls.append(1)
        if len(calls) == 2:
            assert first_written.wait(10)
            signal.raise_signal(signal.SIGINT)  # as a terminal's Ctrl-C: the handler runs now
        return real_denoise(image, model, **kw)

    monkeypatch.setattr(batch_mod, "save_image", save)
    monkeypatch.setattr(denoise_op, "denoise", denoise)
    handler = signal.getsignal(signal.SIGINT)  # the default, or SIG_IGN when started in the background
    code, stdout, err = cli("batch", src, out, "--model", weights)
    assert code == 130
    assert "stopping after the current tile" in err and "Cancelled: 1 written, 4 not processed" in stdout
    assert [p.name for p in out.iterdir()] == ["p00.png"] and temp_files(tmp_path) == []
    assert signal.getsignal(signal.SIGINT) is handler  # handler restored
    monkeypatch.undo()
    code, stdout, _ = cli("batch", src, out, "--model", weights)
    assert code == 0 and "4 written, 1 skipped" in stdout
