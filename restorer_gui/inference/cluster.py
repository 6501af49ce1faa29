"""Run a batch plan on a Ray cluster: the batch engine's plan, recipe, writer, rules and log, many machines.

The driver (the process that runs `restorer batch … --cluster`) plans the batch as on one machine
(`core.batch.plan_batch`: naming, skip / rename / overwrite), keeps the JSON-lines log and the summary
(`BatchRunner`'s bookkeeping, inherited), and sends each file to a worker as a `FileJob` (plain data).
Workers are Ray actors, one process each, that load the recipe's models once (a `ModelSet` of their own)
and run `run_file_job` on every file they are given: they read the input and write the result themselves
on storage every node sees under the same paths, atomically (a temporary file renamed into place).

A worker that dies (killed, out of memory, its node lost) is replaced by a new one and the files it held
are sent again; a file under which workers died ``attempts`` times is reported failed with that reason. At
the end, temporaries left by killed workers are removed, so no partial file remains. Cancelling (the
token; Ctrl-C on the command line) stops every worker after its current tile and writes nothing more.

Ray is an optional dependency (``pip install "restorer-gui[cluster]"``); this module imports it only when
a cluster batch starts, and says how to install it when it is missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restorer_gui.core.batch import BatchPlan, BatchSummary, FileOutcome, _stale_temps
from restorer_gui.core.errors import RestorerError
from restorer_gui.core.recipe import Recipe, Step
from restorer_gui.inference.batch import BatchCallbacks, BatchRunner, FileJob, RunSettings, run_file_job
from restorer_gui.inference.jobs import CancelToken, JobCancelled

__all__ = ["INSTALL_HINT", "ClusterError", "ClusterRunner", "ClusterSettings", "ClusterWorker", "WorkerInfo",
           "import_ray"]

_log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "restorer-gui[cluster]"'
# Settings the workers need to find the same models and folders as the driver (the same shared paths).
PASSED_ENV = ("RESTORER_HOME", "RESTORER_BUILTIN_MODELS_DIR", "PYTORCH_ENABLE_MPS_FALLBACK")
_POLL_S = 0.2
_DRAIN_S = 120.0  # how long a cancelled batch waits for the workers to finish their current tile
_KILL_WAIT_S = 15.0  # how long to wait for killed workers to be gone before removing their temporaries


class ClusterError(RestorerError):
    """A cluster batch cannot start or go on (no Ray, no connection, no worker); one line."""


def import_ray() -> Any:
    """The ``ray`` module, or a ClusterError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"running on a cluster needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


@dataclass(frozen=True)
class ClusterSettings:
    """Where and how wide: ``address`` is "local" (start a Ray cluster on this machine), "auto" (the
    cluster this machine belongs to), ``HOST:PORT`` of a head node or ``ray://HOST:10001`` (Ray client)."""

    address: str = "local"
    workers: int | None = None  # default: as many as the cluster's GPUs (or CPUs) hold
    gpus_per_worker: float = 0.0  # fractions share a GPU between workers
    cpus_per_worker: float = 1.0  # also the worker's torch threads
    local_cpus: int | None = None  # "local": CPUs the cluster may use (default: workers × cpus_per_worker)
    in_flight: int = 2  # files queued on each worker, so it never waits for the driver
    attempts: int = 3  # a file under which workers died this often is reported failed
    start_timeout: float = 300.0  # seconds without any worker up (at the start, or all lost) before giving up
    setup_hook: str | None = None  # "module.function" each worker calls before loading its models

    def __post_init__(self) -> None:
        if not self.address or not self.address.strip():
            raise ClusterError("--cluster needs 'local' or the address of a Ray cluster")
        if self.workers is not None and self.workers < 1:
            raise ClusterError("--workers must be at least 1")
        if self.gpus_per_worker < 0:
            raise ClusterError("--gpus-per-worker cannot be negative")
        if self.cpus_per_worker <= 0:
            raise ClusterError("--cpus-per-worker must be more than 0")
        if self.in_flight < 1 or self.attempts < 1:
            raise ClusterError("in_flight and attempts must be at least 1")


@dataclass(frozen=True)
class WorkerInfo:
    """A worker that started: where it runs and what it loaded."""

    number: int
    host: str
    pid: int
    device: str
    models: tuple[str, ...]
    torch_threads: int


class ClusterWorker:
    """One worker process's job: the recipe's models, loaded once, and one file at a time.

    A plain class; the driver makes it a Ray actor with two single-thread concurrency groups: "work"
    (``load``, ``run``: the models live on that one thread, as a `ModelSet` requires) and "control"
    (``cancel``, so a cancel reaches a worker in the middle of a file).
    """

    def __init__(self, recipe: Recipe, device: str = "auto", precision: str = "auto",
                 preferred: dict[str, str] | None = None, number: int = 0, setup_hook: str | None = None) -> None:
        self.recipe, self.device, self.precision = recipe, device, precision
        self.setup_hook = setup_hook
        self.preferred = dict(preferred or {})
        self.number = number
        self.files = 0
        self._cancel = CancelToken()
        self._models: Any = None

    def load(self) -> WorkerInfo | str:
        """Load every model of the recipe; the worker's description, or why it cannot work (one line)."""
        from restorer_gui.inference.chain import prepare_models
        from restorer_gui.inference.ops.base import ModelSet

        try:
            if self.setup_hook:
                _call_hook(self.setup_hook)
            threads = max(1, int(float(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count() or 1))
            import torch

            torch.set_num_threads(threads)
            self._models = ModelSet(self.device, self.precision, self.preferred)
            loaded = prepare_models(self.recipe, self._models)
        except RestorerError as exc:
            return f"worker on {socket.gethostname()}: {exc}"
        return WorkerInfo(self.number, socket.gethostname(), os.getpid(), self._models.last_device or self.device,
                          tuple(m.id for m in loaded), torch.get_num_threads())

    def run(self, job: FileJob) -> FileOutcome | None:
        """Restore and write one file; None when the batch was cancelled before it was written."""
        if self._cancel.cancelled or self._models is None:
            return None
        try:
            outcome = run_file_job(job, self._models, self._cancel)
        except JobCancelled:
            return None
        self.files += 1
        return outcome

    def cancel(self) -> None:
        self._cancel.cancel()

    def stats(self) -> dict[str, int]:
        """Files written or failed here, and how many models were loaded (once each for the whole batch)."""
        return {"files": self.files, "loads": self._models.loads if self._models is not None else 0}


@dataclass
class _Worker:
    number: int
    actor: Any
    started: Any = None  # the load() reference until it answers
    info: WorkerInfo | None = None
    queue: deque[tuple[Any, FileJob]] = field(default_factory=deque)  # submitted, oldest first


class ClusterRunner(BatchRunner):
    """Process a plan on a Ray cluster; :meth:`run` blocks and returns the same `BatchSummary` as
    `BatchRunner` (same log, same outcomes, same reasons). ``on_worker`` hears of each worker that starts."""

    def __init__(
        self,
        plan: BatchPlan,
        recipe: Recipe,
        cluster: ClusterSettings | None = None,
        settings: RunSettings | None = None,
        callbacks: BatchCallbacks | None = None,
        cancel: CancelToken | None = None,
        *,
        device: str = "auto",
        precision: str = "auto",
        preferred: dict[str, str] | None = None,
        on_worker: Callable[[WorkerInfo], None] | None = None,
    ) -> None:
        super().__init__(plan, None, settings, callbacks, cancel, recipe=absolute_model_paths(recipe))
        self.cluster = cluster or ClusterSettings()
        self.device, self.precision, self.preferred = device, precision, dict(preferred or {})
        self.on_worker = on_worker
        self.workers: list[WorkerInfo] = []  # every worker that started, replacements included
        self.lost: list[str] = []  # why workers were lost
        self._ray = import_ray()
        self._actor_class: Any = None
        self._spawned = 0

    # ------------------------------------------------------------------ public

    def run(self) -> BatchSummary:
        ray = self._ray
        started_here = self._connect()
        pool: list[_Worker] = []
        inflight: dict[Any, _Worker] = {}
        drain = True
        try:
            self._open_log()
            wanted = self._worker_count()
            assert self._log is not None
            self._log.write("cluster", address=self.cluster.address, workers=wanted,
                            gpus_per_worker=self.cluster.gpus_per_worker, cpus_per_worker=self.cluster.cpus_per_worker,
                            resources={k: v for k, v in ray.cluster_resources().items() if not k.startswith("node:")})
            if self.plan.items:
                self._dispatch(wanted, pool, inflight)
        except ClusterError as exc:  # no worker could start: the log says why
            self._set_fatal(str(exc))
            raise
        except BaseException:  # a second Ctrl-C, a crash: end the workers at once
            self._halt.cancel()
            drain = False
            raise
        finally:
            try:
                self._stop_workers(pool, inflight, drain)
            finally:
                if started_here:
                    with contextlib.suppress(Exception):
                        ray.shutdown()
                if self._log is not None:
                    self._remove_temps(_stale_temps(self.plan))  # a killed worker's half-written files
                    self._finish()
        return self._summary

    # ------------------------------------------------------------------ connection and workers

    def _connect(self) -> bool:
        """Join the cluster (True when this call started a local one); a process already connected
        (``ray.init`` called before) keeps its connection."""
        ray, c = self._ray, self.cluster
        if ray.is_initialized():
            return False
        quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
        if c.address not in ("local", "auto"):
            _check_reachable(c.address)
        try:
            if c.address == "local":
                cpus = c.local_cpus or max(1, round((c.workers or os.cpu_count() or 1) * c.cpus_per_worker))
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                         object_store_memory=256 * 2**20, **quiet)
            else:
                ray.init(address=c.address, **quiet)
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError …: one line
            where = "start a local Ray cluster" if c.address == "local" else f"connect to the Ray cluster at {c.address}"
            raise ClusterError(f"cannot {where}: {_first_line(exc)}") from None
        return True

    def _worker_count(self) -> int:
        c = self.cluster
        if c.workers:
            return c.workers
        resources = self._ray.cluster_resources()
        if c.gpus_per_worker > 0:
            count = int(resources.get("GPU", 0) // c.gpus_per_worker)
            if count < 1:
                raise ClusterError(f"the cluster has {resources.get('GPU', 0):g} GPUs: not enough for "
                                   f"--gpus-per-worker {c.gpus_per_worker:g}")
            return count
        return max(1, int(resources.get("CPU", 1) // c.cpus_per_worker))

    def _spawn(self) -> _Worker:
        ray, c = self._ray, self.cluster
        if self._actor_class is None:
            self._actor_class = ray.remote(concurrency_groups={"work": 1, "control": 1})(ClusterWorker)
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        env.setdefault("OMP_NUM_THREADS", str(max(1, int(c.cpus_per_worker))))
        runtime_env: dict[str, Any] = {"env_vars": env}
        number = self._spawned
        self._spawned += 1
        actor = self._actor_class.options(
            num_cpus=c.cpus_per_worker, num_gpus=c.gpus_per_worker, max_restarts=0, max_task_retries=0,
            runtime_env=runtime_env,
        ).remote(self.recipe, self.device, self.precision, self.preferred, number, c.setup_hook)
        worker = _Worker(number, actor)
        worker.started = actor.load.options(concurrency_group="work").remote()
        return worker

    def _started(self, worker: _Worker) -> None:
        """A worker answered its load(): keep it, or stop the batch with its reason (a usage problem:
        no model, an unavailable device — every worker would say the same)."""
        ray = self._ray
        ref, worker.started = worker.started, None
        try:
            answer = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            raise _WorkerLost(_first_line(exc)) from None
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"a worker could not start: {_cause(exc)}") from None
        if isinstance(answer, str):
            raise ClusterError(answer)
        worker.info = answer
        self.workers.append(answer)
        assert self._log is not None
        self._log.write("worker", number=answer.number, host=answer.host, pid=answer.pid, device=answer.device,
                        models=list(answer.models), torch_threads=answer.torch_threads)
        if self.on_worker is not None:
            self.on_worker(answer)

    # ------------------------------------------------------------------ the work

    def _dispatch(self, wanted: int, pool: list[_Worker], inflight: dict[Any, _Worker]) -> None:
        """Keep every worker ``in_flight`` files ahead until all files are back (or the batch stops)."""
        ray, c = self._ray, self.cluster
        jobs = deque(FileJob(self.recipe, item, self.settings, i) for i, item in enumerate(self.plan.items))
        tries: dict[int, int] = {}
        spares = wanted * c.attempts  # replacements for lost workers
        pool.extend(self._spawn() for _ in range(wanted))
        deadline = time.monotonic() + c.start_timeout
        while (jobs or inflight) and not self._stop.cancelled:
            for worker in pool:
                while worker.info is not None and jobs and len(worker.queue) < c.in_flight:
                    job = jobs.popleft()
                    ref = worker.actor.run.options(concurrency_group="work").remote(job)
                    worker.queue.append((ref, job))
                    inflight[ref] = worker
                    if self.callbacks.file_started:
                        self.callbacks.file_started(job.index, job.item)
            starting = {w.started: w for w in pool if w.started is not None}
            if not starting and not inflight:
                if not pool and spares > 0:
                    spares -= 1
                    pool.append(self._spawn())
                    continue
                self._set_fatal(f"no worker left ({'; '.join(self.lost[-1:]) or 'all workers were lost'})")
                return
            done, _ = ray.wait([*inflight, *starting], num_returns=1, timeout=_POLL_S)
            if any(w.info for w in pool):  # the clock runs only while no worker is up
                deadline = time.monotonic() + c.start_timeout
            elif time.monotonic() > deadline:
                raise ClusterError(self._no_worker_reason())
            for ref in done:
                if ref in starting:
                    worker = starting[ref]
                    try:
                        self._started(worker)
                    except _WorkerLost as exc:
                        spares = self._replace(worker, str(exc), pool, inflight, jobs, tries, spares)
                    continue
                worker = inflight.pop(ref, None)
                if worker is None:  # a reference of a worker already replaced
                    continue
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    spares = self._replace(worker, _first_line(exc), pool, inflight, jobs, tries, spares)
                    continue
                except ray.exceptions.RayError as exc:  # a bug or a value that did not travel: name the file
                    job = self._drop(worker, ref)
                    if job is not None:
                        self._record(FileOutcome(job.index, job.item.source, job.item.target, "failed", _cause(exc)))
                    continue
                self._take(worker, ref, outcome)

    def _take(self, worker: _Worker, ref: Any, outcome: FileOutcome | None) -> None:
        self._drop(worker, ref)
        if outcome is None:  # cancelled before it was written
            return
        self._record(outcome)
        if outcome.fatal:
            self._set_fatal(outcome.reason)

    def _drop(self, worker: _Worker, ref: Any) -> FileJob | None:
        """Forget a reference the worker answered; its job."""
        for i, (r, job) in enumerate(worker.queue):
            if r == ref:
                del worker.queue[i]
                return job
        return None

    def _replace(self, worker: _Worker, reason: str, pool: list[_Worker], inflight: dict[Any, _Worker],
                 jobs: deque[FileJob], tries: dict[int, int], spares: int) -> int:
        """A worker died: send its files again (the one it was working on counts a try; after
        ``attempts`` tries that file fails), start a replacement while there are spares. Returns spares left."""
        self.lost.append(reason)
        assert self._log is not None
        self._log.write("worker-lost", number=worker.number, pid=worker.info.pid if worker.info else None,
                        reason=reason, files=[str(j.item.source) for _, j in worker.queue])
        _log.warning("cluster worker %d lost: %s", worker.number, reason)
        with contextlib.suppress(Exception):
            self._ray.kill(worker.actor, no_restart=True)
        held = list(worker.queue)
        worker.queue.clear()
        for ref, _job in held:
            inflight.pop(ref, None)
        for n, (_ref, job) in enumerate(reversed(held)):
            first = n == len(held) - 1  # the oldest: the file the worker was on
            if first:
                tries[job.index] = tries.get(job.index, 0) + 1
                if tries[job.index] >= self.cluster.attempts:
                    item = job.item
                    self._record(FileOutcome(job.index, item.source, item.target, "failed",
                                             f"a worker died while restoring it, {tries[job.index]} times ({reason})"))
                    continue
            jobs.appendleft(job)
        pool.remove(worker)
        if spares > 0 and not self._stop.cancelled:
            pool.append(self._spawn())
            spares -= 1
        return spares

    def _stop_workers(self, pool: list[_Worker], inflight: dict[Any, _Worker], drain: bool = True) -> None:
        """Cancel every worker (each stops after its current tile), keep what they finished meanwhile,
        then end them; without *drain* (a second Ctrl-C) end them at once."""
        ray = self._ray
        try:
            for worker in pool:
                with contextlib.suppress(Exception):
                    worker.actor.cancel.options(concurrency_group="control").remote()
            deadline = time.monotonic() + (_DRAIN_S if drain else 0.0)
            while inflight and time.monotonic() < deadline:
                done, _ = ray.wait(list(inflight), num_returns=1, timeout=_POLL_S)
                for ref in done:
                    worker = inflight.pop(ref)
                    try:
                        self._take(worker, ref, ray.get(ref))
                    except Exception:  # noqa: BLE001 - a worker lost while stopping: its files are not processed
                        self._drop(worker, ref)
            if drain:
                self._log_stats([w for w in pool if w.info is not None])
        finally:
            for worker in pool:
                with contextlib.suppress(Exception):
                    ray.kill(worker.actor, no_restart=True)
            if inflight:  # wait until the killed workers are gone, so their temporaries can be removed
                with contextlib.suppress(BaseException):
                    ray.wait(list(inflight), num_returns=len(inflight), timeout=_KILL_WAIT_S)

    def _log_stats(self, workers: list[_Worker]) -> None:
        """Each live worker's count of files and model loads, into the log (``worker-end``)."""
        ray = self._ray
        refs = [w.actor.stats.options(concurrency_group="control").remote() for w in workers]
        try:
            answers = ray.get(refs, timeout=10)
        except Exception:  # noqa: BLE001 - a worker gone at the end: nothing to report
            return
        assert self._log is not None
        for worker, stats in zip(workers, answers, strict=True):
            self._log.write("worker-end", number=worker.number, **stats)

    def _no_worker_reason(self) -> str:
        c = self.cluster
        need = f"{c.cpus_per_worker:g} CPU" + (f" and {c.gpus_per_worker:g} GPU" if c.gpus_per_worker else "")
        have = {k: v for k, v in self._ray.cluster_resources().items() if k in ("CPU", "GPU")}
        shown = ", ".join(f"{v:g} {k}" for k, v in sorted(have.items())) or "nothing"
        return f"no worker started within {c.start_timeout:g} s: each needs {need}; the cluster has {shown}"

    def _device_name(self) -> str:
        return f"{self.device} on the cluster's workers"


class _WorkerLost(Exception):
    """A worker process died (as opposed to a worker that answered with a reason)."""


def absolute_model_paths(recipe: Recipe) -> Recipe:
    """The recipe with every model given as a relative file path made absolute (workers may start in
    another folder); model ids stay ids."""
    from restorer_gui.inference import ops

    steps = []
    for step in recipe.steps:
        try:
            roles = set(ops.get(step.op).models) | {"model"}
        except RestorerError:
            roles = {"model"}
        params = dict(step.params)
        for role in roles:
            value = params.get(role)
            if isinstance(value, str) and value and Path(value).expanduser().is_file():
                params[role] = str(Path(value).expanduser().resolve())
        steps.append(Step(step.op, params))
    return Recipe(tuple(steps))


def _check_reachable(address: str) -> None:
    """Fail at once, in one line, on an address that is not HOST:PORT or where nothing listens (Ray itself
    would retry for minutes, writing warnings)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterError(f"--cluster {address!r}: use 'local', 'auto', HOST:PORT of a head node or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {exc.strerror or exc}") from None


def _call_hook(spec: str) -> None:
    """Call the function ``module.function`` names (a worker's set-up, e.g. registering architectures)."""
    import importlib

    module, _, name = spec.rpartition(".")
    try:
        getattr(importlib.import_module(module), name)()
    except (ImportError, AttributeError, ValueError) as exc:
        raise ClusterError(f"worker set-up {spec!r} failed: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    return text[:300]


def _cause(exc: BaseException) -> str:
    """A Ray task error's original exception, in one line."""
    cause = getattr(exc, "cause", None)
    return _first_line(cause) if cause is not None else _first_line(exc)
