"""`restorer eval repair`: the damage detector and the automatic repair, measured as a user meets them.

* Held-out synthetic damage of the print kinds (`core.print_damage`, seeded, on test photos never trained on):
  detector pixel precision / recall / F1 with a 2-pixel tolerance; the automatic path (the `repair`
  operation: detect, grow, fill, grain) inside the true damage, against the same print without damage:
  PSNR of the images blurred with σ 1.5 (structure), next to OpenCV Telea given the TRUE mask; mean tone
  offset (levels of 255); high-frequency energy over the truth's (1.0 = grain kept, not invented).
* Real scans with masks (the four that come with the data and the project's own painted masks):
  detector precision / recall / F1, strict and with the 2-pixel tolerance.
* Sheets, one per real scan: input | mask | ours | Telea on our mask, at 100 %, and a 300 % crop of the
  most damaged area.

Runs the real operation code (`inference.ops`), so the numbers are what the app and `restorer repair` give.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from restorer_gui.core import mask_ops
from restorer_gui.core import print_damage as pdmg
from restorer_gui.core.degradations import gaussian_blur
from restorer_gui.training.datasets import list_images, load_rgb

__all__ = ["PROJECT_MASKS", "real_masks", "repair_eval", "tolerant_prf"]

PROJECT_MASKS = Path(__file__).resolve().parents[2] / "tests" / "data" / "real_masks"
TOLERANCE = 2


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    return mask_ops.grow(mask.astype(np.uint8) * 255, r) > 0 if r > 0 else mask


def tolerant_prf(pred: np.ndarray, gt: np.ndarray, tol: int = TOLERANCE) -> tuple[int, int, int, int]:
    """(predicted pixels within tol of the truth, predicted pixels, true pixels within tol of a prediction,
    true pixels): precision and recall with a tol-pixel tolerance, summable over images."""
    return (int((pred & _dilate(gt, tol)).sum()), int(pred.sum()), int((gt & _dilate(pred, tol)).sum()), int(gt.sum()))


def _prf(counts: np.ndarray) -> dict[str, float]:
    hit_p, n_p, hit_r, n_r = (float(c) for c in counts)
    p, r = hit_p / max(n_p, 1.0), hit_r / max(n_r, 1.0)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-12), 4)}


def real_masks(real_root: Path, project_masks: Path = PROJECT_MASKS) -> list[tuple[Path, Path]]:
    """(scan, mask) pairs: the data's own masks (scans/masks/) and the project's painted ones."""
    pairs = []
    given = real_root / "scans" / "masks"
    scans = {p.stem: p for p in list_images([real_root]) if p.parent.name != "masks"}
    for folder in (given, project_masks):
        if not folder.is_dir():
            continue
        for m in sorted(folder.iterdir()):
            if m.suffix.lower() in (".png", ".jpg") and m.stem in scans:
                pairs.append((scans[m.stem], m))
    return pairs


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)


def _load_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    from restorer_gui.core import imageio

    m = mask_ops.mask_from_image(imageio.load_image(path).pixels, shape[1], shape[0])
    return m >= 128


def repair_eval(
    models: Any, sets: dict[str, Path], *, seed: int = 0, max_images: int | None = None, threshold: float | None = None,
    grow: int | None = None, detector: str | None = None, inpainter: str | None = None, real: Path | None = None, out_dir: Path | None = None,
) -> dict[str, Any]:
    """See the module docstring; ``models`` is an `ops.ModelSet`."""
    from restorer_gui.inference import ops
    from restorer_gui.inference.ops import detect, repair
    from restorer_gui.training.evaluate import classical_inpaint

    params = repair.RepairParams(threshold=threshold, grow=grow, detector=detector, inpainter=inpainter)
    results: dict[str, Any] = {}
    for set_name, folder in sets.items():
        counts = np.zeros(4)
        rows = []
        for idx, path in enumerate(list_images([folder])[:max_images]):
            clean = load_rgb(path).astype(np.float32) / 255
            damaged, soft, truth = pdmg.damage_print(clean, np.random.default_rng([seed, idx]), 1.0, 1.0,
                                                     with_truth=True)
            gt = soft >= 0.5
            image = _u8(damaged)
            ctx = ops.OpContext(image, models)
            found = detect.run(ctx, detect.DetectParams(threshold=threshold, model=detector))
            counts += tolerant_prf(found.mask > 0, gt)
            fixed = repair.run(ctx, params).image.astype(np.float32) / 255
            telea = classical_inpaint(damaged, gt.astype(np.float32), "telea")
            if gt.sum() < 20:
                continue
            rows.append(_fill_metrics(fixed, telea, truth, gt))
        results[set_name] = {"detector": _prf(counts), "images": len(rows),
                             **{k: round(float(np.mean([r[k] for r in rows])), 3) for k in (rows[0] if rows else {})}}
    if real is not None:
        results["real"] = _real(models, real, params, detector, threshold, out_dir)
    return results


def _fill_metrics(ours: np.ndarray, telea: np.ndarray, truth: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    def blurred_psnr(a: np.ndarray) -> float:
        d = (gaussian_blur(a, 1.5) - gaussian_blur(truth, 1.5))[gt]
        return float(10 * np.log10(1.0 / max(float(np.mean(d**2)), 1e-10)))

    def hf(a: np.ndarray) -> float:
        return float((a - gaussian_blur(a, 1.5))[gt].std())

    return {
        "psnr_structure": blurred_psnr(ours),
        "psnr_structure_telea_true_mask": blurred_psnr(telea),
        "tone_offset": abs(float((ours - truth)[gt].mean())) * 255,
        "hf_ratio": hf(ours) / max(hf(truth), 1e-6),
        "hf_ratio_telea": hf(telea) / max(hf(truth), 1e-6),
    }


def _real(models: Any, real: Path, params: Any, detector: str | None, threshold: float | None,
          out_dir: Path | None) -> dict[str, Any]:
    from restorer_gui.inference import ops
    from restorer_gui.inference.ops import detect, repair
    from restorer_gui.training.evaluate import classical_inpaint

    per: dict[str, Any] = {}
    strict, tolerant = np.zeros(4), np.zeros(4)
    with_masks = dict((s, m) for s, m in real_masks(real))
    for scan in list_images([real]):
        if scan.parent.name == "masks":
            continue
        image = load_rgb(scan)
        ctx = ops.OpContext(image, models)
        found = detect.run(ctx, detect.DetectParams(threshold=threshold, model=detector)).mask > 0
        if scan in with_masks:
            gt = _load_mask(with_masks[scan], image.shape[:2])
            c_s, c_t = np.array(tolerant_prf(found, gt, 0)), np.array(tolerant_prf(found, gt))
            strict += c_s
            tolerant += c_t
            per[scan.stem] = {"strict": _prf(c_s), "tolerant": _prf(c_t), "mask": with_masks[scan].name}
        if out_dir is not None:
            fixed = repair.run(ctx, params)
            telea = _u8(classical_inpaint(image.astype(np.float32) / 255, fixed.mask.astype(np.float32) / 255, "telea"))
            _sheet(out_dir / f"repair_{scan.stem}.png", image, fixed.mask, fixed.image, telea)
    return {"scans_with_masks": len(per), "strict": _prf(strict), "tolerant": _prf(tolerant), "per_scan": per}


def _sheet(path: Path, image: np.ndarray, mask: np.ndarray, ours: np.ndarray, telea: np.ndarray) -> None:
    """input | mask | ours | Telea at 100 %, and below them the same four of the most damaged 96-px area
    at 300 %."""
    h, w = image.shape[:2]
    overlay = image.copy()
    overlay[mask > 0] = (0.4 * overlay[mask > 0] + 0.6 * np.array([255, 40, 40])).astype(np.uint8)
    row = np.concatenate([image, overlay, ours, telea], 1)
    side = min(96, h, w)
    dens = gaussian_blur((mask > 0).astype(np.float32), side / 4)
    cy, cx = np.unravel_index(int(np.argmax(dens)), dens.shape)
    y0, x0 = int(np.clip(cy - side // 2, 0, h - side)), int(np.clip(cx - side // 2, 0, w - side))
    crops = [a[y0 : y0 + side, x0 : x0 + side] for a in (image, overlay, ours, telea)]
    zoom = np.concatenate([np.asarray(Image.fromarray(c).resize((side * 3, side * 3), Image.Resampling.NEAREST))
                           for c in crops], 1)
    pad = np.full((zoom.shape[0], max(row.shape[1] - zoom.shape[1], 0), 3), 255, np.uint8)
    zoom = np.concatenate([zoom, pad], 1)[:, : row.shape[1]]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([row, np.full((6, row.shape[1], 3), 255, np.uint8), zoom], 0)).save(path)


def write(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "repair_results.json").write_text(json.dumps(results, indent=2) + "\n")


def calibrate(models: Any, detector: str, inpainter: str | None = None, *, images: int = 16, seed: int = 1,
              thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
              grows: tuple[int, ...] = (0, 1, 2, 3)) -> dict[str, Any]:
    """The detector's probability cut and the repair's mask margin, chosen on held-out TRAINING images
    (never the test sets) with seeded print damage: the cut with the best 2-px-tolerant F1, then the grow
    with the best structure PSNR inside the true damage (ties: the smaller grow). Written to the card as
    ``threshold`` and ``grow``."""
    from restorer_gui.core.mask_ops import grow as grow_mask
    from restorer_gui.core.mask_ops import threshold_probability
    from restorer_gui.inference import ops
    from restorer_gui.inference.ops import inpaint as inpaint_op
    from restorer_gui.inference.ops.detect import detect_probability
    from restorer_gui.training.datasets import held_out_paths
    from restorer_gui.training.trainer import DEFAULT_TRAIN_DATA

    det = models.get(("detect-scratches",), detector)
    inp = models.get(("inpaint",), inpainter)
    samples = []
    for idx, path in enumerate(held_out_paths(DEFAULT_TRAIN_DATA)[:images]):
        clean = load_rgb(path).astype(np.float32) / 255
        damaged, soft, truth = pdmg.damage_print(clean, np.random.default_rng([seed, idx]), 1.0, 1.0, with_truth=True)
        image = _u8(damaged)
        samples.append((image, soft >= 0.5, truth, detect_probability(image, det)))
    f1 = {}
    for t in thresholds:
        counts = sum(np.array(tolerant_prf(threshold_probability(p, t) > 0, gt)) for _, gt, _, p in samples)
        f1[t] = _prf(counts)["f1"]
    best_t = max(thresholds, key=lambda t: (f1[t], -abs(t - 0.5)))
    psnr = {}
    for g in grows:
        scores = []
        for image, gt, truth, prob in samples:
            if gt.sum() < 20:
                continue
            mask = threshold_probability(prob, best_t)
            mask = grow_mask(mask, g) if g and mask.any() else mask
            if not mask.any():
                continue
            progress = ops.OpContext(image, models).progress
            fixed = inpaint_op.fill(image, mask, inp, grain=True, progress=progress, cancel=None)
            scores.append(_fill_metrics(fixed.astype(np.float32) / 255, truth, truth, gt)["psnr_structure"])
        psnr[g] = round(float(np.mean(scores)), 3) if scores else float("-inf")
    best_g = max(grows, key=lambda g: (psnr[g], -g))
    return {"threshold": best_t, "grow": best_g, "f1_by_threshold": {str(k): v for k, v in f1.items()},
            "psnr_structure_by_grow": {str(k): v for k, v in psnr.items()}, "images": len(samples)}
