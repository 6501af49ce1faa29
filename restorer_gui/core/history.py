"""Undoable edits of a document, as plain data with apply/revert (no Qt).

An edit changes a document through an `EditTarget` (the GUI's document model, which also tells the views);
`restorer_gui.qt.commands.EditCommand` puts edits on a QUndoStack. `CompoundEdit` makes several edits one
undo step (a result layer added and the mask it used cleared).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from restorer_gui.core.layers import Layer
from restorer_gui.core.mask_ops import Rect, diff_bbox

__all__ = [
    "AddLayerEdit", "CompoundEdit", "Edit", "EditTarget", "LayerPropsEdit", "MaskPatchEdit", "MoveLayerEdit",
    "RemoveLayerEdit",
]


class EditTarget(Protocol):
    """The primitive changes an edit may make; each notifies its views but records nothing."""

    def write_mask_patch(self, rect: Rect, values: np.ndarray) -> None: ...
    def insert_layer(self, index: int, layer: Layer) -> None: ...
    def take_layer(self, uid: int) -> Layer: ...
    def move_layer_to(self, uid: int, index: int) -> None: ...
    def set_layer_props(self, uid: int, props: dict[str, Any]) -> None: ...


class Edit:
    text = "Edit"

    def apply(self, model: EditTarget) -> None:
        raise NotImplementedError

    def revert(self, model: EditTarget) -> None:
        raise NotImplementedError

    @property
    def nbytes(self) -> int:
        return 0


@dataclass
class MaskPatchEdit(Edit):
    """A mask change stored as the before/after patch of its bounding box only."""

    rect: Rect
    before: np.ndarray
    after: np.ndarray
    text: str = "Paint mask"

    @classmethod
    def from_masks(cls, old: np.ndarray, new: np.ndarray, text: str, hint: Rect | None = None) -> MaskPatchEdit | None:
        """The patch where `old` and `new` differ (searched within `hint` when given), or None."""
        if hint is not None:
            x0, y0, x1, y1 = hint
            inner = diff_bbox(old[y0:y1, x0:x1], new[y0:y1, x0:x1])
            rect = None if inner is None else (inner[0] + x0, inner[1] + y0, inner[2] + x0, inner[3] + y0)
        else:
            rect = diff_bbox(old, new)
        if rect is None:
            return None
        x0, y0, x1, y1 = rect
        return cls(rect, old[y0:y1, x0:x1].copy(), new[y0:y1, x0:x1].copy(), text)

    def apply(self, model: EditTarget) -> None:
        model.write_mask_patch(self.rect, self.after)

    def revert(self, model: EditTarget) -> None:
        model.write_mask_patch(self.rect, self.before)

    @property
    def nbytes(self) -> int:
        return int(self.before.nbytes + self.after.nbytes)


@dataclass
class AddLayerEdit(Edit):
    layer: Layer
    index: int
    text: str = "Add layer"

    def apply(self, model: EditTarget) -> None:
        model.insert_layer(self.index, self.layer)

    def revert(self, model: EditTarget) -> None:
        model.take_layer(self.layer.uid)

    @property
    def nbytes(self) -> int:
        return self.layer.nbytes


@dataclass
class RemoveLayerEdit(Edit):
    layer: Layer
    index: int
    text: str = "Delete layer"

    def apply(self, model: EditTarget) -> None:
        model.take_layer(self.layer.uid)

    def revert(self, model: EditTarget) -> None:
        model.insert_layer(self.index, self.layer)

    @property
    def nbytes(self) -> int:
        return self.layer.nbytes


@dataclass
class MoveLayerEdit(Edit):
    uid: int
    old_index: int
    new_index: int
    text: str = "Move layer"

    def apply(self, model: EditTarget) -> None:
        model.move_layer_to(self.uid, self.new_index)

    def revert(self, model: EditTarget) -> None:
        model.move_layer_to(self.uid, self.old_index)


@dataclass
class LayerPropsEdit(Edit):
    """Name, visibility or opacity of one layer; consecutive opacity changes merge into one step."""

    uid: int
    before: dict[str, Any]
    after: dict[str, Any]
    text: str = "Change layer"
    merge_key: int = 0

    def apply(self, model: EditTarget) -> None:
        model.set_layer_props(self.uid, self.after)

    def revert(self, model: EditTarget) -> None:
        model.set_layer_props(self.uid, self.before)


@dataclass
class CompoundEdit(Edit):
    """Several edits as one undo step: applied in order, reverted in reverse order."""

    edits: list[Edit] = field(default_factory=list)
    text: str = "Edit"

    def apply(self, model: EditTarget) -> None:
        for e in self.edits:
            e.apply(model)

    def revert(self, model: EditTarget) -> None:
        for e in reversed(self.edits):
            e.revert(model)

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self.edits)
