import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Settings, models, caches and logs of every test live in a fresh folder, and the shipped
    models are out of sight (tests use tiny models of their own; `shipped_models` brings them back)."""
    home = tmp_path_factory.mktemp("restorer-home")
    monkeypatch.setenv("RESTORER_HOME", str(home))
    empty = home / "no-builtin-models"
    empty.mkdir()
    monkeypatch.setenv("RESTORER_BUILTIN_MODELS_DIR", str(empty))
    return home


@pytest.fixture
def shipped_models(monkeypatch):
    """The models shipped in the checkout's models/ folder."""
    monkeypatch.delenv("RESTORER_BUILTIN_MODELS_DIR", raising=False)
