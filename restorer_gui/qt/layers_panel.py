"""The layers panel: results over the original, with visibility, opacity, order, rename, delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from restorer_gui.qt.document_model import DocumentModel

ORIGINAL_ROW_UID = -1


class LayersPanel(QWidget):
    """Top row = top layer; the original is the locked bottom row."""

    import_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: DocumentModel | None = None
        self._updating = False
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.valueChanged.connect(self._on_opacity_moved)
        self.opacity.sliderReleased.connect(self._on_opacity_released)
        self.opacity_label = QLabel("Opacity")
        self.up_button = self._button("▲", "Move the layer up")
        self.down_button = self._button("▼", "Move the layer down")
        self.delete_button = self._button("✕", "Delete the layer")
        self.import_button = self._button("+", "Import an image as a layer…")
        self.up_button.clicked.connect(lambda: self._move(+1))
        self.down_button.clicked.connect(lambda: self._move(-1))
        self.delete_button.clicked.connect(self.delete_selected)
        self.import_button.clicked.connect(self.import_requested)
        row = QHBoxLayout()
        row.addWidget(self.opacity_label)
        row.addWidget(self.opacity, 1)
        buttons = QHBoxLayout()
        for b in (self.import_button, self.up_button, self.down_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        layout.addLayout(buttons)
        self._refresh()

    def _button(self, text: str, tip: str) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setAccessibleName(tip)
        return b

    def set_model(self, model: DocumentModel | None) -> None:
        if self.model is not None:
            self.model.layers_changed.disconnect(self._refresh)
            self.model.layer_props_changed.disconnect(self._on_props_changed)
            self.model.selection_changed.disconnect(self._on_model_selection)
        self.model = model
        if model is not None:
            model.layers_changed.connect(self._refresh)
            model.layer_props_changed.connect(self._on_props_changed)
            model.selection_changed.connect(self._on_model_selection)
        self._refresh()

    # --- model → view --------------------------------------------------------------------
    def _refresh(self) -> None:
        self._updating = True
        try:
            self.list.clear()
            if self.model is not None:
                self._fill_rows(self.model)
        finally:
            self._updating = False
        self._sync_controls()

    def _fill_rows(self, model: DocumentModel) -> None:
        for layer in reversed(model.doc.layers):
            item = QListWidgetItem(layer.name)
            item.setData(Qt.ItemDataRole.UserRole, layer.uid)
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsEditable
                | Qt.ItemFlag.ItemIsUserCheckable
            )
            item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            item.setToolTip(self._describe(layer))
            self.list.addItem(item)
        original = QListWidgetItem(f"Original  ({model.doc.bit_depth}-bit)")
        original.setData(Qt.ItemDataRole.UserRole, ORIGINAL_ROW_UID)
        original.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        original.setToolTip("The photo as opened; it is never changed.")
        self.list.addItem(original)
        self._select_row_of(model.selected_uid)

    @staticmethod
    def _describe(layer) -> str:
        params = ", ".join(f"{k}={v}" for k, v in layer.params.items())
        return f"{layer.operation}" + (f" ({params})" if params else "")

    def _select_row_of(self, uid: int | None) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == (uid if uid is not None else ORIGINAL_ROW_UID):
                self.list.setCurrentRow(row)
                return

    def _on_props_changed(self, uid: int) -> None:
        if self.model is None:
            return
        layer = self.model.doc.layer(uid)
        self._updating = True
        try:
            for row in range(self.list.count()):
                item = self.list.item(row)
                if item.data(Qt.ItemDataRole.UserRole) == uid:
                    item.setText(layer.name)
                    item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
        finally:
            self._updating = False
        self._sync_controls()

    def _on_model_selection(self, uid: object) -> None:
        self._updating = True
        try:
            self._select_row_of(uid if isinstance(uid, int) else None)
        finally:
            self._updating = False
        self._sync_controls()

    def _sync_controls(self) -> None:
        layer = self.model.selected_layer if self.model is not None else None
        for w in (self.opacity, self.opacity_label, self.delete_button):
            w.setEnabled(layer is not None)
        self.import_button.setEnabled(self.model is not None)
        index = self.model.doc.layers.index(layer) if layer is not None and self.model is not None else -1
        self.up_button.setEnabled(layer is not None and index < len(self.model.doc.layers) - 1)
        self.down_button.setEnabled(layer is not None and index > 0)
        self._updating, was = True, self._updating
        self.opacity.setValue(round(layer.opacity * 100) if layer is not None else 100)
        self._updating = was

    # --- view → model --------------------------------------------------------------------
    def _on_current_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if self._updating or self.model is None:
            return
        uid = current.data(Qt.ItemDataRole.UserRole) if current is not None else None
        self.model.select_layer(None if uid in (None, ORIGINAL_ROW_UID) else uid)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._updating or self.model is None:
            return
        uid = item.data(Qt.ItemDataRole.UserRole)
        if uid == ORIGINAL_ROW_UID:
            return
        layer = self.model.doc.layer(uid)
        visible = item.checkState() == Qt.CheckState.Checked
        name = item.text().strip() or layer.name
        if visible != layer.visible:
            self.model.change_layer(uid, visible=visible)
        if name != layer.name:
            self.model.change_layer(uid, name=name)
        if item.text() != name:
            self._on_props_changed(uid)

    def _on_opacity_moved(self, value: int) -> None:
        if self._updating or self.model is None or self.model.selected_uid is None:
            return
        self.model.change_layer(self.model.selected_uid, opacity=value / 100.0)

    def _on_opacity_released(self) -> None:
        """End the merge of opacity steps so the next drag is a new undo step."""
        if self.model is not None:
            self.model.end_merge()

    def _move(self, step: int) -> None:
        if self.model is None or self.model.selected_uid is None:
            return
        uid = self.model.selected_uid
        self.model.move_layer(uid, self.model.doc.layer_index(uid) + step)

    def delete_selected(self) -> None:
        if self.model is not None and self.model.selected_uid is not None:
            self.model.remove_layer(self.model.selected_uid)
