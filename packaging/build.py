"""Build the one-folder bundle with PyInstaller: dist/restorer-gui/ (dist/Restorer.app on macOS).

    python packaging/build.py [--install cpu|default] [--torch-index URL] [--check]

Run it with the Python of a dedicated build environment (never the development venv you want to
keep): --install puts the app's dependencies, the chosen torch and PyInstaller into it first.
  cpu      torch only (CPU build; no torchvision, so no third-party spandrel architectures)
           from --torch-index, e.g. https://download.pytorch.org/whl/cpu, or the configured index
  default  the dependencies as pyproject.toml lists them: CUDA torch on Linux/Windows, MPS on macOS
--check runs the bundle's --self-test and a --screenshot afterwards. See packaging/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "restorer-gui.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"


def bundle_executable() -> Path:
    """The built launcher inside dist/."""
    if sys.platform == "darwin":
        return DIST / "Restorer.app" / "Contents" / "MacOS" / "restorer-gui"
    return DIST / "restorer-gui" / ("restorer-gui.exe" if sys.platform == "win32" else "restorer-gui")


def name(requirement: str) -> str:
    """The distribution name of a requirement string."""
    return re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0).lower()


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", *args], check=True)


def install_requirements(variant: str, torch_index: str | None) -> None:
    """Install what the bundle needs into the running interpreter's environment."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    if variant == "cpu":
        torch_req = next(d for d in deps if name(d) == "torch")
        _pip(torch_req, *(["--index-url", torch_index] if torch_index else []))
        # spandrel needs torchvision, which the CPU torch lacks here: both stay out of this variant.
        deps = [d for d in deps if name(d) not in ("torch", "torchvision", "spandrel")]
    _pip(*deps, "pyinstaller>=6.10")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(clean: bool) -> Path:
    """Run PyInstaller on the spec; returns the bundle folder."""
    out = DIST / ("Restorer.app" if sys.platform == "darwin" else "restorer-gui")
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(DIST), "--workpath", str(WORK)]
    if clean:
        cmd.append("--clean")
    t0 = time.perf_counter()
    subprocess.run([*cmd, str(SPEC)], check=True, cwd=ROOT)
    print(f"build: {out} in {time.perf_counter() - t0:.0f} s, {folder_size(out) / 2**20:.0f} MiB")
    return out


def check() -> int:
    """The bundle's --self-test, then a --screenshot with the sample photo (headless where needed)."""
    exe = bundle_executable()
    env = dict(os.environ)
    if sys.platform.startswith("linux") and not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    t0 = time.perf_counter()
    code = subprocess.run([str(exe), "--self-test"], check=False, env=env).returncode
    print(f"check: --self-test exited {code} after {time.perf_counter() - t0:.1f} s")
    if code:
        return code
    shot = WORK / "screenshot.png"
    t0 = time.perf_counter()
    code = subprocess.run([str(exe), "--screenshot", str(shot)], check=False, env=env).returncode
    print(f"check: --screenshot exited {code} after {time.perf_counter() - t0:.1f} s ({shot})")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the restorer-gui bundle with PyInstaller.")
    parser.add_argument("--install", choices=("cpu", "default"), help="install the build requirements first")
    parser.add_argument("--torch-index", help="pip index URL for the CPU torch (with --install cpu)")
    parser.add_argument("--no-clean", action="store_true", help="reuse PyInstaller's cache in build/pyinstaller")
    parser.add_argument("--check", action="store_true", help="run the bundle's --self-test and --screenshot")
    args = parser.parse_args(argv)
    if args.install:
        install_requirements(args.install, args.torch_index)
    if importlib.util.find_spec("PyInstaller") is None:
        print("build: PyInstaller is not installed here (use --install, or pip install pyinstaller)", file=sys.stderr)
        return 2
    build(clean=not args.no_clean)
    return check() if args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
