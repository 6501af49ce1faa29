"""Undoable edits. Each edit is plain data with apply/revert; `EditCommand` puts it on a QUndoStack.

`QUndoStack.push()` calls `redo()` at once; an edit the user already sees (a painted stroke) is
pushed with `applied=True` so that first redo is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtGui import QUndoCommand

from restorer_gui.core.layers import Layer
from restorer_gui.core.mask_ops import Rect, diff_bbox

if TYPE_CHECKING:
    from restorer_gui.qt.document_model import DocumentModel

MERGE_LAYER_PROPS = 1001


class Edit:
    text = "Edit"

    def apply(self, model: DocumentModel) -> None:
        raise NotImplementedError

    def revert(self, model: DocumentModel) -> None:
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

    def apply(self, model: DocumentModel) -> None:
        model.write_mask_patch(self.rect, self.after)

    def revert(self, model: DocumentModel) -> None:
        model.write_mask_patch(self.rect, self.before)

    @property
    def nbytes(self) -> int:
        return int(self.before.nbytes + self.after.nbytes)


@dataclass
class AddLayerEdit(Edit):
    layer: Layer
    index: int
    text: str = "Add layer"

    def apply(self, model: DocumentModel) -> None:
        model.insert_layer(self.index, self.layer)

    def revert(self, model: DocumentModel) -> None:
        model.take_layer(self.layer.uid)

    @property
    def nbytes(self) -> int:
        return self.layer.nbytes


@dataclass
class RemoveLayerEdit(Edit):
    layer: Layer
    index: int
    text: str = "Delete layer"

    def apply(self, model: DocumentModel) -> None:
        model.take_layer(self.layer.uid)

    def revert(self, model: DocumentModel) -> None:
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

    def apply(self, model: DocumentModel) -> None:
        model.move_layer_to(self.uid, self.new_index)

    def revert(self, model: DocumentModel) -> None:
        model.move_layer_to(self.uid, self.old_index)


@dataclass
class LayerPropsEdit(Edit):
    """Name, visibility or opacity of one layer; consecutive opacity changes merge into one step."""

    uid: int
    before: dict[str, Any]
    after: dict[str, Any]
    text: str = "Change layer"
    merge_key: int = 0

    def apply(self, model: DocumentModel) -> None:
        model.set_layer_props(self.uid, self.after)

    def revert(self, model: DocumentModel) -> None:
        model.set_layer_props(self.uid, self.before)


class EditCommand(QUndoCommand):
    """Adapts an `Edit` to QUndoStack; does nothing while the model replays its history."""

    def __init__(self, model: DocumentModel, edit: Edit, applied: bool) -> None:
        super().__init__(edit.text)
        self.model = model
        self.edit = edit
        self._skip_redo = applied

    def redo(self) -> None:
        if self._skip_redo or self.model.replaying:
            self._skip_redo = False
            return
        self.edit.apply(self.model)

    def undo(self) -> None:
        if not self.model.replaying:
            self.edit.revert(self.model)

    def id(self) -> int:  # noqa: A003 - Qt's name
        if isinstance(self.edit, LayerPropsEdit) and set(self.edit.after) == {"opacity"} and not self.model.replaying:
            return MERGE_LAYER_PROPS
        return -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, EditCommand) or not isinstance(other.edit, LayerPropsEdit):
            return False
        mine, theirs = self.edit, other.edit
        if not isinstance(mine, LayerPropsEdit) or (mine.uid, mine.merge_key) != (theirs.uid, theirs.merge_key):
            return False
        if set(theirs.after) != set(mine.after):
            return False
        mine.after = dict(theirs.after)
        return True
