"""Run a recipe (a chain of operation steps) on one image: the one restore chain of GUI, CLI and batch."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from restorer_gui.core.errors import RestorerError, StepError
from restorer_gui.core.recipe import Recipe
from restorer_gui.inference import ops
from restorer_gui.inference.jobs import CancelToken, JobCancelled, Progress, ProgressFn
from restorer_gui.inference.ops.base import ModelSet, OpContext, OpResult

__all__ = ["ChainResult", "StepOutcome", "prepare_models", "run_chain", "run_step"]

_log = logging.getLogger(__name__)


@dataclass
class StepOutcome:
    op: str
    params: Any
    result: OpResult


@dataclass
class ChainResult:
    image: np.ndarray
    mask: np.ndarray | None
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def info(self) -> dict[str, dict[str, Any]]:
        return {s.op: s.result.info for s in self.steps}


def run_step(op: ops.Operation, params: Any, ctx: OpContext, *, name_step: bool = True) -> OpResult:
    """One operation, with its failures named after it: a RestorerError (or an out-of-memory) keeps its
    message behind the step's title; anything else is a bug, logged with its traceback. Without
    ``name_step`` (a chain of one step: the step is obvious) errors pass through unchanged."""
    if not name_step:
        return op.run(ctx, params)
    try:
        return op.run(ctx, params)
    except JobCancelled:
        raise
    except StepError:
        raise
    except RestorerError as exc:
        raise StepError(op.title, str(exc)) from exc
    except MemoryError:
        raise StepError(op.title, "not enough memory for this photo") from None
    except Exception as exc:
        _log.exception("%s failed", op.title)
        line = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        raise StepError(op.title, line[:300]) from exc


def run_chain(
    image: np.ndarray,
    recipe: Recipe,
    models: ModelSet,
    *,
    mask: np.ndarray | None = None,
    tile: int | None = None,
    progress: ProgressFn | Progress | None = None,
    cancel: CancelToken | None = None,
) -> ChainResult:
    """Each step in turn on the previous step's image (a step that returns a mask hands it to the next);
    each step gets an equal share of the progress. Parameters are checked for every step before the first
    runs, so a typo fails at once, not after an hour of work. In a chain of several steps a failure is a
    StepError naming the step; a single step's errors pass through as they are."""
    prog = Progress.wrap(progress)
    parsed = []
    for step in recipe.steps:
        op = ops.get(step.op)
        parsed.append((op, op.parse(step.params)))
    n = len(parsed)
    out = ChainResult(image=image, mask=mask)
    for i, (op, params) in enumerate(parsed):
        if cancel is not None:
            cancel.raise_if_cancelled()
        sub = prog.sub(i / n, (i + 1) / n)
        sub(0.0, op.title)
        result = run_step(op, params, OpContext(out.image, models, out.mask, tile, sub, cancel), name_step=n > 1)
        if result.image is not None:
            out.image = result.image
        if result.mask is not None:
            out.mask = result.mask
        out.steps.append(StepOutcome(op.name, params, result))
    prog(1.0, "done")
    return out


def prepare_models(recipe: Recipe, models: ModelSet) -> list[Any]:
    """Check every step's parameters and load every model the recipe needs, before the first photo: no
    model, a model that does not load or one that does not fit its step fails at once (RestorerError).
    Returns the loaded models, in step order."""
    from restorer_gui.inference.ops.run_model import served_by

    loaded = []
    for step in recipe.steps:
        op = ops.get(step.op)
        params = op.parse(step.params)
        roles = list(op.models.items())
        if op.name == "run-model":
            _info, served = served_by(models, params.model)
            roles = [("model", next(iter(served.models.values())))]
        for role, tasks in roles:
            ref = getattr(params, role, None) or (getattr(params, "model", None) if role == "model" else None)
            loaded.append(models.get(tasks, ref))
    return loaded
