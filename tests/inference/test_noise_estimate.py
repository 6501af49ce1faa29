"""Denoise ▸ Auto with a learned noise estimator (#19), its fallback, and keep grain."""

import numpy as np
import pytest
import torch

from restorer_gui import paths
from restorer_gui.core.recipe import Recipe, RecipeError, Step
from restorer_gui.inference import loader, noise_level, ops
from restorer_gui.inference.chain import run_chain
from restorer_gui.inference.ops.denoise import DenoiseParams, denoise, estimate_noise_sigma, keep_grain
from tests.noise_estimators import save_estimator
from tests.tiny_models import save_model


@pytest.fixture
def denoiser():
    save_model(paths.user_models_dir(), "tiny-den", "denoise", untrained=False)
    return "tiny-den"


def _noisy(seed=0, h=120, w=136, sigma=12.0, c=3):
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.normal(0, 2, (h, w, c)), axis=1) + 128
    return np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)


def _auto(image, **params):
    result = run_chain(image, Recipe((Step("denoise", {"auto": True, **params}),)), ops.ModelSet("cpu"))
    return result, result.steps[0].result.info


def test_the_estimator_loads_from_safetensors_and_maps_every_pixel():
    save_estimator(paths.user_models_dir(), "est", seed=1)
    model = loader.load_model("est", "cpu")
    assert model.task == "noise-estimate" and model.architecture == "noise_estimator"
    for image in (_noisy(h=97, w=131), _noisy(h=97, w=131)[..., 0], (_noisy(h=40, w=56).astype(np.uint16) * 257)):
        level = noise_level.noise_map(image, model)
        assert level.shape == image.shape[:2] and level.dtype == np.float32
        assert np.isfinite(level).all() and level.min() >= 0.0 and level.max() <= 255.0
    # a map is a map, not a picture: one channel whatever the photo's
    out = model(torch.rand(2, 3, 24, 40))
    assert out.shape == (2, 1, 24, 40)


def test_a_constant_estimator_maps_its_level_and_auto_reads_it(denoiser):
    save_estimator(paths.user_models_dir(), "est", level=18.0)
    model = loader.load_model("est", "cpu")
    assert noise_level.noise_map(_noisy(), model) == pytest.approx(18.0, abs=0.01)
    result, info = _auto(_noisy())
    assert info["sigma"] == pytest.approx(18.0, abs=0.01) and info["estimator"] == "est" and info["auto"]
    assert "σ≈18.0" in result.steps[0].result.label


def test_auto_reads_the_cards_scale(denoiser):
    save_estimator(paths.user_models_dir(), "est", level=10.0, auto={"quantile": 0.5, "scale": 1.5})
    assert _auto(_noisy())[1]["sigma"] == pytest.approx(15.0, abs=0.01)


def test_without_an_estimator_auto_falls_back_to_the_laplacian(denoiser):
    image = _noisy()
    _, info = _auto(image)
    assert info["estimator"] == "laplacian"
    assert info["sigma"] == pytest.approx(round(estimate_noise_sigma(image), 2))
    assert abs(info["sigma"] - 18.0) > 1  # so the constant estimator's 18 above is the estimator's doing


def test_an_untrained_estimator_is_not_used(denoiser):
    save_estimator(paths.user_models_dir(), "est", level=18.0, untrained=True)
    assert _auto(_noisy())[1]["estimator"] == "laplacian"


def test_a_fixed_strength_does_not_load_the_estimator(denoiser):
    save_estimator(paths.user_models_dir(), "est", level=18.0)
    models = ops.ModelSet("cpu")
    result = run_chain(_noisy(), Recipe((Step("denoise", {"strength": 7}),)), models)
    assert result.steps[0].result.info["sigma"] == 7 and "estimator" not in result.steps[0].result.info
    assert models.loads == 1


def test_auto_reads_at_most_sixteen_blocks_of_a_large_photo():
    save_estimator(paths.user_models_dir(), "est", level=5.0)
    model = loader.load_model("est", "cpu")
    seen = []
    model.module.head.register_forward_pre_hook(lambda _m, inputs: seen.append(inputs[0].shape))
    sigma = noise_level.learned_sigma(np.zeros((1500, 2100, 3), np.uint8), model)
    assert sigma == pytest.approx(5.0, abs=0.01)
    assert sum(s[0] * s[2] * s[3] for s in seen) == 16 * 256 * 256


@pytest.mark.parametrize(("card", "expected"), [
    ({}, (0.9, 1.0)),
    ({"auto": {"quantile": 0.75, "scale": 1.2}}, (0.75, 1.2)),
    ({"auto": {"quantile": 5, "scale": "x"}}, (0.9, 1.0)),
    ({"auto": {"quantile": float("nan"), "scale": -1}}, (0.9, 1.0)),
    ({"auto": {"quantile": True, "scale": 1e9}}, (0.9, 1.0)),
    ({"auto": [1, 2]}, (0.9, 1.0)),
])
def test_auto_settings_from_the_card_ignore_hostile_values(card, expected):
    assert noise_level.auto_settings(card) == expected


def test_keep_grain_zero_is_the_denoised_photo_and_hundred_the_photo(denoiser):
    image = _noisy(3)
    plain = denoise(image, loader.load_model("tiny-den", "cpu"), sigma=20)
    assert not np.array_equal(plain, image)
    outs = {}
    for keep in (0, 50, 100):
        result = run_chain(image, Recipe((Step("denoise", {"strength": 20, "keep_grain": keep}),)),
                           ops.ModelSet("cpu"))
        outs[keep] = result.image
        assert result.steps[0].result.info["keep_grain"] == keep
    assert np.array_equal(outs[0], plain)
    assert np.array_equal(outs[100], image)
    half = (plain.astype(np.float32) + image) / 2
    assert np.abs(outs[50] - half).max() <= 0.5 and not np.array_equal(outs[50], plain)


def test_keep_grain_keeps_alpha_sixteen_bits_and_the_mask():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 65536, (20, 24, 4), dtype=np.uint16)
    flat = photo.copy()
    flat[..., :3] = 30000
    mixed = keep_grain(photo, flat, 25)
    assert mixed.dtype == np.uint16 and np.array_equal(mixed[..., 3], photo[..., 3])
    expected = 30000 + 0.25 * (photo[..., :3].astype(np.float64) - 30000)
    assert np.abs(mixed[..., :3] - expected).max() <= 0.5
    with pytest.raises(ValueError, match="same size"):
        keep_grain(photo, flat[:-1], 25)


def test_keep_grain_leaves_pixels_outside_the_mask_alone(denoiser):
    image = _noisy(4)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[30:70, 40:90] = 255
    result = run_chain(image, Recipe((Step("denoise", {"strength": 25, "keep_grain": 40, "inside_mask": True}),)),
                       ops.ModelSet("cpu"), mask=mask)
    assert np.array_equal(result.image[mask == 0], image[mask == 0])
    assert not np.array_equal(result.image[mask > 0], image[mask > 0])


def test_keep_grain_is_checked_and_round_trips_through_a_recipe():
    op = ops.get("denoise")
    for bad in (-1, 100.5):
        with pytest.raises(RecipeError, match="keep grain must be between 0 and 100"):
            op.parse({"keep_grain": bad})
    with pytest.raises(RecipeError, match="keep_grain must be float"):
        op.parse({"keep_grain": "some"})
    recipe = Recipe((Step.of("denoise", DenoiseParams(auto=True, keep_grain=30)),))
    again = Recipe.from_json(recipe.to_json())
    params = op.parse(again.steps[0].params)
    assert params == DenoiseParams(auto=True, keep_grain=30.0)
    assert op.parse({}).keep_grain == 0.0  # recipes written before keep grain mean none kept


def test_run_model_says_what_a_noise_estimator_is_for():
    from restorer_gui.core.errors import RestorerError

    save_estimator(paths.user_models_dir(), "est", level=18.0)
    with pytest.raises(RestorerError, match="is a noise estimator: it makes no picture"):
        run_chain(_noisy(), Recipe((Step("run-model", {"model": "est"}),)), ops.ModelSet("cpu"))
