"""Folders the app uses (platformdirs), overridable with RESTORER_HOME for tests and portable use."""

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
    import platformdirs

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


def user_models_dir() -> Path:
    return data_dir() / "models"


def cache_dir() -> Path:
    return _base("cache")


def log_dir() -> Path:
    return _base("logs")


def autosave_dir() -> Path:
    return _base("state") / "autosave"


def resources_dir() -> Path:
    """Shipped resources: the checkout's top-level folder, or the copy installed with the package."""
    for candidate in (_PROJECT_ROOT / "resources", Path(__file__).resolve().parent / "_resources"):
        if candidate.is_dir():
            return candidate
    return _PROJECT_ROOT / "resources"


def builtin_models_dir() -> Path:
    for candidate in (_PROJECT_ROOT / "models", Path(__file__).resolve().parent / "_models"):
        if candidate.is_dir():
            return candidate
    return _PROJECT_ROOT / "models"


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
