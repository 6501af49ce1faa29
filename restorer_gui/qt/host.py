"""What the editor's parts (the Restore controller, the damage review) use of the main window that holds them.

They are handed the window and type it as `EditorWindow`, so none of them imports `qt.main_window` (which
imports them): the dependency points one way, and this list says exactly what they rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QStatusBar, QToolBar

    from restorer_gui.core.document import Document
    from restorer_gui.qt.canvas.view import CanvasView
    from restorer_gui.qt.document_model import DocumentModel
    from restorer_gui.settings import Settings


class EditorWindow(Protocol):
    """The main window as its parts see it (a QMainWindow, also their Qt parent)."""

    settings: Settings
    model: DocumentModel | None
    view: CanvasView
    act_show_mask: QAction

    def statusBar(self) -> QStatusBar: ...  # noqa: N802 - Qt's name
    def addToolBar(self, area: Any, toolbar: QToolBar) -> None: ...  # noqa: N802 - Qt's name
    def _action(self, text: str, slot: Callable[..., Any] | None = None, shortcut: Any = None,
                checkable: bool = False, tip: str = "") -> QAction: ...
    def show_error(self, title: str, message: str, details: str = "") -> None: ...
    def apply_settings(self, new: Settings) -> None: ...
    def maybe_discard_changes(self) -> bool: ...
    def set_document(self, document: Document | None) -> None: ...
