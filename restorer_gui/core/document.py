"""A photo being restored: the untouched original, result layers and the damage mask.

Plain Python and numpy; the Qt layer wraps it with signals and undo commands.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from restorer_gui.core.imageio import ImageData
from restorer_gui.core.layers import Layer, composite, match_layout, recipe_of
from restorer_gui.core.recipe import Recipe, Step


class Document:
    """Holds the original (read-only), the result layers (bottom to top) and the mask."""

    def __init__(self, image: ImageData) -> None:
        pixels = image.pixels
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
            raise ValueError("pixels must be H×W×C with 1, 3 or 4 channels")
        pixels.setflags(write=False)
        self.image = image
        self.mask = np.zeros(pixels.shape[:2], np.uint8)
        self.layers: list[Layer] = []
        self.path: Path | None = image.path
        self.saved_path: Path | None = None
        self.project_path: Path | None = None

    @property
    def original(self) -> np.ndarray:
        return self.image.pixels

    @property
    def width(self) -> int:
        return int(self.original.shape[1])

    @property
    def height(self) -> int:
        return int(self.original.shape[0])

    @property
    def bit_depth(self) -> int:
        return 16 if self.original.dtype == np.uint16 else 8

    @property
    def title(self) -> str:
        return self.path.name if self.path else "Untitled"

    def layer_index(self, uid: int) -> int:
        for i, layer in enumerate(self.layers):
            if layer.uid == uid:
                return i
        raise KeyError(uid)

    def layer(self, uid: int) -> Layer:
        return self.layers[self.layer_index(uid)]

    def make_layer(self, name: str, pixels: np.ndarray, operation: str = "import", *, step: Step | None = None,
                   **params: object) -> Layer:
        """A layer converted to the original's size, channels and bit depth (not yet added); ``step`` is the
        recipe step that made it, when an operation did."""
        data = match_layout(pixels, self.original)
        data.setflags(write=False)
        return Layer(name=name, pixels=data, operation=operation, params=dict(params), step=step)

    def recipe(self) -> Recipe | None:
        """The recipe of the visible result (see `layers.recipe_of`); None when no shown layer came from an
        operation."""
        return recipe_of(self.layers)

    def flatten(self) -> np.ndarray:
        """The visible result at full bit depth, as it would be saved."""
        return composite(self.original, self.layers)

    @property
    def has_layered_work(self) -> bool:
        """True when there is work a flat picture cannot hold: result layers or a painted mask."""
        return bool(self.layers) or bool(self.mask.any())

    def layered_work_text(self) -> str:
        """What a flat picture would leave out, in words: "2 result layers and the mask"."""
        parts = []
        if self.layers:
            n = len(self.layers)
            parts.append(f"{n} result layer{'s' if n != 1 else ''}")
        if self.mask.any():
            parts.append("the mask")
        return " and ".join(parts)

    def mask_fraction(self) -> float:
        return float(np.count_nonzero(self.mask >= 128)) / self.mask.size
