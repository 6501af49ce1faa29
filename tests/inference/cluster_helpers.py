"""Set-up hooks the cluster tests run in every Ray worker process (``ClusterSettings.setup_hook``)."""

from __future__ import annotations

import time


def worker_setup() -> None:
    """Make the tiny test architectures known to the worker's model loader."""
    import tests.tiny_models  # noqa: F401 - registers tiny_denoise, tiny_inpaint, tiny_scratch


def slow_writes_setup() -> None:
    """As `worker_setup`, and every atomic write lingers 0.4 s with its temporary file open (so a test
    can kill a worker in the middle of writing a file)."""
    worker_setup()
    from restorer_gui.core import imageio

    real = imageio._atomic_write

    def slow(target, write):
        def lingering(f):
            write(f)
            f.flush()
            time.sleep(0.4)

        real(target, lingering)

    imageio._atomic_write = slow


def full_disk_setup() -> None:
    """As `worker_setup`, and the output disk is full: every atomic write fails with ENOSPC."""
    import errno

    worker_setup()
    from restorer_gui.core import imageio

    def full(target, write):
        raise OSError(errno.ENOSPC, "No space left on device")

    imageio._atomic_write = full


def poison_setup() -> None:
    """As `worker_setup`, and a worker process dies at once (as if killed by the kernel) when it reads a
    file named ``poison.png``."""
    import os

    worker_setup()
    from restorer_gui.inference import batch

    real = batch.load_image

    def load(path, **kw):
        if path.name == "poison.png":
            os._exit(137)
        return real(path, **kw)

    batch.load_image = load
