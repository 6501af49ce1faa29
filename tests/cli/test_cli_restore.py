"""`restorer denoise | inpaint | detect-scratches | run-model | models` end to end, in process
(one subprocess run checks the real console entry), with tiny random-weight models."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from restorer_gui.cli import main
from restorer_gui.core import imageio
from tests.tiny_models import save_model


@pytest.fixture(scope="module")
def dncnn(tmp_path_factory):
    from spandrel.architectures.DnCNN import DnCNN

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("community") / "dncnn_color.pth"
    torch.save(DnCNN(in_nc=3, out_nc=3, nc=8, nb=8, act_mode="R").state_dict(), path)
    return path


def _photo(path, h=40, w=32, c=3, dtype=np.uint8, seed=0):
    top = np.iinfo(dtype).max
    pixels = np.random.default_rng(seed).integers(0, top, (h, w, c), dtype=dtype, endpoint=True)
    imageio.save_image(path, pixels)
    return pixels


def test_models_import_list_remove(cli, tmp_path, dncnn):
    code, out, _ = cli("models", "list")
    assert code == 0 and "No models installed" in out
    code, out, _ = cli("models", "import", dncnn)
    assert code == 0 and "as dncnn_color (denoise, spandrel:DnCNN)" in out
    code, out, _ = cli("models", "list")
    assert code == 0 and "dncnn_color" in out and "user" in out
    assert cli("models", "remove", "dncnn_color")[0] == 0
    code, _, err = cli("models", "remove", "dncnn_color")
    assert code == 2 and "no model with id 'dncnn_color'" in err
    evil = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "f": print}, evil)
    code, _, err = cli("models", "import", evil)
    assert code == 1 and "refused" in err and err.count("\n") == 1


def test_denoise_one_file_and_several_into_a_folder(cli, tmp_path, dncnn):
    a = _photo(tmp_path / "a.png", dtype=np.uint16)
    _photo(tmp_path / "b.tif", seed=1)
    code, out, _ = cli(
        "denoise", tmp_path / "a.png", "-o", tmp_path / "a_clean.png", "--model", dncnn, "--strength", "25"
    )
    assert code == 0 and out.strip().endswith("a_clean.png")
    result = imageio.load_image(tmp_path / "a_clean.png").pixels
    assert result.dtype == np.uint16 and result.shape == a.shape  # 16-bit stays 16-bit
    code, out, _ = cli(
        "denoise", tmp_path / "a.png", tmp_path / "b.tif", "-o", tmp_path / "out", "--model", dncnn, "--auto"
    )
    assert code == 0 and (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "b.tif").is_file()


def test_default_model_missing_model_and_untrained_warning(cli, tmp_path):
    _photo(tmp_path / "p.png")
    code, _, err = cli("denoise", tmp_path / "p.png", "-o", tmp_path / "o.png")
    assert code == 2 and "no denoise model is installed" in err and "restorer models import" in err
    weights = save_model(tmp_path / "export", "tiny-dn", "denoise", untrained=True)
    assert cli("models", "import", weights)[0] == 0
    code, _, err = cli("denoise", tmp_path / "p.png", "-o", tmp_path / "o.png", "--tile", "16", "--device", "cpu")
    assert code == 0 and "untrained" in err and (tmp_path / "o.png").is_file()


def test_failed_inputs_are_named_and_give_exit_1(cli, tmp_path, dncnn):
    _photo(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    code, _, err = cli(
        "denoise",
        tmp_path / "good.png",
        tmp_path / "bad.png",
        tmp_path / "gone.png",
        "-o",
        tmp_path / "out",
        "--model",
        dncnn,
    )
    assert code == 1
    assert "bad.png" in err and "gone.png" in err and "good.png" not in err
    assert (tmp_path / "out" / "good.png").is_file() and not (tmp_path / "out" / "bad.png").exists()


def test_usage_errors_exit_2(cli, tmp_path, dncnn):
    _photo(tmp_path / "p.png")
    before = (tmp_path / "p.png").read_bytes()
    code, _, err = cli("denoise", tmp_path / "p.png", "-o", tmp_path / "p.png", "--model", dncnn)
    assert code == 2 and "refusing to overwrite the input" in err
    assert (tmp_path / "p.png").read_bytes() == before
    assert cli("denoise", tmp_path / "p.png", "-o", tmp_path / "x.bmp", "--model", dncnn)[0] == 2
    code, _, err = cli("denoise", tmp_path / "p.png", "-o", tmp_path / "o.png", "--model", tmp_path / "none.pth")
    assert code == 2 and "none.pth" in err
    code, _, err = cli("denoise", tmp_path / "p.png", "-o", tmp_path / "o.png", "--model", dncnn, "--device", "tpu")
    assert code == 2 and "unknown device" in err
    code, _, err = cli(
        "inpaint", tmp_path / "p.png", "--mask", tmp_path / "p.png", "-o", tmp_path / "o.png", "--model", dncnn
    )
    assert code == 2 and "cannot be used for inpaint" in err
    with pytest.raises(SystemExit) as exc:
        main(["denoise", str(tmp_path / "p.png")])  # -o missing
    assert exc.value.code == 2


def test_inpaint_and_detect_scratches(cli, tmp_path):
    photo = _photo(tmp_path / "photo.png", 48, 40, dtype=np.uint16)
    mask = np.zeros((48, 40), np.uint8)
    mask[10:20, 5:30] = 255
    imageio.save_image(tmp_path / "mask.png", mask)
    inpainter = save_model(tmp_path / "m", "tiny-inpaint", "inpaint")
    code, _, _ = cli(
        "inpaint",
        tmp_path / "photo.png",
        "--mask",
        tmp_path / "mask.png",
        "-o",
        tmp_path / "f.png",
        "--model",
        inpainter,
    )
    assert code == 0
    filled = imageio.load_image(tmp_path / "f.png").pixels
    assert filled.dtype == np.uint16 and np.array_equal(filled[mask == 0], photo[mask == 0])
    assert cli("models", "import", save_model(tmp_path / "m", "tiny-scratch", "detect-scratches"))[0] == 0
    code, _, _ = cli("detect-scratches", tmp_path / "photo.png", "-o", tmp_path / "scratches.png", "--threshold", "0.3")
    assert code == 0
    found = imageio.load_image(tmp_path / "scratches.png").pixels
    assert found.shape == (48, 40, 1) and set(np.unique(found)) <= {0, 255}


def test_run_model_with_an_upscaler_and_an_inpainter(cli, tmp_path):
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    esrgan = tmp_path / "2x_tiny.pth"
    torch.save(ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2).state_dict(), esrgan)
    _photo(tmp_path / "p.png", 30, 20, c=4)
    code, _, _ = cli("run-model", esrgan, tmp_path / "p.png", "-o", tmp_path / "big.png")
    assert code == 0 and imageio.load_image(tmp_path / "big.png").pixels.shape == (60, 40, 4)
    inpainter = save_model(tmp_path / "m", "tiny-inpaint", "inpaint")
    code, _, err = cli("run-model", inpainter, tmp_path / "p.png", "-o", tmp_path / "o.png")
    assert code == 2 and "--mask" in err


def test_console_entry_reports_bad_inputs_without_a_traceback(tmp_path, dncnn):
    _photo(tmp_path / "good.jpg")
    (tmp_path / "bad.png").write_text("not an image")
    proc = subprocess.run(
        [sys.executable, "-m", "restorer_gui.cli", "denoise", tmp_path / "good.jpg", tmp_path / "bad.png",
         "-o", tmp_path / "out", "--model", dncnn, "--device", "cpu"],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "bad.png" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "out" / "good.jpg").is_file()


def test_repair_writes_the_result_and_its_mask_but_never_over_an_input(cli, tmp_path):
    from restorer_gui import paths as _paths

    save_model(_paths.user_models_dir(), "tiny-det", "detect-scratches", untrained=False)
    save_model(_paths.user_models_dir(), "tiny-inp", "inpaint", untrained=False)
    _photo(tmp_path / "p.png")
    before = (tmp_path / "p.png").read_bytes()
    code, _, err = cli("repair", tmp_path / "p.png", "-o", tmp_path / "r.png", "--save-mask", tmp_path / "p.png",
                       "--device", "cpu")
    assert code == 2 and "refusing to overwrite the input" in err and (tmp_path / "p.png").read_bytes() == before
    code, out, _ = cli("repair", tmp_path / "p.png", "-o", tmp_path / "r.png", "--save-mask", tmp_path / "m.png",
                       "--threshold", "0", "--device", "cpu")
    assert code == 0 and "repair: Marked" in out and out.strip().endswith("r.png")
    mask = imageio.load_image(tmp_path / "m.png").pixels
    assert mask.shape[:2] == (40, 32) and mask.min() == 255  # threshold 0: everything is damage
    assert (tmp_path / "p.png").read_bytes() == before
