"""Fix fading and colour: the enhancement arch, the operation, its command and its chain step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restorer_gui import paths
from restorer_gui.core import imageio
from restorer_gui.core.errors import RestorerError
from restorer_gui.core.recipe import Recipe, Step
from restorer_gui.inference import archs, ops
from restorer_gui.inference.chain import run_chain
from tests.tiny_enhancer import TINY, save_enhancer

@pytest.fixture
def enhancer():
    return save_enhancer(paths.user_models_dir())


def _photo(h=70, w=90, seed=0, dtype=np.uint8, c=3):
    rng = np.random.default_rng(seed)
    top = 65535 if dtype == np.uint16 else 255
    a = rng.integers(int(top * 0.2), int(top * 0.8), (h, w, c)).astype(dtype)
    return a[..., 0] if c == 1 else a


def _run(image, mask=None, **params):
    models = ops.ModelSet("cpu")
    return run_chain(image, Recipe((Step("enhance", params),)), models, mask=mask).image


def test_the_arch_is_the_identity_untrained_and_resolution_free():
    net = archs.build("enhance_curves", **TINY).eval()
    x = torch.rand(1, 3, 45, 77)
    with torch.no_grad():
        np.testing.assert_allclose(net(x), x, atol=1e-4)  # the curves' table: 1e-4
        with torch.enable_grad():  # the exact curves (training)
            np.testing.assert_allclose(net(x).detach(), x, atol=1e-6)
        small = archs.build("enhance_curves", **TINY)
        assert small(torch.rand(2, 3, 20, 24)).shape == (2, 3, 20, 24)


def test_curves_are_monotone_and_the_table_matches_them():
    torch.manual_seed(1)
    net = archs.build("enhance_curves", **TINY)
    with torch.no_grad():
        for head in (net.curve_head, net.local_head):
            head.weight.normal_(0, 0.5)
            head.bias.normal_(0, 0.5)
        p = net.predict(net.thumbnail(torch.rand(1, 3, 64, 64)))
        assert (p["curves"].diff(dim=2) > 0).all()
        v = torch.rand(1, 3, 30, 30)
        np.testing.assert_allclose(net._curves_lut(v, p["curves"]), net._curves(v, p["curves"]), atol=2e-4)


def test_no_model_installed_says_so():
    with pytest.raises(RestorerError, match="no enhance model is installed"):
        _run(_photo())


def test_enhance_changes_the_photo_and_strength_blends(enhancer):
    img = _photo()
    full = _run(img)
    assert full.shape == img.shape and full.dtype == np.uint8
    assert np.abs(full.astype(int) - img).mean() > 2
    np.testing.assert_array_equal(_run(img, strength=0.0), img)
    half = _run(img, strength=50.0).astype(float)
    expected = (img.astype(float) + full) / 2
    assert np.abs(half - expected).max() <= 1.01


def test_inside_the_mask_only(enhancer):
    img = _photo()
    mask = np.zeros(img.shape[:2], np.uint8)
    mask[10:30, 20:60] = 255
    out = _run(img, mask=mask, inside_mask=True)
    np.testing.assert_array_equal(out[mask == 0], img[mask == 0])
    assert np.abs(out[mask > 0].astype(int) - img[mask > 0]).mean() > 2
    np.testing.assert_array_equal(_run(img, inside_mask=True), img)  # nothing painted: nothing changes


def test_a_region_comes_out_as_inside_the_whole_photo(enhancer):
    from restorer_gui.inference.ops import enhance as op

    img = _photo(300, 260)
    models = ops.ModelSet("cpu")
    model = models.get(op.TASKS)
    whole = op.enhance(img, model, 80.0)
    params = op.predict(img, model)
    part = op.enhance(img, model, 80.0, box=(30, 270, 200, 300), params=params)
    np.testing.assert_array_equal(part, whole[270:300, 30:200])


def test_sixteen_bit_gray_and_alpha_are_kept(enhancer):
    rgb16 = _photo(dtype=np.uint16)
    out = _run(rgb16)
    assert out.dtype == np.uint16 and np.abs(out.astype(float) - rgb16).mean() > 300
    gray = _photo(c=1)
    assert _run(gray).shape == gray.shape
    rgba = _photo(c=4)
    out = _run(rgba)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])


def test_strength_out_of_range_is_refused():
    from restorer_gui.core.recipe import RecipeError

    with pytest.raises(RecipeError, match="between 0 and 100"):
        ops.get("enhance").parse({"strength": 150})


def test_enhance_sits_between_denoise_and_upscale_in_the_chain():
    steps = ops.CHAIN_STEPS
    assert steps.index("repair") < steps.index("denoise") < steps.index("enhance") < steps.index("upscale")
    assert ops.for_model_task("enhance") is ops.OPERATIONS["enhance"]
