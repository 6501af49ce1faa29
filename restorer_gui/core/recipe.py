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

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
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

    @classmethod
    def from_dict(cls, data: Any) -> Step:
        if not isinstance(data, dict):
            raise RecipeError("each step of a recipe is an object with 'op' and 'params'")
        return cls(data.get("op"), data.get("params") or {})

    @classmethod
    def of(cls, op: str, params: Any) -> Step:
        """The step that runs ``op`` with ``params``: an operation's parameter dataclass (every field, so the
        step means the same when defaults change) or a mapping."""
        if dataclasses.is_dataclass(params) and not isinstance(params, type):
            values = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
        else:
            values = dict(params or {})
        return cls(op, values)


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

    def to_dict(self) -> dict[str, Any]:
        return {"format": RECIPE_FORMAT, "version": 1, "steps": [s.to_dict() for s in self.steps]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Recipe:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecipeError(f"not a recipe (invalid JSON: {exc})") from None
        except RecursionError:
            raise RecipeError("not a recipe (nested too deeply)") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """A recipe from its JSON object (as `to_dict` makes it); anything else raises RecipeError."""
        if not isinstance(data, dict) or data.get("format") != RECIPE_FORMAT:
            raise RecipeError("not a recipe file")
        if data.get("version") != 1:
            raise RecipeError(f"recipe version {data.get('version')!r} is not supported; update the app")
        steps = data.get("steps")
        if not isinstance(steps, list):
            raise RecipeError("the recipe has no list of steps")
        return cls(tuple(Step.from_dict(s) for s in steps))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recipe:
        """The recipe in the file at ``path``; RecipeError (naming the problem) when it cannot be read or is none."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise RecipeError(f"cannot read the recipe: {exc.strerror or exc}") from None
        return cls.from_json(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the recipe's JSON to ``path`` atomically (the previous file stays whole if writing fails);
        RecipeError names the file."""
        from restorer_gui.core import imageio

        target = Path(path)
        try:
            imageio._atomic_write(target, lambda f: f.write(self.to_json().encode("utf-8")))  # the one atomic write
        except OSError as exc:
            raise RecipeError(f"cannot write {target.name}: {exc.strerror or exc}") from None


def parse_steps(text: str, params: dict[str, dict[str, Any]] | None = None) -> Recipe:
    """``"repair,denoise"`` → a recipe of those steps (``params`` per step name, default none)."""
    names = [n.strip().lower() for n in str(text).split(",")]
    if not any(names):
        raise RecipeError("--steps needs at least one step, e.g. --steps repair,denoise")
    if "" in names:
        raise RecipeError(f"an empty step in {text!r}")
    params = params or {}
    return Recipe(tuple(Step(n, dict(params.get(n, {}))) for n in names))
