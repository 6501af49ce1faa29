"""Quality, side by side in one run: our denoiser against CBM3D (the `bm3d` package) and OpenCV's
non-local means at σ 15/25/50, next to the published FFDNet/DRUNet/CBM3D numbers; our inpainter
against Telea and Navier–Stokes on thin/medium/wide masks; the scratch detector's precision/recall.
The noise convention is the data README's (float clean image, unclipped seeded noise, clipped output).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

# PSNR (dB) at σ 15 / 25 / 50 from the FFDNet and SCUNet papers (../shared/data/README.md).
PUBLISHED = {
    "CBM3D": {"CBSD68": (33.52, 30.71, 27.38), "Kodak24": (34.28, 31.68, 28.46), "McMaster": (34.06, 31.66, 28.51)},
    "FFDNet": {"CBSD68": (33.87, 31.21, 27.96), "Kodak24": (34.63, 32.13, 28.98), "McMaster": (34.66, 32.35, 29.18)},
    "DRUNet": {"CBSD68": (34.30, 31.69, 28.51), "Kodak24": (35.31, 32.89, 29.86), "McMaster": (35.40, 33.14, 30.08)},
}
SIGMAS = (15, 25, 50)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1).astype(np.float64) - b) ** 2))
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def _bm3d(noisy: np.ndarray, sigma: float) -> np.ndarray | None:
    try:
        import bm3d
    except ImportError:
        return None
    return np.asarray(bm3d.bm3d_rgb(noisy, sigma / 255), np.float32)


def denoise(model_card: Path, sets: dict[str, Path], max_images: int | None, sigmas=SIGMAS, bm3d_images: int | None = None) -> dict:
    """Per set and σ: mean PSNR of ours, CBM3D, NLM over the same noisy images, plus timings."""
    import torch

    from restorer_gui.training import evaluate

    model, _ = evaluate.load_model(model_card)
    out: dict = {}
    for set_name, folder in sets.items():
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".tif", ".tiff", ".jpg"))
        images = images[:max_images] if max_images else images
        per_sigma = {}
        for sigma in sigmas:
            rows: dict[str, list[float]] = {"ours": [], "cbm3d": [], "nlm": []}
            seconds: dict[str, float] = {"ours": 0.0, "cbm3d": 0.0, "nlm": 0.0}
            for idx, path in enumerate(images):
                clean = evaluate.load_rgb(path).astype(np.float32) / 255
                rng = np.random.default_rng([0, int(sigma), idx])
                noisy = clean + np.float32(sigma / 255) * rng.standard_normal(clean.shape, dtype=np.float32)
                t = time.perf_counter()
                rows["ours"].append(_psnr(evaluate.run_model(model, noisy, torch.tensor([sigma / 255])), clean))
                seconds["ours"] += time.perf_counter() - t
                t = time.perf_counter()
                rows["nlm"].append(_psnr(evaluate.nlm_denoise(noisy, sigma), clean))
                seconds["nlm"] += time.perf_counter() - t
                if bm3d_images is None or idx < bm3d_images:
                    t = time.perf_counter()
                    result = _bm3d(noisy, sigma)
                    if result is not None:
                        rows["cbm3d"].append(_psnr(result, clean))
                        seconds["cbm3d"] += time.perf_counter() - t
            entry = {k: {"psnr": float(np.mean(v)), "images": len(v), "seconds_per_image": seconds[k] / max(len(v), 1)}
                     for k, v in rows.items() if v}
            if rows["cbm3d"] and len(rows["cbm3d"]) < len(rows["ours"]):
                n = len(rows["cbm3d"])
                entry["ours_on_cbm3d_images"] = float(np.mean(rows["ours"][:n]))
            k = SIGMAS.index(sigma) if sigma in SIGMAS else None
            if k is not None:
                entry["published"] = {m: v[set_name][k] for m, v in PUBLISHED.items() if set_name in v}
            per_sigma[str(sigma)] = entry
        out[set_name] = per_sigma
    return out


def inpaint(model_card: Path, sets: dict[str, Path], max_images: int | None, out_dir: Path | None) -> dict:
    from restorer_gui.training import evaluate

    model, _ = evaluate.load_model(model_card)
    return evaluate.inpaint_eval(model, sets, max_images=max_images, out_dir=out_dir)


def scratch(model_card: Path, sets: dict[str, Path], max_images: int | None, out_dir: Path | None) -> dict:
    from restorer_gui.inference.ops.detect import card_threshold
    from restorer_gui.training import evaluate

    model, _ = evaluate.load_model(model_card)
    threshold = card_threshold(json.loads(Path(model_card).read_text(encoding="utf-8")))
    figures = evaluate.scratch_eval(model, sets, threshold=threshold, max_images=max_images, out_dir=out_dir)
    return {name: {**e, "threshold": threshold} for name, e in figures.items()}


TASKS = ("denoise", "inpaint", "detect-scratches")


def run(max_images: int | None, bm3d_images: int | None, out_dir: Path | None, tasks: tuple[str, ...] = TASKS,
        sigmas: tuple[int, ...] = SIGMAS) -> dict:
    """Everything the built-in models allow; a task without a built-in model is reported as such."""
    from restorer_gui.inference import registry
    from restorer_gui.training import evaluate

    sets = evaluate.resolve_sets(["CBSD68", "Kodak24", "McMaster"])
    kodak = {"Kodak24": sets["Kodak24"]} if "Kodak24" in sets else {}
    result: dict = {}
    for task, fn, where in (("denoise", denoise, sets), ("inpaint", inpaint, kodak), ("detect-scratches", scratch, kodak)):
        if task not in tasks:
            continue
        info = next((i for i in registry.list_models(task) if i.builtin and not i.untrained), None)
        if info is None or info.card_path is None:
            result[task] = {"model": None, "note": "no trained built-in model"}
            continue
        if task == "denoise":
            figures = denoise(info.card_path, where, max_images, sigmas, bm3d_images)
        else:
            figures = fn(info.card_path, where, max_images, out_dir)
        result[task] = {"model": info.id, "figures": figures, "max_images": max_images}
    return result
