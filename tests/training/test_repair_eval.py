"""`restorer eval repair`'s measures, on tiny models and generated photos."""

import numpy as np

from restorer_gui import paths
from restorer_gui.core import imageio
from restorer_gui.inference import ops
from restorer_gui.training import repair_eval as rev
from tests.tiny_models import save_model


def test_tolerant_precision_recall():
    gt = np.zeros((20, 20), bool)
    gt[10, 2:18] = True
    pred = np.zeros_like(gt)
    pred[12, 2:18] = True  # two pixels off: a hit with the 2-px tolerance, a miss without
    assert rev.tolerant_prf(pred, gt, 0) == (0, 16, 0, 16)
    assert rev.tolerant_prf(pred, gt) == (16, 16, 16, 16)
    pred[0, 0] = True
    hp, n_p, hr, n_r = rev.tolerant_prf(pred, gt)
    assert (hp, n_p, hr, n_r) == (16, 17, 16, 16)


def test_repair_eval_reports_every_measure_and_writes_sheets(tmp_path):
    folder = paths.user_models_dir()
    save_model(folder, "tiny-det", "detect-scratches", untrained=False)
    save_model(folder, "tiny-inp", "inpaint", untrained=False)
    rng = np.random.default_rng(0)
    photos = tmp_path / "set"
    photos.mkdir()
    for i in range(2):
        imageio.save_image(photos / f"p{i}.png", rng.integers(0, 256, (64, 72, 3), dtype=np.uint8))
    real = tmp_path / "real"
    (real / "scans" / "masks").mkdir(parents=True)
    scan = rng.integers(0, 256, (48, 56, 3), dtype=np.uint8)
    imageio.save_image(real / "scans" / "old.png", scan)
    mask = np.zeros((48, 56), np.uint8)
    mask[20:24, :] = 255
    imageio.save_image(real / "scans" / "masks" / "old.png", mask)
    res = rev.repair_eval(ops.ModelSet("cpu"), {"set": photos}, threshold=0.3, real=real, out_dir=tmp_path / "out")
    row = res["set"]
    assert set(row["detector"]) == {"precision", "recall", "f1"} and row["images"] == 2
    for key in ("psnr_structure", "psnr_structure_telea_true_mask", "tone_offset", "hf_ratio"):
        assert np.isfinite(row[key])
    assert res["real"]["scans_with_masks"] == 1 and "old" in res["real"]["per_scan"]
    sheet = imageio.load_image(tmp_path / "out" / "repair_old.png").pixels
    assert sheet.shape[1] == 4 * 56  # input | mask | ours | Telea at 100 %, then the 300 % crops below
