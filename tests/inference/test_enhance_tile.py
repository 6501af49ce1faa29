"""`--tile N` reaches Fix Fading and Colour's full-resolution pass: `restorer enhance`, `restorer restore --steps
... enhance` and `restorer batch --steps enhance` correct the photo in N×N tiles (never wider), with the same pixels
as without a tile. The prediction reads a thumbnail of the whole photo and is not tiled (global by design)."""

from __future__ import annotations

import numpy as np
import pytest

from restorer_gui import paths
from restorer_gui.cli import main
from restorer_gui.core import imageio
from restorer_gui.inference.archs.enhance_curves import EnhanceCurves
from restorer_gui.inference.ops import enhance as enhance_op
from tests.tiny_enhancer import save_enhancer


@pytest.fixture
def pieces(monkeypatch):
    """The (height, width) of every piece the enhancement model's full-resolution pass is given."""
    seen: list[tuple[int, int]] = []
    real = EnhanceCurves.apply

    def apply(self, x, p, box=None):
        seen.append(tuple(x.shape[-2:]))
        return real(self, x, p, box)

    monkeypatch.setattr(EnhanceCurves, "apply", apply)
    return seen


def _photo(h=150, w=210, seed=4):
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.normal(0, 3, (h, w, 3)), axis=1) + np.array([160, 120, 80])
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("command", [["enhance"], ["restore", "--steps", "enhance"]])
def test_the_tile_option_tiles_the_enhance_pass(command, tmp_path, pieces):
    save_enhancer(paths.user_models_dir())
    photo = _photo()
    src = tmp_path / "faded.png"
    imageio.save_image(src, photo)

    assert main([*command, str(src), "-o", str(tmp_path / "whole.png"), "--device", "cpu"]) == 0
    assert max(w for _, w in pieces) == 210  # without a tile: full-width strips
    pieces.clear()
    assert main([*command, str(src), "-o", str(tmp_path / "tiled.png"), "--device", "cpu", "--tile", "64"]) == 0
    assert pieces and max(h for h, _ in pieces) <= 64 and max(w for _, w in pieces) <= 64
    assert len(pieces) == 3 * 4  # 150×210 in 64-px tiles

    whole = imageio.load_image(tmp_path / "whole.png").pixels
    tiled = imageio.load_image(tmp_path / "tiled.png").pixels
    assert np.abs(whole.astype(int) - photo).mean() > 1  # the tiny enhancer changes the photo
    np.testing.assert_array_equal(tiled, whole)  # each pixel is corrected by its place and value alone


def test_batch_tiles_the_enhance_pass(tmp_path, pieces):
    save_enhancer(paths.user_models_dir())
    folder = tmp_path / "scans"
    folder.mkdir()
    imageio.save_image(folder / "a.png", _photo(100, 120, seed=1))
    out = tmp_path / "out"
    assert main(["batch", str(folder), str(out), "--steps", "enhance", "--device", "cpu", "--tile", "48"]) == 0
    assert (out / "a.png").is_file()
    assert pieces and max(max(p) for p in pieces) <= 48


def test_a_tiny_tile_is_raised_to_the_minimum_and_a_region_keeps_its_place(pieces):
    from restorer_gui.inference import ops

    save_enhancer(paths.user_models_dir())
    photo = _photo(90, 100)
    net = ops.ModelSet("cpu").get(enhance_op.TASKS)
    full = enhance_op.enhance(photo, net)
    pieces.clear()
    tiled = enhance_op.enhance(photo, net, tile=5)
    assert max(max(p) for p in pieces) == enhance_op.MIN_TILE
    np.testing.assert_array_equal(tiled, full)
    box = (30, 20, 90, 70)  # a region (the GUI's preview) in tiles, as inside the whole photo
    region = enhance_op.enhance(photo, net, box=box, tile=32)
    np.testing.assert_array_equal(region, full[20:70, 30:90])
