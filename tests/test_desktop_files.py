"""resources/: the app icon set, the .desktop file and the AppStream metainfo."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from restorer_gui import __version__
from restorer_gui.desktop import APP_ID, ICON_SIZES

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
ICONS = RESOURCES / "icons"
DESKTOP = RESOURCES / f"{APP_ID}.desktop"
METAINFO = RESOURCES / f"{APP_ID}.metainfo.xml"


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def _validator(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (apt-get install {'appstream' if 'appstream' in name else 'desktop-file-utils'})")
    return exe


def test_icon_pngs_have_their_sizes() -> None:
    for size in ICON_SIZES:
        with Image.open(ICONS / f"restorer-gui-{size}.png") as im:
            assert im.size == (size, size) and im.mode == "RGBA"
            alpha = im.getchannel("A")
            assert alpha.getextrema() == (0, 255), "transparent surroundings, opaque picture"


def test_ico_and_icns_hold_several_sizes() -> None:
    with Image.open(ICONS / "restorer-gui.ico") as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(ICONS / "restorer-gui.icns") as icns:
        sizes = {s[:2] for s in icns.info["sizes"]}
        assert {(16, 16), (32, 32), (128, 128), (256, 256), (512, 512)} <= sizes


def test_svg_renders_in_qt(qapp) -> None:
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(ICONS / "restorer-gui.svg"))
    assert renderer.isValid()
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    assert image.pixelColor(32, 40).alpha() == 255  # the print covers the middle
    assert image.pixelColor(1, 62).alpha() == 0  # the corner stays transparent


def test_desktop_entry_fields() -> None:
    entry = _entry(DESKTOP)
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "restorer-gui %F"
    assert entry["Icon"] == APP_ID
    assert {"Graphics", "Photography", "RasterGraphics"} <= set(entry["Categories"].rstrip(";").split(";"))
    mime = set(entry["MimeType"].rstrip(";").split(";"))
    assert mime == {"image/jpeg", "image/png", "image/tiff", "image/bmp", "image/webp"}
    assert entry["Terminal"] == "false"


def test_metainfo_fields() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "MIT"
    assert root.findtext("summary")
    assert root.find("description/p") is not None
    assert root.find("launchable").text == f"{APP_ID}.desktop"
    assert {b.text for b in root.findall("provides/binary")} >= {"restorer-gui"}
    assert root.find("content_rating").get("type").startswith("oars-")
    versions = [r.get("version") for r in root.findall("releases/release")]
    assert __version__ in versions


def test_desktop_file_validates() -> None:
    done = subprocess.run([_validator("desktop-file-validate"), str(DESKTOP)], check=False, capture_output=True, text=True)
    assert done.returncode == 0 and "error" not in done.stdout, done.stdout + done.stderr


def test_metainfo_validates() -> None:
    exe = _validator("appstreamcli")
    done = subprocess.run([exe, "validate", "--no-net", str(METAINFO)], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\nE:" not in "\n" + done.stdout and "\nW:" not in "\n" + done.stdout, done.stdout
