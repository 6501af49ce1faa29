import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Settings, models, caches and logs of every test live in a fresh folder."""
    home = tmp_path_factory.mktemp("restorer-home")
    monkeypatch.setenv("RESTORER_HOME", str(home))
    return home
