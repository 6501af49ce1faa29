"""The wheel (built checkout → sdist → wheel, offline) carries resources/ and models/ and finds them once installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "restorer_gui", "resources", "models")
APP_ID = "io.github.restorer_gui.RestorerGui"


def _setuptools_ok() -> bool:
    try:
        major, minor = (int(p) for p in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (70, 1)


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _setuptools_ok(), reason="needs setuptools>=70.1 (the test extra) to build offline"),
]


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{args[:4]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _copy_sources(dest: Path) -> Path:
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "_resources", "_models")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():  # a checkout without models/ (git keeps no empty folder) is fine
            shutil.copy2(src, dest / name)
    return dest


def _expected_files() -> set[str]:
    """Package paths that must be in the wheel, from what the checkout holds."""
    expected = {
        "restorer_gui/_resources/sample_photo.jpg",
        "restorer_gui/_resources/sample_photo_mask.png",
        f"restorer_gui/_resources/{APP_ID}.desktop",
        f"restorer_gui/_resources/{APP_ID}.metainfo.xml",
        "restorer_gui/_resources/icons/restorer-gui.svg",
        "restorer_gui/_resources/icons/restorer-gui.ico",
        "restorer_gui/_resources/icons/restorer-gui.icns",
    }
    expected |= {f"restorer_gui/_resources/icons/restorer-gui-{s}.png" for s in (16, 24, 32, 48, 64, 128, 256, 512)}
    for model in (ROOT / "models").glob("*.safetensors"):
        expected.add(f"restorer_gui/_models/{model.name}")
    for card in (ROOT / "models").glob("*.json"):
        expected.add(f"restorer_gui/_models/{card.name}")
    return expected


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """checkout copy → sdist (setuptools backend) → wheel (pip, no build isolation, no network)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = _copy_sources(tmp / "src")
    code = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    sdist = tmp / "sdist" / _run(sys.executable, "-c", code, tmp / "sdist", cwd=src).strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (unpacked,) = (tmp / "unpacked").iterdir()
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", tmp / "dist", unpacked, cwd=tmp)
    (built,) = (tmp / "dist").glob("restorer_gui-*.whl")
    return built


def test_wheel_carries_resources_and_models(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _expected_files() - names
    assert not missing, f"missing from {wheel.name}: {sorted(missing)}"
    assert "restorer_gui/paths.py" in names
    assert not any("__pycache__" in n or n.startswith(("resources/", "models/", "tests/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "restorer-gui = restorer_gui.app:main" in text and "restorer = restorer_gui.cli:main" in text


def test_installed_wheel_finds_its_folders(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    _run(sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", target, wheel, cwd=tmp_path)
    # -S: no site-packages, so neither the checkout nor an editable install can answer the import.
    code = (
        "import restorer_gui, restorer_gui.paths as p; "
        "print(restorer_gui.__file__); print(p.resources_dir()); print(p.builtin_models_dir()); "
        "print(p.sample_photo().is_file())"
    )
    hidden = ("PYTHONPATH", "RESTORER_BUILTIN_MODELS_DIR")
    env = {k: v for k, v in os.environ.items() if k not in hidden} | {"PYTHONPATH": str(target)}
    package, resources, models, sample_ok = _run(sys.executable, "-S", "-c", code, cwd=tmp_path, env=env).split("\n")[:4]
    installed = (target / "restorer_gui").resolve()
    assert Path(package).parent == installed
    assert Path(resources) == installed / "_resources"
    assert Path(models) == installed / "_models"
    assert sample_ok == "True"
    assert (installed / "_resources" / "icons" / "restorer-gui.svg").is_file()
    for model in (ROOT / "models").glob("*.safetensors"):
        assert (installed / "_models" / model.name).is_file()
