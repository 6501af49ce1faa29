"""Worker threads: queued jobs run off the GUI thread and report back through signals.

A job is a plain callable `fn(progress, cancel) -> result` working on plain data (numpy arrays,
dataclasses). One model lane per device runs inference jobs one at a time; I/O lanes decode and
encode files. Results, progress and errors arrive on the GUI thread as queued signals.
"""

from __future__ import annotations

import itertools
import logging
import queue
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from restorer_gui.inference.jobs import CancelToken, JobCancelled
from restorer_gui.core.errors import RestorerError

log = logging.getLogger(__name__)

JobFn = Callable[[Callable[[float, str], None], CancelToken], Any]
PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second per job
_ids = itertools.count(1)


UserFacingError = RestorerError  # the name the GUI code used before the one exception family


@dataclass
class Job:
    title: str
    fn: JobFn
    lane: str = "model"
    cancel: CancelToken = field(default_factory=CancelToken)
    id: int = field(default_factory=lambda: next(_ids))  # noqa: A003


class _LaneThread(QThread):
    """Runs the jobs of one lane in order; a None in the queue stops it."""

    def __init__(self, pool: WorkerPool, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.pool = pool
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.current: Job | None = None

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            self.current = job
            try:
                self._run(job)
            finally:
                self.current = None

    def _run(self, job: Job) -> None:
        pool = self.pool
        if job.cancel.cancelled:
            pool.job_cancelled.emit(job.id)
            return
        pool.job_started.emit(job.id, job.title)
        last = [0.0]

        def progress(fraction: float, message: str = "") -> None:
            now = time.monotonic()
            if fraction >= 1.0 or now - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = now
                pool.job_progressed.emit(job.id, float(fraction), str(message))

        try:
            result = job.fn(progress, job.cancel)
        except JobCancelled:
            pool.job_cancelled.emit(job.id)
        except RestorerError as exc:
            pool.job_failed.emit(job.id, str(exc), "")
        except MemoryError:
            pool.job_failed.emit(job.id, "Not enough memory for this job.", traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - a failed job must never kill its thread
            log.exception("job %s failed", job.title)
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            pool.job_failed.emit(job.id, message, traceback.format_exc())
        else:
            if job.cancel.cancelled:
                pool.job_cancelled.emit(job.id)
            else:
                pool.job_finished.emit(job.id, result)


class WorkerPool(QObject):
    """Lanes of worker threads; `submit` queues a job, signals report on the GUI thread."""

    job_started = Signal(int, str)
    job_progressed = Signal(int, float, str)
    job_finished = Signal(int, object)
    job_failed = Signal(int, str, str)  # id, one-line message, details
    job_cancelled = Signal(int)

    def __init__(self, io_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lanes: dict[str, list[_LaneThread]] = {}
        self.late_threads: list[_LaneThread] = []  # missed the last shutdown's join (see `shutdown`)
        self._next_io = 0
        self._io_threads = max(1, io_threads)
        self._pending: dict[int, Job] = {}
        self._closed = False
        for signal in (self.job_finished, self.job_cancelled):
            signal.connect(self._forget)
        self.job_failed.connect(lambda job_id, *_: self._forget(job_id))

    def _lane(self, name: str) -> _LaneThread:
        threads = self._lanes.get(name)
        if threads is None:
            count = self._io_threads if name == "io" else 1
            threads = [_LaneThread(self, f"{name}-{i}") for i in range(count)]
            for t in threads:
                t.start()
            self._lanes[name] = threads
        if len(threads) == 1:
            return threads[0]
        self._next_io = (self._next_io + 1) % len(threads)
        return threads[self._next_io]

    def submit(self, job: Job) -> Job:
        """Queue a job on its lane ("model:<device>" lanes run one job at a time, "io" in parallel).
        After `shutdown` nothing runs: the job is cancelled with a log line (a thread started then
        would outlive the pool, and a QThread destroyed while running aborts the process)."""
        if self._closed:
            log.warning("job “%s” arrived after the workers were shut down; not run", job.title)
            job.cancel.cancel()
            return job
        self._pending[job.id] = job
        self._lane(job.lane).jobs.put(job)
        return job

    def _forget(self, job_id: int, *_args: object) -> None:
        self._pending.pop(job_id, None)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def cancel(self, job_id: int) -> None:
        job = self._pending.get(job_id)
        if job is not None:
            job.cancel.cancel()

    def cancel_all(self) -> None:
        for job in list(self._pending.values()):
            job.cancel.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel every job, stop and join every thread; True when all stopped in time. The pool
        takes no jobs afterwards."""
        self._closed = True
        self.cancel_all()
        threads = [t for lane in self._lanes.values() for t in lane]
        for t in threads:
            t.jobs.put(None)
        late = [t for t in threads if not t.wait(timeout_ms)]
        for t in late:  # never dropped without a word: the log says which job was still running
            job = t.current
            log.warning("worker %s did not stop within %.0f s%s; leaving it", t.objectName(), timeout_ms / 1000,
                        f" (still running “{job.title}”)" if job is not None else "")
        self.late_threads = late  # kept referenced: a QThread object destroyed while running aborts the process
        self._lanes.clear()
        return not late
