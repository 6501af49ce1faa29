"""`--keep-grain` on denoise, restore and batch, and Auto's estimator named on stdout (#19)."""

import json

import numpy as np
from PIL import Image

from restorer_gui import paths
from tests.noise_estimators import save_estimator
from tests.tiny_models import save_model


def _photo(path, seed=0):
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.normal(0, 2, (48, 56, 3)), axis=1) + 128
    Image.fromarray(np.clip(base + rng.normal(0, 15, base.shape), 0, 255).astype(np.uint8)).save(path)
    return path


def _pixels(path):
    return np.asarray(Image.open(path))


def test_keep_grain_hundred_gives_the_photo_and_zero_the_plain_denoise(cli, tmp_path):
    save_model(paths.user_models_dir(), "tiny-den", "denoise", untrained=False)
    src = _photo(tmp_path / "in.png")
    outs = {}
    for keep in (None, 0, 100):
        out = tmp_path / f"out-{keep}.png"
        args = ["denoise", src, "-o", out, "--strength", 20] + ([] if keep is None else ["--keep-grain", keep])
        code, stdout, _ = cli(*args)
        assert code == 0
        outs[keep] = _pixels(out)
        if keep == 100:
            assert "100 % grain kept" in stdout
    assert np.array_equal(outs[0], outs[None]) and not np.array_equal(outs[0], _pixels(src))
    assert np.array_equal(outs[100], _pixels(src))


def test_keep_grain_out_of_range_is_a_usage_error(cli, tmp_path):
    save_model(paths.user_models_dir(), "tiny-den", "denoise", untrained=False)
    src = _photo(tmp_path / "in.png")
    for command in (["denoise", src, "-o", tmp_path / "o.png"], ["restore", src, "-o", tmp_path / "o.png"]):
        code, _, err = cli(*command, "--keep-grain", 120)
        assert code == 2 and "--keep-grain must be between 0 and 100" in err
        assert not (tmp_path / "o.png").exists()


def test_restore_auto_names_the_estimator_and_batch_writes_keep_grain_into_its_recipe(cli, tmp_path):
    save_model(paths.user_models_dir(), "tiny-den", "denoise", untrained=False)
    save_estimator(paths.user_models_dir(), "tiny-noise", level=18.0)
    src = _photo(tmp_path / "in.png")
    code, stdout, _ = cli("restore", src, "-o", tmp_path / "r.png", "--steps", "denoise", "--keep-grain", 25)
    assert code == 0 and "at σ 18.0 (auto, tiny-noise), 25 % grain kept" in stdout
    folder = tmp_path / "scans"
    folder.mkdir()
    _photo(folder / "a.png")
    code, stdout, _ = cli("batch", folder, tmp_path / "done", "--auto", "--keep-grain", 40)
    assert code == 0
    log = next(line.split(": ", 1)[1] for line in stdout.splitlines() if line.startswith("Log: "))
    start = json.loads(open(log, encoding="utf-8").readline())
    assert start["recipe"]["steps"] == [{"op": "denoise", "params": {"strength": None, "auto": True,
                                                                      "keep_grain": 40.0}}]
    # the kept grain is in the written photo: a batch with all of it kept writes the photo itself
    code, _, _ = cli("batch", folder, tmp_path / "kept", "--strength", 30, "--keep-grain", 100)
    assert code == 0 and np.array_equal(_pixels(tmp_path / "kept" / "a.png"), _pixels(folder / "a.png"))
