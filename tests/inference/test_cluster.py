"""The batch on a real local Ray cluster (127.0.0.1, two workers): the same bytes as the local engine, bad
files named, a worker killed with SIGKILL loses nothing and leaves no partial file, cancel and resume.

Needs the cluster extra (``pip install "restorer-gui[cluster]"``); skipped without Ray."""

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from restorer_gui.core.batch import BatchOptions, plan_batch  # noqa: E402
from restorer_gui.core.recipe import Recipe, Step  # noqa: E402
from restorer_gui.inference import ops  # noqa: E402
from restorer_gui.inference.batch import BatchCallbacks, BatchRunner, RunSettings  # noqa: E402
from restorer_gui.inference.cluster import ClusterRunner, ClusterSettings  # noqa: E402
from restorer_gui.inference.jobs import CancelToken  # noqa: E402
from tests.batch_helpers import digests, flat_folder, mixed_folder, temp_files  # noqa: E402
from tests.tiny_models import save_model  # noqa: E402

pytestmark = pytest.mark.cluster

HOOK = "tests.inference.cluster_helpers.worker_setup"
SLOW_HOOK = "tests.inference.cluster_helpers.slow_writes_setup"


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster for the module: 2 CPUs on 127.0.0.1, shut down at the end."""
    import logging

    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=128 * 2**20, logging_level=logging.ERROR, log_to_driver=False)
    try:
        yield ray.cluster_resources()
    finally:
        ray.shutdown()


@pytest.fixture
def tiny_models():
    """Tiny random-weight detector, inpainter and denoiser as the user's models (the workers find them
    through RESTORER_HOME, passed on by the runner)."""
    from restorer_gui import paths

    folder = paths.user_models_dir()
    for task, mid in (("denoise", "tiny-den"), ("inpaint", "tiny-inp"), ("detect-scratches", "tiny-det")):
        save_model(folder, mid, task, seed=3, untrained=False)
    return folder


def _local(src, out, recipe, **opts):
    plan = plan_batch(BatchOptions(src, out, **opts))
    return BatchRunner(plan, None, RunSettings(log_dir=out.parent / "logs"), recipe=recipe,
                       models=ops.ModelSet("cpu")).run()


def _cluster(src, out, recipe, *, hook=HOOK, callbacks=None, cancel=None, on_worker=None, **opts):
    plan = plan_batch(BatchOptions(src, out, **opts))
    runner = ClusterRunner(plan, recipe, ClusterSettings("local", workers=2, setup_hook=hook),
                           RunSettings(log_dir=out.parent / "logs"), callbacks, cancel, device="cpu",
                           on_worker=on_worker)
    return runner, runner.run()


def _events(summary):
    return [json.loads(line) for line in summary.log_path.read_text().splitlines()]


def test_a_recipe_on_the_cluster_gives_the_local_engines_bytes(cluster, tiny_models, tmp_path):
    src = tmp_path / "scans"
    mixed_folder(src)
    before = digests(src)
    recipe = Recipe((Step("repair", {"threshold": 0.3}), Step("denoise", {"strength": 12})))
    local = _local(src, tmp_path / "local", recipe, recursive=True)
    runner, summary = _cluster(src, tmp_path / "cluster", recipe, recursive=True)

    assert digests(tmp_path / "cluster") == digests(tmp_path / "local")  # every output, and the recipe file
    assert len(summary.done) == len(local.done) == 5
    reasons = {str(p.relative_to(src)): r for p, r in summary.failed}
    assert reasons == {str(p.relative_to(src)): r for p, r in local.failed} == {
        "sub/broken.jpg": "the file is truncated or corrupt",
        "sub/deep/notes.png": "not an image file (or an unsupported format)",
    }
    assert not summary.ok and summary.fatal is None and not summary.cancelled
    assert digests(src) == before and temp_files(tmp_path) == []
    # at most two worker processes (on a loaded machine the second may start after the first has
    # taken every file), none of them this one, each loading the recipe's three models once
    assert 1 <= len(runner.workers) <= 2 and runner.lost == []
    assert len({w.pid for w in runner.workers} | {os.getpid()}) == len(runner.workers) + 1
    assert all(w.models == ("tiny-det", "tiny-inp", "tiny-den") for w in runner.workers)
    events = _events(summary)
    assert events[0]["event"] == "start" and events[0]["steps"] == ["repair", "denoise"]
    assert [e["event"] for e in events].count("done") == 5 and events[-1]["event"] == "end"
    ends = [e for e in events if e["event"] == "worker-end"]
    assert [e["loads"] for e in ends] == [3] * len(ends) and len(ends) == len(runner.workers)
    assert sum(e["files"] for e in ends) == 7

    # a re-run skips what exists: only the two bad files are planned again
    again = plan_batch(BatchOptions(src, tmp_path / "cluster", recursive=True))
    assert sorted(i.source.name for i in again.items) == ["broken.jpg", "notes.png"] and len(again.skipped) == 5


def _holder(pids, path):
    """The pid among *pids* that has *path* open (from /proc)."""
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    return pid
            except OSError:
                continue
    return None


def test_a_worker_killed_while_writing_loses_nothing(cluster, tmp_path):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 10, size=(64, 80))
    weights = save_model(tmp_path / "models", "tiny-dn", "denoise", seed=5)
    recipe = Recipe((Step("denoise", {"strength": 15, "model": str(weights)}),))
    _local(src, tmp_path / "local", recipe)

    pids: list[int] = []
    killed: list[tuple[int, Path]] = []
    stop = threading.Event()

    def assassin():
        """SIGKILL the worker that has a temporary output file open (in the middle of an atomic write)."""
        while not stop.is_set() and not killed:
            for tmp in out.glob(".*.tmp") if out.exists() else []:
                pid = _holder(list(pids), tmp)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    killed.append((pid, tmp))
                    return
            time.sleep(0.02)

    thread = threading.Thread(target=assassin)
    thread.start()
    try:
        runner, summary = _cluster(src, out, recipe, hook=SLOW_HOOK, on_worker=lambda w: pids.append(w.pid))
    finally:
        stop.set()
        thread.join()

    assert killed, "no worker was caught writing"
    pid, tmp = killed[0]
    assert len(runner.lost) == 1 and pid in {w.pid for w in runner.workers}  # a replacement was started too
    assert summary.ok and len(summary.done) == 10 and summary.failed == []
    assert digests(out) == digests(tmp_path / "local")  # every file, byte for byte
    assert temp_files(tmp_path) == []  # the killed worker's half-written file is gone
    events = _events(summary)
    lost = next(e for e in events if e["event"] == "worker-lost")
    assert lost["pid"] == pid and lost["files"]
    assert any(e["event"] == "removed-temp" and e["path"] == str(tmp) for e in events)


def test_cancel_keeps_what_was_written_and_a_rerun_completes(cluster, tmp_path):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 12, size=(64, 80))
    weights = save_model(tmp_path / "models", "tiny-dn", "denoise", seed=5)
    recipe = Recipe((Step("denoise", {"strength": 15, "model": str(weights)}),))
    cancel = CancelToken()
    _, summary = _cluster(src, out, recipe, hook=SLOW_HOOK, cancel=cancel,
                          callbacks=BatchCallbacks(file_done=lambda o: cancel.cancel()))
    assert summary.cancelled and 1 <= len(summary.done) < 12 and summary.failed == []
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(o.target.name for o in summary.done)  # nothing else, nothing partial
    assert temp_files(tmp_path) == []
    _, again = _cluster(src, out, recipe)
    assert again.ok and len(again.done) == 12 - len(written) and len(again.skipped) == len(written)
    _local(src, tmp_path / "local", recipe)
    assert digests(out) == digests(tmp_path / "local")


def test_a_worker_that_cannot_load_its_model_stops_the_batch_with_the_reason(cluster, tmp_path):
    from restorer_gui.inference.cluster import ClusterError

    src = tmp_path / "scans"
    flat_folder(src, 2)
    recipe = Recipe((Step("denoise", {"model": "no-such-model"}),))
    with pytest.raises(ClusterError, match="no model with id 'no-such-model'"):
        _cluster(src, tmp_path / "out", recipe)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_full_output_disk_stops_the_batch_as_on_one_machine(cluster, tmp_path):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 8)
    weights = save_model(tmp_path / "models", "tiny-dn", "denoise", seed=5)
    recipe = Recipe((Step("denoise", {"strength": 15, "model": str(weights)}),))
    _, summary = _cluster(src, out, recipe, hook="tests.inference.cluster_helpers.full_disk_setup")
    assert summary.fatal is not None and "no space left on device" in summary.fatal
    assert summary.done == [] and 1 <= len(summary.failed) <= 4 and summary.not_processed >= 4
    assert "stopped" in summary.lines()[0].lower() and not summary.cancelled
    assert not list(out.glob("*.png")) and temp_files(tmp_path) == []


def test_a_file_that_kills_every_worker_fails_with_that_reason_and_the_rest_goes_on(cluster, tmp_path):
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 4)
    (src / "p01.png").rename(src / "poison.png")
    weights = save_model(tmp_path / "models", "tiny-dn", "denoise", seed=5)
    recipe = Recipe((Step("denoise", {"strength": 15, "model": str(weights)}),))
    runner, summary = _cluster(src, out, recipe, hook="tests.inference.cluster_helpers.poison_setup")
    assert sorted(o.target.name for o in summary.done) == ["p00.png", "p02.png", "p03.png"]
    [(path, reason)] = summary.failed
    assert path.name == "poison.png" and reason.startswith("a worker died while restoring it, 3 times (")
    # three losses charged to the poison; a fourth happens when a worker dies with a finished file still ahead of
    # the poison in its queue (that file is charged the try and sent again): seen under a loaded CPU
    assert 3 <= len(runner.lost) <= 4 and summary.fatal is None and temp_files(tmp_path) == []


def test_workers_the_cluster_cannot_place_give_a_clear_reason(cluster, tmp_path):
    from restorer_gui.inference.cluster import ClusterError

    src = tmp_path / "scans"
    flat_folder(src, 2)
    weights = save_model(tmp_path / "models", "tiny-dn", "denoise", seed=5)
    plan = plan_batch(BatchOptions(src, tmp_path / "out"))
    runner = ClusterRunner(plan, Recipe((Step("denoise", {"model": str(weights)}),)),
                           ClusterSettings("local", workers=1, gpus_per_worker=1, start_timeout=3, setup_hook=HOOK),
                           RunSettings(log_dir=tmp_path / "logs"), device="cpu")
    with pytest.raises(ClusterError, match=r"no worker started within 3 s: each needs 1 CPU and 1 GPU; "
                                           r"the cluster has 2 CPU$"):
        runner.run()
    assert not (tmp_path / "out").exists()
