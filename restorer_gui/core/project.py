"""Projects: one zip file with the original, the mask and every result layer at full bit depth,
plus a JSON manifest of layers and settings. Written atomically; read defensively.

The manifest also holds each layer's recipe step (``"step"``: the operation and parameters that made it)
and the document's recipe (``"recipe"``: the steps of the visible result layers, in the format of
`core.recipe`, so it can be taken out and run by `restorer batch --recipe`). Both are optional: projects
saved before them open with layers that record no step, and a damaged step is left out with a log line,
never at the cost of the layer.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from restorer_gui.core.document import Document
from restorer_gui.core.errors import ImageError, RestorerError
from restorer_gui.core.imageio import (
    DEFAULT_MAX_PIXELS,
    ImageData,
    load_image,
    save_image,
    valid_color_chunks,
    valid_dpi,
)
from restorer_gui.core.layers import Layer, recipe_of
from restorer_gui.core.recipe import Recipe, RecipeError, Step

log = logging.getLogger(__name__)

PROJECT_SUFFIX = ".rgproj"
FORMAT = "restorer-gui project"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MEMBERS = 1000
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class ProjectError(RestorerError):
    """A project could not be saved or opened (one-line message)."""


@dataclass
class ProjectSnapshot:
    """What a project holds; arrays are shared read-only, so taking one is cheap."""

    original: ImageData
    mask: np.ndarray
    layers: list[Layer]
    source_path: str | None = None
    saved_path: str | None = None
    selected_uid: int | None = None

    @classmethod
    def of(cls, doc: Document, selected_uid: int | None = None) -> ProjectSnapshot:
        return cls(
            original=doc.image,
            mask=doc.mask.copy(),
            layers=[dataclasses.replace(l, params=dict(l.params)) for l in doc.layers],
            source_path=str(doc.path) if doc.path else None,
            saved_path=str(doc.saved_path) if doc.saved_path else None,
            selected_uid=selected_uid,
        )


def _manifest(snap: ProjectSnapshot) -> dict[str, Any]:
    px = snap.original.pixels
    selected = next((i for i, l in enumerate(snap.layers) if l.uid == snap.selected_uid), None)
    recipe = recipe_of(snap.layers)
    return {
        "format": FORMAT,
        "version": VERSION,
        "source_path": snap.source_path,
        "saved_path": snap.saved_path,
        "source_format": snap.original.source_format,
        "width": int(px.shape[1]),
        "height": int(px.shape[0]),
        "channels": int(px.shape[2]),
        "bit_depth": 16 if px.dtype == np.uint16 else 8,
        "has_icc": snap.original.icc_profile is not None,
        "has_exif": snap.original.exif is not None,
        "dpi": list(snap.original.dpi) if snap.original.dpi else None,
        "color_chunks": {k: v.hex() for k, v in (snap.original.color_chunks or {}).items()},
        "selected_layer": selected,
        "layers": [
            {"file": f"layer-{i:03d}.tif", "name": l.name, "operation": l.operation, "params": l.params,
             "visible": bool(l.visible), "opacity": float(l.opacity),
             "step": l.step.to_dict() if l.step is not None else None}
            for i, l in enumerate(snap.layers)
        ],
        "recipe": recipe.to_dict() if recipe is not None else None,
    }


def save_project(path: str | os.PathLike[str], snap: ProjectSnapshot) -> None:
    """Write the project atomically: a temporary zip next to the target, then a rename."""
    target = Path(path)
    try:
        manifest = json.dumps(_manifest(snap), indent=2, default=str)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"{target.name}: cannot describe the layers ({exc})") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise ProjectError(f"cannot write {target.name}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with tempfile.TemporaryDirectory(prefix="restorer-project-") as work:
            files = _write_members(Path(work), snap)
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr(MANIFEST, manifest)
                for name, file in files:
                    zf.write(file, name)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except ImageError as exc:
        tmp.unlink(missing_ok=True)
        raise ProjectError(f"cannot write {target.name}: {exc}") from None
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ProjectError(f"cannot write {target.name}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_members(work: Path, snap: ProjectSnapshot) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []

    def add(name: str, pixels: np.ndarray) -> None:
        file = work / name
        save_image(file, pixels)
        files.append((name, file))

    add("original.tif", snap.original.pixels)
    add("mask.tif", snap.mask[..., None])
    for i, layer in enumerate(snap.layers):
        add(f"layer-{i:03d}.tif", layer.pixels)
    for name, blob in (("original.icc", snap.original.icc_profile), ("original.exif", snap.original.exif)):
        if blob is not None:
            file = work / name
            file.write_bytes(blob)
            files.append((name, file))
    return files


def load_project(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[Document, int | None]:
    """Open a project; returns the document and the index of the selected layer (or None)."""
    source = Path(path)
    try:
        with zipfile.ZipFile(source) as zf:
            manifest = _read_manifest(zf, source.name)
            limit = _member_limit(manifest, max_pixels, source.name)
            with tempfile.TemporaryDirectory(prefix="restorer-project-") as work:
                doc = _build(zf, manifest, Path(work), limit, max_pixels, source.name)
    except ProjectError as exc:
        if str(exc).startswith(f"{source.name}: "):
            raise
        raise ProjectError(f"{source.name}: {exc}") from None  # every message names the file
    except ImageError as exc:
        raise ProjectError(f"{source.name}: {exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError):
        # zlib.error: a damaged deflate stream; NotImplementedError: an unknown compression method
        raise ProjectError(f"{source.name}: not a restorer-gui project, or the file is damaged") from None
    except OSError as exc:
        raise ProjectError(f"{source.name}: {exc.strerror or exc}") from None
    except (KeyError, TypeError, ValueError, ArithmeticError, RuntimeError) as exc:
        # ArithmeticError: int(1e400); RuntimeError: a deeply nested manifest, an encrypted member
        raise ProjectError(f"{source.name}: the project is damaged ({exc})") from None
    doc.project_path = source
    selected = manifest.get("selected_layer")
    return doc, selected if type(selected) is int and 0 <= selected < len(doc.layers) else None


def _read_manifest(zf: zipfile.ZipFile, name: str) -> dict[str, Any]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ProjectError(f"{name}: too many files inside; not a restorer-gui project")
    try:
        info = zf.getinfo(MANIFEST)
    except KeyError:
        raise ProjectError(f"{name}: not a restorer-gui project (no manifest)") from None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ProjectError(f"{name}: the manifest is too large")
    manifest = json.loads(zf.read(MANIFEST).decode("utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ProjectError(f"{name}: not a restorer-gui project")
    if int(manifest.get("version", 0)) > VERSION:
        raise ProjectError(f"{name}: made by a newer version of restorer-gui; please update")
    return manifest


def _member_limit(manifest: dict[str, Any], max_pixels: int | None, name: str) -> int:
    """Largest plausible uncompressed size of one member (guards against zip bombs)."""
    w, h, c = int(manifest["width"]), int(manifest["height"]), int(manifest["channels"])
    if max_pixels is not None and w * h > max_pixels:
        raise ProjectError(f"{name}: {w * h / 1e6:.0f} megapixels is more than the limit of {max_pixels / 1e6:.0f}")
    return w * h * max(c, 1) * 2 * 2 + (1 << 20)


def _extract(zf: zipfile.ZipFile, member: str, work: Path, limit: int) -> Path:
    if "/" in member or "\\" in member or member.startswith("."):
        raise ProjectError(f"unexpected file name {member!r} in the project")
    info = zf.getinfo(member)
    if info.file_size > limit:
        raise ProjectError(f"{member} inside the project is implausibly large")
    out = work / member
    with zf.open(info) as src, open(out, "wb") as dst:
        remaining = limit
        while chunk := src.read(1 << 20):
            remaining -= len(chunk)
            if remaining < 0:
                raise ProjectError(f"{member} inside the project is implausibly large")
            dst.write(chunk)
    return out


def _resolution_and_colour(manifest: dict[str, Any]) -> dict[str, Any]:
    """The original's DPI and PNG colour chunks from the manifest; anything odd there is left out
    (they are worth keeping, not worth refusing a project for)."""
    dpi = manifest.get("dpi")
    if not (isinstance(dpi, list) and len(dpi) == 2 and all(type(v) in (int, float) for v in dpi)):
        dpi = None
    chunks: dict[str, bytes] = {}
    raw = manifest.get("color_chunks")
    for name, text in (raw.items() if isinstance(raw, dict) else ()):
        try:
            chunks[str(name)] = bytes.fromhex(str(text))
        except ValueError:
            continue
    return {"dpi": valid_dpi(dpi), "color_chunks": valid_color_chunks(chunks)}


def _build(zf: zipfile.ZipFile, manifest: dict[str, Any], work: Path, limit: int,
           max_pixels: int | None, name: str) -> Document:
    original = load_image(_extract(zf, "original.tif", work, limit), max_pixels)
    names = set(zf.namelist())
    icc = zf.read("original.icc") if "original.icc" in names else None
    exif = zf.read("original.exif") if "original.exif" in names else None
    source = manifest.get("source_path")
    image = ImageData(pixels=original.pixels, icc_profile=icc, exif=exif,
                      source_format=str(manifest.get("source_format") or ""),
                      path=Path(source) if source else None, **_resolution_and_colour(manifest))
    doc = Document(image)
    mask = load_image(_extract(zf, "mask.tif", work, limit), max_pixels).pixels
    if mask.shape[:2] != doc.mask.shape:
        raise ProjectError(f"{name}: the mask does not fit the photo")
    doc.mask[...] = mask[..., 0] if mask.dtype == np.uint8 else (mask[..., 0] >> 8).astype(np.uint8)
    entries = manifest.get("layers", [])
    files = [str(entry["file"]) for entry in entries]
    if len(set(files)) != len(files):  # one member decoded many times would multiply memory
        raise ProjectError(f"{name}: the project is damaged (a layer file is listed twice)")
    for entry in entries:
        pixels = load_image(_extract(zf, str(entry["file"]), work, limit), max_pixels).pixels
        if pixels.shape[:2] != original.pixels.shape[:2]:
            raise ProjectError(f"{name}: layer {entry.get('name')!r} does not fit the photo")
        layer = doc.make_layer(str(entry.get("name", "Layer")), pixels, str(entry.get("operation", "import")))
        layer.params = dict(entry.get("params") or {})
        layer.step = _read_step(entry.get("step"), name, layer.name)
        layer.visible = bool(entry.get("visible", True))
        layer.opacity = float(min(1.0, max(0.0, float(entry.get("opacity", 1.0)))))
        doc.layers.append(layer)
    saved = manifest.get("saved_path")
    doc.saved_path = Path(saved) if saved else None
    _check_recipe(manifest.get("recipe"), doc, name)
    return doc


def _read_step(raw: Any, name: str, layer: str) -> Step | None:
    """A layer's recipe step from the manifest; a damaged one is left out (logged), the layer is kept."""
    if raw is None:
        return None
    try:
        return Step.from_dict(raw)
    except (RecipeError, RecursionError, TypeError, ValueError) as exc:
        log.warning("%s: layer %r: its recipe step is unreadable and was left out (%s)", name, layer, exc)
        return None


def _check_recipe(raw: Any, doc: Document, name: str) -> None:
    """The saved recipe is the layers' steps written out for readers outside the app; the document's is
    rebuilt from its layers, so a damaged or different saved one only gets a log line."""
    if raw is None:
        return
    try:
        saved = Recipe.from_dict(raw)
    except (RecipeError, RecursionError, TypeError, ValueError) as exc:
        log.warning("%s: the saved recipe is unreadable (%s); it is rebuilt from the layers", name, exc)
        return
    if saved != doc.recipe():
        log.warning("%s: the saved recipe does not match the layers' steps; the layers' steps are used", name)
