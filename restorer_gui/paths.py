"""Folders the app uses (platformdirs), overridable with RESTORER_HOME for tests and portable use;
without platformdirs (training or GPU tests on a bare machine) they live under ~/.restorer."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "restorer-gui"
APP_AUTHOR = "restorer-gui"

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _base(kind: str) -> Path:
    home = os.environ.get("RESTORER_HOME")
    if home:
        return Path(home) / kind
    try:
        import platformdirs
    except ImportError:  # a bare machine (a lent GPU, say) without it: one folder in the home directory
        return Path.home() / ".restorer" / kind

    getter = {
        "config": platformdirs.user_config_dir,
        "data": platformdirs.user_data_dir,
        "cache": platformdirs.user_cache_dir,
        "logs": platformdirs.user_log_dir,
        "state": platformdirs.user_state_dir,
    }[kind]
    return Path(getter(APP_NAME, APP_AUTHOR))


def config_dir() -> Path:
    return _base("config")


def data_dir() -> Path:
    return _base("data")


_models_override: Path | None = None


def set_user_models_dir(folder: str | Path | None) -> None:
    """Use another folder for user models (Preferences); None or "" restores the default."""
    global _models_override
    try:
        _models_override = Path(folder).expanduser() if folder and "\0" not in str(folder) else None
    except RuntimeError:  # "~someone" for an unknown user: the text as it is
        _models_override = Path(folder)


def user_models_dir() -> Path:
    return _models_override if _models_override is not None else data_dir() / "models"


def cache_dir() -> Path:
    return _base("cache")


def log_dir() -> Path:
    return _base("logs")


def autosave_dir() -> Path:
    return _base("state") / "autosave"


def resources_dir() -> Path:
    """Shipped resources: the copy installed with the package, or the checkout's top-level folder."""
    return _shipped("resources")


def builtin_models_dir() -> Path:
    """Shipped models: the copy installed with the package, or the checkout's top-level folder
    (RESTORER_BUILTIN_MODELS_DIR overrides it, e.g. to test without built-in models)."""
    override = os.environ.get("RESTORER_BUILTIN_MODELS_DIR")
    return Path(override) if override else _shipped("models")


def _shipped(name: str) -> Path:
    """``restorer_gui/_<name>`` when installed (wheel, bundle), else the checkout's top-level folder.

    An installed package's parent is site-packages, where an unrelated ``models`` or ``resources``
    folder may exist, so the checkout's folders are used only beside its pyproject.toml.
    """
    packaged = Path(__file__).resolve().parent / f"_{name}"
    if packaged.is_dir() or not (_PROJECT_ROOT / "pyproject.toml").is_file():
        return packaged
    return _PROJECT_ROOT / name


def sample_photo() -> Path:
    return resources_dir() / "sample_photo.jpg"


def all_folders() -> dict[str, Path]:
    return {
        "config": config_dir(),
        "user models": user_models_dir(),
        "built-in models": builtin_models_dir(),
        "cache": cache_dir(),
        "logs": log_dir(),
        "autosave": autosave_dir(),
        "resources": resources_dir(),
    }
