"""File ▸ Export Recipe…: the steps that made the visible result, written as the recipe file that
`restorer batch --recipe FILE` and `restorer restore --recipe FILE` run (see `core.recipe`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from restorer_gui.core.document import Document
from restorer_gui.core.recipe import Recipe, RecipeError

if TYPE_CHECKING:
    from restorer_gui.qt.host import EditorWindow

RECIPE_FILTER = "Recipe (*.json);;All files (*)"
TITLE = "Export Recipe"


def has_steps(doc: Document | None) -> bool:
    """True when some layer of *doc* came from an operation (Export Recipe has something to write)."""
    return doc is not None and any(layer.step is not None for layer in doc.layers)


def suggested_path(doc: Document, start_dir: str = "") -> Path:
    """``<photo>-recipe.json`` next to the project (or the photo)."""
    base = doc.project_path or doc.path
    if base is None:
        return Path(start_dir or Path.home()) / "recipe.json"
    return base.with_name(f"{base.stem}-recipe.json")


def recipe_or_explain(window: EditorWindow) -> Recipe | None:
    """The recipe of the open photo's visible result, or None after telling the user why there is none."""
    doc = window.model.doc if window.model is not None else None
    if doc is None:
        return None
    recipe = doc.recipe()
    if recipe is None:
        if has_steps(doc):
            message = ("Every layer made by an operation is hidden, so the visible result has no recipe. "
                       "Show the layers to keep, then export the recipe.")
        else:
            message = ("No layer of this photo records the operation that made it: layers made with the Restore "
                       "menu do; imported pictures and layers of projects saved by older versions do not.")
        QMessageBox.information(window, TITLE, message)
    return recipe


def export_recipe_dialog(window: EditorWindow) -> None:
    recipe = recipe_or_explain(window)
    if recipe is None or window.model is None:
        return
    default = suggested_path(window.model.doc, window.settings.last_project_dir)
    path, _ = QFileDialog.getSaveFileName(window, "Export the recipe", str(default), RECIPE_FILTER)
    if path:
        export_recipe(window, path)


def export_recipe(window: EditorWindow, path: str | Path) -> bool:
    """Write the recipe of the visible result to *path* (``.json`` added when missing); says what it wrote,
    and which steps used the mask painted by hand (a recipe carries no mask)."""
    recipe = recipe_or_explain(window)
    if recipe is None:
        return False
    target = Path(path)
    if target.suffix.lower() != ".json":  # never over the photo or the project, whatever name was typed
        target = target.with_name(target.name + ".json")
    try:
        recipe.save(target)
    except RecipeError as exc:
        window.show_error("Cannot export the recipe", str(exc))
        return False
    n = len(recipe.steps)
    window.statusBar().showMessage(
        f"Recipe exported to {target} ({n} step{'s' if n != 1 else ''}: {', '.join(recipe.names)}).", 10_000)
    uses_mask = mask_steps(recipe)
    if uses_mask:
        QMessageBox.information(
            window, TITLE,
            f"The recipe is written to {target.name}. Note: {' and '.join(uses_mask)} used the mask painted on this "
            "photo, and a recipe carries no mask: run on other photos, "
            + ("those steps find nothing to change or fail." if len(uses_mask) > 1
               else "that step finds nothing to change or fails."))
    return True


def mask_steps(recipe: Recipe) -> list[str]:
    """The titles of the steps that work on a painted mask (the operation needs one, or it was limited to it)."""
    from restorer_gui.inference import ops  # the registry; loads no torch

    titles = []
    for step in recipe.steps:
        try:
            op = ops.get(step.op)
        except RecipeError:
            continue
        if (op.mask == "required" or step.params.get("inside_mask") is True) and op.title not in titles:
            titles.append(op.title)
    return titles
