"""Packaging hook: ship the checkout's top-level ``resources/`` and ``models/`` inside the package.

Everything else is declared in pyproject.toml. A wheel (built from the checkout or from the
sdist, which carries both folders through MANIFEST.in) gets them as ``restorer_gui/_resources``
and ``restorer_gui/_models``, where :mod:`restorer_gui.paths` looks for them once installed.
Editable installs skip the copy: the package then finds the checkout's folders directly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# top-level folder -> (folder inside the package, file patterns shipped)
SHIPPED = {
    "resources": ("_resources", ("*",)),
    "models": ("_models", ("*.safetensors", "*.json", "*.md", "*.txt")),
}


def _shipped_files(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Files under *folder* matching *patterns*, without hidden files or caches."""
    found: set[Path] = set()
    for pattern in patterns:
        for path in folder.rglob(pattern):
            rel = path.relative_to(folder)
            if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                found.add(path)
    return sorted(found)


class BuildPyWithData(build_py):
    """build_py that also copies the shipped top-level folders into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for source, (target, patterns) in SHIPPED.items():
            src = ROOT / source
            dest = Path(self.build_lib) / "restorer_gui" / target
            if dest.exists():
                shutil.rmtree(dest)
            for path in _shipped_files(src, patterns) if src.is_dir() else []:
                out = dest / path.relative_to(src)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out)


setup(cmdclass={"build_py": BuildPyWithData})
