"""`restorer enhance` and the enhance step of `restorer restore`."""

from __future__ import annotations

import numpy as np

from restorer_gui import paths
from restorer_gui.core import imageio
from tests.inference.test_enhance import _photo, _run
from tests.tiny_enhancer import save_enhancer


def test_restore_enhance_command_and_chain(cli, tmp_path):
    save_enhancer(paths.user_models_dir())
    src = tmp_path / "in.png"
    imageio.save_image(src, _photo())
    code, out, err = cli("enhance", src, "-o", tmp_path / "a.png", "--device", "cpu")
    assert code == 0, err
    assert "in.png: enhance: fading and colour fixed with tiny-enh at 100 %" in out
    a = imageio.load_image(tmp_path / "a.png").pixels
    np.testing.assert_array_equal(a, _run(_photo()))
    code, _, err = cli("enhance", src, "-o", tmp_path / "b.png", "--strength", "0")
    assert code == 0, err
    np.testing.assert_array_equal(imageio.load_image(tmp_path / "b.png").pixels, _photo())
    code, _, err = cli("restore", src, "-o", tmp_path / "c.png", "--steps", "enhance")
    assert code == 0, err
    np.testing.assert_array_equal(imageio.load_image(tmp_path / "c.png").pixels, a)


def test_enhance_command_without_a_model_or_with_a_bad_strength(cli, tmp_path):
    src = tmp_path / "in.png"
    imageio.save_image(src, _photo())
    code, _, err = cli("enhance", src, "-o", tmp_path / "a.png")
    assert code == 2 and "no enhance model is installed" in err
    assert not (tmp_path / "a.png").exists()
    save_enhancer(paths.user_models_dir())
    code, _, err = cli("enhance", src, "-o", tmp_path / "a.png", "--strength", "120")
    assert code == 2 and "between 0 and 100" in err


def test_eval_enhance_without_a_model_says_so(cli, tmp_path):
    code, _, err = cli("eval", "enhance", "--out", tmp_path / "eval")
    assert code == 2 and "no enhance model is installed" in err
