"""`EditCommand` puts an edit (`restorer_gui.core.history`: plain data with apply/revert) on a QUndoStack.

`QUndoStack.push()` calls `redo()` at once; an edit the user already sees (a painted stroke) is
pushed with `applied=True` so that first redo is skipped.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtGui import QUndoCommand

from restorer_gui.core.history import (  # noqa: F401 - re-exported for the GUI
    AddLayerEdit,
    CompoundEdit,
    Edit,
    EditTarget,
    LayerPropsEdit,
    MaskPatchEdit,
    MoveLayerEdit,
    RemoveLayerEdit,
)

MERGE_LAYER_PROPS = 1001


class UndoTarget(EditTarget, Protocol):
    """What a command changes (the GUI's document model): an `EditTarget` that says when it is replaying
    its own history, so that the stack's redo/undo calls leave it alone."""

    replaying: bool


class EditCommand(QUndoCommand):
    """Adapts an `Edit` to QUndoStack; does nothing while the model replays its history."""

    def __init__(self, model: UndoTarget, edit: Edit, applied: bool) -> None:
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
