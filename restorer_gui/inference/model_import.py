"""Import a model file as a user model: check that it loads (with the loader, which reads no code), then store
it as ``<id>.safetensors`` + a card in the user models folder (`restorer models import`, File ▸ Import Model…).

The registry (`restorer_gui.inference.registry`) only reads cards; the loader finds models through it; this
module sits above both.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from restorer_gui import paths
from restorer_gui.core.errors import a_an
from restorer_gui.inference.registry import TASKS, ModelInfo, RegistryError, list_models

__all__ = ["import_model"]

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


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
