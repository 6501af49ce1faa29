"""The operation registry: one module per operation, listed here once.

Front ends are built from it: the command line's restoration subcommands and `--steps`, the Restore menu,
Preferences ▸ Models (the model roles) and the batch dialog's steps. Adding an operation is a new module
and a line below (tests check that every front end knows every operation). No torch is imported here.
"""

from __future__ import annotations

from restorer_gui.core.recipe import RecipeError
from restorer_gui.inference.ops import denoise, detect, enhance, face, inpaint, repair, run_model, upscale
from restorer_gui.inference.ops.base import ModelSet, OpContext, OpResult, Operation, chosen_model, model_for

__all__ = [
    "OPERATIONS", "ModelSet", "OpContext", "OpResult", "Operation", "chosen_model", "for_model_task", "get", "model_for",
]

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        repair.OPERATION,
        detect.OPERATION,
        inpaint.OPERATION,
        denoise.OPERATION,
        enhance.OPERATION,
        upscale.OPERATION,
        face.OPERATION,
        run_model.OPERATION,
    )
}

#: operations that make sense as a step of a chain over whole photos (`--steps`)
CHAIN_STEPS = ("repair", "denoise", "enhance", "upscale")


def get(name: str) -> Operation:
    try:
        return OPERATIONS[name]
    except KeyError:
        raise RecipeError(f"unknown step {name!r} (known: {', '.join(CHAIN_STEPS)})") from None


def for_model_task(task: str) -> Operation | None:
    """The operation that runs models of ``task`` (a restorer is run as a denoiser)."""
    for op in OPERATIONS.values():
        if len(op.models) == 1 and task in next(iter(op.models.values())):
            return op
    return None
