"""The PyInstaller bundle builds and passes its own --self-test (only with RESTORER_TEST_BUNDLE=1: minutes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_PYTHON = os.environ.get("RESTORER_BUNDLE_PYTHON") or sys.executable

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("RESTORER_TEST_BUNDLE") != "1",
        reason="builds the PyInstaller bundle (minutes): set RESTORER_TEST_BUNDLE=1 (and RESTORER_BUNDLE_PYTHON)",
    ),
]


def test_bundle_builds_and_passes_its_self_test() -> None:
    has_pyinstaller = subprocess.run([BUILD_PYTHON, "-c", "import PyInstaller"], check=False, capture_output=True).returncode == 0
    if not has_pyinstaller:
        pytest.skip(f"PyInstaller is not installed for {BUILD_PYTHON} (pip install pyinstaller)")
    env = {k: v for k, v in os.environ.items() if k != "RESTORER_HOME"}  # the self-test uses a temporary home
    done = subprocess.run(
        [BUILD_PYTHON, str(ROOT / "packaging" / "build.py"), "--check"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    tail = (done.stdout + done.stderr)[-4000:]
    assert done.returncode == 0, tail
    assert "self-test passed" in done.stdout, tail
    assert "check: --screenshot exited 0" in done.stdout, tail
