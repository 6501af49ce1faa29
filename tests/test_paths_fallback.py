"""Without platformdirs (a bare GPU machine) the app's folders live under ~/.restorer; RESTORER_HOME
still wins, and with platformdirs nothing changes."""

from __future__ import annotations

import sys
from pathlib import Path

from restorer_gui import paths


def test_folders_without_platformdirs_live_under_the_home_directory(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "platformdirs", None)  # `import platformdirs` raises ImportError
    monkeypatch.delenv("RESTORER_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.config_dir() == tmp_path / ".restorer" / "config"
    assert paths.user_models_dir() == tmp_path / ".restorer" / "data" / "models"
    assert paths.log_dir() == tmp_path / ".restorer" / "logs"
    monkeypatch.setenv("RESTORER_HOME", str(tmp_path / "portable"))
    assert paths.cache_dir() == tmp_path / "portable" / "cache"


def test_with_platformdirs_the_folders_are_its_own(monkeypatch):
    import platformdirs

    monkeypatch.delenv("RESTORER_HOME", raising=False)
    assert paths.config_dir() == Path(platformdirs.user_config_dir(paths.APP_NAME, paths.APP_AUTHOR))
