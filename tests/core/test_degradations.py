"""Tests for restorer_gui.core.degradations: determinism, shapes/ranges, noise statistics, mask geometry."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from restorer_gui.core import degradations as D


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def smooth_image(h: int = 128, w: int = 160, seed: int = 123) -> np.ndarray:
    """A deterministic natural-ish test image in [0.1, 0.9] with gradients and texture."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [0.5 + 0.3 * np.sin(x / 17.0), 0.5 + 0.3 * np.cos(y / 13.0), 0.5 + 0.3 * np.sin((x + y) / 23.0)], -1
    )
    tex = 0.05 * np.random.default_rng(seed).standard_normal((h, w, 1)).astype(np.float32)
    return np.clip(base + tex, 0.1, 0.9).astype(np.float32)


def neighbour_corr(n: np.ndarray) -> float:
    a, b = n[:, :-1].ravel(), n[:, 1:].ravel()
    return float(np.corrcoef(a, b)[0, 1])


def erode(b: np.ndarray, r: int) -> np.ndarray:
    """Binary erosion with a (2r+1)² square."""
    win = np.lib.stride_tricks.sliding_window_view(np.pad(b, r), (2 * r + 1, 2 * r + 1))
    return np.asarray(win.all(axis=(-1, -2)))


IMG = smooth_image()
H, W = IMG.shape[:2]
M = D.scratch_mask(H, W, rng(5), 6)

# name -> function(rng) returning an array or a tuple of arrays
CASES: dict[str, Callable[[np.random.Generator], object]] = {
    "gaussian": lambda r: D.add_gaussian_noise(IMG, 0.1, r),
    "poisson_gaussian": lambda r: D.add_poisson_gaussian_noise(IMG, r, 50.0, 0.02),
    "film_grain": lambda r: D.add_film_grain(IMG, r, 0.05, 1.2),
    "jpeg": lambda r: D.jpeg_compress(IMG, r),
    "mild_blur": lambda r: D.mild_blur(IMG, r, 1.5),
    "fade": lambda r: D.fade(IMG, r, 0.7),
    "color_cast": lambda r: D.color_cast(IMG, r, 0.8),
    "scratch_mask": lambda r: D.scratch_mask(H, W, r, 5),
    "dust_mask": lambda r: D.dust_mask(H, W, r, 30),
    "crease_mask": lambda r: D.crease_mask(H, W, r),
    "tear_mask": lambda r: D.tear_mask(H, W, r),
    "stain_mask": lambda r: D.stain_mask(H, W, r, 2),
    "apply_light": lambda r: D.apply_damage(IMG, M, r, "light"),
    "apply_stain": lambda r: D.apply_damage(IMG, M, r, "stain"),
    "thin_mask": lambda r: D.thin_mask(H, W, r),
    "medium_mask": lambda r: D.medium_mask(H, W, r),
    "wide_mask": lambda r: D.wide_mask(H, W, r),
    "age_photo": lambda r: D.age_photo(IMG, r),
    "degrade_for_denoising": lambda r: D.degrade_for_denoising(IMG, r, (5.0, 50.0)),
}


def _arrays(x: object) -> list[np.ndarray]:
    items = x if isinstance(x, tuple) else (x,)
    return [np.asarray(i) for i in items]


@pytest.mark.parametrize("name", list(CASES))
def test_seeded_determinism(name: str) -> None:
    f = CASES[name]
    a, b, c = _arrays(f(rng(1))), _arrays(f(rng(1))), _arrays(f(rng(2)))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, z) for x, z in zip(a, c, strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_dtype_shape_range(name: str) -> None:
    out = _arrays(CASES[name](rng(3)))[0]
    assert out.dtype == np.float32
    assert out.shape[:2] == (H, W)
    assert np.isfinite(out).all()
    if name not in ("gaussian", "poisson_gaussian", "film_grain", "degrade_for_denoising"):
        assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("shape", [(40, 50), (40, 50, 1), (40, 50, 3)])
def test_mono_and_2d_inputs_keep_shape(shape: tuple[int, ...]) -> None:
    img = np.full(shape, 0.5, np.float32)
    m = D.dust_mask(40, 50, rng(), 20, (2.0, 5.0))
    for out in (
        D.add_gaussian_noise(img, 0.1, rng()),
        D.add_poisson_gaussian_noise(img, rng(), 30.0, 0.01),
        D.add_film_grain(img, rng()),
        D.jpeg_compress(img, quality=50),
        D.mild_blur(img, rng()),
        D.fade(img, rng()),
        D.color_cast(img, rng(), 0.5, "sepia"),
        D.color_cast(img, rng(), 0.5, "magenta"),
        D.quantize_8bit(img),
        D.apply_damage(img, m, rng(), "dark"),
        D.age_photo(img, rng())[0],
        D.degrade_for_denoising(img, rng())[0],
    ):
        assert out.shape == shape and out.dtype == np.float32


def test_uint8_input_is_scaled() -> None:
    img = np.full((8, 8, 3), 255, np.uint8)
    np.testing.assert_allclose(D.quantize_8bit(img), 1.0)


def test_gaussian_noise_statistics() -> None:
    flat = np.full((512, 512, 3), 0.5, np.float32)
    sigma = 25 / 255
    noise = D.add_gaussian_noise(flat, sigma, rng()) - flat
    assert abs(noise.std() / sigma - 1) < 0.02
    assert abs(noise.mean()) < 1e-3
    assert abs(neighbour_corr(noise[..., 0])) < 0.02
    clipped = D.add_gaussian_noise(np.zeros((64, 64, 3), np.float32), 0.2, rng(), clip=True)
    assert clipped.min() == 0.0 and clipped.max() <= 1.0
    unclipped = D.add_gaussian_noise(np.zeros((64, 64, 3), np.float32), 0.2, rng())
    assert unclipped.min() < 0.0


def test_poisson_gaussian_variance_grows_with_intensity() -> None:
    peak, sigma = 40.0, 0.02
    variances = []
    for level in (0.1, 0.5, 0.9):
        flat = np.full((256, 256, 3), level, np.float32)
        out = D.add_poisson_gaussian_noise(flat, rng(), peak, sigma)
        assert abs(out.mean() - level) < 3e-3
        expected = level / peak + sigma**2
        assert abs(out.var() / expected - 1) < 0.05
        variances.append(out.var())
    assert variances[0] < variances[1] < variances[2]


def test_film_grain_is_correlated_and_calibrated() -> None:
    flat = np.full((384, 384, 1), 0.5, np.float32)
    grain = D.add_film_grain(flat, rng(), strength=0.05, grain_size=1.0) - flat
    assert neighbour_corr(grain[..., 0]) > 0.4
    assert abs(grain.std() / 0.05 - 1) < 0.05
    dark = D.add_film_grain(np.full((384, 384, 1), 0.02, np.float32), rng(), 0.05, 1.0) - 0.02
    assert dark.std() < 0.6 * grain.std()  # luminance-dependent
    rgb = np.full((128, 128, 3), 0.5, np.float32)
    g3 = D.add_film_grain(rgb, rng(), 0.05, 1.0, chroma=0.15) - rgb
    inter = np.corrcoef(g3[..., 0].ravel(), g3[..., 2].ravel())[0, 1]
    assert 0.8 < inter < 1.0  # mostly monochromatic, a little chroma


def test_jpeg_quality_order() -> None:
    img = smooth_image(128, 128)
    err = {q: np.abs(D.jpeg_compress(img, quality=q) - img).mean() for q in (30, 95)}
    assert err[30] > err[95] > 0
    np.testing.assert_array_equal(D.jpeg_compress(img, quality=70), D.jpeg_compress(img, quality=70))
    with pytest.raises(ValueError):
        D.jpeg_compress(img)


def test_blur_quantize_fade_cast() -> None:
    img = smooth_image()
    blurred = D.mild_blur(img, rng(), max_sigma=2.0, min_sigma=2.0)
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(img, axis=1)).mean()
    assert abs(blurred.mean() - img.mean()) < 1e-3
    q = D.quantize_8bit(img + 0.3)
    np.testing.assert_allclose(q * 255, np.round(q * 255), atol=1e-4)
    assert q.max() <= 1.0
    full = np.linspace(0, 1, 256, dtype=np.float32)[None, :, None].repeat(3, 2)
    faded = D.fade(full, rng(), 1.0)
    assert faded.min() > 0.05 and faded.max() - faded.min() < 0.95
    sep = D.color_cast(np.full((4, 4, 3), 0.5, np.float32), rng(), 1.0, "sepia")
    assert sep[0, 0, 0] > sep[0, 0, 1] > sep[0, 0, 2]  # warm tone
    yel = D.color_cast(np.full((4, 4, 3), 0.7, np.float32), rng(), 1.0, "yellow")
    assert yel[0, 0, 2] < yel[0, 0, 0]
    with pytest.raises(ValueError):
        D.color_cast(img, rng(), 0.5, "plaid")


@pytest.mark.parametrize(
    ("fn", "hole_range"),
    [(D.thin_mask, D.THIN_HOLE_RANGE), (D.medium_mask, D.MEDIUM_HOLE_RANGE), (D.wide_mask, D.WIDE_HOLE_RANGE)],
)
@pytest.mark.parametrize("size", [(256, 256), (192, 320)])
def test_inpainting_mask_fractions(fn: Callable, hole_range: tuple[float, float], size: tuple[int, int]) -> None:
    for seed in range(12):
        m = fn(*size, rng(seed))
        assert m.shape == size and m.dtype == np.float32
        assert set(np.unique(m)) <= {0.0, 1.0}
        assert hole_range[0] <= m.mean() <= hole_range[1], (seed, m.mean())


def test_inpainting_mask_order() -> None:
    means = [np.mean([f(256, 256, rng(s)).mean() for s in range(8)]) for f in (D.thin_mask, D.medium_mask, D.wide_mask)]
    assert means[0] < means[1] < means[2]
    assert D.THIN_HOLE_RANGE[1] <= D.MEDIUM_HOLE_RANGE[0] and D.MEDIUM_HOLE_RANGE[1] <= D.WIDE_HOLE_RANGE[0]


def test_scratch_widths_within_range() -> None:
    checked = 0
    for seed in range(10):
        thin = D.scratch_mask(256, 256, rng(seed), 1, (1.0, 2.5)) > 0.5
        assert thin.any() and not erode(thin, 2).any()  # nothing 5 px wide
        wide = D.scratch_mask(256, 256, rng(seed), 1, (5.0, 6.0)) > 0.5
        assert not erode(wide, 4).any()  # nothing 9 px wide
        if wide.sum() > 200:  # (skip scratches that are mostly outside the image)
            checked += 1
            assert erode(wide, 1).sum() > 0.2 * wide.sum()  # mostly at least 3 px wide
    assert checked >= 5


def test_scratches_mostly_vertical() -> None:
    m = D.scratch_mask(256, 256, rng(4), 12, (1.0, 3.0), vertical_fraction=1.0)
    gy, gx = np.abs(np.diff(m, axis=0)).sum(), np.abs(np.diff(m, axis=1)).sum()
    assert gx > 4 * gy


def test_damage_masks_are_plausible() -> None:
    h, w = 256, 256
    dust = D.dust_mask(h, w, rng(), 80)
    assert 0.001 < dust.mean() < 0.05
    crease = D.crease_mask(h, w, rng(), 1)
    assert 0.004 < crease.mean() < 0.08
    tear = D.tear_mask(h, w, rng(), 1, max_depth=0.2)
    assert 0.0005 < tear.mean() < 0.2
    stain = D.stain_mask(h, w, rng(), 2)
    assert stain.max() > 0.2 and ((stain > 0.02) & (stain < 0.98)).mean() > 0.01  # soft
    for m in (dust, crease, tear, stain):
        assert m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1
    assert not D.scratch_mask(h, w, rng(), 0).any()


@pytest.mark.parametrize("mode", D.DAMAGE_MODES)
def test_apply_damage_changes_only_masked_pixels(mode: str) -> None:
    img = np.full((96, 96, 3), 0.5, np.float32) + 0.1 * np.random.default_rng(9).random((96, 96, 3), np.float32)
    m = D.dust_mask(96, 96, rng(2), 40, (2.0, 6.0))
    if mode == "stain":
        m = D.stain_mask(96, 96, rng(2), 2)
    out = D.apply_damage(img, m, rng(), mode)
    outside = m == 0
    np.testing.assert_array_equal(out[outside], img[outside])
    core = m > (0.1 if mode == "stain" else 0.9)
    assert core.any() and (np.abs(out - img).max(axis=-1)[core] > 0.01).mean() > 0.95
    lum_in, lum_out = out[core].mean(), img[core].mean()
    if mode == "light":
        assert lum_in > lum_out + 0.2
    if mode in ("dark", "stain"):
        assert lum_in < lum_out
    with pytest.raises(ValueError):
        D.apply_damage(img, m[:10], rng(), mode)


def test_apply_damage_empty_mask_is_identity() -> None:
    out = D.apply_damage(IMG, np.zeros((H, W), np.float32), rng(), "light")
    np.testing.assert_array_equal(out, IMG)


def test_age_photo_mask_marks_largest_changes() -> None:
    img = smooth_image(384, 384)
    hits = 0
    for seed in range(4):
        aged, mask = D.age_photo(img, rng(seed), strength=1.0)
        assert aged.shape == img.shape and mask.shape == (384, 384)
        diff = np.abs(aged - img).mean(axis=-1)
        damaged = mask > 0.5
        if damaged.sum() < 20:
            continue
        hits += 1
        # the tone changes shift everything a bit; the damage stands out against the local median change
        assert diff[damaged].mean() > diff[mask == 0].mean() + 0.1
    assert hits >= 3


def test_degrade_for_denoising_level() -> None:
    flat = np.full((128, 128, 3), 0.5, np.float32)
    for seed in range(6):
        noisy, sigma = D.degrade_for_denoising(flat, rng(seed), (25.0, 25.0))
        assert sigma == 25.0 and noisy.dtype == np.float32
        ratio = (noisy - flat).std() * 255 / sigma
        assert 0.5 < ratio < 1.3, (seed, ratio)
    _, s = D.degrade_for_denoising(flat, rng(1), (0.0, 50.0))
    assert 0.0 <= s <= 50.0


def test_core_imports_only_numpy_and_pillow() -> None:
    code = (
        "import sys, restorer_gui.core.degradations\n"
        "bad = [m for m in ('PySide6', 'torch', 'scipy', 'cv2', 'skimage') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


ROOT = Path(__file__).resolve().parents[2]


def test_sample_photo_resources() -> None:
    from PIL import Image

    photo, mask_path = ROOT / "resources" / "sample_photo.jpg", ROOT / "resources" / "sample_photo_mask.png"
    assert photo.stat().st_size < 300_000
    with Image.open(photo) as im, Image.open(mask_path) as mk:
        assert im.format == "JPEG" and im.mode == "RGB" and 512 <= max(im.size) <= 800
        assert mk.size == im.size
        m = np.asarray(mk.convert("L"))
    assert set(np.unique(m)) <= {0, 255} and 0.01 < (m > 0).mean() < 0.2


def test_sample_photo_script_is_reproducible(tmp_path: Path) -> None:
    pytest.importorskip("skimage")
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_sample_photo.py"), "--out-dir", str(tmp_path)], check=True
    )
    for name in ("sample_photo.jpg", "sample_photo_mask.png"):
        assert (tmp_path / name).read_bytes() == (ROOT / "resources" / name).read_bytes()
