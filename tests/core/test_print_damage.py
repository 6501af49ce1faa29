"""Print damage: seeded, each kind visible where its mask says, rims included, nothing else touched."""

import numpy as np
import pytest

from restorer_gui.core import print_damage as pd


def _photo(h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.3 + 0.4 * xx, 0.4 + 0.2 * yy, 0.5 - 0.2 * xx], -1)
    return np.clip(base + 0.02 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


@pytest.mark.parametrize("kind", pd.PRINT_DAMAGE_KINDS)
def test_each_kind_is_seeded_and_marks_what_it_changes(kind):
    img = _photo()
    a, ma = pd.damage_print(img, np.random.default_rng(3), 1.5, 1.0, kinds=(kind,), scan=False)
    b, mb = pd.damage_print(img, np.random.default_rng(3), 1.5, 1.0, kinds=(kind,), scan=False)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)
    assert a.shape == img.shape and ma.shape == img.shape[:2] and a.dtype == np.float32
    assert 0.0 <= ma.min() and ma.max() <= 1.0
    # (without the scan step) the mask is exactly what a person would see changed by the damage itself;
    # fading and casts change every pixel but are not damage, so compare against the toned print
    if ma.max() > 0:
        assert (ma > 0.5).sum() >= 3


def test_damage_lands_in_the_mask_and_clean_pixels_stay_close():
    img = _photo(128, 128, 1)
    out, mask = pd.damage_print(img, np.random.default_rng(7), 2.0, 1.0,
                                kinds=("crack_web", "dust", "flaking"), scan=False)
    assert mask.mean() > 0.005
    changed = np.abs(out - img).max(axis=2)
    # inside the damage the change is large; outside it is at most the fading and colour cast's
    assert changed[mask > 0.9].mean() > changed[mask == 0].mean() + 0.05


def test_paint_damage_rim_is_in_the_mask_and_untouched_pixels_are_identical():
    img = _photo(64, 64, 2)
    m = np.zeros((64, 64), np.float32)
    m[30:34, 10:54] = 1.0
    out, vis = pd.paint_damage(img, m, np.random.default_rng(0), "white", 1.0, rim=0.4, rim_width=1.5)
    rim = pd.rim_of(m, 1.5) > 0.2
    assert vis[rim].mean() > 0.5  # the dark halo counts as damage
    assert vis[30:34, 12:52].min() > 0.5
    far = np.ones((64, 64), bool)
    far[20:44, :] = False
    np.testing.assert_array_equal(out[far], img[far])


def test_invisible_damage_is_not_marked():
    white = np.full((48, 48, 3), pd.DAMAGE_COLOURS["white"][0], np.float32)
    m = np.zeros((48, 48), np.float32)
    m[10:20, 10:20] = 1
    out, vis = pd.paint_damage(white, m, np.random.default_rng(0), "white", 0.3)
    assert vis.max() < 1.0 and vis.mean() < 0.01  # white on white: a person sees (almost) nothing


def test_print_border_is_never_damage_and_unknown_kinds_fail():
    img = _photo()
    out = pd.print_border(img, np.random.default_rng(0))
    assert not np.array_equal(out, img)
    _, mask = pd.damage_print(img, np.random.default_rng(0), 0.0, 1.0, kinds=(), scan=True)
    assert mask.max() == 0.0
    with pytest.raises(ValueError):
        pd.damage_print(img, np.random.default_rng(0), kinds=("volcano",))


def test_craquelure_follows_cell_edges():
    m = pd.craquelure_mask(96, 96, np.random.default_rng(0), (12.0, 14.0), (1.0, 1.2), coverage=1.0)
    assert 0.02 < (m > 0.5).mean() < 0.4  # thin lines, not blobs


def test_truth_is_the_same_scan_without_the_damage():
    img = _photo(96, 96, 4)
    out, mask, truth = pd.damage_print(img, np.random.default_rng(11), 1.5, 1.0, kinds=("crack_web", "dust"),
                                       with_truth=True)
    far = mask == 0
    assert np.abs(out[far] - truth[far]).mean() < 0.01  # same grain and noise where nothing broke
    assert np.abs(out[mask > 0.9] - truth[mask > 0.9]).mean() > 0.05
