import gc
import weakref

import pytest
import torch

from restorer_gui.inference import loader
from restorer_gui.inference.device import DeviceError
from tests.tiny_models import save_model


def test_models_are_in_eval_mode_without_gradients_in_fp32_on_cpu(tmp_path):
    model = loader.load_model(save_model(tmp_path, "d", "denoise"), "cpu")
    assert model.task == "denoise" and model.device == torch.device("cpu") and model.dtype == torch.float32
    assert not model.module.training
    assert all(not p.requires_grad for p in model.module.parameters())
    assert model.info.untrained and "untrained" in model.info.label
    y = model(torch.rand(1, 3, 20, 20), sigma=10)
    assert y.shape == (1, 3, 20, 20) and not y.requires_grad


def test_gray_input_runs_through_an_rgb_model(tmp_path):
    model = loader.load_model(save_model(tmp_path, "d", "denoise"), "cpu")
    assert model(torch.rand(1, 1, 16, 16)).shape == (1, 1, 16, 16)


def test_the_cache_reuses_a_model_and_frees_it_when_switching(tmp_path):
    a = save_model(tmp_path, "a", "denoise")
    b = save_model(tmp_path, "b", "inpaint")
    cache = loader.ModelCache(capacity=1)
    first = cache.get(a, "cpu")
    assert cache.get(a, "cpu") is first
    ref = weakref.ref(first.module)
    del first
    other = cache.get(b, "cpu")
    gc.collect()
    assert other.task == "inpaint" and ref() is None  # the previous model's memory is gone
    cache.clear()


def test_unknown_device_and_unknown_model(tmp_path):
    with pytest.raises(DeviceError):
        loader.load_model(save_model(tmp_path, "d", "denoise"), "quantum")
    from restorer_gui.inference.registry import RegistryError

    with pytest.raises(RegistryError, match="no model with id 'nope'"):
        loader.get_model("nope", "cpu")


def test_padding_follows_the_size_rules():
    t = torch.rand(1, 3, 5, 7)
    padded = loader.pad_to_rules(t, 8, 16)
    assert padded.shape[-2:] == (16, 16)
    assert torch.equal(padded[..., :5, :7], t)
    assert loader.pad_to_rules(t, 1, 0) is t
