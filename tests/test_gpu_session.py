"""tools/gpu_session.sh, the one command a lent GPU machine runs, rehearsed here on the CPU with tiny
budgets and with PySide6, platformdirs, spandrel, tifffile, imagecodecs and scikit-image stubbed out
(the machine's python has none of the first three): every part runs, and $OUT holds what comes back
(at most 8 files of at most 16 MiB, no folders)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_session.sh"
MISSING_THERE = ("PySide6", "platformdirs", "spandrel", "tifffile", "imagecodecs", "skimage")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="needs bash and coreutils' timeout")


def _stubs(folder: Path) -> Path:
    for name in MISSING_THERE:
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}' (stubbed out)\", name={name!r})\n")
    return folder


def _env(tmp_path: Path, budget: str, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTORER_", "GPU_SESSION_"))}
    env.update(PYTHONPATH=str(_stubs(tmp_path / "stubs")), GPU_SESSION_BUDGET=budget, GPU_SESSION_CACHE=str(cache),
               OUT=str(tmp_path / "out"), GPU_SESSION_WORK=str(tmp_path / "work"), GPU_SESSION_PYTHON=sys.executable)
    return env


def _cache(tmp_path: Path) -> Path:
    from restorer_gui.training.datasets import write_patch_cache

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        base = np.cumsum(rng.normal(0, 5, (120, 136, 3)), axis=1) + rng.uniform(60, 190)
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(folder / f"img{i:02d}.png")
    return write_patch_cache([folder], tmp_path / "cache" / "patches.npy", count=40, size=72)


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name.removeprefix("./"): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


@pytest.mark.slow
def test_tiny_rehearsal_runs_every_part_without_the_missing_packages(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(SCRIPT)], env=_env(tmp_path, "tiny", _cache(tmp_path)), cwd=tmp_path,
                          capture_output=True, text=True, timeout=480)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]

    names = sorted(p.name for p in out.iterdir())
    assert names == ["bench.tar.gz", "denoise.tar.gz", "inpaint.tar.gz", "logs.tar.gz", "scratch.tar.gz",
                     "summary.txt"]
    assert all(p.is_file() and 0 < p.stat().st_size <= 16 * 2**20 for p in out.iterdir())

    summary = (out / "summary.txt").read_text()
    assert "env: modules:" in summary
    for name in ("PySide6", "platformdirs", "spandrel"):  # the stubs were in force for the whole run
        assert f"{name} no" in summary
    for part in ("tests      ok", "bench      ok", "train      done", "scratch    ok", "inpaint    ok",
                 "denoise    ok"):
        assert part in summary, summary
    assert "every part ok or skipped" in summary and "outputs:" in summary

    logs = _members(out / "logs.tar.gz")
    assert {"env.txt", "pytest.txt", "bench.txt", "train-scratch.txt", "train-inpaint.txt",
            "train-denoise.txt"} <= set(logs)
    assert b"skipped" in logs["pytest.txt"]  # no CUDA here: the GPU tests were collected and skipped

    bench = _members(out / "bench.tar.gz")
    result = json.loads(next(v for k, v in bench.items() if k.endswith(".json")))
    assert {"denoise-unet-s@cpu", "inpaint-smooth-s@cpu", "scratch-unet-s@cpu"} <= set(result["speed"]["models"])
    assert "cpu" in result["speed"]["scaling"] and "dncnn-sized@cpu" in result["speed"]["references"]

    from restorer_gui.inference import loader

    cards = {"scratch": ("damage-unet-gpu", "detect-scratches"), "inpaint": ("inpaint-smooth-gpu", "inpaint"),
             "denoise": ("denoise-unet-gpu", "denoise")}
    for task, (model_id, card_task) in cards.items():
        files = _members(out / f"{task}.tar.gz")
        assert {f"{model_id}.safetensors", f"{model_id}.json", "log.jsonl", "config.json", "train.log",
                "summary.json", "summary.txt", "val.png"} <= set(files), (task, sorted(files))
        folder = tmp_path / "models" / task
        folder.mkdir(parents=True)
        for name in (f"{model_id}.safetensors", f"{model_id}.json", "val.png"):
            (folder / name).write_bytes(files[name])
        card = json.loads(files[f"{model_id}.json"])
        assert card["task"] == card_task and "cpu_seconds_per_mp" not in card["metrics"]
        assert "tools/gpu_session.sh" in card["notes"] and "--max-minutes" in card["reproduce"]
        model = loader.load_model(folder / f"{model_id}.safetensors", "cpu")  # the app loads what came back
        assert model.task == card_task
        rows = [json.loads(s) for s in files["log.jsonl"].decode().splitlines()]
        vals = [r for r in rows if "val" in r]
        assert vals[0]["step"] == 0 and "init" in vals[0] and vals[-1]["step"] >= 1  # start, then the time box
        stats = json.loads(files["summary.json"])
        assert stats["task"] == task and stats["steps"] >= 1 and stats["init"] is not None
        with Image.open(folder / "val.png") as im:
            assert im.width > 4 * 64 and im.height > 64  # input | start | trained | target


def test_the_full_budget_on_a_machine_without_cuda_stops_after_the_tests(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "out"
    proc = subprocess.run(["bash", str(SCRIPT)], env=_env(tmp_path, "full", tmp_path / "no-cache.npy"),
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = (out / "summary.txt").read_text()
    assert "tests      ok" in summary
    assert "bench      SKIPPED" in summary and "train      SKIPPED" in summary and "NOT A GPU MACHINE" in summary
    assert sorted(p.name for p in out.iterdir()) == ["logs.tar.gz", "summary.txt"]


def test_a_bad_budget_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path, "huge", tmp_path / "c.npy")
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "full or tiny" in proc.stderr
    assert not (tmp_path / "out").exists()
