"""Mask tools and their settings (plain data shared by the canvas and the tool bar)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

MIN_BRUSH = 1
MAX_BRUSH = 1000


class Tool(enum.Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    RECT = "rect"
    LASSO = "lasso"

    @property
    def label(self) -> str:
        return {"brush": "Brush", "eraser": "Eraser", "rect": "Rectangle", "lasso": "Lasso"}[self.value]

    @property
    def paints(self) -> bool:
        return self in (Tool.BRUSH, Tool.ERASER)


@dataclass
class ToolSettings:
    tool: Tool = Tool.BRUSH
    brush_size: int = 24  # diameter in image pixels
    hardness: float = 0.8

    def step_size(self, up: bool) -> int:
        """The next brush size for `]` (up) or `[`: steps grow with the size, as in paint programs."""
        size = self.brush_size
        step = 1 if size < 10 else 2 if size < 30 else 5 if size < 100 else 10 if size < 300 else 50
        size = size + step if up else size - step
        self.brush_size = max(MIN_BRUSH, min(MAX_BRUSH, size))
        return self.brush_size
