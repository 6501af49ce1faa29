import threading

import pytest

from restorer_gui.qt.workers import Job, UserFacingError, WorkerPool


@pytest.fixture
def pool(qtbot):
    p = WorkerPool(io_threads=2)
    yield p
    assert p.shutdown(10_000)


def test_job_runs_off_the_gui_thread_and_returns_its_result(pool, qtbot):
    main = threading.get_ident()

    def fn(progress, cancel):
        progress(0.5, "half")
        return threading.get_ident()

    with qtbot.waitSignal(pool.job_finished, timeout=5000) as blocker:
        job = pool.submit(Job("t", fn))
    job_id, thread_id = blocker.args
    assert job_id == job.id and thread_id != main
    assert not pool.busy


def test_failures_arrive_as_signals_and_the_lane_keeps_working(pool, qtbot):
    def boom(progress, cancel):
        raise ValueError("bad weights\nmore")

    with qtbot.waitSignal(pool.job_failed, timeout=5000) as blocker:
        pool.submit(Job("boom", boom))
    assert blocker.args[1] == "bad weights" and "ValueError" in blocker.args[2]
    with qtbot.waitSignal(pool.job_failed, timeout=5000) as blocker:
        pool.submit(Job("user", lambda p, c: (_ for _ in ()).throw(UserFacingError("No model for this task."))))
    assert blocker.args[1:] == ["No model for this task.", ""]
    with qtbot.waitSignal(pool.job_finished, timeout=5000) as blocker:
        pool.submit(Job("ok", lambda p, c: 42))
    assert blocker.args[1] == 42


def test_cancel_stops_a_running_job_between_steps(pool, qtbot):
    started = threading.Event()
    steps = []

    def long_job(progress, cancel):
        for i in range(10_000):
            started.set()
            cancel.raise_if_cancelled()
            steps.append(i)
            threading.Event().wait(0.001)
        return "finished"

    with qtbot.waitSignal(pool.job_cancelled, timeout=10_000):
        job = pool.submit(Job("long", long_job))
        assert started.wait(5)
        pool.cancel(job.id)
    assert len(steps) < 10_000


def test_progress_is_reported_in_order(pool, qtbot):
    seen = []
    pool.job_progressed.connect(lambda job_id, f, msg: seen.append(f))

    def fn(progress, cancel):
        for i in range(1, 6):
            progress(i / 5, f"step {i}")
            threading.Event().wait(0.06)
        return None

    with qtbot.waitSignal(pool.job_finished, timeout=5000):
        pool.submit(Job("p", fn))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3


def test_shutdown_cancels_queued_work(qtbot):
    pool = WorkerPool()
    started = threading.Event()
    ran = []

    def blocker(progress, cancel):
        started.set()
        for _ in range(5000):  # runs until shutdown cancels it (5 s at most)
            if cancel.cancelled:
                break
            threading.Event().wait(0.001)
        ran.append("first")

    pool.submit(Job("a", blocker))
    pool.submit(Job("b", lambda p, c: ran.append("second")))
    assert started.wait(5)
    assert pool.shutdown(10_000)
    assert ran == ["first"]


def test_a_job_submitted_after_shutdown_never_runs_and_starts_no_thread(qtbot, caplog):
    pool = WorkerPool()
    with qtbot.waitSignal(pool.job_finished, timeout=5000):
        pool.submit(Job("before", lambda p, c: None))
    assert pool.shutdown(10_000)
    ran = []
    with caplog.at_level("WARNING"):
        job = pool.submit(Job("Late preview", lambda p, c: ran.append(1)))
    assert job.cancel.cancelled and not pool.busy and pool._lanes == {}
    assert any("Late preview" in r.getMessage() and "shut down" in r.getMessage() for r in caplog.records)
    assert ran == []  # and no lane thread exists that could run it later


def test_a_worker_that_misses_the_shutdown_is_logged(qtbot, caplog):
    import threading

    release = threading.Event()
    pool = WorkerPool()
    started = threading.Event()

    def stubborn(progress, cancel):  # ignores its cancel token
        started.set()
        release.wait(10)
        return None

    pool.submit(Job("Stubborn job", stubborn))
    assert started.wait(10)
    with caplog.at_level("WARNING"):
        assert pool.shutdown(50) is False
    assert any("Stubborn job" in r.getMessage() and "did not stop" in r.getMessage() for r in caplog.records)
    release.set()
    assert all(t.wait(10_000) for t in pool.late_threads)
