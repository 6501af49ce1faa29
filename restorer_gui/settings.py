"""Typed settings stored as JSON in the config folder. No Qt here, so the CLI can share them."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from restorer_gui import paths

MAX_RECENT = 10
# which Settings field holds the model chosen for each GUI task
MODEL_CHOICE_FIELDS = {"inpaint": "inpaint_model", "denoise": "denoise_model", "detect-scratches": "detect_model",
                       "enhance": "enhance_model"}


@dataclass
class Settings:
    recent_files: list[str] = field(default_factory=list)  # photos
    recent_projects: list[str] = field(default_factory=list)  # .rgproj files, saved or opened
    max_image_megapixels: float = 300.0
    brush_size: int = 24
    brush_hardness: float = 0.8
    overlay_color: str = "#ff2a2a"
    overlay_opacity: float = 0.5
    jpeg_quality: int = 95
    undo_budget_mb: int = 512
    last_open_dir: str = ""
    last_project_dir: str = ""  # where Open Project / Save Project As start
    device: str = "auto"  # auto | cpu | cuda | mps
    precision: str = "auto"  # auto (half precision on CUDA where safe) | fp32
    denoise_sigma: int = 15
    denoise_auto: bool = False
    denoise_keep_grain: int = 0  # Denoise: % of the removed grain laid back (remembered)
    # File ▸ Batch Restore Folder… (remembered choices; its sensitivity and fading strength are shared below)
    batch_input_dir: str = ""
    batch_output_dir: str = ""  # "" = the sibling "<input>-restored"
    batch_recursive: bool = False
    batch_patterns: str = "*.jpg;*.jpeg;*.png;*.tif;*.tiff;*.bmp;*.webp"
    batch_format: str = "same"  # same | png | jpg | tiff
    batch_jpeg_quality: int = 95
    batch_on_existing: str = "skip"  # skip | rename | overwrite
    batch_keep_metadata: bool = True
    batch_model: str = ""  # "" = the default denoise model
    batch_sigma: int = 15
    batch_auto: bool = False
    batch_steps: str = "denoise"  # comma-separated chain of the batch (repair, denoise, enhance)
    tile_size: int = 0  # 0 = chosen from free memory
    # the model each GUI command uses, by id; "" = automatic (registry.default_model)
    inpaint_model: str = ""
    denoise_model: str = ""
    detect_model: str = ""
    enhance_model: str = ""
    enhance_strength: int = 100  # Fix Fading and Colour: % of the correction (remembered)
    repair_threshold: float = 0.0  # Repair Damage's detector cut (0 = the model card's)
    # Restore ▸ Restore Photo… (remembered; its sensitivity is repair_threshold, its fading strength enhance_strength)
    restore_steps: str = "repair,denoise"
    restore_review: bool = False
    restore_sigma: int = 15
    restore_auto: bool = True
    restore_upscale_model: str = ""
    default_save_format: str = "png"  # png | tif | jpg (used when the original's format cannot hold the result)
    autosave_minutes: int = 3  # 0 = off
    models_dir: str = ""  # "" = the data folder's models/
    window_geometry: str = ""  # base64 of QMainWindow.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState() (tool bars and panels)

    def add_recent(self, path: str | Path) -> None:
        self.recent_files = _pushed(self.recent_files, path)

    def add_recent_project(self, path: str | Path) -> None:
        self.recent_projects = _pushed(self.recent_projects, path)

    @property
    def max_image_pixels(self) -> int:
        return int(self.max_image_megapixels * 1_000_000)


def _pushed(recent: list[str], path: str | Path) -> list[str]:
    """*recent* with *path* (resolved) first, once, and at most MAX_RECENT entries."""
    p = str(Path(path).resolve())
    return ([p] + [r for r in recent if r != p])[:MAX_RECENT]


def settings_file() -> Path:
    return paths.config_dir() / "settings.json"


def load() -> Settings:
    """Load settings; unknown keys are ignored and bad values fall back to defaults."""
    try:
        raw = json.loads(settings_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(raw, dict):
        return Settings()
    defaults = Settings()
    values = {}
    for f in fields(Settings):
        if f.name not in raw:
            continue
        value, default = raw[f.name], getattr(defaults, f.name)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is type(default):
            values[f.name] = value
    return Settings(**values)


def save(settings: Settings) -> None:
    """Write atomically; a failure to save settings is never fatal."""
    target = settings_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".settings-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(settings), fh, indent=2)
        os.replace(tmp, target)
    except OSError:
        pass
