import numpy as np
import pytest

from restorer_gui.core import mask_ops


def test_hard_brush_dot_is_a_disk_of_the_right_radius():
    mask = np.zeros((50, 50), np.uint8)
    rect = mask_ops.stamp_segment(mask, (25, 25), (25, 25), radius=10, hardness=1.0)
    assert rect is not None
    ys, xs = np.mgrid[0:50, 0:50] + 0.5
    d = np.hypot(xs - 25, ys - 25)
    assert (mask[d <= 9.4] == 255).all()
    assert (mask[d >= 10.6] == 0).all()
    x0, y0, x1, y1 = rect
    assert mask[:y0].sum() == mask[y1:].sum() == mask[:, :x0].sum() == mask[:, x1:].sum() == 0


def test_segment_covers_the_path_and_nothing_far_from_it():
    mask = np.zeros((40, 100), np.uint8)
    mask_ops.stamp_segment(mask, (10, 20), (90, 20), radius=3, hardness=1.0)
    assert (mask[18:23, 10:90] == 255).all()
    assert mask[:15].max() == 0 and mask[26:].max() == 0
    assert mask[:, :6].max() == 0 and mask[:, 95:].max() == 0


def test_soft_brush_falls_off_and_repainting_does_not_build_up():
    mask = np.zeros((60, 60), np.uint8)
    mask_ops.stamp_segment(mask, (30, 30), (30, 30), radius=20, hardness=0.0)
    centre, mid, rim = mask[30, 30], mask[30, 40], mask[30, 49]
    assert centre > mid > rim >= 0 and 100 < mid < 160
    before = mask.copy()
    mask_ops.stamp_segment(mask, (30, 30), (30, 30), radius=20, hardness=0.0)
    np.testing.assert_array_equal(mask, before)


def test_eraser_removes_paint():
    mask = np.full((30, 30), 255, np.uint8)
    mask_ops.stamp_segment(mask, (15, 15), (15, 15), radius=5, hardness=1.0, erase=True)
    assert mask[15, 15] == 0 and mask[0, 0] == 255


def test_stamp_outside_the_image_changes_nothing():
    mask = np.zeros((20, 20), np.uint8)
    assert mask_ops.stamp_segment(mask, (-50, -50), (-40, -45), radius=3) is None
    assert mask.max() == 0


def test_rect_and_polygon_fill():
    mask = np.zeros((20, 30), np.uint8)
    assert mask_ops.fill_rect(mask, (5, 2, 10, 6)) == (5, 2, 10, 6)
    assert mask.sum() == 255 * 5 * 4 and (mask[2:6, 5:10] == 255).all()
    mask[:] = 0
    mask_ops.fill_polygon(mask, [(0, 0), (20, 0), (0, 20)])
    assert mask[2, 2] == 255 and mask[18, 18] == 0


def test_bbox_and_diff_bbox():
    mask = np.zeros((10, 10), np.uint8)
    assert mask_ops.mask_bbox(mask) is None
    mask[3:5, 6:9] = 1
    assert mask_ops.mask_bbox(mask) == (6, 3, 9, 5)
    other = mask.copy()
    other[7, 1] = 9
    assert mask_ops.diff_bbox(mask, other) == (1, 7, 2, 8)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_grow_and_shrink_by_n_pixels(n):
    mask = np.zeros((80, 80), np.uint8)
    mask[40, 40] = 255
    grown = mask_ops.grow(mask, n)
    ys, xs = np.nonzero(grown)
    assert xs.min() == 40 - n and xs.max() == 40 + n and ys.min() == 40 - n and ys.max() == 40 + n
    assert grown[40 - n, 40 - n] == 0 if n > 1 else True  # octagon, not a square
    block = np.zeros((80, 80), np.uint8)
    block[20:60, 20:60] = 255
    shrunk = mask_ops.shrink(block, n)
    ys, xs = np.nonzero(shrunk)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (20 + n, 59 - n, 20 + n, 59 - n)


def test_shrink_does_not_erode_from_the_image_border():
    mask = np.full((20, 20), 255, np.uint8)
    np.testing.assert_array_equal(mask_ops.shrink(mask, 3), mask)


def test_invert_and_mask_from_image():
    mask = np.array([[0, 255]], np.uint8)
    np.testing.assert_array_equal(mask_ops.invert(mask), [[255, 0]])
    rgb = np.zeros((4, 6, 3), np.uint16)
    rgb[1, 2] = 65535
    m = mask_ops.mask_from_image(rgb, 12, 8)
    assert m.shape == (8, 12) and m.dtype == np.uint8
    assert m[2:4, 4:6].min() == 255 and m.sum() == 255 * 4
