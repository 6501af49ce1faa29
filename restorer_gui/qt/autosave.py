"""Autosave every few minutes and after each result, atomically, on an I/O thread; offer recovery
after a crash. One file per running app (named by process id) in the autosave folder."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from restorer_gui import paths
from restorer_gui.core.project import ProjectError, ProjectSnapshot, load_project, save_project
from restorer_gui.qt.workers import Job

if TYPE_CHECKING:
    from restorer_gui.qt.document_model import DocumentModel
    from restorer_gui.qt.restore import RestoreController

log = logging.getLogger(__name__)
AFTER_RESULT_DELAY_MS = 1500


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class Autosave(QObject):
    """Saves whatever *current_model* returns, through *restore*'s I/O lane, every *minutes* (0: never)."""

    def __init__(self, parent: QObject, minutes: int, current_model: Callable[[], DocumentModel | None],
                 restore: RestoreController) -> None:
        super().__init__(parent)
        self.current_model = current_model
        self.restore = restore
        self.minutes = 0
        self.folder = paths.autosave_dir()
        self.project = self.folder / f"session-{os.getpid()}.rgproj"
        self.info = self.project.with_suffix(".json")
        self._dirty = False
        self._busy = False
        self.saves = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.save_now)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.timeout.connect(self.save_now)
        self.set_interval(minutes)

    def set_interval(self, minutes: int) -> None:
        self.minutes = minutes
        if minutes > 0:
            self.timer.start(int(minutes * 60_000))
        else:
            self.timer.stop()

    def watch(self, model) -> None:
        """Follow a newly opened document: edits make it dirty, results trigger a save soon."""
        if model is None:
            self.discard()
            return
        model.undo_stack_replaced.connect(lambda _old, new: new.indexChanged.connect(self._on_edit))
        model.undo_stack.indexChanged.connect(self._on_edit)
        model.layers_changed.connect(self._on_result)

    def _on_edit(self, *_args) -> None:
        self._dirty = True

    def _on_result(self) -> None:
        self._dirty = True
        if self.minutes > 0:
            self._soon.start(AFTER_RESULT_DELAY_MS)

    def save_now(self) -> Job | None:
        """Queue an autosave of the current document if it changed since the last one."""
        model = self.current_model()
        if model is None or self._busy or not self._dirty:
            return None
        if not model.modified:
            self._dirty = False
            self.discard()
            return None
        snap = ProjectSnapshot.of(model.doc, model.selected_uid)
        info = {"pid": os.getpid(), "time": time.time(), "title": model.doc.title,
                "source": str(model.doc.path) if model.doc.path else None}
        self._busy, self._dirty = True, False
        project, info_file = self.project, self.info

        def fn(progress, cancel):
            save_project(project, snap)
            tmp = info_file.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(info), encoding="utf-8")
            os.replace(tmp, info_file)
            return project, ""

        def done(_result) -> None:
            self.saves += 1

        job = self.restore.submit("Autosave", fn, done, document_bound=False, lane="io", quiet=True)
        job_id = job.id
        pool = self.restore.pool

        def finished(finished_id: int, *_rest) -> None:
            if finished_id == job_id:
                self._busy = False
                for signal in (pool.job_finished, pool.job_failed, pool.job_cancelled):
                    signal.disconnect(finished)

        for signal in (pool.job_finished, pool.job_failed, pool.job_cancelled):
            signal.connect(finished)
        return job

    def discard(self) -> None:
        """Remove this session's autosave (after a save, a close or discarding the changes)."""
        self._dirty = False
        for file in (self.project, self.info):
            file.unlink(missing_ok=True)

    # --- recovery ------------------------------------------------------------------------
    def orphans(self) -> list[tuple[Path, dict]]:
        """Autosaves left by sessions that are no longer running (newest first)."""
        found = []
        for info_file in sorted(self.folder.glob("session-*.json")):
            project = info_file.with_suffix(".rgproj")
            try:
                info = json.loads(info_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                info = {}
            pid = int(info.get("pid", 0)) if isinstance(info, dict) else 0
            if project.exists() and pid != os.getpid() and not _pid_alive(pid):
                found.append((project, info if isinstance(info, dict) else {}))
        for project in self.folder.glob("session-*.rgproj"):
            if not project.with_suffix(".json").exists():
                found.append((project, {}))
        return sorted(found, key=lambda item: item[0].stat().st_mtime, reverse=True)

    def recover(self, project: Path, max_pixels: int):
        """Load an orphaned autosave (photos up to *max_pixels*); returns (document, selected index).
        Raises ProjectError."""
        doc, selected = load_project(project, max_pixels)
        doc.project_path = None  # the autosave is not the user's project file
        return doc, selected

    @staticmethod
    def remove(project: Path) -> None:
        """Delete an autosave, its info file and the temporaries of a save that was cut short."""
        leftovers = [*project.parent.glob(f".{project.name}.*.tmp"), project.with_suffix(".json.tmp")]
        for file in (project, project.with_suffix(".json"), *leftovers):
            file.unlink(missing_ok=True)


__all__ = ["Autosave", "ProjectError"]
