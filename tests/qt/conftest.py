import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from restorer_gui import settings
from restorer_gui.core.document import Document
from restorer_gui.core.imageio import ImageData
from restorer_gui.qt.main_window import MainWindow


def solid(w, h, rgb, dtype=np.uint8):
    arr = np.empty((h, w, len(rgb)), dtype)
    arr[...] = rgb
    return arr


class Dialogs:
    """Stands in for modal message boxes: records what was shown and answers as told."""

    def __init__(self):
        self.shown: list[tuple[str, str, str]] = []
        self.answer = QMessageBox.StandardButton.No

    def _record(self, kind):
        def show(parent, title, text, *args, **kwargs):
            self.shown.append((kind, title, text))
            return self.answer

        return show


@pytest.fixture
def dialogs(monkeypatch):
    d = Dialogs()
    for kind in ("critical", "warning", "question", "information"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(d._record(kind)))

    def exec_box(box):
        d.shown.append(("box", box.windowTitle(), box.text(), box.detailedText()))
        return d.answer

    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    return d


@pytest.fixture
def window(qtbot, dialogs):
    w = MainWindow(settings.Settings())
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.model is not None:
        w.model.mark_saved()
    w.close()  # stops and joins the worker threads


@pytest.fixture
def open_doc(window):
    def make(pixels):
        window.set_document(Document(ImageData(pixels=pixels)))
        return window.model

    return make
