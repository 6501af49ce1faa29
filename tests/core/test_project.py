import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from restorer_gui.core import project
from restorer_gui.core.document import Document
from restorer_gui.core.imageio import ImageData
from restorer_gui.core.project import ProjectError, ProjectSnapshot, load_project, save_project


def make_doc(tmp_path):
    rng = np.random.default_rng(3)
    exif = Image.Exif()
    exif[0x010F] = "ScanCo"
    image = ImageData(pixels=rng.integers(0, 65536, (30, 40, 3), dtype=np.uint16), icc_profile=b"fake-icc-profile",
                      exif=exif.tobytes(), source_format="TIFF", path=tmp_path / "scan.tif")
    doc = Document(image)
    doc.mask[5:10, 5:25] = 255
    a = doc.make_layer("denoised", rng.integers(0, 65536, (30, 40, 3), dtype=np.uint16), "denoise", sigma=25.0)
    b = doc.make_layer("inpainted", rng.integers(0, 65536, (30, 40, 3), dtype=np.uint16), "inpaint")
    b.visible, b.opacity = False, 0.4
    doc.layers += [a, b]
    return doc


def test_round_trip_keeps_everything_at_full_depth(tmp_path):
    doc = make_doc(tmp_path)
    path = tmp_path / "work.rgproj"
    save_project(path, ProjectSnapshot.of(doc, selected_uid=doc.layers[1].uid))
    loaded, selected = load_project(path)
    np.testing.assert_array_equal(loaded.original, doc.original)
    assert loaded.original.dtype == np.uint16
    np.testing.assert_array_equal(loaded.mask, doc.mask)
    assert [(l.name, l.operation, l.params, l.visible, l.opacity) for l in loaded.layers] == [
        ("denoised", "denoise", {"sigma": 25.0}, True, 1.0), ("inpainted", "inpaint", {}, False, 0.4)]
    for a, b in zip(loaded.layers, doc.layers):
        np.testing.assert_array_equal(a.pixels, b.pixels)
    assert loaded.image.icc_profile == b"fake-icc-profile" and loaded.image.exif == doc.image.exif
    assert loaded.path == tmp_path / "scan.tif" and loaded.project_path == path and selected == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_save_keeps_the_previous_project(tmp_path, monkeypatch):
    doc = make_doc(tmp_path)
    path = tmp_path / "work.rgproj"
    save_project(path, ProjectSnapshot.of(doc))
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project, "save_image", broken)
    with pytest.raises(ProjectError, match="No space left"):
        save_project(path, ProjectSnapshot.of(doc))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really", b"hello"])
def test_damaged_files_are_refused(tmp_path, content):
    path = tmp_path / "bad.rgproj"
    path.write_bytes(content)
    with pytest.raises(ProjectError, match="bad.rgproj"):
        load_project(path)


def write_zip(path, manifest, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            zf.writestr(name, data)


def test_zip_bombs_and_odd_members_are_refused(tmp_path):
    good = tmp_path / "ok.rgproj"
    save_project(good, ProjectSnapshot.of(make_doc(tmp_path)))
    manifest = json.loads(zipfile.ZipFile(good).read("manifest.json"))
    bomb = tmp_path / "bomb.rgproj"
    write_zip(bomb, manifest, {"original.tif": b"\0" * 50_000_000})  # compresses to ~50 kB
    with pytest.raises(ProjectError, match="implausibly large"):
        load_project(bomb)
    sneaky = dict(manifest, layers=[{"file": "../../etc/passwd", "name": "x"}])
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != "manifest.json"}
    evil = tmp_path / "evil.rgproj"
    write_zip(evil, sneaky, members)
    with pytest.raises(ProjectError, match="unexpected file name"):
        load_project(evil)
    newer = tmp_path / "newer.rgproj"
    write_zip(newer, dict(manifest, version=99), members)
    with pytest.raises(ProjectError, match="newer version"):
        load_project(newer)
    huge = tmp_path / "huge.rgproj"
    write_zip(huge, dict(manifest, width=100000, height=100000), members)
    with pytest.raises(ProjectError, match="megapixels"):
        load_project(huge)


def _rewrite_manifest(path, **changes):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest.update(changes)
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_scan_resolution_and_png_colour_chunks_are_kept(tmp_path):
    doc = make_doc(tmp_path)
    gama = (45455).to_bytes(4, "big")
    doc.image.dpi, doc.image.color_chunks = (1200.0, 600.0), {"gAMA": gama, "sRGB": b"\x00"}
    path = tmp_path / "work.rgproj"
    save_project(path, ProjectSnapshot.of(doc))
    loaded, _ = load_project(path)
    assert loaded.image.dpi == (1200.0, 600.0)
    assert loaded.image.color_chunks == {"gAMA": gama, "sRGB": b"\x00"}
    plain = make_doc(tmp_path)  # none given: none after loading
    save_project(path, ProjectSnapshot.of(plain))
    loaded, _ = load_project(path)
    assert loaded.image.dpi is None and loaded.image.color_chunks is None


@pytest.mark.parametrize("dpi, chunks", [
    ("300", {"gAMA": "zz"}), ([1e400, 300], {"gAMA": "00"}), ([300], []), ({"x": 1}, {"sRGB": "0000"}),
    ([True, False], "nope"), ([-5, 300], {"cHRM": 7}),
])
def test_odd_resolution_or_colour_entries_are_left_out_not_refused(tmp_path, dpi, chunks):
    path = tmp_path / "work.rgproj"
    save_project(path, ProjectSnapshot.of(make_doc(tmp_path)))
    _rewrite_manifest(path, dpi=dpi, color_chunks=chunks)
    loaded, _ = load_project(path)
    assert loaded.image.dpi is None and loaded.image.color_chunks is None
