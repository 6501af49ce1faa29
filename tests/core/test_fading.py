"""core.fading: seeded faded prints and their targets."""

from __future__ import annotations

import numpy as np
import pytest

from restorer_gui.core import fading as F


def _photo(h=64, w=80, seed=3):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([0.5 + 0.4 * np.sin(x / 9), 0.5 + 0.4 * np.cos(y / 7), 0.5 + 0.4 * np.sin((x + y) / 11)], -1)
    noise = 0.03 * np.random.default_rng(seed).standard_normal((h, w, 3))
    return np.clip(base + noise, 0, 1).astype(np.float32)


def _sat(a):
    return float((a.max(axis=2) - a.min(axis=2)).mean())


def test_fade_print_is_seeded_and_shaped():
    img = _photo()
    a, ta = F.fade_print(img, np.random.default_rng(7))
    b, tb = F.fade_print(img, np.random.default_rng(7))
    c, _ = F.fade_print(img, np.random.default_rng(8))
    assert a.shape == ta.shape == img.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ta, tb)
    assert np.abs(a - c).mean() > 1e-3
    assert 0 <= a.min() and a.max() <= 1


def test_colour_print_target_is_the_photo_and_it_fades():
    img = _photo()
    for seed in range(6):
        faded, target = F.fade_print(img, np.random.default_rng(seed), 1.0, bw=False)
        np.testing.assert_array_equal(target, img)
        assert np.abs(faded - img).mean() > 0.02
        assert np.percentile(faded.mean(2), 2) > np.percentile(img.mean(2), 2)  # blacks lifted


def test_bw_print_target_is_neutral_gray_and_input_is_toned():
    img = _photo()
    faded, target = F.fade_print(img, np.random.default_rng(1), 1.0, bw=True)
    np.testing.assert_allclose(target[..., 0], target[..., 1])
    np.testing.assert_allclose(target[..., 1], target[..., 2])
    warm = faded[..., 0].mean() - faded[..., 2].mean()
    assert warm > 0.01  # sepia or yellowed paper: red above blue


def test_strength_zero_returns_the_target():
    img = _photo()
    faded, target = F.fade_print(img, np.random.default_rng(0), 0.0, bw=False)
    np.testing.assert_array_equal(faded, target)


def test_dye_fade_leaves_the_cast_of_the_dye_that_faded_most():
    gray = np.full((8, 8, 3), 0.2, np.float32)
    for first, channel in (("cyan", 0), ("magenta", 1), ("yellow", 2)):
        for seed in range(5):
            out = F.dye_fade(gray, np.random.default_rng(seed), 1.0, first)
            means = [float(out[..., i].mean()) for i in range(3)]
            assert int(np.argmax(means)) == channel and max(means) > 0.25, (first, seed, means)
    firsts = []
    for seed in range(200):  # cyan first most of the time
        out = F.dye_fade(gray, np.random.default_rng(seed), 1.0)
        firsts.append(int(np.argmax(out.reshape(-1, 3).mean(0))))
    assert 0.6 < firsts.count(0) / 200 < 0.8 and firsts.count(1) > 10 and firsts.count(2) > 10
    with pytest.raises(ValueError, match="unknown dye"):
        F.dye_fade(gray, np.random.default_rng(0), 1.0, "black")


def test_yellow_paper_and_veil():
    white = np.ones((4, 4, 3), np.float32)
    y = F.yellow_paper(white, np.random.default_rng(0), 1.0)
    assert y[..., 2].mean() < y[..., 0].mean() - 0.1
    black = np.zeros((4, 4, 3), np.float32)
    field = np.zeros((4, 4), np.float32)
    field[:, 2:] = 1.0
    v = F.veil(black, field, 0.5)
    assert v[:, :2].max() == 0 and np.allclose(v[:, 2:], 0.5)


def test_uneven_field_spans_zero_to_one_and_varies():
    f = F.uneven_field(50, 70, np.random.default_rng(4))
    assert f.shape == (50, 70) and f.min() == pytest.approx(0.0) and f.max() == pytest.approx(1.0)
    g = F.uneven_field(50, 70, np.random.default_rng(4))
    np.testing.assert_array_equal(f, g)


def test_saturation_drops_on_colour_prints_on_average():
    img = _photo()
    drops = [_sat(img) - _sat(F.fade_print(img, np.random.default_rng(s), 1.0, bw=False)[0]) for s in range(8)]
    assert np.mean(drops) > 0.02


def test_gray_and_uint8_inputs():
    g = (np.random.default_rng(0).random((20, 30)) * 255).astype(np.uint8)
    faded, target = F.fade_print(g, np.random.default_rng(0), bw=False)
    assert faded.shape == target.shape == (20, 30, 3)
    with pytest.raises(ValueError):
        F.fade_print(np.zeros((4, 4, 2)), np.random.default_rng(0))
