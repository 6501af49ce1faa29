"""restorer_gui.selftest: the headless check behind `restorer-gui --self-test`."""

from __future__ import annotations

from pathlib import Path

import pytest

from restorer_gui import paths, selftest
from tests.tiny_models import save_model


@pytest.fixture
def builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "builtin-models"
    folder.mkdir()
    monkeypatch.setattr(paths, "builtin_models_dir", lambda: folder)
    return folder


def test_passes_with_every_kind_of_builtin_model(qapp, builtin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_model(builtin, "tiny-denoise", "denoise")
    save_model(builtin, "tiny-inpaint", "inpaint")
    save_model(builtin, "tiny-scratch", "detect-scratches")
    assert selftest.run_self_test("cpu") == 0
    out = capsys.readouterr().out
    for name in ("resources", "main window", "torch", "model tiny-denoise", "model tiny-inpaint", "model tiny-scratch"):
        assert f"  ok    {name}" in out
    assert "denoised with tiny-denoise, inpainted with tiny-inpaint" in out
    assert out.rstrip().splitlines()[-1].startswith("self-test passed")


def test_an_empty_models_folder_is_a_note(qapp, builtin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.run_self_test("cpu") == 0
    out = capsys.readouterr().out
    assert "  note  built-in models" in out and "image I/O only" in out


def test_a_broken_model_fails_with_its_reason(qapp, builtin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = save_model(builtin, "tiny-denoise", "denoise")
    weights.write_bytes(weights.read_bytes()[:50])
    assert selftest.run_self_test("cpu") == 1
    out = capsys.readouterr().out
    fail = next(line for line in out.splitlines() if line.startswith("  FAIL  model tiny-denoise"))
    assert "tiny-denoise.safetensors" in fail
    assert "self-test FAILED" in out


def test_unknown_device_fails(qapp, builtin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert selftest.run_self_test("tpu") == 1
    assert "FAIL  torch" in capsys.readouterr().out


def test_a_builtin_noise_estimator_is_checked_as_a_map(qapp, builtin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.noise_estimators import save_estimator

    save_estimator(builtin, "tiny-noise", level=12.0)
    assert selftest.run_self_test("cpu") == 0
    out = capsys.readouterr().out
    assert "  ok    model tiny-noise" in out and "noise-estimate, noise_estimator" in out, out
