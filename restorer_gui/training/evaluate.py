"""Evaluation on the standard test sets, side by side with classical methods, plus comparison grids.

* denoise: PSNR/SSIM at σ 15/25/50. Float convention (README of the data): clean in [0, 1], unclipped
  N(0, σ/255) noise with a fixed seed, output clipped, PSNR over all pixels and channels, averaged over
  images. The 8-bit variant first clips and rounds the noisy input as an 8-bit file would. References:
  OpenCV non-local means on the 8-bit noisy file and a Gaussian blur.
* inpaint: PSNR/SSIM inside the holes of seeded thin/medium/wide masks vs OpenCV Telea and Navier–Stokes.
* scratch: pixel precision/recall/F1 on held-out images with seeded synthetic damage (`age_photo`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from restorer_gui.core import degradations as deg
from restorer_gui.inference import archs
from restorer_gui.training.datasets import held_out_paths, list_images, load_rgb
from restorer_gui.training.trainer import REPO_ROOT

__all__ = [
    "DEFAULT_TEST_ROOT",
    "denoise_eval",
    "inpaint_eval",
    "load_model",
    "resolve_sets",
    "run_model",
    "scratch_eval",
    "tune_scratch_threshold",
]

DEFAULT_TEST_ROOT = REPO_ROOT.parent / "shared" / "data" / "test"
MASK_KINDS = {"thin": deg.thin_mask, "medium": deg.medium_mask, "wide": deg.wide_mask}


# ---------------------------------------------------------------------------------------------------------
# helpers


def load_model(spec: str | Path, models_dir: str | Path = REPO_ROOT / "models") -> tuple[torch.nn.Module, Path | None]:
    """A module from a models/ id, a card (.json), a .safetensors file with its card, or a trainer .pt;
    returns (module in eval mode, card path or None)."""
    p = Path(spec)
    if p.suffix == ".pt":
        from restorer_gui.training.export import load_checkpoint_model

        return load_checkpoint_model(p)[0], None
    if p.suffix == ".safetensors":
        card = p.with_suffix(".json")
    elif p.suffix == ".json":
        card = p
    else:
        card = Path(models_dir) / f"{spec}.json"
    info = json.loads(card.read_text())
    weights = card.parent / info.get("weights", f"{info['id']}.safetensors")
    from safetensors.torch import load_file

    model = archs.build(info["architecture"], **info.get("hparams", {}))
    model.load_state_dict(load_file(str(weights)))
    return model.eval(), card




def write_eval(out: Path, res: dict[str, Any], card: Path | None, update: bool, metrics: dict[str, Any],
               fields: dict[str, Any] | None = None) -> int:
    """The end of `restorer eval TASK`: results.json in *out*, the results on stdout, and with *update* the
    metrics (and card *fields*) written to the card. Returns the exit status (2: --update-card without a card)."""
    from restorer_gui.training.export import update_card

    (out / "results.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    if update:
        if card is None:
            print("--update-card needs a models/ id, card or .safetensors with a card")
            return 2
        update_card(card, metrics, fields=fields)
    return 0


def load_for_eval(spec: str | None, task: str) -> tuple[torch.nn.Module, Path | None]:
    """`load_model` for `restorer eval TASK --model SPEC`: the installed default for *task* when SPEC is
    None; every failure a CommandError (one line for the user)."""
    from restorer_gui.commandline import CommandError
    from restorer_gui.inference import registry

    if spec is None:
        info = registry.default_model(task)
        if info is None or info.card_path is None:
            raise CommandError(f"no {task} model is installed: pass --model (a models/ id, card, .safetensors or a "
                               f"trainer checkpoint such as checkpoints/{task}/best.pt)")
        spec = str(info.card_path)
    try:
        return load_model(spec)
    except (OSError, KeyError, ValueError) as exc:
        raise CommandError(f"cannot load {spec}: {exc}") from None


def resolve_sets(sets: Sequence[str], root: Path = DEFAULT_TEST_ROOT) -> dict[str, Path]:
    """Set names (folders under the test root) or folder paths → {name: folder}."""
    out = {}
    for s in sets:
        p = Path(s)
        folder = p if p.is_dir() else root / s
        if not folder.is_dir():
            raise FileNotFoundError(f"test set {s!r} not found (looked in {folder})")
        out[folder.name] = folder
    return out


def _to_t(a: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return (t.permute(2, 0, 1) if t.ndim == 3 else t[None])[None]


def _to_np(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).float().numpy()


@torch.inference_mode()
def run_model(model: torch.nn.Module, *inputs: np.ndarray | torch.Tensor | None) -> np.ndarray:
    """Run on H×W×C / H×W numpy inputs (reflect-padded to ``size_multiple``); returns H×W×C float32.
    Tensor or None arguments (e.g. σ) pass through unchanged."""
    mult = int(getattr(model, "size_multiple", 1))
    ts = [_to_t(a) if isinstance(a, np.ndarray) else a for a in inputs]
    h, w = ts[0].shape[-2:]
    ph, pw = (-h) % mult, (-w) % mult
    if ph or pw:
        ts = [F.pad(t, (0, pw, 0, ph), mode="reflect") if isinstance(t, torch.Tensor) and t.ndim == 4 else t for t in ts]
    y = model(*ts)[..., :h, :w]
    return _to_np(y)


def _psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    d = (np.clip(a, 0, 1).astype(np.float64) - b.astype(np.float64)) ** 2
    mse = d.mean() if where is None else d[where].mean()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def _ssim(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    from skimage.metrics import structural_similarity

    a = np.clip(a, 0, 1)
    if where is None:
        return float(structural_similarity(b, a, channel_axis=2, data_range=1.0))
    _, smap = structural_similarity(b, a, channel_axis=2, data_range=1.0, full=True)
    return float(smap.mean(axis=2)[where].mean())


def _u8(a: np.ndarray) -> np.ndarray:
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_grid(path: Path, tiles: Sequence[np.ndarray], gap: int = 4) -> None:
    """Save images side by side (e.g. input | ours | classical | truth) as one PNG."""
    h = max(t.shape[0] for t in tiles)
    tiles = [np.repeat(t[:, :, None], 3, 2) if t.ndim == 2 else t for t in tiles]
    row = []
    for t in tiles:
        row += [np.pad(_u8(t), ((0, h - t.shape[0]), (0, 0), (0, 0))), np.full((h, gap, 3), 255, np.uint8)]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(row[:-1], axis=1)).save(path)


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]} if rows else {}


def _images(folder: Path, max_images: int | None) -> list[Path]:
    paths = list_images([folder])
    return paths[:max_images] if max_images else paths


# ---------------------------------------------------------------------------------------------------------
# denoising


def nlm_denoise(noisy: np.ndarray, sigma255: float) -> np.ndarray:
    """OpenCV fast non-local means (colour) on the 8-bit noisy image; h = 0.55·σ (tuned on train images)."""
    import cv2

    h = 0.55 * sigma255
    bgr = cv2.cvtColor(_u8(noisy), cv2.COLOR_RGB2BGR)
    out = cv2.fastNlMeansDenoisingColored(bgr, None, h, h, 7, 21)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB).astype(np.float32) / 255


def blur_denoise(noisy: np.ndarray, sigma255: float) -> np.ndarray:
    """Gaussian-blur reference; blur σ = 0.45 + σ/55 px (tuned on train images)."""
    return deg.gaussian_blur(np.clip(noisy, 0, 1), 0.45 + sigma255 / 55.0)


def denoise_eval(
    model: torch.nn.Module,
    sets: dict[str, Path],
    sigmas: Sequence[float] = (15, 25, 50),
    seed: int = 0,
    max_images: int | None = None,
    out_dir: Path | None = None,
    baselines: Sequence[float] = (25,),
    blind: Sequence[float] = (25,),
    eight_bit: bool = True,
    ssim: bool = True,
    grids: int = 2,
) -> dict[str, Any]:
    """PSNR/SSIM per set and σ (float convention, 8-bit files, blind mode, NLM and blur references)."""
    results: dict[str, Any] = {}
    for set_name, folder in sets.items():
        per_sigma: dict[str, Any] = {}
        for sigma in sigmas:
            rows: list[dict[str, float]] = []
            for idx, path in enumerate(_images(folder, max_images)):
                clean = load_rgb(path).astype(np.float32) / 255
                rng = np.random.default_rng([seed, int(sigma), idx])
                noisy = clean + np.float32(sigma / 255) * rng.standard_normal(clean.shape, dtype=np.float32)
                level = torch.tensor([sigma / 255], dtype=torch.float32)
                ours = run_model(model, noisy, level)
                r = {"psnr": _psnr(ours, clean)}
                if ssim:
                    r["ssim"] = _ssim(ours, clean)
                if eight_bit:
                    q = deg.quantize_8bit(noisy)
                    ours8 = run_model(model, q, level)
                    r["psnr_8bit"] = _psnr(ours8, clean)
                    if ssim:
                        r["ssim_8bit"] = _ssim(ours8, clean)
                if sigma in blind:
                    r["psnr_blind"] = _psnr(run_model(model, noisy, None), clean)
                    from restorer_gui.inference.archs.denoise_unet import estimate_sigma

                    r["sigma_estimate"] = float(estimate_sigma(_to_t(noisy))[0]) * 255
                if sigma in baselines:
                    nlm = nlm_denoise(noisy, sigma)
                    r["psnr_nlm"], r["psnr_blur"] = _psnr(nlm, clean), _psnr(blur_denoise(noisy, sigma), clean)
                    if out_dir is not None and idx < grids:
                        save_grid(out_dir / f"denoise_{set_name}_s{int(sigma)}_{path.stem}.png", [noisy, ours, nlm, clean])
                rows.append(r)
            per_sigma[str(int(sigma))] = _mean(rows) | {"images": len(rows)}
        results[set_name] = per_sigma
    return results


# ---------------------------------------------------------------------------------------------------------
# inpainting


def classical_inpaint(image: np.ndarray, mask: np.ndarray, method: str, radius: int = 3) -> np.ndarray:
    """OpenCV inpainting ("telea" or "ns") on the 8-bit image."""
    import cv2

    flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
    out = cv2.inpaint(_u8(image), (mask > 0.5).astype(np.uint8) * 255, radius, flag)
    return out.astype(np.float32) / 255


def inpaint_eval(
    model: torch.nn.Module,
    sets: dict[str, Path],
    kinds: Sequence[str] = ("thin", "medium", "wide"),
    seed: int = 0,
    max_images: int | None = None,
    out_dir: Path | None = None,
    grids: int = 2,
) -> dict[str, Any]:
    """Hole PSNR/SSIM of ours, Telea and Navier–Stokes per set and mask kind; margins over the better
    classical method."""
    results: dict[str, Any] = {}
    for set_name, folder in sets.items():
        per_kind: dict[str, Any] = {}
        for k_idx, kind in enumerate(kinds):
            rows: list[dict[str, float]] = []
            for idx, path in enumerate(_images(folder, max_images)):
                clean = load_rgb(path).astype(np.float32) / 255
                h, w = clean.shape[:2]
                mask = MASK_KINDS[kind](h, w, np.random.default_rng([seed, k_idx, idx]))
                hole = mask > 0.5
                ours = run_model(model, clean * (1 - mask[:, :, None]), mask)
                telea = classical_inpaint(clean, mask, "telea")
                ns = classical_inpaint(clean, mask, "ns")
                r = {}
                for name, out in (("ours", ours), ("telea", telea), ("ns", ns)):
                    r[f"psnr_{name}"] = _psnr(out, clean, hole)
                    r[f"ssim_{name}"] = _ssim(out, clean, hole)
                rows.append(r)
                if out_dir is not None and idx < grids:
                    shown = clean * (1 - mask[:, :, None]) + mask[:, :, None]
                    best = telea if r["psnr_telea"] >= r["psnr_ns"] else ns
                    save_grid(out_dir / f"inpaint_{set_name}_{kind}_{path.stem}.png", [shown, ours, best, clean])
            m = _mean(rows)
            m["margin_db"] = round(m["psnr_ours"] - max(m["psnr_telea"], m["psnr_ns"]), 4)
            per_kind[kind] = m | {"images": len(rows)}
        results[set_name] = per_kind
    return results


# ---------------------------------------------------------------------------------------------------------
# scratch detection


def _scratch_prob(model: torch.nn.Module, img: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-run_model(model, img)[:, :, 0]))


def tune_scratch_threshold(
    model: torch.nn.Module,
    folders: Sequence[str | Path] | None = None,
    seed: int = 1,
    max_images: int | None = 24,
    thresholds: Sequence[float] = tuple(np.round(np.arange(0.2, 0.81, 0.05), 2)),
) -> dict[str, Any]:
    """The probability cut with the best pixel F1 on the trainers' held-out *training* images, aged with
    seeded `age_photo` as in `scratch_eval` (never the test sets). Returns the threshold and F1 per cut."""
    from restorer_gui.training.trainer import DEFAULT_TRAIN_DATA

    paths = held_out_paths(folders or DEFAULT_TRAIN_DATA)[:max_images]
    if not paths:
        raise FileNotFoundError("no held-out training images to tune the threshold on")
    cuts = np.asarray(thresholds, np.float64)
    tp, fp, fn = np.zeros(len(cuts)), np.zeros(len(cuts)), np.zeros(len(cuts))
    for idx, path in enumerate(paths):
        clean = load_rgb(path).astype(np.float32) / 255
        aged, mask = deg.age_photo(clean, np.random.default_rng([seed, 9001, idx]), 1.0)
        prob, gt = _scratch_prob(model, aged).ravel(), mask.ravel() >= 0.5
        pos, neg = np.sort(prob[gt]), np.sort(prob[~gt])
        above_pos = len(pos) - np.searchsorted(pos, cuts, side="right")
        above_neg = len(neg) - np.searchsorted(neg, cuts, side="right")
        tp += above_pos
        fp += above_neg
        fn += len(pos) - above_pos
    p, r = tp / np.maximum(tp + fp, 1), tp / np.maximum(tp + fn, 1)
    f1 = 2 * p * r / np.maximum(p + r, 1e-12)
    best = int(np.argmax(f1))
    return {"threshold": float(cuts[best]), "f1": {f"{c:.2f}": round(float(v), 4) for c, v in zip(cuts, f1, strict=True)},
            "images": len(paths)}


def scratch_eval(
    model: torch.nn.Module,
    sets: dict[str, Path],
    seed: int = 0,
    threshold: float = 0.5,
    max_images: int | None = None,
    out_dir: Path | None = None,
    real: Path | None = None,
    grids: int = 2,
) -> dict[str, Any]:
    """Pixel precision/recall/F1 (micro-averaged) on held-out images aged with seeded `age_photo`;
    also writes probability masks for the real scans in ``real`` when given."""
    results: dict[str, Any] = {}
    prob_fn: Callable[[np.ndarray], np.ndarray] = lambda img: _scratch_prob(model, img)  # noqa: E731
    for set_name, folder in sets.items():
        tp = fp = fn = 0
        for idx, path in enumerate(_images(folder, max_images)):
            clean = load_rgb(path).astype(np.float32) / 255
            aged, mask = deg.age_photo(clean, np.random.default_rng([seed, idx]), 1.0)
            prob = prob_fn(aged)
            pred, gt = prob > threshold, mask >= 0.5
            tp += int((pred & gt).sum())
            fp += int((pred & ~gt).sum())
            fn += int((~pred & gt).sum())
            if out_dir is not None and idx < grids:
                save_grid(out_dir / f"scratch_{set_name}_{path.stem}.png", [aged, prob, pred.astype(np.float32), mask])
        p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        results[set_name] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-12), 4)}
    if real is not None and out_dir is not None:
        for path in list_images([real]):
            img = load_rgb(path).astype(np.float32) / 255
            prob = prob_fn(img)
            save_grid(out_dir / f"scratch_real_{path.stem}.png", [img, prob, (prob > threshold).astype(np.float32)])
    return results
