import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from restorer_gui.inference import loader
from restorer_gui.inference.safe_load import ModelLoadError, load_state_dict
from tests.tiny_models import save_model


class _WritesAFile:
    """Unpickling this would create `path` (the attack the loader must stop)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('pwned')",))


def _weights():
    return {"conv.weight": torch.zeros(2, 3, 3, 3), "conv.bias": torch.zeros(2)}


@pytest.mark.parametrize("layout", ["zip", "legacy", "raw-pickle"])
def test_a_pickle_that_would_write_a_file_is_refused_and_the_file_never_appears(tmp_path, layout):
    marker = tmp_path / "pwned.txt"
    payload = {**_weights(), "evil": _WritesAFile(marker)}
    path = tmp_path / "model.pth"
    if layout == "zip":
        torch.save(payload, path)
    elif layout == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(ModelLoadError) as err:
        load_state_dict(path)
    assert not marker.exists()
    message = str(err.value)
    assert "\n" not in message and "model.pth" in message and "refused" in message
    if layout != "raw-pickle":
        assert "'exec'" in message


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit is deprecated, but such files still exist
def test_torchscript_is_refused(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.trace(torch.nn.Conv2d(3, 3, 3), torch.zeros(1, 3, 8, 8)).save(str(path))
    with pytest.raises(ModelLoadError, match="TorchScript"):
        load_state_dict(path)


def test_truncated_safetensors_is_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file(_weights(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(ModelLoadError, match="truncated or corrupt"):
        load_state_dict(path)
    (n,) = struct.unpack("<Q", data[:8])
    path.write_bytes(data[: 8 + n // 2])  # header cut in half
    with pytest.raises(ModelLoadError):
        load_state_dict(path)


def test_nan_inf_and_non_tensor_entries_are_refused(tmp_path):
    bad = _weights()
    bad["conv.bias"][1] = float("nan")
    save_file(bad, str(tmp_path / "nan.safetensors"))
    with pytest.raises(ModelLoadError, match="'conv.bias' contains NaN"):
        load_state_dict(tmp_path / "nan.safetensors")
    inf = _weights()
    inf["conv.weight"][0, 0, 0, 0] = float("inf")
    torch.save(inf, tmp_path / "inf.pth")
    with pytest.raises(ModelLoadError, match="NaN or infinite"):
        load_state_dict(tmp_path / "inf.pth")
    torch.save({**_weights(), "epoch": 3}, tmp_path / "meta.pth")
    with pytest.raises(ModelLoadError, match="'epoch' is a int, not a tensor"):
        load_state_dict(tmp_path / "meta.pth")


def test_other_bad_files(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "text.ckpt").write_text("hello, not weights")
    for name, reason in [("empty.pth", "empty"), ("text.ckpt", "not a model file"), ("missing.pth", "does not exist")]:
        with pytest.raises(ModelLoadError, match=reason):
            load_state_dict(tmp_path / name)
    save_file(_weights(), str(tmp_path / "big.safetensors"))
    with pytest.raises(ModelLoadError, match="larger than"):
        load_state_dict(tmp_path / "big.safetensors", max_bytes=64)


def test_wrapped_checkpoints_are_unwrapped(tmp_path):
    torch.save({"params_ema": {f"module.{k}": v for k, v in _weights().items()}, "iter": 7}, tmp_path / "ema.pth")
    state = load_state_dict(tmp_path / "ema.pth")
    assert sorted(state) == ["conv.bias", "conv.weight"]


def test_weights_that_do_not_fit_the_architecture_are_refused_with_the_reason(tmp_path):
    weights = save_model(tmp_path, "narrow", "denoise", width=4)
    card = tmp_path / "narrow.json"
    card.write_text(card.read_text().replace('"width": 4', '"width": 6'))
    with pytest.raises(ModelLoadError) as err:
        loader.load_model(weights, "cpu")
    message = str(err.value)
    assert "do not fit 'tiny_denoise'" in message and "size mismatch for convs.0.weight" in message
    assert "\n" not in message


def test_unrecognised_architecture_is_refused(tmp_path):
    save_file({"foo.weight": torch.zeros(3, 3)}, str(tmp_path / "odd.safetensors"))
    with pytest.raises(ModelLoadError, match="not a model architecture this app recognises"):
        loader.load_model(tmp_path / "odd.safetensors", "cpu")
