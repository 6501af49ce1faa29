import numpy as np
import pytest

from restorer_gui.core.layers import Layer, composite, match_layout


def test_composite_blends_visible_layers_at_full_depth():
    original = np.full((4, 5, 3), 1000, np.uint16)
    a = Layer("a", np.full((4, 5, 3), 3000, np.uint16))
    b = Layer("b", np.full((4, 5, 3), 65000, np.uint16), opacity=0.25)
    out = composite(original, [a, b], rows_per_chunk=3)
    assert out.dtype == np.uint16
    assert (out == round(3000 * 0.75 + 65000 * 0.25)).all()
    b.visible = False
    assert (composite(original, [a, b]) == 3000).all()
    a.visible = False
    np.testing.assert_array_equal(composite(original, [a, b]), original)


def test_opacity_over_the_original():
    original = np.zeros((2, 2, 1), np.uint8)
    layer = Layer("x", np.full((2, 2, 1), 200, np.uint8), opacity=0.5)
    assert (composite(original, [layer]) == 100).all()


def test_match_layout_converts_depth_and_channels():
    like = np.zeros((3, 3, 3), np.uint16)
    gray8 = np.full((3, 3, 1), 255, np.uint8)
    out = match_layout(gray8, like)
    assert out.shape == (3, 3, 3) and out.dtype == np.uint16 and (out == 65535).all()
    rgba = match_layout(np.zeros((3, 3, 3), np.uint8), np.zeros((3, 3, 4), np.uint8))
    assert (rgba[..., 3] == 255).all()
    with pytest.raises(ValueError, match="photo is"):
        match_layout(np.zeros((2, 3, 3), np.uint8), like)
