"""Where the damage in a mask lies and how thick it is: connected regions, the boxes to work on around
them (with context in proportion to each region's thickness), and block tests of a hole's thickness.

Plain numpy on H×W boolean holes (True = damage); boxes are (x0, y0, x1, y1) with exclusive ends.
"""

from __future__ import annotations

import math

import numpy as np

from restorer_gui.core.mask_ops import mask_bbox

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive ends)


def mask_regions(hole: np.ndarray, *, min_context: int = 48, context_ratio: float = 0.75) -> list[Box]:
    """Boxes to inpaint: each connected damage region's bounding box grown by
    max(min_context, context_ratio × its thickness), clipped, with overlapping boxes merged.

    The thickness is the box's longer side for a compact hole, and about twice the area over that
    side for a long one, so a scratch across the photo gets the context its width needs, not its
    length's (which would merge every scratch into one photo-sized region)."""
    h, w = hole.shape
    boxes = []
    for (bx0, by0, bx1, by1), area in components(hole):
        long_side = max(bx1 - bx0, by1 - by0)
        thickness = min(long_side, 2 * area / long_side)
        margin = max(min_context, int(context_ratio * thickness))
        boxes.append(grow_box((bx0, by0, bx1, by1), margin, w, h))
    return merge_boxes(boxes)


def components(hole: np.ndarray) -> list[tuple[Box, int]]:
    """Bounding boxes of connected regions, found on a coarse grid of cells (≤ ~1024² cells),
    each with its area counted in whole cells (an upper bound on its pixels)."""
    h, w = hole.shape
    cell = max(4, math.ceil(max(h, w) / 1024))
    gh, gw = -(-h // cell), -(-w // cell)
    padded = np.zeros((gh * cell, gw * cell), bool)
    padded[:h, :w] = hole
    grid = padded.reshape(gh, cell, gw, cell).any(axis=(1, 3))
    seen = np.zeros_like(grid)
    boxes: list[tuple[Box, int]] = []
    for sy, sx in zip(*np.nonzero(grid), strict=True):
        if seen[sy, sx]:
            continue
        seen[sy, sx] = True
        stack = [(int(sy), int(sx))]
        y0, x0, y1, x1 = sy, sx, sy, sx
        cells = 0
        while stack:
            cy, cx = stack.pop()
            cells += 1
            y0, x0, y1, x1 = min(y0, cy), min(x0, cx), max(y1, cy), max(x1, cx)
            for ny in range(max(cy - 1, 0), min(cy + 2, gh)):
                for nx in range(max(cx - 1, 0), min(cx + 2, gw)):
                    if grid[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        box = (int(x0) * cell, int(y0) * cell, min(w, (int(x1) + 1) * cell), min(h, (int(y1) + 1) * cell))
        tight = mask_bbox(hole[box[1] : box[3], box[0] : box[2]])
        if tight is not None:
            tight_box = (box[0] + tight[0], box[1] + tight[1], box[0] + tight[2], box[1] + tight[3])
            boxes.append((tight_box, cells * cell * cell))
    return boxes


def grow_box(box: Box, margin: int, w: int, h: int) -> Box:
    """*box* grown by *margin* on every side, clipped to a *w* × *h* image."""
    return (max(0, box[0] - margin), max(0, box[1] - margin), min(w, box[2] + margin), min(h, box[3] + margin))


def merge_boxes(boxes: list[Box]) -> list[Box]:
    """Union overlapping boxes until none overlap; sorted top to bottom, left to right."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        result: list[Box] = []
        for b in merged:
            for i, r in enumerate(result):
                if b[0] < r[2] and r[0] < b[2] and b[1] < r[3] and r[1] < b[3]:
                    result[i] = (min(b[0], r[0]), min(b[1], r[1]), max(b[2], r[2]), max(b[3], r[3]))
                    changed = True
                    break
            else:
                result.append(b)
        merged = result
    return sorted(merged, key=lambda b: (b[1], b[0]))


def has_wide_hole(hole: np.ndarray, side: int) -> bool:
    """Whether some *side* × *side* block of the grid aligned at (0, 0) lies wholly inside the hole
    (so the hole is at least *side* and at most 2 × *side* − 1 pixels thick somewhere)."""
    side = max(1, int(side))
    h, w = (hole.shape[0] // side) * side, (hole.shape[1] // side) * side
    if h == 0 or w == 0:
        return False
    return bool(hole[:h, :w].reshape(h // side, side, w // side, side).all(axis=(1, 3)).any())


def hole_thickness_bound(hole: np.ndarray, limit: int) -> int:
    """An upper bound on how thick the hole is, from :func:`has_wide_hole` at doubling block sides:
    with *k* the largest side whose aligned blocks fit in the hole (1 if none), no block of side 2 × *k*
    fits, so the hole is less than 4 × *k* − 1 pixels thick everywhere.  The search stops at *limit*
    (a hole thicker than that gets a bound near *limit*; callers cap their use of it there anyway)."""
    k = 1
    while 2 * k <= limit and has_wide_hole(hole, 2 * k):
        k *= 2
    return 4 * k - 1
