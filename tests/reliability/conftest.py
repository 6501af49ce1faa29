"""Shared fixtures of the reliability tests: the GUI fixtures of tests/qt, tiny installed models,
an input-hash guard and a tally of the cases tried (printed at the end of the run)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.qt.conftest import dialogs, open_doc, window  # noqa: F401 - fixtures re-used here
from tests.reliability.corpus import hashes

TALLY: Counter[str] = Counter()


@pytest.fixture
def tally() -> Counter[str]:
    """Count what was tried: ``tally["bad images x GUI open"] += 1``."""
    return TALLY


@pytest.fixture
def tiny_models(isolated_home):
    """tiny-denoise, tiny-inpaint and tiny-detect installed as user models (deterministic)."""
    from tests.qt.tiny_models import install_all

    install_all()


@contextmanager
def untouched(paths: Iterable[Path]) -> Iterator[None]:
    """Assert that the files (inputs, originals) have the same content afterwards."""
    paths = list(paths)
    before = hashes(paths)
    yield
    after = hashes(paths)
    changed = [str(p) for p in paths if before[p] != after[p]]
    assert not changed, f"inputs modified: {changed}"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if TALLY:
        terminalreporter.write_sep("-", "reliability: cases tried (and survived)")
        for key in sorted(TALLY):
            terminalreporter.write_line(f"{TALLY[key]:>7}  {key}")
