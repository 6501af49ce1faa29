"""`restorer eval noise-estimate`: does Auto (noise estimator → denoiser) find the strength a person would?

Held-out photos (the test sets and the trainers' held-out training images, never trained on) get film grain
as real scans have it (`core.scan_noise.degrade_scan`: correlated 0.5–1.5 px, strongest in the mid-tones,
a scanner blur of 0.3–0.8 px, 8-bit), at each level of ``levels`` (the std at mid-grey, 0–255 scale). The
denoiser then runs at a sweep of fixed strengths and at the strengths three Autos choose: the learned
estimator's (its map read as the app reads it, `inference.noise_level`), the Laplacian estimator's (the old
Auto) and the true level. Reported per set and level: mean PSNR against the clean photo through the same
blur, the best fixed strength of the sweep (one strength for the whole set) and its PSNR, the per-photo
best (oracle), and the gaps. ``--calibrate`` first fits the quantile and scale Auto reads from the map on
held-out training images with all of `degrade_scan`'s noise kinds, so Auto lands where the sweep peaks.
Sheets of the real grainy scans (input | Auto | Laplacian Auto | a fixed strength, at 100 %) go to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from restorer_gui.core.scan_noise import degrade_scan
from restorer_gui.training.datasets import held_out_paths, list_images, load_rgb

__all__ = ["REAL_GRAINY", "calibrate", "cli_eval", "grain_eval", "real_sheets"]

#: the real grainy scans the sheets show (patterns under ../shared/data/real)
REAL_GRAINY = ("faded_grainy.png", "scans/film_*.png", "scans/portrait_1863.png", "scans/town_*.jpg")
QUANTILES = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)
CROP = 512  # photos are centre-cropped to this, so a sweep stays affordable on a CPU


def _u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _crop(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return img[y : y + side, x : x + side]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((np.clip(a, 0, 1).astype(np.float64) - b) ** 2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def estimator_levels(net: Any, image: np.ndarray) -> np.ndarray:
    """The estimator's map (σ, 0–255) over the blocks Auto reads (`noise_level.block_origins`), flattened."""
    from restorer_gui.inference.noise_level import BLOCK, MARGIN, block_origins
    from restorer_gui.training.evaluate import run_model

    h, w = image.shape[:2]
    size = min(BLOCK, h, w)
    cut = MARGIN if size > 4 * MARGIN else 0
    img = image.astype(np.float32) / 255
    maps = [run_model(net, img[y : y + size, x : x + size])[..., 0] for y, x in block_origins(h, w)]
    return np.stack(maps)[:, cut : size - cut, cut : size - cut].reshape(-1) * 255.0


def _denoise(denoiser: Any, noisy: np.ndarray, sigma: float) -> np.ndarray:
    import torch

    from restorer_gui.training.evaluate import run_model

    return run_model(denoiser, noisy, torch.tensor([sigma / 255.0]))


def _sweep(denoiser: Any, noisy: np.ndarray, clean: np.ndarray, sigmas: Sequence[float]) -> np.ndarray:
    return np.array([_psnr(_denoise(denoiser, noisy, s), clean) for s in sigmas])


def _paths(name: str, max_images: int | None) -> tuple[str, list[Path]]:
    from restorer_gui.training import evaluate as ev
    from restorer_gui.training.trainer import DEFAULT_TRAIN_DATA

    if name == "held-out":
        paths = held_out_paths(DEFAULT_TRAIN_DATA)
    else:
        name, folder = next(iter(ev.resolve_sets([name]).items()))
        paths = list_images([folder])
    return name, paths[:max_images] if max_images else paths


def calibrate(net: Any, denoiser: Any, sweep: Sequence[float], seed: int = 0, count: int = 16,
              crop: int = 384) -> dict[str, Any]:
    """Fit Auto's quantile and scale: on ``count`` held-out training photos with `degrade_scan`'s mix of noise
    (every kind, σ 5–45), each photo's best strength in ``sweep`` against each quantile of the estimator's
    map; per quantile the scale is the median ratio, and the quantile whose Autos lose the least PSNR
    against each photo's best (interpolated along the sweep) wins."""
    _, paths = _paths("held-out", count)
    curves, levels = [], []
    for idx, path in enumerate(paths):
        rng = np.random.default_rng([seed, 99, idx])
        clean = _crop(load_rgb(path), crop).astype(np.float32) / 255
        scan = degrade_scan(clean, rng, (5.0, 45.0))
        noisy = _u8(scan.noisy)
        curves.append(_sweep(denoiser, noisy.astype(np.float32) / 255, scan.clean, sweep))
        levels.append(estimator_levels(net, noisy))
    grid = np.asarray(sweep, np.float64)
    best = np.array([grid[int(c.argmax())] for c in curves])
    per: dict[str, Any] = {}
    for q in QUANTILES:
        read = np.array([max(float(np.quantile(v, q)), 1e-3) for v in levels])
        ok = best > 0
        scale = float(np.exp(np.median(np.log(best[ok] / read[ok])))) if ok.any() else 1.0
        loss = float(np.mean([c.max() - np.interp(scale * r, grid, c) for c, r in zip(curves, read, strict=True)]))
        per[f"{q:g}"] = {"scale": round(scale, 4), "loss_db": round(loss, 4)}
    q_best = min(per, key=lambda k: per[k]["loss_db"])
    return {"quantile": float(q_best), "scale": per[q_best]["scale"], "loss_db": per[q_best]["loss_db"],
            "images": len(curves), "per_quantile": per}


def grain_eval(net: Any, denoiser: Any, sets: Sequence[str], levels: Sequence[float], sweep: Sequence[float],
               quantile: float, scale: float, seed: int = 0, max_images: int | None = None) -> dict[str, Any]:
    """PSNR per set and grain level of Auto, the Laplacian Auto, the true level and a sweep (see the module)."""
    from restorer_gui.inference.ops.denoise import estimate_noise_sigma

    grid = np.asarray(sweep, np.float64)
    results: dict[str, Any] = {}
    for s_idx, given in enumerate(sets):
        name, paths = _paths(given, max_images)
        per_level: dict[str, Any] = {}
        for level in levels:
            rows, curves = [], []
            for idx, path in enumerate(paths):
                rng = np.random.default_rng([seed, s_idx, idx, int(level * 10)])
                clean = _crop(load_rgb(path), CROP).astype(np.float32) / 255
                scan = degrade_scan(clean, rng, kind="film_grain", sigma=level, blur=float(rng.uniform(0.3, 0.8)),
                                    post="8bit")
                noisy8 = _u8(scan.noisy)
                noisy = noisy8.astype(np.float32) / 255
                chosen = {"auto": float(np.quantile(estimator_levels(net, noisy8), quantile)) * scale,
                          "laplacian": estimate_noise_sigma(noisy8), "nominal": float(level)}
                row = {"psnr_input": _psnr(noisy, scan.clean)}
                for key, s in chosen.items():
                    row[f"psnr_{key}"] = _psnr(_denoise(denoiser, noisy, s), scan.clean)
                    row[f"sigma_{key}"] = s
                rows.append(row)
                curves.append(_sweep(denoiser, noisy, scan.clean, grid))
            if not rows:
                continue
            mean = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
            curve = np.mean(curves, axis=0)
            b = int(curve.argmax())
            mean |= {"best_fixed_sigma": float(grid[b]), "psnr_best_fixed": round(float(curve[b]), 4),
                     "psnr_oracle": round(float(np.mean([c.max() for c in curves])), 4),
                     "gap_auto_db": round(float(curve[b]) - mean["psnr_auto"], 4),
                     "gap_laplacian_db": round(float(curve[b]) - mean["psnr_laplacian"], 4),
                     "sweep": {f"{s:g}": round(float(p), 4) for s, p in zip(grid, curve, strict=True)},
                     "images": len(rows)}
            per_level[f"{level:g}"] = mean
        results[name] = per_level
    return results


def real_sheets(net: Any, denoiser: Any, real: Path, out_dir: Path, fixed: float, quantile: float, scale: float,
                patterns: Sequence[str] = REAL_GRAINY, side: int = 384) -> dict[str, Any]:
    """One sheet per real grainy scan, a centre crop at 100 %: input | Auto | Laplacian Auto | σ ``fixed``;
    returns {scan: {"sheet", "sigma_auto", "sigma_laplacian"}}."""
    from restorer_gui.inference.ops.denoise import estimate_noise_sigma
    from restorer_gui.training.evaluate import save_grid

    found: dict[str, Any] = {}
    for pattern in patterns:
        for path in sorted(real.glob(pattern)):
            img8 = load_rgb(path)
            auto = float(np.quantile(estimator_levels(net, img8), quantile)) * scale
            lap = estimate_noise_sigma(img8)
            crop = _crop(img8, side).astype(np.float32) / 255
            tiles = [crop] + [_denoise(denoiser, crop, s) for s in (auto, lap, fixed)]
            target = out_dir / f"noise_real_{path.stem}.png"
            save_grid(target, tiles)
            found[path.name] = {"sheet": target.name, "sigma_auto": round(auto, 2), "sigma_laplacian": round(lap, 2)}
    return found


def cli_eval(args: argparse.Namespace) -> int:
    """`restorer eval noise-estimate` (arguments of `restorer eval`)."""
    from restorer_gui.inference.noise_level import auto_settings
    from restorer_gui.training import evaluate as ev

    net, card = ev.load_for_eval(args.model, "noise-estimate")
    denoiser, _ = ev.load_for_eval(args.denoiser, "denoise")
    quantile, scale = auto_settings(json.loads(card.read_text()) if card is not None else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sweep = [float(s) for s in np.arange(0.0, 60.0 + 1e-6, args.sweep_step)]
    calibration = None
    if args.calibrate:
        calibration = calibrate(net, denoiser, sweep, args.seed, count=min(16, args.max_images or 16))
        quantile, scale = calibration["quantile"], calibration["scale"]
        print(json.dumps({"calibration": calibration}))
    res = grain_eval(net, denoiser, args.sets or ["Kodak24", "McMaster"], args.sigmas or [10, 20, 30], sweep,
                     quantile, scale, args.seed, args.max_images)
    real = ev.DEFAULT_TEST_ROOT.parent / "real"
    sheets = {} if args.no_sheets or not real.is_dir() else real_sheets(net, denoiser, real, out, 15.0, quantile,
                                                                        scale)
    res = {"task": "noise-estimate", "seed": args.seed, "max_images": args.max_images, "denoiser": args.denoiser,
           "auto": {"quantile": quantile, "scale": scale}, "calibration": calibration, "results": res,
           "real": sheets, "sheet_fixed_sigma": 15.0}
    auto = {"quantile": quantile, "scale": scale} | ({"calibration": calibration} if calibration else {})
    return ev.write_eval(out, res, card, args.update_card,
                         {"test": res["results"], "real": sheets, "eval_seed": args.seed}, fields={"auto": auto})
