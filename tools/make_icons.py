"""Render resources/icons/restorer-gui.svg into the PNG sizes, the Windows .ico and the macOS .icns.

Needs `rsvg-convert` (Debian: librsvg2-bin) and Pillow; the outputs are committed, so the app and
its builds never need either:

    apt-get install librsvg2-bin
    .venv/bin/python tools/make_icons.py
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SVG = ICONS / "restorer-gui.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def render(size: int) -> Image.Image:
    """The SVG rasterised by librsvg at size × size pixels."""
    png = subprocess.run(
        ["rsvg-convert", "--width", str(size), "--height", str(size), str(SVG)],
        check=True,
        capture_output=True,
    ).stdout
    return Image.open(io.BytesIO(png)).convert("RGBA")


def main() -> int:
    if shutil.which("rsvg-convert") is None:
        print("make_icons: rsvg-convert not found (apt-get install librsvg2-bin)", file=sys.stderr)
        return 1
    renders = {size: render(size) for size in sorted(set(PNG_SIZES + ICO_SIZES + ICNS_SIZES))}
    for size in PNG_SIZES:
        renders[size].save(ICONS / f"restorer-gui-{size}.png", optimize=True)
    largest_ico = renders[max(ICO_SIZES)]
    largest_ico.save(
        ICONS / "restorer-gui.ico",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=[renders[s] for s in ICO_SIZES if s != max(ICO_SIZES)],
    )
    renders[max(ICNS_SIZES)].save(
        ICONS / "restorer-gui.icns", append_images=[renders[s] for s in ICNS_SIZES[:-1]]
    )
    print(f"make_icons: wrote {len(PNG_SIZES)} PNGs, restorer-gui.ico and restorer-gui.icns to {ICONS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
