"""`restorer eval enhance`: the enhancement model against classical automatic corrections, run side by side.

Held-out photos (the trainers' held-out training images, ``held-out``, and the test sets) are faded with
seeded `core.fading.fade_print`; ours and three classical corrections computed in the same run restore them:

* per-channel percentile stretch (GIMP's Auto White Balance: 0.05 % of pixels clipped at each end of each channel),
* gray world (each channel scaled so the channel means agree),
* CLAHE on the lightness (L of CIELAB; OpenCV, or scikit-image's when OpenCV is missing).

Reported per set: PSNR (all pixels and channels, [0, 1]) and mean CIEDE2000 against the target, for the
faded input, ours and each classical method; the best classical method (by PSNR) and our margin over it.
Sheets of the real faded scans (input | ours | best classical) go to the output folder.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from restorer_gui.core import fading
from restorer_gui.training.datasets import held_out_paths, list_images, load_rgb

__all__ = ["CLASSICAL", "REAL_SCANS", "clahe_lightness", "cli_eval", "enhance_eval", "gray_world", "percentile_stretch",
           "real_sheets"]

#: the real scans the sheets show (patterns under ../shared/data/real)
REAL_SCANS = ("faded_grainy.png", "scans/sepia_blotches.png", "scans/town_*.jpg", "scans/portrait_1863.png",
              "scans/print_*.png")


def percentile_stretch(img: np.ndarray, clip: float = 0.05) -> np.ndarray:
    """Each channel stretched so that ``clip`` % of its pixels fall below 0 and above 1 (GIMP's Auto White Balance)."""
    lo = np.percentile(img, clip, axis=(0, 1))
    hi = np.percentile(img, 100 - clip, axis=(0, 1))
    return np.clip((img - lo) / np.maximum(hi - lo, 1e-6), 0, 1).astype(np.float32)


def gray_world(img: np.ndarray) -> np.ndarray:
    """Each channel scaled so that its mean is the mean of the three (the gray-world assumption)."""
    means = img.reshape(-1, 3).mean(0)
    return np.clip(img * (means.mean() / np.maximum(means, 1e-6)), 0, 1).astype(np.float32)


def clahe_lightness(img: np.ndarray, clip_limit: float = 2.0, tiles: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of CIELAB lightness, colour kept."""
    try:
        import cv2
    except ImportError:
        from skimage import color, exposure

        lab = color.rgb2lab(img)
        lab[..., 0] = exposure.equalize_adapthist(lab[..., 0] / 100, kernel_size=max(8, min(img.shape[:2]) // tiles),
                                                  clip_limit=clip_limit / 100) * 100
        return np.clip(color.lab2rgb(lab), 0, 1).astype(np.float32)
    u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    lab = cv2.cvtColor(u8, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).astype(np.float32) / 255


CLASSICAL: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "stretch": percentile_stretch, "grayworld": gray_world, "clahe": clahe_lightness,
}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((np.clip(a, 0, 1).astype(np.float64) - b) ** 2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def ciede2000(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference (sRGB → CIELAB, D65)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    return float(deltaE_ciede2000(rgb2lab(np.clip(a, 0, 1)), rgb2lab(np.clip(b, 0, 1))).mean())


def run_net(net: Any, img: np.ndarray) -> np.ndarray:
    """The enhancement module on an H×W×3 float image (inference, strips of rows)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(img, np.float32)).permute(2, 0, 1)[None]
    out = torch.empty_like(x)
    with torch.inference_mode():
        net.enhance(x, each=lambda y0, y1, strip: out[..., y0:y1, :].copy_(strip))
    return out[0].permute(1, 2, 0).numpy()


def _set_paths(name: str, max_images: int | None) -> tuple[str, list[Path]]:
    """(label, images) of a set: "held-out" (the trainers' held-out training images), a test set's name or a folder."""
    from restorer_gui.training import evaluate as ev
    from restorer_gui.training.trainer import DEFAULT_TRAIN_DATA

    if name == "held-out":
        label, paths = name, held_out_paths(DEFAULT_TRAIN_DATA)
    else:
        label, folder = next(iter(ev.resolve_sets([name]).items()))
        paths = list_images([folder])
    return label, paths[:max_images] if max_images else paths


def enhance_eval(net: Any, sets: Sequence[str], seed: int = 0, max_images: int | None = None,
                 strength: float | None = None, grids: int = 2, out_dir: Path | None = None) -> dict[str, Any]:
    """PSNR and mean CIEDE2000 per set for the faded input, ours and each classical method (see the module).
    Each photo fades with a seeded strength drawn from 0.3–1.3 as in training (or ``strength`` for all)."""
    from restorer_gui.training.evaluate import save_grid

    results: dict[str, Any] = {}
    for s_idx, given in enumerate(sets):
        name, paths = _set_paths(given, max_images)
        rows: list[dict[str, float]] = []
        bw = 0
        for idx, path in enumerate(paths):
            rng = np.random.default_rng([seed, s_idx, idx])
            amount = float(rng.uniform(0.3, 1.3)) if strength is None else strength
            faded, target = fading.fade_print(load_rgb(path), rng, amount)
            bw += int(np.array_equal(target[..., 0], target[..., 2]))
            outs = {"input": faded, "ours": run_net(net, faded)} | {k: f(faded) for k, f in CLASSICAL.items()}
            rows.append({f"{m}_{k}": fn(o, target) for k, o in outs.items() for m, fn in (("psnr", psnr),
                                                                                         ("de2000", ciede2000))})
            if out_dir is not None and idx < grids:
                save_grid(out_dir / f"enhance_{name}_{path.stem}.png", [faded, outs["ours"], outs["stretch"],
                                                                       outs["grayworld"], outs["clahe"], target])
        if not rows:
            continue
        mean = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
        best = max(CLASSICAL, key=lambda k: mean[f"psnr_{k}"])
        results[name] = mean | {"best_classical": best, "margin_db": round(mean["psnr_ours"] - mean[f"psnr_{best}"], 4),
                                "de2000_margin": round(mean[f"de2000_{best}"] - mean["de2000_ours"], 4),
                                "images": len(rows), "bw_prints": bw}
    return results


def real_sheets(net: Any, real: Path, out_dir: Path, classical: str, patterns: Sequence[str] = REAL_SCANS,
                height: int = 480) -> list[str]:
    """One sheet per real scan: input | ours | ``classical``, each scaled to ``height`` px; returns the files."""
    from PIL import Image

    from restorer_gui.training.evaluate import save_grid

    written = []
    for pattern in patterns:
        for path in sorted(real.glob(pattern)):
            img = load_rgb(path).astype(np.float32) / 255
            tiles = [img, run_net(net, img), CLASSICAL[classical](img)]
            h, w = img.shape[:2]
            size = (max(1, round(w * height / h)), height)
            tiles = [np.asarray(Image.fromarray((np.clip(t, 0, 1) * 255 + 0.5).astype(np.uint8)).resize(
                size, Image.Resampling.LANCZOS), np.float32) / 255 for t in tiles]
            target = out_dir / f"enhance_real_{path.stem}.png"
            save_grid(target, tiles)
            written.append(target.name)
    return written


def cli_eval(args: argparse.Namespace) -> int:
    """`restorer eval enhance` (arguments of `restorer eval`)."""
    from restorer_gui.training import evaluate as ev

    net, card = ev.load_for_eval(args.model, "enhance")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sets = args.sets or ["held-out", "Kodak24", "McMaster"]
    res = enhance_eval(net, sets, args.seed, args.max_images, out_dir=out)
    key = "held-out" if "held-out" in res else next(iter(res), None)
    best = res[key]["best_classical"] if key else "stretch"
    real = ev.DEFAULT_TEST_ROOT.parent / "real"
    sheets = [] if args.no_sheets or not real.is_dir() else real_sheets(net, real, out, best)
    res = {"task": "enhance", "seed": args.seed, "max_images": args.max_images, "results": res, "sheets": sheets,
           "sheet_classical": best}
    return ev.write_eval(out, res, card, args.update_card, {"test": res["results"], "eval_seed": args.seed})
