"""Seeded, resumable trainers for the denoiser, inpainter, scratch detector, enhancer and noise estimator.

A run lives in one folder: ``last.pt`` (full state, rewritten atomically every few minutes and on
SIGTERM/SIGINT), ``best.pt`` (best validation), ``weights/step_N.pt`` (weights at each validation; these and the
validation use an exponential moving average of the weights),
``log.jsonl`` (losses, learning rate, validation) and ``config.json``. Batches are a pure function of
(seed, step) and the learning rate a pure function of the step, so resuming continues the same run;
``workers`` processes can make the batches ahead of the loop without changing them.  ``max_minutes``
time-boxes a run: when the wall time is up it validates, writes the weights and checkpoints as at its
last step.  A fresh run from ``init`` validates those weights first (step 0 in the log).
Validation uses a held-out part of the training folders only.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from restorer_gui.inference import archs
from restorer_gui.training import datasets as ds
from restorer_gui.training import losses as L

__all__ = ["DEFAULT_TRAIN_DATA", "TASKS", "TrainConfig", "pick_device", "train"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TRAIN_DATA = [str(REPO_ROOT.parent / "shared" / "data" / "train")]


@dataclass
class TrainConfig:
    task: str
    out: str
    steps: int = 100_000
    stop_after: int | None = None
    batch: int = 16
    patch: int = 128
    lr: float = 2e-4
    min_lr_ratio: float = 0.02
    warmup: int = 300
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    arch: str | None = None
    hparams: dict[str, Any] | None = None
    data: list[str] = field(default_factory=lambda: list(DEFAULT_TRAIN_DATA))
    patch_cache: str | None = None
    val_every: int = 500
    val_count: int = 32
    ckpt_every_s: float = 300.0
    log_every: int = 20
    threads: int = 2
    progress: bool = True
    ema: float = 0.999
    amp: str = "auto"
    # inpainting: the reconstruction loss alone before this step, then the PatchGAN joins
    # (None: the resumed run's value, else 0)
    adv_start: int | None = None
    # a fresh run starts from these weights (a .safetensors file or a trainer checkpoint): every tensor
    # whose name and shape match is copied, the rest keeps its random initialisation
    init: str | None = None
    # stop (validate, write the weights, checkpoint) once this many minutes have passed since the run started
    max_minutes: float | None = None
    # processes that make the training batches ahead of the loop (0: in the loop); same batches either way
    workers: int = 0


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def _nchw(a: np.ndarray, device: torch.device) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a))
    t = t.permute(0, 3, 1, 2) if t.ndim == 4 else t.unsqueeze(1)
    return t.contiguous().to(device)


# ---------------------------------------------------------------------------------------------------------
# tasks


class Task:
    """What differs between trainers: defaults, batches, the loss and the validation metric."""

    name = ""
    arch = ""
    hparams: dict[str, Any] = {}
    metric = "val"

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device

    def arrays(self, bank: ds.Bank, step: int, n: int, size: int) -> dict[str, np.ndarray]:
        """A training batch's numpy side (what a worker process makes)."""
        return _ARRAYS[self.name](bank, self.cfg.seed, step, n, size)

    def tensors(self, a: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def batch(self, bank: ds.Bank, step: int, n: int, size: int) -> dict[str, torch.Tensor]:
        return self.tensors(self.arrays(bank, step, n, size))

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    @torch.no_grad()
    def validate(self, model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        raise NotImplementedError

    def val_batches(self, bank: ds.Bank) -> list[dict[str, torch.Tensor]]:
        n, per = self.cfg.val_count, 8
        return [self.batch(bank, 10**9 + i, min(per, n - i), self.cfg.patch) for i in range(0, n, per)]

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class DenoiseTask(Task):
    name, arch, metric = "denoise", "denoise_unet", "psnr25"
    hparams = {"nc": [16, 32, 64, 128], "nb": 2}

    def tensors(self, a: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {
            "noisy": _nchw(a["noisy"], self.device),
            "clean": _nchw(a["clean"], self.device),
            "sigma": torch.from_numpy(a["sigma"]).to(self.device),
        }

    def val_batches(self, bank: ds.Bank) -> list[dict[str, torch.Tensor]]:
        """Held-out clean patches with unclipped Gaussian noise σ = 25 (the benchmark condition)."""
        rng = np.random.default_rng([self.cfg.seed, 777])
        out = []
        for i in range(0, self.cfg.val_count, 8):
            clean = np.stack([bank.random_patch(rng, self.cfg.patch) for _ in range(min(8, self.cfg.val_count - i))])
            clean = clean.astype(np.float32) / 255
            noisy = clean + np.float32(25 / 255) * rng.standard_normal(clean.shape, dtype=np.float32)
            s = torch.full((len(clean),), 25 / 255, device=self.device)
            out.append({"noisy": _nchw(noisy, self.device), "clean": _nchw(clean, self.device), "sigma": s})
        return out

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        loss = L.l1_loss(model(b["noisy"], b["sigma"]), b["clean"])
        return loss, {"l1": loss.item()}

    @torch.no_grad()
    def validate(self, model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        vals = [L.psnr(model(b["noisy"], b["sigma"]), b["clean"]) for b in batches]
        return {"psnr25": float(torch.cat(vals).mean())}


class InpaintTask(Task):
    """Reconstruction: the squared error inside the holes, averaged per crop (each crop counts the
    same whatever its hole size, so thin scratches weigh as much as wide holes) and over the batch;
    from ``adv_start`` a PatchGAN hinge loss and feature matching join.  Measured on CPU runs: the
    earlier pixel-pooled, hole-weighted L1 (wide holes dominate it, and its optimum is the median,
    which for errors spread evenly around a smooth fill is the fill itself) left the network at its
    membrane fill for 6,000 steps; with this loss, 4,000 steps took held-out hole PSNR +0.35 / +0.10 /
    +0.02 dB above the fill on thin / medium / wide masks (Kodak24: +0.48 / +0.09 / +0.01).
    Validation reports hole PSNR per mask kind and their mean."""

    name, arch, metric = "inpaint", "inpaint_net", "hole_psnr"
    hparams = {"nc": [32, 64, 128], "nb": 6, "residual": True, "fill": "smooth"}
    adv_weight, fm_weight = 0.002, 0.02
    kinds = ("thin", "medium", "wide")

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        super().__init__(cfg, device)
        self.disc = L.PatchDiscriminator(in_ch=4, nc=32).to(device)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999))

    def batch(self, bank: ds.Bank, step: int, n: int, size: int, kind: int | None = None) -> dict[str, torch.Tensor]:
        return self.tensors(ds.inpaint_batch(bank, self.cfg.seed, step, n, size, kind))

    def tensors(self, a: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {"clean": _nchw(a["clean"], self.device), "mask": _nchw(a["mask"], self.device)}

    def val_batches(self, bank: ds.Bank) -> list[dict[str, torch.Tensor]]:
        """``val_count`` crops of each mask kind, tagged with the kind."""
        n, per = self.cfg.val_count, 8
        return [self.batch(bank, 10**9 + 1000 * k + i, min(per, n - i), self.cfg.patch, k) | {"kind": k}
                for k in range(len(self.kinds)) for i in range(0, n, per)]

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        clean, m = b["clean"], b["mask"]
        known = clean * (1 - m)
        raw = model.predict_raw(known, m)
        rec = L.hole_mse_per_image(raw.float(), clean, m)
        if step < (self.cfg.adv_start or 0):
            return rec, {"rec": rec.item()}
        comp = known + raw.clamp(0.0, 1.0) * m
        for g in self.opt_d.param_groups:
            g["lr"] = self.cfg.lr * _lr_factor(self.cfg, step)
        d_loss = L.d_hinge_loss(self.disc(torch.cat([clean, m], 1)), self.disc(torch.cat([comp.detach(), m], 1)))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        score, fake_feats = self.disc.features(torch.cat([comp, m], 1))
        with torch.no_grad():
            _, real_feats = self.disc.features(torch.cat([clean, m], 1))
        adv, fm = L.g_hinge_loss(score), L.feature_matching_loss(fake_feats, real_feats)
        loss = rec + self.adv_weight * adv + self.fm_weight * fm
        return loss, {"rec": rec.item(), "adv": adv.item(), "fm": fm.item(), "d": d_loss.item()}

    @torch.no_grad()
    def validate(self, model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        se = [0.0] * len(self.kinds)
        n = [0.0] * len(self.kinds)
        for b in batches:
            out = model(b["clean"], b["mask"]).clamp(0, 1)
            k = int(b.get("kind", 0))
            se[k] += float((((out - b["clean"]) ** 2) * b["mask"]).sum())
            n[k] += float(b["mask"].sum()) * 3
        per = {f"psnr_{name}": 10 * math.log10(1.0 / max(e / max(c, 1.0), 1e-10))
               for name, e, c in zip(self.kinds, se, n, strict=True) if c > 0}
        return {"hole_psnr": sum(per.values()) / max(1, len(per))} | per

    def state_dict(self) -> dict[str, Any]:
        return {"disc": self.disc.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.disc.load_state_dict(state["disc"])
            self.opt_d.load_state_dict(state["opt_d"])


class ScratchTask(Task):
    name, arch, metric = "scratch", "scratch_unet", "f1"
    hparams = {"nc": [16, 32, 64, 128]}

    def tensors(self, a: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {"image": _nchw(a["image"], self.device), "mask": _nchw(a["mask"], self.device)}

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        loss = L.bce_dice_loss(model(b["image"]), b["mask"], pos_weight=2.0)
        return loss, {"bce_dice": loss.item()}

    @torch.no_grad()
    def validate(self, model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        tp = fp = fn = 0.0
        for b in batches:
            pred = torch.sigmoid(model(b["image"])) > 0.5
            gt = b["mask"] >= 0.5
            tp += float((pred & gt).sum())
            fp += float((pred & ~gt).sum())
            fn += float((~pred & gt).sum())
        p, r = tp / max(tp + fp, 1.0), tp / max(tp + fn, 1.0)
        return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12)}


class EnhanceTask(Task):
    """Faded prints (`core.fading`) → the photo (a B&W print → its neutral gray): L1 on the full patch,
    which holds the whole correction (curves, colour matrix and local grid); PSNR on held-out images."""

    name, arch, metric = "enhance", "enhance_curves", "psnr"
    hparams = {"nc": [16, 32, 64, 64], "knots": 16, "grid": 8, "thumb": 128, "hidden": 128}

    def tensors(self, a: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {"faded": _nchw(a["faded"], self.device), "target": _nchw(a["target"], self.device)}

    def val_batches(self, bank: ds.Bank) -> list[dict[str, torch.Tensor]]:
        """Held-out faded prints, none left clean (a clean crop's input PSNR is infinite and would swamp the mean)."""
        n, per = self.cfg.val_count, 8
        return [self.tensors(ds.enhance_batch(bank, self.cfg.seed, 10**9 + i, min(per, n - i), self.cfg.patch, 0.0))
                for i in range(0, n, per)]

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        loss = L.l1_loss(model(b["faded"]), b["target"])
        return loss, {"l1": loss.item()}

    @torch.no_grad()
    def validate(self, model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        ours = torch.cat([L.psnr(model(b["faded"]), b["target"]) for b in batches])
        given = torch.cat([L.psnr(b["faded"], b["target"]) for b in batches])
        return {"psnr": float(ours.mean()), "psnr_input": float(given.mean())}


class NoiseEstimateTask(Task):
    """Scans with real-scan noise (`core.scan_noise`) → the noise's std at each pixel. The loss is the L1
    distance of log levels on the network's 1/8 grid (the target: each cell's root-mean-square std), so a
    ratio error costs the same at σ 3 as at σ 40. Validation: that distance on held-out crops (``log_err``,
    its negative ``neg_log_err`` picks the best weights) and the same for the level Auto reads from each
    crop (the 0.9 quantile of its map, ``auto_log_err``)."""

    name, arch, metric = "noise-estimate", "noise_estimator", "neg_log_err"
    hparams = {"nc": [16, 32, 32], "body": 1, "smooth": 1}
    eps = 1.0 / 255  # levels below about σ 1 count as σ 1

    def tensors(self, a: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {"noisy": _nchw(a["noisy"], self.device), "sigma_map": _nchw(a["sigma_map"], self.device)}

    def _pair(self, model: nn.Module, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        low = model.forward_low(b["noisy"]).float()
        f = b["sigma_map"].shape[-1] // low.shape[-1]
        target = torch.nn.functional.avg_pool2d(b["sigma_map"] ** 2, f).sqrt()
        return torch.log(low + self.eps), torch.log(target + self.eps)

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        pred, target = self._pair(model, b)
        loss = (pred - target).abs().mean()
        return loss, {"log_l1": loss.item()}

    @torch.no_grad()
    def validate(self, model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        cells, crops = [], []
        for b in batches:
            pred, target = self._pair(model, b)
            cells.append((pred - target).abs().flatten(1).mean(1))
            q = lambda t: torch.quantile(t.flatten(1), 0.9, dim=1)  # noqa: E731
            crops.append((q(pred) - q(target)).abs())
        err, auto = float(torch.cat(cells).mean()), float(torch.cat(crops).mean())
        return {"neg_log_err": -err, "log_err": err, "auto_log_err": auto}


TASKS: dict[str, type[Task]] = {t.name: t for t in (DenoiseTask, InpaintTask, ScratchTask, EnhanceTask,
                                                     NoiseEstimateTask)}
_ARRAYS = {"denoise": ds.denoise_batch, "inpaint": ds.inpaint_batch, "scratch": ds.scratch_batch,
           "enhance": ds.enhance_batch, "noise-estimate": ds.noise_estimate_batch}


# ---------------------------------------------------------------------------------------------------------
# batches made ahead in worker processes

_worker_bank: ds.Bank | None = None


def _worker_init(bank: ds.Bank) -> None:
    global _worker_bank
    _worker_bank = bank
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's: it saves, then ends the pool


def _worker_arrays(task: str, seed: int, step: int, n: int, size: int) -> dict[str, np.ndarray]:
    return _ARRAYS[task](_worker_bank, seed, step, n, size)


class _Batches:
    """The training batches in step order: made in the loop, or by ``cfg.workers`` processes a few steps
    ahead of it (forked before the model or any device exists, sharing the bank). Each batch is still the
    pure function of (seed, step), so a run is the same with or without workers."""

    def __init__(self, cfg: TrainConfig, bank: ds.Bank) -> None:
        self.cfg, self.bank = cfg, bank
        self.pending: collections.deque[tuple[int, Any]] = collections.deque()
        self.next = 0
        self.pool = None
        if cfg.workers > 0:
            import multiprocessing as mp

            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            self.pool = ctx.Pool(cfg.workers, _worker_init, (bank,))

    def get(self, task: Task, step: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if self.pool is None:
            return task.batch(self.bank, step, cfg.batch, cfg.patch)
        if not self.pending or self.pending[0][0] != step:
            self.pending.clear()
            self.next = step
        while len(self.pending) < 2 * cfg.workers:
            args = (task.name, cfg.seed, self.next, cfg.batch, cfg.patch)
            self.pending.append((self.next, self.pool.apply_async(_worker_arrays, args)))
            self.next += 1
        return task.tensors(self.pending.popleft()[1].get())

    def __enter__(self) -> _Batches:
        return self

    def __exit__(self, *_: Any) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


# ---------------------------------------------------------------------------------------------------------
# the loop


def _lr_factor(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` at ``cfg.steps``."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def _use_bf16(amp: str, device: torch.device) -> bool:
    """bf16 autocast: "bf16" forces it, "off" disables it, "auto" uses it on CUDA GPUs that support it."""
    if amp not in ("auto", "bf16", "off"):
        raise ValueError(f"amp must be auto, bf16 or off, not {amp!r}")
    if amp == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return amp == "bf16"


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1 − decay)·model (buffers copied)."""
    for e, m in zip(ema.state_dict().values(), model.state_dict().values(), strict=True):
        if e.dtype.is_floating_point:
            e.mul_(decay).add_(m.detach(), alpha=1 - decay)
        else:
            e.copy_(m)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log records written after the checkpoint being resumed (the run repeats those steps)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if int(json.loads(line).get("step", 0)) <= step:
                keep.append(line)
        except (ValueError, AttributeError):
            continue
    path.write_text("".join(k + "\n" for k in keep))


def _save(obj: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _load_bank(cfg: TrainConfig) -> tuple[ds.Bank, ds.Bank]:
    if cfg.patch_cache and Path(cfg.patch_cache).exists():
        return ds.PatchBank.load(cfg.patch_cache).split()
    return ds.ImageBank.from_folders(cfg.data).split()


class _Stop:
    """Turns SIGTERM/SIGINT into a flag so the loop can save a checkpoint before exiting."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, *_: Any) -> None:
        self.requested = True

    def __exit__(self, *_: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _init_from(model: nn.Module, path: str) -> tuple[int, int]:
    """Copy the tensors of ``path`` (safetensors or a trainer checkpoint, loaded safely) whose names and
    shapes match ``model``'s; returns (copied, tensors in the model)."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file

        weights = load_file(path)
    else:
        from restorer_gui.training.export import read_checkpoint

        weights = read_checkpoint(path)["model"]
    own = model.state_dict()
    match = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(match, strict=False)
    return len(match), len(own)


def train(cfg: TrainConfig, resume: bool = False, log: Any = None) -> dict[str, Any]:
    """Train (or resume) a run; returns {'step', 'best', 'out', 'timed_out'}. Stops at ``stop_after`` or
    ``steps``, or when ``max_minutes`` are up."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if cfg.task not in TASKS:
        raise ValueError(f"unknown task {cfg.task!r}; choose from {sorted(TASKS)}")
    started = time.monotonic()
    train_bank, val_bank = _load_bank(cfg)  # before the workers fork: they share it
    with _Batches(cfg, train_bank) as batches:
        return _train(cfg, resume, log, started, val_bank, batches)


def _train(cfg: TrainConfig, resume: bool, log: Any, started: float, val_bank: ds.Bank,
           batches: _Batches) -> dict[str, Any]:
    out = Path(cfg.out)
    (out / "weights").mkdir(parents=True, exist_ok=True)
    last = out / "last.pt"
    state: dict[str, Any] | None = None
    if resume and last.exists():
        from restorer_gui.training.export import read_checkpoint

        state = read_checkpoint(last)
        old = state["config"]
        for key in ("task", "arch", "hparams", "seed", "batch", "patch"):
            if key in old and old[key] != getattr(cfg, key) and getattr(cfg, key) is not None:
                log(f"resume: {key} changed from {old[key]!r} to {getattr(cfg, key)!r}")
        cfg.arch, cfg.hparams = old["arch"], old["hparams"]
        if cfg.amp == "auto":
            cfg.amp = old.get("amp", "auto")
        if cfg.adv_start is None:
            cfg.adv_start = old.get("adv_start")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN pick its fastest kernels
    task = TASKS[cfg.task](cfg, device)
    cfg.arch = cfg.arch or task.arch
    cfg.hparams = dict(cfg.hparams if cfg.hparams is not None else task.hparams)
    torch.manual_seed(cfg.seed)
    model = archs.build(cfg.arch, **cfg.hparams).to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best = 0, -math.inf
    if state is None and cfg.init:
        copied, total = _init_from(model, cfg.init)
        ema.load_state_dict(model.state_dict())
        log(f"init: {copied} of {total} tensors from {cfg.init}")
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state.get("ema", state["model"]))
        opt.load_state_dict(state["opt"])
        task.load_state_dict(state.get("task", {}))
        step, best = int(state["step"]), float(state["best"])
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed {last} at step {step} (best {task.metric} {best:.3f})")
        _truncate_log(out / "log.jsonl", step)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    val = task.val_batches(val_bank)
    end = min(cfg.steps, cfg.stop_after if cfg.stop_after is not None else cfg.steps)
    nparams = sum(p.numel() for p in model.parameters())
    use_bf16 = _use_bf16(cfg.amp, device)
    log(f"{cfg.task}: {cfg.arch} {cfg.hparams} ({nparams:,} params) on {device}{' bf16' if use_bf16 else ''}, "
        f"steps {step}→{end}, out {out}")
    if state is None and cfg.init:  # where the run starts from, for comparison
        metrics = task.validate(ema, val)
        with (out / "log.jsonl").open("a") as fh:
            fh.write(json.dumps({"step": step, "val": metrics, "init": str(cfg.init)}) + "\n")
        log(f"step {step} (init): " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

    def checkpoint() -> None:
        _save(
            {
                "step": step, "best": best, "model": model.state_dict(), "ema": ema.state_dict(),
                "opt": opt.state_dict(),
                "task": task.state_dict(), "config": dataclasses.asdict(cfg), "arch": cfg.arch,
                "hparams": cfg.hparams, "torch_rng": torch.get_rng_state(),
            },
            last,
        )

    def weights_only(path: Path, metrics: dict[str, float]) -> None:
        _save({"step": step, "model": ema.state_dict(), "arch": cfg.arch, "hparams": cfg.hparams,
               "metrics": metrics, "config": dataclasses.asdict(cfg)}, path)

    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=end, initial=step, desc=cfg.task, mininterval=1.0 if sys.stderr.isatty() else 60.0,
                   dynamic_ncols=True)
    logf = (out / "log.jsonl").open("a")
    t_ckpt, t0, acc, nacc = time.monotonic(), time.monotonic(), {}, 0
    timed_out = False
    model.train()
    with _Stop() as stop:
        while step < end and not stop.requested:
            for g in opt.param_groups:
                g["lr"] = cfg.lr * _lr_factor(cfg, step)
            b = batches.get(task, step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss, parts = task.loss(model, b, step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            _ema_update(ema, model, 0.0 if step < cfg.warmup else cfg.ema)
            step += 1
            nacc += 1
            if cfg.max_minutes is not None and step < end and time.monotonic() - started >= cfg.max_minutes * 60:
                end = step  # time box: this step is the last (logged, validated, weights written)
                timed_out = True
                log(f"time box: {cfg.max_minutes:g} min are up at step {step}")
            for k, v in {"loss": loss.item(), **parts}.items():
                acc[k] = acc.get(k, 0.0) + v
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
            if step % cfg.log_every == 0 or step == end:
                rec = {"step": step, "lr": opt.param_groups[0]["lr"], "time": round(time.monotonic() - t0, 1)}
                rec.update({k: round(v / nacc, 6) for k, v in acc.items()})
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                acc, nacc = {}, 0
            if step % cfg.val_every == 0 or step == end:
                metrics = task.validate(ema, val)
                logf.write(json.dumps({"step": step, "val": metrics}) + "\n")
                logf.flush()
                log(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
                weights_only(out / "weights" / f"step_{step}.pt", metrics)
                if metrics[task.metric] > best:
                    best = metrics[task.metric]
                    weights_only(out / "best.pt", metrics)
                checkpoint()
                t_ckpt = time.monotonic()
            elif time.monotonic() - t_ckpt > cfg.ckpt_every_s:
                checkpoint()
                t_ckpt = time.monotonic()
        checkpoint()
    logf.close()
    if bar is not None:
        bar.close()
    if stop.requested:
        log(f"stopped at step {step}; resume with --resume")
    return {"step": step, "best": best, "out": str(out), "timed_out": timed_out}
