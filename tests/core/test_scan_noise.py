"""Scan noise (#19): seeded, and its statistics are the ones real scans have."""

import numpy as np
import pytest

from restorer_gui.core.scan_noise import KINDS, POSTS, blurred_std_factor, degrade_scan, grain_profile


def _photo(seed=0, h=96, w=112):
    rng = np.random.default_rng(seed)
    return np.clip(np.cumsum(rng.normal(0, 0.03, (h, w, 3)), axis=1) + 0.5, 0, 1).astype(np.float32)


def _lag1(noise: np.ndarray) -> float:
    """Correlation of horizontally neighbouring noise values."""
    n = noise - noise.mean()
    return float((n[:, 1:] * n[:, :-1]).mean() / n.var())


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_seed_gives_the_same_scan_and_another_seed_another(kind):
    a = degrade_scan(_photo(), np.random.default_rng(3), kind=kind, sigma=20)
    b = degrade_scan(_photo(), np.random.default_rng(3), kind=kind, sigma=20)
    c = degrade_scan(_photo(), np.random.default_rng(4), kind=kind, sigma=20)
    assert np.array_equal(a.noisy, b.noisy) and np.array_equal(a.sigma_map, b.sigma_map)
    assert (a.kind, a.grain_size, a.blur, a.post) == (b.kind, b.grain_size, b.blur, b.post)
    assert not np.array_equal(a.noisy, c.noisy)
    assert a.noisy.shape == a.clean.shape == (96, 112, 3) and a.sigma_map.shape == (96, 112)
    assert a.noisy.dtype == a.sigma_map.dtype == np.float32


def test_random_draws_cover_every_kind_and_ending_and_stay_in_range():
    seen_kinds, seen_posts = set(), set()
    for seed in range(60):
        scan = degrade_scan(_photo(h=24, w=24), np.random.default_rng(seed), (0.0, 60.0))
        seen_kinds.add(scan.kind)
        seen_posts.add(scan.post)
        assert 0.0 <= scan.sigma <= 60.0
        assert scan.blur == 0.0 or 0.3 <= scan.blur <= 1.0
        if scan.kind in ("correlated", "film_grain"):
            assert 0.5 <= scan.grain_size <= 1.5
        if scan.post in ("jpeg", "8bit"):
            assert np.allclose(scan.noisy * 255, np.round(scan.noisy * 255), atol=1e-3)
    assert seen_kinds == set(KINDS) and seen_posts == set(POSTS)


def test_correlated_grain_is_correlated_and_white_noise_is_not():
    flat = np.full((256, 256, 3), 0.5, np.float32)
    rng = np.random.default_rng
    white = degrade_scan(flat, rng(0), kind="gaussian", sigma=20, blur=0.0, post="none")
    grain = degrade_scan(flat, rng(0), kind="correlated", sigma=20, grain_size=1.0, blur=0.0, post="none")
    fine = degrade_scan(flat, rng(0), kind="correlated", sigma=20, grain_size=0.5, blur=0.0, post="none")
    assert abs(_lag1(white.noisy - white.clean)) < 0.03
    assert _lag1(grain.noisy - grain.clean) > 0.6  # a 1-px Gaussian correlation: exp(-1/4) ≈ 0.78
    assert 0.1 < _lag1(fine.noisy - fine.clean) < _lag1(grain.noisy - grain.clean)
    # the scanner's blur correlates even white grain, and it is in the map as a lower level
    blurred = degrade_scan(flat, rng(0), kind="correlated", sigma=20, grain_size=0.5, blur=1.0, post="none")
    assert _lag1(blurred.noisy - blurred.clean) > _lag1(fine.noisy - fine.clean) + 0.2


def test_film_grain_is_stronger_in_the_mid_tones():
    ramp = np.repeat(np.linspace(0.0, 1.0, 512, dtype=np.float32)[None, :, None], 256, axis=0).repeat(3, axis=2)
    scan = degrade_scan(ramp, np.random.default_rng(1), kind="film_grain", sigma=20, blur=0.0, post="none")
    noise = (scan.noisy - scan.clean).mean(axis=2)
    dark, mid, light = noise[:, 10:60].std(), noise[:, 231:281].std(), noise[:, 452:502].std()
    assert mid > 1.4 * dark and mid > 1.4 * light
    assert scan.sigma_map[:, 256].mean() > 1.4 * scan.sigma_map[:, 20].mean()
    # white noise has no such profile
    white = degrade_scan(ramp, np.random.default_rng(1), kind="gaussian", sigma=20, blur=0.0, post="none")
    wn = (white.noisy - white.clean).mean(axis=2)
    assert 0.85 < wn[:, 231:281].std() / wn[:, 10:60].std() < 1.15
    assert grain_profile(np.array([0.0, 0.5, 1.0]), 0.4).tolist() == pytest.approx([0.4, 1.0, 0.4])


@pytest.mark.parametrize(("kind", "size", "blur"), [("gaussian", 0, 0.0), ("gaussian", 0, 0.8),
                                                     ("poisson_gaussian", 0, 0.5), ("correlated", 1.2, 0.0),
                                                     ("correlated", 0.7, 0.9), ("film_grain", 1.0, 0.6)])
def test_the_map_is_the_noise_std_in_the_final_picture(kind, size, blur):
    """On a flat grey the map is the measured std of the noise after the grain's correlation and the blur,
    and it is the nominal level there (the std at mid-grey)."""
    flat = np.full((256, 256, 3), 0.5, np.float32)
    scan = degrade_scan(flat, np.random.default_rng(2), kind=kind, sigma=25, grain_size=size, blur=blur,
                        post="none")
    measured = float((scan.noisy - scan.clean)[16:-16, 16:-16].std() * 255)
    assert float(scan.sigma_map.mean()) == pytest.approx(measured, rel=0.05)
    assert measured == pytest.approx(25, rel=0.1)  # extra sensor noise can add up to ~4 %


def test_blur_factor_of_white_and_correlated_noise():
    assert blurred_std_factor(0.0, 0.0) == pytest.approx(1.0)
    assert blurred_std_factor(1.0, 0.0) == pytest.approx(1.0)
    assert blurred_std_factor(0.0, 1.0) < blurred_std_factor(1.5, 1.0) < 1.0  # coarse grain loses less


def test_gray_and_bad_arguments():
    gray = degrade_scan(_photo()[..., 0], np.random.default_rng(0), kind="film_grain", sigma=10)
    assert gray.noisy.shape == (96, 112) and gray.sigma_map.shape == (96, 112)
    with pytest.raises(ValueError, match="unknown noise kind"):
        degrade_scan(_photo(), np.random.default_rng(0), kind="speckle")
    with pytest.raises(ValueError, match="unknown post"):
        degrade_scan(_photo(), np.random.default_rng(0), post="png")
