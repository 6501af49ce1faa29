"""The batch progress window, `ask_for_batch` (File ▸ Batch Restore Folder…'s dialog) and `start_batch`.

The batch runs as one job on the worker pool's model lane: the job's thread runs the model, the
runner's own threads decode and write files.  The runner's callbacks arrive from those threads
and are forwarded through :class:`BatchSignals` (queued connections) to the window, which is
non-modal: the main window stays usable while the batch runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from restorer_gui import settings as settings_mod
from restorer_gui.core.batch import (
    BatchPlanError,
    BatchProgress,
    BatchSummary,
    FileOutcome,
    format_duration,
    plan_batch,
)
from restorer_gui.inference import registry
from restorer_gui.qt.batch_dialog import BatchChoices, BatchDialog
from restorer_gui.qt.workers import Job, UserFacingError, WorkerPool

if TYPE_CHECKING:
    from restorer_gui.settings import Settings

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress updates a second


class BatchSignals(QObject):
    """Thread-safe messengers from the batch job to the window (emitted from worker threads)."""

    status_changed = Signal(str)
    planned = Signal(int, int)  # files to process, files skipped by the plan
    file_started = Signal(int, str)  # index, path relative to the input folder
    file_progressed = Signal(int, float)
    file_finished = Signal(object)  # FileOutcome (done or failed)
    progressed = Signal(object)  # BatchProgress
    summary_ready = Signal(object)  # BatchSummary, just before the job ends


def batch_job_fn(choices: BatchChoices, device: str, precision: str, signals: BatchSignals, max_pixels: int,
                 tile: int | None = None):
    """The job run on the model lane: plan, load the model, run the pipeline, return the summary."""

    def fn(_progress: Any, cancel: Any) -> BatchSummary:
        from restorer_gui.core.errors import RestorerError
        from restorer_gui.inference import ops
        from restorer_gui.inference.batch import BatchCallbacks, BatchRunner, RunSettings
        from restorer_gui.inference.chain import prepare_models

        signals.status_changed.emit("Looking for photos…")
        try:
            plan = plan_batch(choices.options)
        except BatchPlanError as exc:
            raise UserFacingError(str(exc)) from None
        signals.planned.emit(len(plan.items), len(plan.skipped))
        if not plan.items:
            summary = BatchSummary(planned=0, skipped=list(plan.skipped))
            signals.summary_ready.emit(summary)
            return summary
        signals.status_changed.emit("Loading the models…")
        recipe = choices.recipe()
        models = ops.ModelSet.for_this_thread(device, precision)
        try:
            loaded = prepare_models(recipe, models)
        except RestorerError as exc:
            raise UserFacingError(str(exc)) from None
        steps = " → ".join(ops.get(n).title for n in recipe.names)
        labels = ", ".join(dict.fromkeys(m.info.label for m in loaded))
        signals.status_changed.emit(f"{steps} with {labels} on {models.last_device}")
        last = [0.0]

        def progressed(p: BatchProgress) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL_S or p.current == 0.0:
                last[0] = now
                signals.progressed.emit(p)

        callbacks = BatchCallbacks(
            file_started=lambda i, item: signals.file_started.emit(i, str(item.relative)),
            file_progress=lambda i, f: None,  # the window reads the fraction from `progressed`
            file_done=signals.file_finished.emit,
            file_failed=signals.file_finished.emit,
            progress=progressed,
        )
        settings = RunSettings(sigma=choices.sigma, auto=choices.sigma is None, jpeg_quality=choices.jpeg_quality,
                               keep_metadata=choices.keep_metadata, max_pixels=max_pixels, tile=tile)
        summary = BatchRunner(plan, None, settings, callbacks, cancel, recipe=recipe, models=models).run()
        signals.summary_ready.emit(summary)
        return summary

    return fn


class BatchWindow(QWidget):
    """Non-modal progress window of one batch; shows the summary when it ends."""

    ended = Signal(object)  # BatchSummary, or None when the job failed or never started

    def __init__(self, choices: BatchChoices, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Batch restore")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.choices = choices
        self.signals = BatchSignals(self)
        self.job: Job | None = None
        self.pool: WorkerPool | None = None
        self.summary: BatchSummary | None = None
        self.running = False
        self._total = 0
        self._started_at: float | None = None
        self._last: BatchProgress | None = None
        self._build()
        self._connect()
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._update_stats)

    # --- construction --------------------------------------------------------------------
    def _build(self) -> None:
        opts = self.choices.options
        self.header = QLabel(f"{opts.input_dir}  →  {opts.output_dir}")
        self.header.setWordWrap(True)
        self.status = QLabel("Waiting for the model worker…")
        self.files_bar = QProgressBar()
        self.files_bar.setFormat("%v / %m files")
        self.files_bar.setRange(0, 1)
        self.files_bar.setValue(0)
        self.current_label = QLabel("")
        self.file_bar = QProgressBar()
        self.file_bar.setRange(0, 1000)
        self.file_bar.setTextVisible(False)
        self.stats = QLabel("")
        self.failures = QPlainTextEdit()
        self.failures.setReadOnly(True)
        self.failures.setPlaceholderText("No failures.")
        self.failures.setMaximumBlockCount(10_000)
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.log_label = QLabel("")
        self.log_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_label.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.open_button = QPushButton("Open Output Folder")
        self.close_button = QPushButton("Close")
        self.close_button.setVisible(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        for widget in (self.header, self.status, self.files_bar, self.current_label, self.file_bar, self.stats):
            layout.addWidget(widget)
        layout.addWidget(QLabel("Failures"))
        layout.addWidget(self.failures, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.log_label)
        layout.addLayout(buttons)
        self.resize(560, 420)

    def _connect(self) -> None:
        q = Qt.ConnectionType.QueuedConnection
        s = self.signals
        s.status_changed.connect(self.status.setText, q)
        s.planned.connect(self._on_planned, q)
        s.file_started.connect(self._on_file_started, q)
        s.file_finished.connect(self._on_file_finished, q)
        s.progressed.connect(self._on_progressed, q)
        s.summary_ready.connect(self._on_summary, q)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.open_button.clicked.connect(self.open_output_folder)

    # --- running -------------------------------------------------------------------------
    def start(self, pool: WorkerPool, device: str, precision: str, max_pixels: int, tile: int | None = None) -> Job:
        """Queue the batch on *pool*'s model lane for *device* (*tile*: None = from free memory)."""
        fn = batch_job_fn(self.choices, device, precision, self.signals, max_pixels, tile)
        self.pool = pool
        self.job = Job("Batch restore", fn, lane=f"model:{device}")
        pool.job_started.connect(self._on_job_started)
        pool.job_failed.connect(self._on_job_failed)
        pool.job_cancelled.connect(self._on_job_cancelled)
        pool.job_finished.connect(self._on_job_finished)
        self.running = True
        pool.submit(self.job)
        return self.job

    def cancel(self) -> None:
        """Stop after the current tile; files already written stay, nothing partial is left."""
        if self.job is not None and self.running:
            self.job.cancel.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Stopping after the current tile…")

    def open_output_folder(self) -> None:
        folder = Path(self.choices.options.output_dir)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder if folder.is_dir() else folder.parent)))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """While running, closing only hides the window (File ▸ Batch Restore Folder… shows it again)."""
        if self.running:
            event.ignore()
            self.hide()
        else:
            event.accept()

    # --- job signals (GUI thread) --------------------------------------------------------
    def _mine(self, job_id: int) -> bool:
        return self.job is not None and job_id == self.job.id

    def _on_job_started(self, job_id: int, _title: str) -> None:
        if self._mine(job_id):
            self._started_at = time.monotonic()
            self._timer.start()

    def _on_job_finished(self, job_id: int, _result: object) -> None:
        if self._mine(job_id) and self.running:
            self._end(self.summary)

    def _on_job_cancelled(self, job_id: int) -> None:
        if self._mine(job_id) and self.running:
            if self.summary is None:
                self.summary_label.setText("Cancelled before it started.")
            self._end(self.summary)

    def _on_job_failed(self, job_id: int, message: str, _details: str) -> None:
        if self._mine(job_id) and self.running:
            self.summary_label.setText(f"The batch could not run: {message}")
            self._end(None)

    # --- batch signals -------------------------------------------------------------------
    def _on_planned(self, files: int, skipped: int) -> None:
        self._total = files
        self.files_bar.setRange(0, max(1, files))
        note = f" ({skipped} skipped: their results exist or are in the way)" if skipped else ""
        self.status.setText(f"{files} photos to restore{note}")

    def _on_file_started(self, _index: int, name: str) -> None:
        self.current_label.setText(f"Now: {name}")
        self.file_bar.setValue(0)

    def _on_file_finished(self, outcome: FileOutcome) -> None:
        if outcome.status != "done":
            self.failures.appendPlainText(f"{self._shown(outcome.source)}: {outcome.reason}")

    def _shown(self, path: Path) -> str:
        """*path* relative to the input folder when it is inside it."""
        try:
            return str(path.relative_to(Path(self.choices.options.input_dir).expanduser().absolute()))
        except ValueError:
            return str(path)

    def _on_progressed(self, p: BatchProgress) -> None:
        self._last = p
        self.files_bar.setValue(p.finished)
        self.file_bar.setValue(round(p.current * 1000))
        self._update_stats()

    def _on_summary(self, summary: BatchSummary) -> None:
        self.summary = summary

    def _update_stats(self) -> None:
        if self._started_at is None:
            return
        elapsed = time.monotonic() - self._started_at
        parts = [f"Elapsed {format_duration(elapsed)}"]
        p = self._last
        if p is not None:
            eta = p.eta if self.running else None
            if eta is not None:
                eta = max(0.0, eta - (elapsed - p.elapsed))  # count down between updates
                parts.append(f"about {format_duration(eta)} left")
            if p.finished:
                parts.append(f"{p.megapixels_per_second:.2f} MP/s")
                parts.append(f"{p.files_per_minute:.1f} files/min")
        self.stats.setText("  ·  ".join(parts))

    def _end(self, summary: BatchSummary | None) -> None:
        self.running = False
        self._timer.stop()
        self._update_stats()
        if self.pool is not None:
            for signal, slot in ((self.pool.job_started, self._on_job_started),
                                 (self.pool.job_failed, self._on_job_failed),
                                 (self.pool.job_cancelled, self._on_job_cancelled),
                                 (self.pool.job_finished, self._on_job_finished)):
                signal.disconnect(slot)
        self.cancel_button.setVisible(False)
        self.close_button.setVisible(True)
        self.current_label.setVisible(False)
        self.file_bar.setVisible(False)
        if summary is not None:
            self._show_summary(summary)
        self.show()
        self.raise_()
        self.ended.emit(summary)

    def _show_summary(self, summary: BatchSummary) -> None:
        self.files_bar.setRange(0, max(1, summary.planned))
        self.files_bar.setValue(len(summary.done) + len(summary.failed))
        text = summary.headline()
        if summary.fatal:
            text += f"\nThe batch was stopped: {summary.fatal}"
        elif summary.cancelled:
            text += "\nRun the batch again with “Skip” to finish the rest."
        self.summary_label.setText(text)
        if summary.ok:
            self.status.setText("Done.")
        else:
            self.status.setText("Ended early." if summary.fatal or summary.cancelled else "Done, with failures.")
        if summary.log_path is not None:
            self.log_label.setText(f"Log: {summary.log_path}")


def _denoise_models() -> list[tuple[str, str]]:
    """(id, label) of the denoise and restore models, the default first."""
    infos = registry.list_models("denoise") + registry.list_models("restore")
    default = registry.default_model("denoise") or registry.default_model("restore")
    if default is not None:
        infos.sort(key=lambda i: i.id != default.id)
    return [(i.id, i.label) for i in infos]


def start_batch(parent: QWidget, settings: Settings, pool: WorkerPool, choices: BatchChoices,
                previous: BatchWindow | None = None) -> BatchWindow:
    """Open the progress window for *choices* and queue the batch on *pool*'s model lane; a finished
    *previous* window goes (one batch window at a time)."""
    if previous is not None and not previous.running:
        previous.close()
        previous.deleteLater()
    batch = BatchWindow(choices, parent)
    batch.start(pool, settings.device, settings.precision, settings.max_image_pixels, settings.tile_size or None)
    batch.show()
    return batch


def ask_for_batch(parent: QWidget, settings: Settings, show_error: Callable[[str, str], None]) -> BatchChoices | None:
    """File ▸ Batch Restore Folder…'s options dialog: the choices (remembered in *settings* and on disk), or
    None. Without a denoise model the dialog still opens (the other steps need none of it; it says so when
    Denoise is ticked)."""
    models = _denoise_models()
    dialog = BatchDialog(models, settings, parent)
    if dialog.exec() != BatchDialog.DialogCode.Accepted:
        return None
    settings_mod.save(settings)
    return dialog.choices()
