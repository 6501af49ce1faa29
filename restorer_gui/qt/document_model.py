"""The open document as seen by the GUI: the core `Document` plus signals and an undo stack."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from restorer_gui.core.document import Document
from restorer_gui.core.layers import Layer
from restorer_gui.core.mask_ops import Rect
from restorer_gui.core.history import (
    AddLayerEdit,
    Edit,
    LayerPropsEdit,
    MaskPatchEdit,
    MoveLayerEdit,
    RemoveLayerEdit,
)
from restorer_gui.qt.commands import EditCommand

DEFAULT_UNDO_BUDGET = 512 * 1024 * 1024


class DocumentModel(QObject):
    """Every change to a document goes through here, so views hear about it and undo works."""

    mask_changed = Signal(object)  # Rect, or None for the whole mask
    layers_changed = Signal()  # added, removed or reordered
    layer_props_changed = Signal(int)  # uid
    selection_changed = Signal(object)  # uid or None
    undo_stack_replaced = Signal(object, object)  # old stack, new stack

    def __init__(self, document: Document, undo_budget: int = DEFAULT_UNDO_BUDGET, parent: QObject | None = None):
        super().__init__(parent)
        self.doc = document
        self.undo_budget = int(undo_budget)
        self.undo_stack = QUndoStack(self)
        self.replaying = False
        self.selected_uid: int | None = None
        self.dropped_steps = 0
        self._merge_serial = 0
        self.recovered = False  # opened from an autosave: unsaved until the user saves

    # --- primitive changes (used by edits; they notify but do not record) -------------------
    def write_mask_patch(self, rect: Rect, values: np.ndarray) -> None:
        x0, y0, x1, y1 = rect
        self.doc.mask[y0:y1, x0:x1] = values
        self.mask_changed.emit(rect)

    def notify_mask_changed(self, rect: Rect | None) -> None:
        self.mask_changed.emit(rect)

    def insert_layer(self, index: int, layer: Layer) -> None:
        self.doc.layers.insert(index, layer)
        self.layers_changed.emit()
        self.select_layer(layer.uid)

    def take_layer(self, uid: int) -> Layer:
        layer = self.doc.layers.pop(self.doc.layer_index(uid))
        if self.selected_uid == uid:
            self.selected_uid = self.doc.layers[-1].uid if self.doc.layers else None
            self.selection_changed.emit(self.selected_uid)
        self.layers_changed.emit()
        return layer

    def move_layer_to(self, uid: int, index: int) -> None:
        layer = self.doc.layers.pop(self.doc.layer_index(uid))
        self.doc.layers.insert(index, layer)
        self.layers_changed.emit()

    def set_layer_props(self, uid: int, props: dict[str, Any]) -> None:
        layer = self.doc.layer(uid)
        for key, value in props.items():
            setattr(layer, key, value)
        self.layer_props_changed.emit(uid)

    def select_layer(self, uid: int | None) -> None:
        if uid != self.selected_uid:
            self.selected_uid = uid
            self.selection_changed.emit(uid)

    @property
    def selected_layer(self) -> Layer | None:
        if self.selected_uid is None:
            return None
        try:
            return self.doc.layer(self.selected_uid)
        except KeyError:
            return None

    # --- recorded changes ------------------------------------------------------------------
    def push(self, edit: Edit, applied: bool = False) -> None:
        """Record an edit (and apply it unless the user already sees it applied)."""
        self.undo_stack.push(EditCommand(self, edit, applied))
        self._enforce_budget()

    def replace_mask(self, new_mask: np.ndarray, text: str) -> bool:
        """Replace the whole mask as one undo step; False when nothing changed."""
        edit = MaskPatchEdit.from_masks(self.doc.mask, new_mask, text)
        if edit is None:
            return False
        self.push(edit)
        return True

    def add_layer(self, layer: Layer, index: int | None = None) -> None:
        index = len(self.doc.layers) if index is None else index
        self.push(AddLayerEdit(layer, index, f"Add layer “{layer.name}”"))

    def remove_layer(self, uid: int) -> None:
        index = self.doc.layer_index(uid)
        layer = self.doc.layers[index]
        self.push(RemoveLayerEdit(layer, index, f"Delete layer “{layer.name}”"))

    def move_layer(self, uid: int, new_index: int) -> None:
        old = self.doc.layer_index(uid)
        new_index = max(0, min(new_index, len(self.doc.layers) - 1))
        if new_index != old:
            self.push(MoveLayerEdit(uid, old, new_index, "Move layer"))

    def change_layer(self, uid: int, **props: Any) -> None:
        layer = self.doc.layer(uid)
        before = {k: getattr(layer, k) for k in props}
        if before == props:
            return
        names = {"name": "Rename layer", "visible": "Show/hide layer", "opacity": "Layer opacity"}
        text = names.get(next(iter(props)), "Change layer") if len(props) == 1 else "Change layer"
        self.push(LayerPropsEdit(uid, before, dict(props), text, self._merge_serial))

    def end_merge(self) -> None:
        """The next opacity change starts a new undo step instead of merging with the last."""
        self._merge_serial += 1

    @property
    def modified(self) -> bool:
        return self.recovered or not self.undo_stack.isClean()

    def mark_saved(self) -> None:
        self.recovered = False
        self.undo_stack.setClean()

    # --- bounded undo memory ---------------------------------------------------------------
    def undo_bytes(self) -> int:
        return sum(self._command(i).edit.nbytes for i in range(self.undo_stack.count()))

    def _command(self, i: int) -> EditCommand:
        cmd = self.undo_stack.command(i)
        assert isinstance(cmd, EditCommand)
        return cmd

    def _enforce_budget(self) -> None:
        """Past the budget, drop the oldest steps (keeping at least the newest one).

        QUndoStack cannot drop its oldest commands, so the kept ones move to a fresh stack
        while `replaying` keeps them from touching the document.
        """
        stack = self.undo_stack
        sizes = [self._command(i).edit.nbytes for i in range(stack.count())]
        if sum(sizes) <= self.undo_budget or len(sizes) <= 1:
            return
        index, total, drop = stack.index(), sum(sizes), 0
        while total > self.undo_budget * 0.75 and drop < index - 1:
            total -= sizes[drop]
            drop += 1
        if drop == 0:
            return
        self._rebuild_stack(drop)

    def _rebuild_stack(self, drop: int) -> None:
        old = self.undo_stack
        edits = [self._command(i).edit for i in range(drop, old.count())]
        index, clean = old.index() - drop, old.cleanIndex() - drop
        new = QUndoStack(self)
        self.replaying = True
        try:
            for i, edit in enumerate(edits):
                if i == clean:
                    new.setClean()
                new.push(EditCommand(self, edit, applied=True))
            if clean == len(edits):
                new.setClean()
            elif clean < 0 or old.cleanIndex() < 0:
                new.resetClean()
            new.setIndex(index)
        finally:
            self.replaying = False
        self.undo_stack = new
        self.dropped_steps += drop
        self.undo_stack_replaced.emit(old, new)
        old.deleteLater()
