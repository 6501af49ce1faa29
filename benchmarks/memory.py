"""Peak resident memory against image size (1 to 100 MP) for denoise and inpaint on the CPU.

Each measurement runs in a fresh child process (peak RSS = that process's VmHWM, image and result
included; unlike ru_maxrss it does not carry the parent's peak across exec). The models are the
built-in ones when present, else our architectures with random weights (memory depends on the
architecture, not the weights).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def child(task: str, megapixels: float, out_json: Path) -> None:
    import time

    import numpy as np
    import torch
    from safetensors.torch import save_file

    from benchmarks.bench_denoise_memory import _noisy_image, _peak_mib, _rss_mib
    from restorer_gui.inference import archs, loader, registry
    from restorer_gui.inference.ops.denoise import denoise
    from restorer_gui.inference.ops.inpaint import inpaint

    info = next((i for i in registry.list_models(task) if i.builtin), None)
    if info is None:
        arch = {"denoise": "denoise_unet", "inpaint": "inpaint_net"}[task]
        torch.manual_seed(0)
        net = archs.build(arch)
        folder = Path(os.environ["RESTORER_HOME"]) / "bench-models"
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "m.safetensors"))
        (folder / "m.json").write_text(json.dumps({"id": "m", "task": task, "architecture": arch, "hparams": {}}))
        del net
        info = registry.find_model(folder / "m.safetensors")
    model = loader.load_model(info, "cpu")
    width = int(round((megapixels * 1e6) ** 0.5 * 1.25))
    height = int(round(megapixels * 1e6 / width))
    image = _noisy_image(height, width)
    rss_before = _rss_mib()
    start = time.perf_counter()
    if task == "denoise":
        denoise(image, model, sigma=25)
    else:
        mask = np.zeros((height, width), np.uint8)
        rng = np.random.default_rng(0)
        for _ in range(max(4, int(megapixels * 4))):  # scattered scratches, ~1–2 % of the pixels
            x = int(rng.integers(0, width - 8))
            y0 = int(rng.integers(0, max(1, height - 400)))
            mask[y0 : y0 + 400, x : x + 6] = 255
        inpaint(image, mask, model)
    payload = {"task": task, "megapixels": round(width * height / 1e6, 2), "model": info.id,
               "seconds": round(time.perf_counter() - start, 1), "rss_before_mib": round(rss_before, 1),
               "peak_rss_mib": round(_peak_mib(), 1)}
    out_json.write_text(json.dumps(payload), encoding="utf-8")


def measure(task: str, megapixels: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "r.json"
        env = dict(os.environ, RESTORER_HOME=tmp)
        cmd = [sys.executable, "-m", "benchmarks.memory", task, str(megapixels), str(out_json)]
        subprocess.run(cmd, check=True, env=env)
        return json.loads(out_json.read_text(encoding="utf-8"))


def run(sizes: tuple[float, ...] = (1, 4, 16, 64, 100), tasks: tuple[str, ...] = ("denoise", "inpaint")) -> dict:
    """Both tasks at every size (inpainting's damage grows with the photo, ~4 scratches per MP, so the
    100 MP inpaint run takes several minutes on a small CPU)."""
    return {task: [measure(task, mp) for mp in sizes] for task in tasks}


if __name__ == "__main__":
    child(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]))
