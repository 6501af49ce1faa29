"""Run a planned batch as a pipeline: decode threads → model (calling thread) → encode threads.

Small bounded queues connect the stages, so the model never waits for the disk while memory
stays bounded whatever the number of files: at most ``decode_threads + 2·queue_size +
encode_threads + 1`` images are alive at once.  A file that cannot be read or processed is
skipped with its reason; an output disk that is full or read-only stops the batch (``fatal``).
The cancel token is checked between tiles and between files; results not yet written when
the batch is cancelled are dropped, and every write is atomic, so no partial file is left.
Every outcome is appended to a JSON-lines log as it happens.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np

from restorer_gui import paths
from restorer_gui.core.batch import BatchItem, BatchPlan, BatchProgress, BatchSummary, FileOutcome
from restorer_gui.core.imageio import DEFAULT_MAX_PIXELS, ImageData, ImageError, load_image, save_image
from restorer_gui.inference.jobs import CancelToken, JobCancelled
from restorer_gui.core.recipe import Recipe, Step
from restorer_gui.inference.chain import run_chain
from restorer_gui.inference.loader import LoadedModel
from restorer_gui.inference.ops.base import ModelSet

__all__ = ["BatchCallbacks", "BatchRunner", "RunSettings", "run_batch"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_POLL_S = 0.05  # how often blocked stages look at the stop flag
# Write errors that no other file would escape: stop the batch instead of failing every file.
FATAL_ERRNOS = frozenset(
    code for name in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM") if (code := getattr(errno, name, None))
)


@dataclass(frozen=True)
class RunSettings:
    """How to process each file of a plan."""

    sigma: float | None = None  # noise level (0–255 scale); None: the model's blind mode
    auto: bool = False  # estimate the level of every file (``sigma`` is ignored)
    jpeg_quality: int = 95
    keep_metadata: bool = True  # carry EXIF and the ICC profile over
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    tile: int | None = None  # default: from free memory
    decode_threads: int = 1
    encode_threads: int = 1
    queue_size: int = 2
    log_dir: Path | None = None  # default: paths.log_dir() / "batch"


@dataclass
class BatchCallbacks:
    """Optional listeners; called from the model thread (started, progress) or I/O threads."""

    file_started: Callable[[int, BatchItem], None] | None = None
    file_progress: Callable[[int, float], None] | None = None
    file_done: Callable[[FileOutcome], None] | None = None
    file_failed: Callable[[FileOutcome], None] | None = None
    progress: Callable[[BatchProgress], None] | None = None


@dataclass
class _Decoded:
    index: int
    image: ImageData | None = None
    sigma: float | None = None
    error: str = ""


@dataclass
class _Result:
    index: int
    pixels: np.ndarray
    icc: bytes | None
    exif: bytes | None
    seconds: float
    sigma: float | None
    dpi: tuple[float, float] | None = None
    color_chunks: dict[str, bytes] | None = None


class _AnyToken(CancelToken):
    """Cancelled when the user cancels or the batch is halted (fatal error)."""

    def __init__(self, *tokens: CancelToken) -> None:
        super().__init__()
        self._tokens = tokens

    def cancel(self) -> None:
        """Cancelling the combined token cancels every token it watches."""
        super().cancel()
        for t in self._tokens:
            t.cancel()

    @property
    def cancelled(self) -> bool:
        return any(t.cancelled for t in self._tokens)

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled()


class _JsonLog:
    """Appends one JSON object per line, flushed at once (a crash keeps what happened)."""

    def __init__(self, folder: Path) -> None:
        self.path: Path | None = None
        self._fh: IO[str] | None = None
        self._lock = threading.Lock()
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"batch-{stamp}.jsonl"
            self._fh = path.open("x", encoding="utf-8")
            self.path = path
        except OSError as exc:
            _log.warning("batch log not written (%s)", exc)

    def write(self, event: str, **fields: Any) -> None:
        if self._fh is None:
            return
        record = {"time": _dt.datetime.now().isoformat(timespec="milliseconds"), "event": event, **fields}
        line = json.dumps(record, default=str, ensure_ascii=False)
        with self._lock:
            try:
                self._fh.write(line + "\n")
                self._fh.flush()
            except OSError as exc:  # the log sharing a full disk must not stop the batch
                _log.warning("batch log write failed (%s)", exc)

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None


def _reason(exc: BaseException, source: Path) -> str:
    """A one-line reason without the file name the message may start with."""
    text = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    return text.removeprefix(f"{source.name}: ")[:300]


def _fatal_errno(exc: BaseException) -> bool:
    """True for a write error caused by a full, read-only or forbidden output disk."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in FATAL_ERRNOS:
            return True
        seen = seen.__cause__
    return False


class BatchRunner:
    """Process ``plan.items`` with a recipe; :meth:`run` blocks and returns a :class:`BatchSummary`.

    :meth:`run` runs the models on the calling thread (the GUI's model worker, or the CLI's main
    thread) and starts and joins its own decode and encode threads. The recipe is any chain of steps
    (`restorer_gui.inference.chain`); its models come from *models* (a `ModelSet` made on the thread
    that calls :meth:`run`), loaded once for the whole folder. Given only a loaded *model*, the recipe
    is "denoise with it" at the settings' noise level (the batch's original job).
    """

    def __init__(
        self,
        plan: BatchPlan,
        model: LoadedModel | None = None,
        settings: RunSettings | None = None,
        callbacks: BatchCallbacks | None = None,
        cancel: CancelToken | None = None,
        *,
        recipe: Recipe | None = None,
        models: ModelSet | None = None,
    ) -> None:
        self.plan = plan
        self.model = model
        self.settings = settings or RunSettings()
        if recipe is None:
            if model is None:
                raise ValueError("BatchRunner needs a recipe or a model")
            s = self.settings
            recipe = Recipe((Step("denoise", {"strength": None if s.auto else s.sigma, "auto": s.auto,
                                              "model": str(model.info.path)}),))
        self.recipe = recipe
        self.models = models
        self.callbacks = callbacks or BatchCallbacks()
        self.cancel = cancel or CancelToken()
        self._halt = CancelToken()  # set on a fatal error or a crash
        self._stop = _AnyToken(self.cancel, self._halt)
        self._lock = threading.Lock()
        self._summary = BatchSummary(planned=len(plan.items), skipped=list(plan.skipped))
        self._start = 0.0
        self._current = 0.0
        self._log: _JsonLog | None = None

    # ------------------------------------------------------------------ public

    def run(self) -> BatchSummary:
        s = self.settings
        if self.models is None:
            self.models = ModelSet(str(self.model.device) if self.model is not None else "auto")
            if self.model is not None:
                self.models.add(self.model)
        self._open_log()
        items = self.plan.items
        decoded: queue.Queue[_Decoded] = queue.Queue(maxsize=max(1, s.queue_size))
        results: queue.Queue[_Result | None] = queue.Queue(maxsize=max(1, s.queue_size))
        claim = iter(range(len(items)))
        turn = _Turnstile()
        threads = [
            threading.Thread(target=self._guarded, args=(self._decode_loop, claim, turn, decoded),
                             name=f"batch-decode-{i}")
            for i in range(max(1, s.decode_threads))
        ] + [
            threading.Thread(target=self._guarded, args=(self._encode_loop, results),
                             name=f"batch-encode-{i}")
            for i in range(max(1, s.encode_threads))
        ]
        for t in threads:
            t.start()
        try:
            self._infer_loop(decoded, results, len(threads) - max(1, s.decode_threads))
        except BaseException:
            self._halt.cancel()  # KeyboardInterrupt, a crash: stop the I/O threads, then re-raise
            raise
        finally:
            try:
                self._join(threads)
            finally:
                self._finish()
        return self._summary

    def _open_log(self) -> None:
        """Start the clock and the JSON-lines log, and log the start (options, recipe, skipped files)."""
        self._start = time.monotonic()
        self._log = _JsonLog(self.settings.log_dir or paths.log_dir() / "batch")
        self._summary.log_path = self._log.path
        self._begin_log()

    def _join(self, threads: list[threading.Thread]) -> None:
        """Wait for the I/O threads; an interrupt meanwhile drops queued results but still waits
        for the file being written (so none is left half-written), then propagates."""
        interrupted: BaseException | None = None
        for t in threads:
            while t.is_alive():
                try:
                    t.join()
                except BaseException as exc:  # noqa: BLE001 - re-raised below
                    self._halt.cancel()
                    interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

    # ------------------------------------------------------------------ stages

    def _guarded(self, loop: Callable[..., None], *args: Any) -> None:
        """Run a stage; an unexpected error stops the batch as a fatal error, never silently."""
        try:
            loop(*args)
        except BaseException as exc:  # noqa: BLE001 - reported as the batch's fatal error
            _log.exception("batch stage crashed")
            self._set_fatal(f"internal error: {_reason(exc, Path())}")

    def _decode_loop(self, claim: Any, turn: _Turnstile, out: queue.Queue[_Decoded]) -> None:
        items = self.plan.items
        while not self._stop.cancelled:
            with self._lock:
                index = next(claim, None)
            if index is None:
                return
            result = self._decode(index, items[index])
            if not turn.wait_for(index, self._stop):  # hand over in plan order
                return
            ok = _put(out, result, self._stop)
            turn.advance()
            if not ok:
                return

    def _decode(self, index: int, item: BatchItem) -> _Decoded:
        image, error = _read(item, self.settings)
        return _Decoded(index, image, error=error)

    def _infer_loop(self, decoded: queue.Queue[_Decoded], results: queue.Queue[_Result | None], writers: int) -> None:
        items = self.plan.items
        cb = self.callbacks
        for _ in range(len(items)):
            job = None if self._stop.cancelled else _get(decoded, self._stop)
            if job is None:
                break
            item = items[job.index]
            if job.image is None:
                self._record(FileOutcome(job.index, item.source, item.target, "failed", job.error))
                continue
            if cb.file_started:
                cb.file_started(job.index, item)
            result = self._infer(job, item)
            job.image = None  # the input's pixels can go
            if result is not None and not _put(results, result, self._stop):
                break
            if self._stop.cancelled:
                break
        for _ in range(writers):  # tell the writers the model is done (when stopped, they know)
            if not _put(results, None, self._stop):
                break

    def _infer(self, job: _Decoded, item: BatchItem) -> _Result | None:
        assert job.image is not None
        image = job.image
        index = job.index

        def progress(fraction: float, _message: str = "") -> None:
            self._current = fraction
            if self.callbacks.file_progress:
                self.callbacks.file_progress(index, fraction)
            self._report()

        assert self.models is not None
        try:
            result = _restore(index, item, image, self.recipe, self.models, self.settings, progress, self._stop)
        except JobCancelled:
            return None
        finally:
            self._current = 0.0
        if isinstance(result, FileOutcome):
            self._record(result)
            return None
        return result

    def _encode_loop(self, results: queue.Queue[_Result | None]) -> None:
        items = self.plan.items
        while True:
            result = _get(results, self._stop)
            if result is None or self._stop.cancelled:
                return  # finished, cancelled (unwritten results are dropped) or halted
            outcome = _write(items[result.index], result, self.settings)
            self._record(outcome)
            if outcome.fatal:
                self._set_fatal(outcome.reason)
                return

    # ------------------------------------------------------------------ bookkeeping

    def _record(self, outcome: FileOutcome) -> None:
        with self._lock:
            if outcome.status == "done":
                self._summary.done.append(outcome)
            else:
                self._summary.failed.append((outcome.source, outcome.reason))
        assert self._log is not None
        self._log.write(outcome.status, source=str(outcome.source), target=str(outcome.target),
                        reason=outcome.reason or None, megapixels=round(outcome.megapixels, 3),
                        seconds=round(outcome.seconds, 3), sigma=outcome.sigma)
        listener = self.callbacks.file_done if outcome.status == "done" else self.callbacks.file_failed
        if listener:
            listener(outcome)
        self._report()

    def _report(self) -> None:
        if self.callbacks.progress is None:
            return
        with self._lock:
            s = self._summary
            snapshot = BatchProgress(len(s.done) + len(s.failed), s.planned, self._current, s.megapixels,
                                     time.monotonic() - self._start)
        self.callbacks.progress(snapshot)

    def _set_fatal(self, message: str) -> None:
        with self._lock:
            if self._summary.fatal is None:
                self._summary.fatal = message
        self._halt.cancel()

    def _begin_log(self) -> None:
        assert self._log is not None
        opts = self.plan.options
        s = self.settings
        self._log.write("start", input=str(opts.input_dir), output=str(opts.output_dir), recursive=opts.recursive,
                        patterns=opts.patterns, format=opts.fmt, on_existing=opts.on_existing,
                        model=self.model.id if self.model is not None else None,
                        device=self._device_name(),
                        sigma="auto" if s.auto else s.sigma, steps=self.recipe.names,
                        recipe=json.loads(self.recipe.to_json()),
                        keep_metadata=s.keep_metadata, files=len(self.plan.items))
        self._write_recipe()
        self._remove_temps(self.plan.stale_temps)  # left by a crashed run; the plan found them
        for path, reason in self.plan.skipped:
            self._log.write("skipped", source=str(path), reason=reason)

    def _device_name(self) -> str:
        return str(self.model.device) if self.model is not None else self.models.device

    def _remove_temps(self, temps: list[Path]) -> None:
        """Delete the temporaries of interrupted atomic writes (a crash or a killed worker leaves them)."""
        assert self._log is not None
        for path in temps:
            with contextlib.suppress(OSError):
                path.unlink()
                self._log.write("removed-temp", path=str(path))

    def _write_recipe(self) -> None:
        """A chain's recipe as JSON next to the outputs (a separate output folder only; a plain one-step
        batch leaves only its photos there, and its recipe in the log), written atomically."""
        opts = self.plan.options
        if self.plan.in_place or not self.plan.items or len(self.recipe.steps) < 2:
            return
        target = opts.output_dir / "restorer-recipe.json"
        tmp = target.with_name(target.name + ".tmp")
        try:
            opts.output_dir.mkdir(parents=True, exist_ok=True)
            tmp.write_text(self.recipe.to_json(), encoding="utf-8")
            tmp.replace(target)
        except OSError as exc:
            _log.warning("batch: could not write %s: %s", target, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _finish(self) -> None:
        s = self._summary
        s.cancelled = self.cancel.cancelled and s.fatal is None and s.not_processed > 0
        s.elapsed = time.monotonic() - self._start
        assert self._log is not None
        self._log.write("end", written=len(s.done), skipped=len(s.skipped), failed=len(s.failed),
                        not_processed=s.not_processed, cancelled=s.cancelled, fatal=s.fatal,
                        seconds=round(s.elapsed, 3), megapixels=round(s.megapixels, 3))
        self._log.close()


class _Turnstile:
    """Lets decode threads hand their images over in plan order."""

    def __init__(self) -> None:
        self._next = 0
        self._cv = threading.Condition()

    def wait_for(self, index: int, stop: CancelToken) -> bool:
        with self._cv:
            while self._next != index:
                if stop.cancelled:
                    return False
                self._cv.wait(_POLL_S)
        return True

    def advance(self) -> None:
        with self._cv:
            self._next += 1
            self._cv.notify_all()


def _put(q: queue.Queue[_T], value: _T, stop: CancelToken) -> bool:
    """Blocking put that gives up (False) once *stop* is set."""
    while True:
        try:
            q.put(value, timeout=_POLL_S)
            return True
        except queue.Full:
            if stop.cancelled:
                return False


def _get(q: queue.Queue[_T], stop: CancelToken) -> _T | None:
    """Blocking get that gives up (None) once *stop* is set."""
    while True:
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            if stop.cancelled:
                return None


def run_batch(
    plan: BatchPlan,
    model: LoadedModel,
    settings: RunSettings | None = None,
    callbacks: BatchCallbacks | None = None,
    cancel: CancelToken | None = None,
) -> BatchSummary:
    """Shorthand for ``BatchRunner(...).run()``."""
    return BatchRunner(plan, model, settings, callbacks, cancel).run()



@dataclass(frozen=True)
class FileJob:
    """One file's restoration as plain, picklable data (recipe + input + output + how to write it): what a
    process pool or a cluster worker is sent. `run_file_job` executes it with that worker's own models."""

    recipe: Recipe
    item: BatchItem
    settings: RunSettings = RunSettings()
    index: int = 0


def run_file_job(job: FileJob, models: ModelSet, cancel: CancelToken | None = None) -> FileOutcome:
    """Read, restore and atomically write one file, as `BatchRunner` does for each of a plan's files
    (same reader, chain, writer and reasons); never raises for a bad file, only for cancellation. A write
    that no other file would escape (full or read-only disk) comes back failed with ``fatal`` set."""
    item, s = job.item, job.settings
    image, error = _read(item, s)
    if image is None:
        return FileOutcome(job.index, item.source, item.target, "failed", error)
    result = _restore(job.index, item, image, job.recipe, models, s, None, cancel)
    del image
    if isinstance(result, FileOutcome):
        return result
    return _write(item, result, s)


# --------------------------------------------------------------------------- one file's stages (shared)


def _read(item: BatchItem, settings: RunSettings) -> tuple[ImageData | None, str]:
    """The decoded input, or None and the reason it cannot be read."""
    try:
        return load_image(item.source, max_pixels=settings.max_pixels), ""
    except ImageError as exc:
        return None, _reason(exc, item.source)
    except MemoryError:
        return None, "not enough memory to open this image"
    except Exception as exc:  # noqa: BLE001 - e.g. an image the noise estimate cannot read
        return None, _reason(exc, item.source)


def _restore(index: int, item: BatchItem, image: ImageData, recipe: Recipe, models: ModelSet,
             settings: RunSettings, progress: Callable[[float, str], None] | None,
             cancel: CancelToken | None) -> _Result | FileOutcome:
    """The recipe on one decoded file: the result to write, or the file's failure (raises only
    JobCancelled)."""
    start = time.perf_counter()
    try:
        chained = run_chain(image.pixels, recipe, models, tile=settings.tile, progress=progress, cancel=cancel)
    except JobCancelled:
        raise
    except MemoryError:
        return FileOutcome(index, item.source, item.target, "failed", "not enough memory for this image")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        _log.warning("batch: %s failed in the model", item.source, exc_info=True)
        return FileOutcome(index, item.source, item.target, "failed", _reason(exc, item.source))
    out, keep = chained.image, settings.keep_metadata
    return _Result(index, out, image.icc_profile if keep else None, image.exif if keep else None,
                   time.perf_counter() - start, chained.info.get("denoise", {}).get("sigma"), image.dpi_for(out),
                   image.color_chunks if keep else None)


def _write(item: BatchItem, result: _Result, settings: RunSettings) -> FileOutcome:
    """Write a result atomically (its folder made first): done, or failed with the reason (``fatal`` for a
    full, read-only or forbidden output disk)."""
    try:
        item.target.parent.mkdir(parents=True, exist_ok=True)
        save_image(item.target, result.pixels, icc_profile=result.icc, exif=result.exif,
                   quality=settings.jpeg_quality, fmt=item.fmt, dpi=result.dpi, color_chunks=result.color_chunks)
    except (ImageError, OSError) as exc:
        reason = _reason(exc, item.source)
        if isinstance(exc, OSError):
            reason = f"cannot create the folder {item.target.parent}: {exc.strerror or exc}"
        return FileOutcome(result.index, item.source, item.target, "failed", reason, fatal=_fatal_errno(exc))
    h, w = result.pixels.shape[:2]
    return FileOutcome(result.index, item.source, item.target, "done", "", h * w / 1e6, result.seconds, result.sigma)
