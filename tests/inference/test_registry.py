import json

import pytest
import torch

from restorer_gui import paths
from restorer_gui.inference import loader, registry
from restorer_gui.inference.model_import import import_model
from restorer_gui.inference.safe_load import ModelLoadError
from tests.tiny_models import save_model


@pytest.fixture
def builtin(tmp_path, monkeypatch):
    folder = tmp_path / "builtin"
    folder.mkdir()
    monkeypatch.setattr(paths, "builtin_models_dir", lambda: folder)
    return folder


def _dncnn_pth(path):
    from spandrel.architectures.DnCNN import DnCNN

    torch.manual_seed(0)
    torch.save({"params": DnCNN(in_nc=3, out_nc=3, nc=8, nb=8, act_mode="R").state_dict()}, path)
    return path


def test_import_list_remove_a_community_checkpoint(tmp_path, builtin):
    assert registry.list_models() == []
    info = import_model(_dncnn_pth(tmp_path / "My DnCNN.pth"))
    assert info.id == "my-dncnn" and info.task == "denoise" and info.source == "user"
    assert info.path.suffix == ".safetensors" and info.path.parent == paths.user_models_dir()
    card = json.loads(info.card_path.read_text())
    assert card["architecture"] == "spandrel:DnCNN" and card["params"] > 0 and len(card["source"]["sha256"]) == 64
    again = import_model(tmp_path / "My DnCNN.pth")
    assert again.id == "my-dncnn-2"
    assert [m.id for m in registry.list_models("denoise")] == ["my-dncnn", "my-dncnn-2"]
    assert loader.load_model("my-dncnn", "cpu").architecture == "spandrel:DnCNN"
    registry.remove_model("my-dncnn")
    assert not info.path.exists() and not info.card_path.exists()
    with pytest.raises(registry.RegistryError, match="no model with id 'my-dncnn'"):
        registry.remove_model("my-dncnn")


def test_import_of_our_architecture_uses_its_card_and_checks_the_task(tmp_path, builtin):
    weights = save_model(tmp_path / "export", "scratchy", "detect-scratches")
    info = import_model(weights)
    assert info.task == "detect-scratches" and info.architecture == "tiny_scratch" and info.untrained
    with pytest.raises(registry.RegistryError, match="cannot be used for denoise"):
        import_model(weights, model_id="other", task="denoise")
    with pytest.raises(registry.RegistryError, match="already exists"):
        import_model(weights, model_id="scratchy")
    with pytest.raises(registry.RegistryError, match="invalid model id"):
        import_model(weights, model_id="Bad Id!")


def test_a_refused_file_leaves_nothing_behind(tmp_path, builtin):
    bad = tmp_path / "bad.pth"
    torch.save({"w": torch.zeros(1), "x": torch.nn.ReLU()}, bad)
    with pytest.raises(ModelLoadError, match="refused"):
        import_model(bad)
    folder = paths.user_models_dir()
    assert not folder.exists() or not any(folder.iterdir())


def test_builtin_models_come_first_and_cannot_be_removed(tmp_path, builtin):
    save_model(builtin, "builtin-denoise", "denoise", untrained=True)
    user = import_model(save_model(tmp_path / "u", "user-denoise", "denoise", untrained=False))
    models = registry.list_models()
    assert [m.id for m in models] == ["builtin-denoise", "user-denoise"]
    assert models[0].builtin and models[0].source == "built-in"
    assert registry.default_model("denoise").id == user.id  # trained beats untrained
    assert registry.default_model("inpaint") is None
    with pytest.raises(registry.RegistryError, match="built-in model and cannot be removed"):
        registry.remove_model("builtin-denoise")


def test_broken_cards_are_skipped(tmp_path, builtin):
    (builtin / "broken.json").write_text("{not json")
    (builtin / "orphan.json").write_text(json.dumps({"id": "orphan", "task": "denoise"}))
    (builtin / "weird.json").write_text(json.dumps({"id": "weird", "task": "juggle"}))
    assert registry.list_models() == []


def test_find_model_by_id_or_path(tmp_path, builtin):
    weights = save_model(tmp_path, "sidecar", "inpaint")
    assert registry.find_model(str(weights)).architecture == "tiny_inpaint"  # sidecar card used
    with pytest.raises(registry.RegistryError, match="no such file"):
        registry.find_model(str(tmp_path / "nothing.pth"))
