"""Export a training checkpoint to ``models/<id>.safetensors`` plus its JSON card, and measure CPU speed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from restorer_gui.inference import archs
from restorer_gui.inference.safe_load import ModelLoadError, first_line, torch_load_safely

__all__ = [
    "CARD_TASKS", "cpu_seconds_per_mp", "export_checkpoint", "load_checkpoint_model", "read_checkpoint", "update_card",
]

#: trainer task name → card task name
CARD_TASKS = {"denoise": "denoise", "inpaint": "inpaint", "scratch": "detect-scratches", "enhance": "enhance",
              "noise-estimate": "noise-estimate"}


def load_checkpoint_model(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build the module stored in a trainer checkpoint (``last.pt``, ``best.pt`` or ``weights/step_N.pt``);
    the moving-average weights are used when the checkpoint has them."""
    state = read_checkpoint(path)
    try:
        model = archs.build(state["arch"], **state["hparams"])
        model.load_state_dict(state.get("ema", state["model"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"{Path(path).name}: not a trainer checkpoint of a known model ({first_line(str(exc))})") from None
    return model.eval(), state


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A trainer checkpoint's dict, unpickled weights-only (tensors and plain data: a file cannot run
    code); anything else is a one-line :class:`ModelLoadError`."""
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(f"{p}: no such file")
    state = torch_load_safely(p)
    if not isinstance(state, dict):
        raise ModelLoadError(f"{p.name}: not a trainer checkpoint")
    return state


def cpu_seconds_per_mp(model: torch.nn.Module, size: int = 1024, threads: int = 2, repeats: int = 3) -> float:
    """Best-of-``repeats`` CPU time for one size×size image (fp32, ``threads`` threads), per megapixel."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    model = model.cpu().eval()
    x = torch.rand(1, 3, size, size)
    task = getattr(model, "task", "")
    best = float("inf")
    try:
        with torch.inference_mode():
            for _ in range(repeats):
                t = time.perf_counter()
                if task == "denoise":
                    model(x, torch.tensor([25 / 255]))
                elif task == "inpaint":
                    model(x, (torch.rand(1, 1, size, size) > 0.8).float())
                else:
                    model(x)
                best = min(best, time.perf_counter() - t)
    finally:
        torch.set_num_threads(old)
    return round(best / (size * size / 1e6), 3)


def export_checkpoint(
    checkpoint: str | Path,
    model_id: str,
    out_dir: str | Path = "models",
    *,
    name: str = "",
    description: str = "",
    reproduce: str = "",
    notes: str = "",
    measure_speed: bool = True,
) -> tuple[Path, Path]:
    """Write ``<out_dir>/<model_id>.safetensors`` and ``<model_id>.json``; returns both paths.

    The card carries id, name, task, architecture, hparams, params, training data and schedule, the
    reproduce command, metrics (validation now; `update_card` adds test-set numbers) and CPU speed.
    """
    model, state = load_checkpoint_model(checkpoint)
    cfg = state.get("config", {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{model_id}.safetensors"
    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(tensors, str(weights), metadata={"id": model_id, "architecture": state["arch"], "step": str(state["step"])})
    weights.chmod(0o644)
    metrics: dict[str, Any] = {"validation": {"step": int(state["step"]), **(state.get("metrics") or {})}}
    if measure_speed:
        metrics["cpu_seconds_per_mp"] = cpu_seconds_per_mp(model)
    card = {
        "id": model_id,
        "name": name or model_id,
        "description": description,
        "task": CARD_TASKS.get(str(cfg.get("task")), getattr(model, "task", "")),
        "architecture": state["arch"],
        "hparams": state["hparams"],
        "weights": weights.name,
        "params": sum(p.numel() for p in model.parameters()),
        "training": {
            "data": [_rel(d) for d in cfg.get("data", [])],
            "step": int(state["step"]),
            **{k: cfg.get(k) for k in ("steps", "batch", "patch", "lr", "seed", "min_lr_ratio", "warmup")},
        },
        "reproduce": reproduce,
        "metrics": metrics,
        "untrained": False,
        "notes": notes,
    }
    if card["task"] == "noise-estimate":
        from restorer_gui.inference.noise_level import DEFAULT_QUANTILE, DEFAULT_SCALE

        # how Auto reads one level from the map; `restorer eval noise-estimate --calibrate` fits them
        card["auto"] = {"quantile": DEFAULT_QUANTILE, "scale": DEFAULT_SCALE}
    card_path = out / f"{model_id}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return weights, card_path


def update_card(card_path: str | Path, metrics: dict[str, Any], notes: str | None = None,
                fields: dict[str, Any] | None = None) -> None:
    """Merge ``metrics`` into a card's ``metrics``, set top-level ``fields`` (e.g. a detector's
    ``threshold``) and replace its notes when given."""
    path = Path(card_path)
    card = json.loads(path.read_text())
    card.setdefault("metrics", {}).update(metrics)
    card.update(fields or {})
    if notes is not None:
        card["notes"] = notes
    path.write_text(json.dumps(card, indent=2) + "\n")


def _rel(path: str) -> str:
    """A data path shown relative to the repository's parent when possible (…/shared/data/train)."""
    p = Path(path)
    parts = p.parts
    if "shared" in parts:
        return "../" + "/".join(parts[parts.index("shared") :])
    return str(p)
