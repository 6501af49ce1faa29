"""Speed: seconds per megapixel for every built-in model and for FFDNet- and DnCNN-sized reference
networks (random weights, speed only) in the same process; growth with image size; tiling cost. The noise
estimator Denoise ▸ Auto uses is timed too: its bare network (random weights, the card's default widths)
next to the references, and, when one ships, its whole-photo map and Auto's reading (16 blocks)."""

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


class _PeakGPU:
    """Peak GPU memory allocated by torch while the block runs, in MiB (None off CUDA)."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self.mib: float | None = None

    def __enter__(self) -> _PeakGPU:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *_: object) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self.mib = round(torch.cuda.max_memory_allocated() / 2**20, 1)


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
    """CDnCNN's configuration: 17 convs × 64 channels at full resolution (spandrel's DnCNN; the same
    layers built here where spandrel is missing, as on a bare GPU machine)."""
    try:
        from spandrel.architectures.DnCNN import DnCNN
    except ImportError:
        from torch import nn

        layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(15):
            layers += [nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(64, 3, 3, padding=1))
        return nn.Sequential(*layers).eval()
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
    """Whole-tensor forward passes (tiles of 512 px, like the app; smaller only for a smaller probe) on a
    megapixel-sized input."""
    import torch

    module = module.to(device)
    side = int(round((megapixels * 1e6) ** 0.5))
    tile = max(16, min(512, side // 16 * 16))
    x = torch.rand(1, 3, tile, tile, device=device)
    tiles = (side * side) / (tile * tile)

    def run() -> None:
        with torch.inference_mode():
            module(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    per_tile = _timed(run, repeats)
    return {k: (v * tiles / megapixels if k in ("median", "min", "max", "p95") else v) for k, v in per_tile.items()}


def run(repeats: int = 3, sizes: tuple[float, ...] = (1, 4, 16, 64), devices: tuple[str, ...] = ("cpu",),
        probe_mp: float = 1.0) -> dict:
    import torch

    from restorer_gui.inference import archs, loader, registry
    from restorer_gui.inference.noise_level import learned_sigma, noise_map
    from restorer_gui.inference.ops.denoise import denoise
    from restorer_gui.inference.ops.detect import detect_scratches
    from restorer_gui.inference.ops.inpaint import inpaint

    out: dict = {"models": {}, "references": {}, "scaling": {}, "tiling": {}, "threads": torch.get_num_threads()}
    image = _image(probe_mp)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[::40] = 255  # thin lines: 2.5 % of the pixels
    for device in devices:
        for info in registry.list_models():
            if not info.builtin:
                continue
            model = loader.load_model(info, device)
            calls = {
                "denoise": lambda m=model: denoise(image, m, sigma=25),
                "inpaint": lambda m=model: inpaint(image, mask, m),
                "detect-scratches": lambda m=model: detect_scratches(image, m),
                "noise-estimate": lambda m=model: noise_map(image, m),
            }
            call = calls.get(model.task)
            if call is not None:
                with _PeakGPU(device) as peak:
                    stats = _timed(call, repeats)
                entry = {"task": model.task, "seconds_per_mp": stats, "megapixels": image.shape[0] * image.shape[1] / 1e6}
                if peak.mib is not None:
                    entry["peak_gpu_mib"] = peak.mib
                if model.task == "denoise":  # the bare network, measured like the references
                    entry["network_seconds_per_mp"] = _module_seconds_per_mp(
                        _WithSigma(model.module), probe_mp, repeats, device)
                if model.task == "noise-estimate":  # what Auto costs on any photo: 16 blocks of 256 px
                    entry["network_seconds_per_mp"] = _module_seconds_per_mp(model.module, probe_mp, repeats, device)
                    entry["auto_seconds"] = _timed(lambda m=model: learned_sigma(image, m), repeats)
                out["models"][f"{info.id}@{device}"] = entry
        torch.manual_seed(0)
        for name, build in (("ffdnet-sized", ffdnet_sized), ("dncnn-sized", dncnn_sized),
                            ("noise-estimator", lambda: archs.build("noise_estimator").eval())):
            out["references"][f"{name}@{device}"] = {
                "seconds_per_mp": _module_seconds_per_mp(build(), probe_mp, repeats, device)}
    denoisers = [i for i in registry.list_models("denoise") if i.builtin]
    if denoisers:
        loaded = {}
        for device in devices:  # time against size, every size repeated (no warm-up run for the big ones)
            model = loaded[device] = loader.load_model(denoisers[0], device)
            per_size = out["scaling"].setdefault(device, {})
            for mp in sizes:
                img = _image(mp, seed=int(mp))
                with _PeakGPU(device) as peak:
                    stats = _timed(lambda im=img, m=model: denoise(im, m, sigma=25), repeats, warm_up=mp < 16)
                per_size[str(mp)] = {"seconds": stats, "seconds_per_mp": stats["median"] / mp}
                if peak.mib is not None:
                    per_size[str(mp)]["peak_gpu_mib"] = peak.mib
                del img
        model = loaded[devices[0]]  # the tiling figures are the first device's
        whole = _timed(lambda: denoise(image, model, sigma=25, tile=1024), repeats)
        small = _timed(lambda: denoise(image, model, sigma=25, tile=256), repeats)
        out["tiling"] = {"tile_1024_s": whole, "tile_256_s": small, "overhead_256_vs_1024": small["median"] / whole["median"] - 1}
        ours = out["models"].get(f"{denoisers[0].id}@{devices[0]}")
        for name in ("ffdnet", "dncnn"):
            ref = out["references"].get(f"{name}-sized@{devices[0]}")
            if ref and ours and "network_seconds_per_mp" in ours:  # bare networks, same tiles, same run
                out[f"ratio_ours_to_{name}"] = ours["network_seconds_per_mp"]["median"] / ref["seconds_per_mp"]["median"]
    return out
