"""Recipes as plain data, and grain laid into fills."""

import numpy as np
import pytest

from restorer_gui.core.grain import transfer_grain
from restorer_gui.core.recipe import Recipe, RecipeError, Step, parse_steps


def test_recipe_round_trip_and_errors():
    r = parse_steps("repair, denoise", {"denoise": {"auto": True}})
    assert r.names == ["repair", "denoise"] and r.steps[1].params == {"auto": True}
    assert Recipe.from_json(r.to_json()) == r
    for bad in ("", "repair,,denoise", "Re pair"):
        with pytest.raises(RecipeError):
            parse_steps(bad)
    for text in ("{", "[]", '{"format": "restorer-recipe", "version": 9, "steps": []}',
                 '{"format": "restorer-recipe", "version": 1, "steps": [3]}'):
        with pytest.raises(RecipeError):
            Recipe.from_json(text)
    with pytest.raises(RecipeError):
        Step("denoise", {"strength": object()})


def _grainy(h=160, w=160, sigma=12.0, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(80, 170, w)[None, :, None].repeat(h, 0).repeat(3, 2)
    return np.clip(base + sigma * rng.standard_normal((h, w, 3)), 0, 255).astype(np.uint8)


def test_grain_matches_the_neighbourhood_and_keeps_the_rest():
    src = _grainy()
    mask = np.zeros(src.shape[:2], np.uint8)
    mask[60:100, 40:120] = 255
    smooth = src.copy()
    from restorer_gui.core.degradations import gaussian_blur

    smooth[mask > 0] = np.rint(gaussian_blur(src.astype(np.float32), 6.0)[mask > 0]).astype(np.uint8)
    out = transfer_grain(smooth, src, mask)
    np.testing.assert_array_equal(out[mask == 0], src[mask == 0])
    hp = lambda a: a.astype(np.float32) - gaussian_blur(a.astype(np.float32), 1.2)  # noqa: E731
    truth = hp(src)[mask > 0].std()
    assert hp(smooth)[mask > 0].std() < 0.3 * truth  # the fill was a grainless smear
    assert 0.8 * truth < hp(out)[mask > 0].std() < 1.2 * truth  # now it carries the local grain
    assert abs(out[mask > 0].astype(float).mean() - smooth[mask > 0].astype(float).mean()) < 2.0  # same tone
    assert np.array_equal(transfer_grain(smooth, src, mask), out)  # deterministic
    with pytest.raises(ValueError):
        transfer_grain(smooth, src, mask[:10])
