"""Model registry: built-in models from ``models/`` and user models from the data folder.

Each model is a weights file plus a JSON card next to it (``<id>.json``)::

    {
      "id": "denoise-unet-s",            unique name, [a-z0-9._-]
      "task": "denoise",                 one of TASKS
      "architecture": "denoise_unet",    a name in restorer_gui.inference.archs, or "spandrel[:<ArchId>]"
                                         for community checkpoints detected from their keys
      "hparams": {...},                  keyword arguments for the architecture builder
      "weights": "denoise-unet-s.safetensors",   default: "<id>.safetensors"
      "name": "...", "description": "...",
      "params": 123456,                  parameter count
      "training": {...} or "...",        training data and schedule
      "reproduce": "restorer train ...", the exact command that makes these weights
      "metrics": {...},                  measured quality and CPU speed
      "untrained": false                 true: random weights, results are not meaningful
    }

This module reads JSON only (no torch); `restorer_gui.inference.model_import` adds a user's model file (it
validates the file with the loader, which finds models here).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restorer_gui import paths
from restorer_gui.core.errors import RestorerError

TASKS = ("denoise", "restore", "inpaint", "detect-scratches", "upscale", "face", "enhance", "noise-estimate")
"""denoise/restore: same-size image-to-image cleanup; upscale: larger output; face: face crops;
enhance: fading, colour casts and contrast of the whole photo; noise-estimate: a map of the noise level
(Denoise ▸ Auto uses it when one is installed)."""

_log = logging.getLogger(__name__)


class RegistryError(RestorerError):
    """A model could not be found, imported or removed (one-line message)."""


@dataclass(frozen=True)
class ModelInfo:
    """One model as described by its card (or by its file alone for a path given directly)."""

    id: str
    task: str | None
    path: Path
    card_path: Path | None = None
    builtin: bool = False
    architecture: str | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    params: int | None = None
    training: Any = None
    reproduce: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    untrained: bool = False
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        if self.card_path is None:
            return "file"
        return "built-in" if self.builtin else "user"

    @property
    def uses_spandrel(self) -> bool:
        """True when the architecture is detected from the weights' keys (community checkpoints)."""
        return not self.architecture or self.architecture.split(":", 1)[0] == "spandrel"

    @property
    def label(self) -> str:
        """Display name, marked when the weights are untrained."""
        text = self.name or self.id
        return f"{text} (untrained)" if self.untrained else text

    @classmethod
    def from_card(cls, card_path: Path, *, builtin: bool) -> ModelInfo:
        """Parse a card; raises RegistryError with the reason when it is unusable."""
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RegistryError(f"{card_path.name}: unreadable model card ({exc})") from None
        if not isinstance(card, dict):
            raise RegistryError(f"{card_path.name}: a model card must be a JSON object")
        model_id = str(card.get("id") or card_path.stem)
        task = card.get("task")
        if task not in TASKS:
            raise RegistryError(f"{card_path.name}: unknown task {task!r} (expected one of {', '.join(TASKS)})")
        hparams = card.get("hparams") or {}
        if not isinstance(hparams, dict):
            raise RegistryError(f"{card_path.name}: 'hparams' must be an object")
        weights = card_path.parent / str(card.get("weights") or f"{model_id}.safetensors")
        if not weights.is_file():
            raise RegistryError(f"{card_path.name}: weights file {weights.name} is missing")
        params = card.get("params")
        return cls(
            id=model_id,
            task=task,
            path=weights,
            card_path=card_path,
            builtin=builtin,
            architecture=card.get("architecture") or None,
            hparams=hparams,
            name=str(card.get("name") or ""),
            description=str(card.get("description") or ""),
            params=int(params) if isinstance(params, (int, float)) else None,
            training=card.get("training"),
            reproduce=card.get("reproduce"),
            metrics=card.get("metrics") if isinstance(card.get("metrics"), dict) else {},
            untrained=bool(card.get("untrained", False)),
            card=card,
        )

    @classmethod
    def from_file(cls, path: Path) -> ModelInfo:
        """A weights file given directly: its sibling ``.json`` card is used when there is one."""
        sidecar = path.with_suffix(".json")
        if sidecar.is_file() and sidecar != path:
            try:
                info = cls.from_card(sidecar, builtin=False)
                if info.path.resolve() == path.resolve():
                    return info
            except RegistryError as exc:
                _log.warning("ignoring card next to %s: %s", path.name, exc)
        return cls(id=path.stem, task=None, path=path)


def _scan(folder: Path, *, builtin: bool) -> list[ModelInfo]:
    if not folder.is_dir():
        return []
    found = []
    for card in sorted(folder.glob("*.json")):
        try:
            found.append(ModelInfo.from_card(card, builtin=builtin))
        except RegistryError as exc:
            _log.warning("skipping model: %s", exc)
    return sorted(found, key=lambda m: m.id)


def list_models(task: str | None = None) -> list[ModelInfo]:
    """Built-in models, then user models (a user model never shadows a built-in id)."""
    builtin = _scan(paths.builtin_models_dir(), builtin=True)
    taken = {m.id for m in builtin}
    models = builtin + [m for m in _scan(paths.user_models_dir(), builtin=False) if m.id not in taken]
    return [m for m in models if task is None or m.task == task]


def get_model_info(model_id: str) -> ModelInfo:
    for info in list_models():
        if info.id == model_id:
            return info
    raise RegistryError(f"no model with id {model_id!r} (see `restorer models list`)")


def find_model(ref: str | os.PathLike[str] | ModelInfo) -> ModelInfo:
    """A registered id, or a path to a weights file (``--model ID|PATH``)."""
    if isinstance(ref, ModelInfo):
        return ref
    text = os.fspath(ref)
    ids = {m.id: m for m in list_models()}
    if text in ids:
        return ids[text]
    p = Path(text).expanduser()
    if p.is_file():
        return ModelInfo.from_file(p)
    if p.exists():
        raise RegistryError(f"{p.name}: this is a folder, not a model file")
    raise RegistryError(f"no model with id {text!r} and no such file (see `restorer models list`)")


def default_model(task: str) -> ModelInfo | None:
    """Best model for *task*: trained before untrained, built-in before user; None when there is none."""
    candidates = list_models(task)
    if not candidates:
        return None
    return min(candidates, key=lambda m: (m.untrained, not m.builtin))



def remove_model(model_id: str) -> ModelInfo:
    """Delete a user model (card and weights); built-in models cannot be removed."""
    info = next((m for m in list_models() if m.id == model_id), None)
    if info is None:
        raise RegistryError(f"no model with id {model_id!r} (see `restorer models list`)")
    if info.builtin:
        raise RegistryError(f"{model_id!r} is a built-in model and cannot be removed")
    assert info.card_path is not None
    for p in (info.card_path, info.path):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise RegistryError(f"cannot remove {p.name}: {exc.strerror or exc}") from None
    return info



