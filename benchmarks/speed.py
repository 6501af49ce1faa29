"""Speed: seconds per megapixel for every built-in model and for FFDNet- and DnCNN-sized reference
networks (random weights, speed only) in the same process; growth with image size; tiling cost."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from benchmarks.common import summary


def _image(megapixels: float, seed: int = 0) -> np.ndarray:
    side = int(round((megapixels * 1e6) ** 0.5))
    rng = np.random.default_rng(seed)
    base = np.linspace(30, 220, side, dtype=np.float32)[None, :, None] + np.zeros((side, 1, 3), np.float32)
    return np.clip(base + rng.normal(0, 20, (side, side, 3)).astype(np.float32), 0, 255).astype(np.uint8)


def _timed(fn: Callable[[], object], repeats: int, warm_up: bool = True) -> dict:
    if warm_up:
        fn()  # allocations, kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return summary(times)


def ffdnet_sized():
    """FFDNet's colour configuration: 2×2 pixel-unshuffle + noise map, 12 convs × 96 channels."""
    import torch
    from torch import nn

    class FFDNetSized(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = [nn.Conv2d(15, 96, 3, padding=1), nn.ReLU(inplace=True)]
            for _ in range(10):
                layers += [nn.Conv2d(96, 96, 3, padding=1), nn.BatchNorm2d(96), nn.ReLU(inplace=True)]
            layers.append(nn.Conv2d(96, 12, 3, padding=1))
            self.body = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            down = nn.functional.pixel_unshuffle(x, 2)
            level = torch.full_like(down[:, :3], 25 / 255)
            return nn.functional.pixel_shuffle(self.body(torch.cat([down, level], 1)), 2)

    return FFDNetSized().eval()


def dncnn_sized():
    """CDnCNN's configuration: 17 convs × 64 channels at full resolution."""
    from spandrel.architectures.DnCNN import DnCNN

    return DnCNN(in_nc=3, out_nc=3, nc=64, nb=17, act_mode="BR").eval()


class _WithSigma:
    """Calls a noise-level-conditioned network with σ = 25 (for timing)."""

    def __init__(self, module) -> None:
        self.module = module

    def to(self, device):
        self.module = self.module.to(device)
        return self

    def __call__(self, x):
        import torch

        return self.module(x, torch.full((x.shape[0],), 25 / 255, device=x.device))


def _module_seconds_per_mp(module, megapixels: float, repeats: int, device: str) -> dict:
    """Whole-tensor forward passes (tiles of 512 px, like the app) on a megapixel-sized input."""
    import torch

    module = module.to(device)
    side = int(round((megapixels * 1e6) ** 0.5))
    x = torch.rand(1, 3, 512, 512, device=device)
    tiles = (side * side) / (512 * 512)

    def run() -> None:
        with torch.inference_mode():
            module(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    per_tile = _timed(run, repeats)
    return {k: (v * tiles / megapixels if k in ("median", "min", "max", "p95") else v) for k, v in per_tile.items()}


def run(repeats: int = 3, sizes: tuple[float, ...] = (1, 4, 16, 64), devices: tuple[str, ...] = ("cpu",)) -> dict:
    import torch

    from restorer_gui.inference import loader, pipelines, registry

    out: dict = {"models": {}, "references": {}, "scaling": {}, "tiling": {}, "threads": torch.get_num_threads()}
    image = _image(1.0)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[::40] = 255  # thin lines: 2.5 % of the pixels
    for device in devices:
        for info in registry.list_models():
            if not info.builtin:
                continue
            model = loader.load_model(info, device)
            calls = {
                "denoise": lambda m=model: pipelines.denoise(image, m, sigma=25),
                "inpaint": lambda m=model: pipelines.inpaint(image, mask, m),
                "detect-scratches": lambda m=model: pipelines.detect_scratches(image, m),
            }
            call = calls.get(model.task)
            if call is not None:
                stats = _timed(call, repeats)
                entry = {"task": model.task, "seconds_per_mp": stats, "megapixels": image.shape[0] * image.shape[1] / 1e6}
                if model.task == "denoise":  # the bare network, measured like the references
                    entry["network_seconds_per_mp"] = _module_seconds_per_mp(
                        _WithSigma(model.module), 1.0, repeats, device)
                out["models"][f"{info.id}@{device}"] = entry
        torch.manual_seed(0)
        for name, build in (("ffdnet-sized", ffdnet_sized), ("dncnn-sized", dncnn_sized)):
            out["references"][f"{name}@{device}"] = {"seconds_per_mp": _module_seconds_per_mp(build(), 1.0, repeats, device)}
    denoisers = [i for i in registry.list_models("denoise") if i.builtin]
    if denoisers:
        loaded = {}
        for device in devices:  # time against size, every size repeated (no warm-up run for the big ones)
            model = loaded[device] = loader.load_model(denoisers[0], device)
            per_size = out["scaling"].setdefault(device, {})
            for mp in sizes:
                img = _image(mp, seed=int(mp))
                stats = _timed(lambda im=img, m=model: pipelines.denoise(im, m, sigma=25), repeats, warm_up=mp < 16)
                per_size[str(mp)] = {"seconds": stats, "seconds_per_mp": stats["median"] / mp}
                del img
        model = loaded[devices[0]]  # the tiling figures are the first device's
        whole = _timed(lambda: pipelines.denoise(image, model, sigma=25, tile=1024), repeats)
        small = _timed(lambda: pipelines.denoise(image, model, sigma=25, tile=256), repeats)
        out["tiling"] = {"tile_1024_s": whole, "tile_256_s": small, "overhead_256_vs_1024": small["median"] / whole["median"] - 1}
        ours = out["models"].get(f"{denoisers[0].id}@{devices[0]}")
        for name in ("ffdnet", "dncnn"):
            ref = out["references"].get(f"{name}-sized@{devices[0]}")
            if ref and ours and "network_seconds_per_mp" in ours:  # bare networks, same tiles, same run
                out[f"ratio_ours_to_{name}"] = ours["network_seconds_per_mp"]["median"] / ref["seconds_per_mp"]["median"]
    return out
