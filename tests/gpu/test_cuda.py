"""CUDA on a real card: every built-in model gives the CPU's result within the tolerance of its precision,
the fp16/bf16 policy holds, real out-of-memory errors halve the tiles or move the job to the CPU and back,
and the trainers step on the GPU.  Marked ``gpu`` and skipped without CUDA; a lent GPU machine runs them
with ``python3 -m pytest -m gpu tests/gpu`` (tools/gpu_session.sh).  Nothing here needs PySide6,
platformdirs or spandrel: the lent machine has none of them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from restorer_gui.inference import device as devices
from restorer_gui.inference import loader
from restorer_gui.inference.ops.denoise import denoise
from restorer_gui.inference.ops.detect import card_threshold, detect_probability, threshold_probability
from restorer_gui.inference.ops.inpaint import inpaint
from restorer_gui.inference.tiling import TiledRunner

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

MODELS = Path(__file__).resolve().parents[2] / "models"
BUILTIN = sorted(p.stem for p in MODELS.glob("*.json"))
CUDA = torch.device("cuda")


def _photo() -> np.ndarray:
    """A 288×352 crop of the sample photo (a size that is no tile's multiple)."""
    with Image.open(Path(__file__).resolve().parents[2] / "resources" / "sample_photo.jpg") as im:
        return np.asarray(im.convert("RGB"))[40:328, 60:412].copy()


def _mask(h: int, w: int) -> np.ndarray:
    """Thin scratches, a crack and a blob: the holes every inpainting path sees."""
    m = np.zeros((h, w), np.uint8)
    m[50:53, 20:300] = 255
    m[30:250, 200:202] = 255
    m[150:190, 80:130] = 255
    yy, xx = np.mgrid[0:h, 0:w]
    m[np.abs(yy - 0.6 * xx - 40) < 1.5] = 255
    return m


def _run(model: loader.LoadedModel, image: np.ndarray) -> np.ndarray:
    if model.task in ("denoise", "restore"):
        noisy = np.clip(image + np.random.default_rng(0).normal(0, 25, image.shape), 0, 255).astype(np.uint8)
        return denoise(noisy, model, sigma=25)
    if model.task == "inpaint":
        return inpaint(image, _mask(*image.shape[:2]), model)
    if model.task == "detect-scratches":
        return detect_probability(image, model)
    if model.task == "noise-estimate":  # the level map (σ, 0–255) in whole levels
        from restorer_gui.inference.noise_level import noise_map

        noisy = np.clip(image + np.random.default_rng(0).normal(0, 25, image.shape), 0, 255).astype(np.uint8)
        return np.clip(np.rint(noise_map(noisy, model)), 0, 255).astype(np.uint8)
    raise AssertionError(f"no GPU check for task {model.task!r}")


def _free_everything() -> None:
    loader.clear_cache()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()


@pytest.mark.skipif(not BUILTIN, reason="a checkout without models/")
@pytest.mark.parametrize("model_id", BUILTIN)
def test_every_builtin_model_on_cuda_gives_the_cpu_result(model_id: str, shipped_models) -> None:
    image = _photo()
    cpu = loader.load_model(model_id, "cpu")
    gpu = loader.load_model(model_id, "cuda")
    assert gpu.device.type == "cuda" and next(gpu.module.parameters()).is_cuda
    assert gpu.dtype == devices.choose_dtype(CUDA, gpu.supports_half, gpu.supports_bfloat16)
    assert next(gpu.module.parameters()).dtype == gpu.dtype
    expected, got = _run(cpu, image), _run(gpu, image)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    diff = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    # fp16 (and the TF32 convolutions cuDNN uses for fp32) keep ~3 significant digits: a level or two
    # here and there on the 0–255 scale, never a different picture
    assert diff.mean() <= 1.0 and np.percentile(diff, 99) <= 4, (model_id, gpu.dtype, diff.mean(), diff.max())
    if gpu.task == "detect-scratches":
        cut = card_threshold(gpu.info.card)
        agree = (threshold_probability(got, cut) == threshold_probability(expected, cut)).mean()
        assert agree >= 0.995, (model_id, agree)
    if gpu.task == "inpaint":  # outside the holes nothing moves, on any device
        keep = _mask(*image.shape[:2]) == 0
        np.testing.assert_array_equal(got[keep], image[keep])
    del cpu, gpu
    _free_everything()


def test_precision_policy_on_this_card(shipped_models) -> None:
    bf16 = torch.cuda.is_bf16_supported()
    assert devices.choose_dtype(CUDA, supports_half=True) == torch.float16
    assert devices.choose_dtype(CUDA, supports_half=False, supports_bfloat16=True) == (
        torch.bfloat16 if bf16 else torch.float32)
    assert devices.choose_dtype(CUDA, supports_half=False, supports_bfloat16=False) == torch.float32
    assert devices.choose_dtype(torch.device("cpu"), supports_half=True) == torch.float32
    for model_id in BUILTIN:
        assert loader.load_model(model_id, "cuda", precision="fp32").dtype == torch.float32
    half = [m for m in BUILTIN if loader.load_model(m, "cpu").supports_half]
    x = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0)).to(CUDA)
    for model_id in half:  # what fp16 is allowed for, bf16 gives too, close to fp32 on the same card
        model = loader.load_model(model_id, "cuda")
        assert model.dtype == torch.float16
        ref = loader.load_model(model_id, "cuda", precision="fp32")
        want = ref(x)
        for dtype in (torch.float16, torch.bfloat16) if bf16 else (torch.float16,):
            model.module.to(dtype=dtype)
            model.dtype = dtype
            out = model(x)
            assert out.dtype == torch.float32 and torch.isfinite(out).all()
            assert (out - want).abs().mean() < 0.01, (model_id, dtype)
    _free_everything()


def test_a_real_out_of_memory_halves_the_tiles() -> None:
    """The tile function asks the card for 1.5× its memory at 512 px, 0.375× at 256 px."""
    total = torch.cuda.get_device_properties(0).total_memory
    seen: list[int] = []

    def fn(t: torch.Tensor) -> torch.Tensor:
        h, w = t.shape[-2:]
        blob = torch.empty(int(total * 1.5 * h * w / 512**2), dtype=torch.uint8, device=t.device)
        del blob
        seen.append(max(h, w))
        return t

    image = np.random.default_rng(1).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    runner = TiledRunner(fn, tile=512, overlap=32, device="cuda")
    out = runner.run(image)
    np.testing.assert_array_equal(out, image)
    assert runner.oom_retries >= 1 and runner.tile_limit == 256 and seen and max(seen) <= 256
    torch.cuda.empty_cache()


def test_out_of_memory_even_for_small_tiles_goes_on_on_the_cpu_and_back(shipped_models) -> None:
    """Every forward on the card first asks for twice its memory (a real CUDA out-of-memory error):
    the tiles halve down to the floor, the job finishes on the CPU with the CPU's result, and the model
    is back on the card afterwards."""
    denoisers = [m for m in BUILTIN if loader.load_model(m, "cpu").task == "denoise"]
    if not denoisers:
        pytest.skip("no built-in denoiser")
    total = torch.cuda.get_device_properties(0).total_memory
    image = _photo()[:160, :200]
    model = loader.load_model(denoisers[0], "cuda", precision="fp32")
    real = model.forward

    def forward(x, sigma, mask):
        if x.is_cuda:
            torch.empty(2 * total, dtype=torch.uint8, device=x.device)
        return real(x, sigma, mask)

    gpu = dataclasses.replace(model, forward=forward)
    out = denoise(image, gpu, sigma=25, tile=64)
    expected = denoise(image, loader.load_model(denoisers[0], "cpu"), sigma=25, tile=64)
    np.testing.assert_array_equal(out, expected)
    assert gpu.device.type == "cuda" and next(model.module.parameters()).is_cuda
    _free_everything()


@pytest.mark.parametrize(("task", "hparams"), [("denoise", {"nc": [8, 8, 16, 16], "nb": 1}),
                                               ("inpaint", {"nc": [8, 8, 16], "nb": 1}),
                                               ("scratch", {"nc": [8, 16, 32]})])
def test_trainers_step_on_the_gpu_with_bf16_autocast_and_workers(task, hparams, tmp_path) -> None:
    from restorer_gui.training.trainer import TrainConfig, train

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        base = np.cumsum(rng.normal(0, 6, (96, 96, 3)), axis=1) + rng.uniform(60, 190)
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(folder / f"img{i}.png")
    out = tmp_path / task
    cfg = TrainConfig(task=task, out=str(out), steps=6, batch=4, patch=64, lr=1e-3, warmup=1, data=[str(folder)],
                      val_every=3, val_count=4, log_every=1, progress=False, threads=1, hparams=hparams,
                      amp="auto", workers=2, adv_start=3)
    result = train(cfg)
    assert result["step"] == 6
    rows = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in rows if "loss" in r)
    state = torch.load(out / "last.pt", weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    _free_everything()

