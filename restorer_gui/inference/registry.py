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

This module reads JSON only (no torch at import); importing a model validates it with the loader.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restorer_gui import paths
from restorer_gui.core.errors import RestorerError, a_an

TASKS = ("denoise", "restore", "inpaint", "detect-scratches", "upscale", "face", "enhance")
"""denoise/restore: same-size image-to-image cleanup; upscale: larger output; face: face crops;
enhance: fading, colour casts and contrast of the whole photo."""

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
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


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return (slug or "model")[:56]


def _free_id(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _compatible(detected: str, wanted: str) -> bool:
    same_size = {"denoise", "restore"}
    return detected == wanted or (detected in same_size and wanted in same_size)


def import_model(file: str | os.PathLike[str], *, model_id: str | None = None, task: str | None = None) -> ModelInfo:
    """Validate that *file* loads, then store it as ``<id>.safetensors`` + card in the user folder.

    Pickled checkpoints are converted to safetensors, so the stored copy never needs unpickling.
    A sibling ``FILE.json`` card (our own architectures) is used and completed.
    """
    from restorer_gui.inference import loader  # torch is imported only here

    src = Path(file).expanduser()
    if model_id is not None and not _ID_RE.match(model_id):
        raise RegistryError(f"invalid model id {model_id!r}: use lowercase letters, digits, '.', '_' or '-'")
    if task is not None and task not in TASKS:
        raise RegistryError(f"unknown task {task!r} (expected one of {', '.join(TASKS)})")
    if not src.is_file():
        reason = "this is a folder, not a model file" if src.is_dir() else "the file does not exist"
        raise RegistryError(f"{src.name}: {reason}")
    info = ModelInfo.from_file(src)
    state, summary = loader.inspect(info)  # raises ModelLoadError with the reason
    detected = summary["task"]
    if task is not None and not _compatible(detected, task):
        raise RegistryError(f"{src.name}: this is {a_an(detected)} model, it cannot be used for {task}")
    taken = {m.id for m in list_models()}
    if model_id is not None and model_id in taken:
        raise RegistryError(f"a model with id {model_id!r} already exists")
    new_id = model_id or _free_id(_slug(src.stem), taken)

    folder = paths.user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{new_id}.safetensors"
    _save_safetensors(state, weights)
    card = dict(info.card)
    card.update(
        id=new_id,
        task=task or info.task or detected,
        architecture=summary["architecture"],
        hparams=info.hparams,
        weights=weights.name,
        params=summary["params"],
        source={"file": src.name, "sha256": _sha256(src)},
        imported=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
    card.setdefault("name", src.stem)
    card.setdefault("untrained", False)
    for key in ("scale", "tags", "size_multiple"):
        if key in summary:
            card[key] = summary[key]
    card_path = folder / f"{new_id}.json"
    try:
        _atomic_write_text(card_path, json.dumps(card, indent=2) + "\n")
    except RegistryError:
        weights.unlink(missing_ok=True)
        raise
    return ModelInfo.from_card(card_path, builtin=False)


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


def _save_safetensors(state: dict[str, Any], target: Path) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().clone() for k, v in state.items()}  # no shared storage
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        save_file(tensors, str(tmp))
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RegistryError(f"cannot write {target.name}: {exc.strerror or exc}") from None


def _atomic_write_text(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RegistryError(f"cannot write {target.name}: {exc.strerror or exc}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
