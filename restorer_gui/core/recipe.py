"""A restoration recipe: a chain of operation steps with their parameters, as plain data (no torch, no Qt).

The GUI (each step a layer and an undo item), the command line (`restorer restore --steps`) and batch
(`restorer batch --steps`, locally or on a cluster) all run the same recipe through
`restorer_gui.inference.chain.run_chain`. A recipe is saved as JSON next to batch outputs and in projects::

    {"format": "restorer-recipe", "version": 1,
     "steps": [{"op": "repair", "params": {"threshold": 0.4}}, {"op": "denoise", "params": {"auto": true}}]}

Operation names and their parameters are checked against the operation registry when the recipe runs
(`inference.ops`); this module only knows the shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from restorer_gui.core.errors import RestorerError

__all__ = ["RECIPE_FORMAT", "Recipe", "RecipeError", "Step", "parse_steps"]

RECIPE_FORMAT = "restorer-recipe"
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


class RecipeError(RestorerError):
    """A recipe that cannot be read or run (one-line message)."""


@dataclass(frozen=True)
class Step:
    """One operation (by registry name) and its parameters (JSON-compatible values only)."""

    op: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.op, str) or not _NAME.match(self.op):
            raise RecipeError(f"not an operation name: {self.op!r}")
        if not isinstance(self.params, dict) or not all(isinstance(k, str) for k in self.params):
            raise RecipeError(f"{self.op}: parameters must be a mapping of names to values")
        try:
            json.dumps(self.params)
        except (TypeError, ValueError):
            raise RecipeError(f"{self.op}: parameters must be plain values (numbers, text, true/false)") from None

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "params": dict(self.params)}


@dataclass(frozen=True)
class Recipe:
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise RecipeError("a recipe needs at least one step")

    @property
    def names(self) -> list[str]:
        return [s.op for s in self.steps]

    def to_json(self) -> str:
        return json.dumps({"format": RECIPE_FORMAT, "version": 1, "steps": [s.to_dict() for s in self.steps]},
                          indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Recipe:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecipeError(f"not a recipe (invalid JSON: {exc})") from None
        if not isinstance(data, dict) or data.get("format") != RECIPE_FORMAT:
            raise RecipeError("not a recipe file")
        if data.get("version") != 1:
            raise RecipeError(f"recipe version {data.get('version')!r} is not supported; update the app")
        steps = data.get("steps")
        if not isinstance(steps, list):
            raise RecipeError("the recipe has no list of steps")
        out = []
        for s in steps:
            if not isinstance(s, dict):
                raise RecipeError("each step of a recipe is an object with 'op' and 'params'")
            out.append(Step(s.get("op"), s.get("params") or {}))
        return cls(tuple(out))


def parse_steps(text: str, params: dict[str, dict[str, Any]] | None = None) -> Recipe:
    """``"repair,denoise"`` → a recipe of those steps (``params`` per step name, default none)."""
    names = [n.strip().lower() for n in str(text).split(",")]
    if not any(names):
        raise RecipeError("--steps needs at least one step, e.g. --steps repair,denoise")
    if "" in names:
        raise RecipeError(f"an empty step in {text!r}")
    params = params or {}
    return Recipe(tuple(Step(n, dict(params.get(n, {}))) for n in names))
