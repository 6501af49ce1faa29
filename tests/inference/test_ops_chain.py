"""The operation registry, recipes run as chains, and models loaded once per thread."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from restorer_gui import paths
from restorer_gui.core.errors import RestorerError, StepError
from restorer_gui.core.recipe import Recipe, RecipeError, Step
from restorer_gui.inference import ops
from restorer_gui.inference.chain import run_chain
from tests.tiny_models import save_model

ROOT = Path(__file__).resolve().parents[2] / "restorer_gui"


@pytest.fixture
def tiny_set():
    folder = paths.user_models_dir()
    for task, mid in (("denoise", "tiny-den"), ("inpaint", "tiny-inp"), ("detect-scratches", "tiny-det")):
        save_model(folder, mid, task, untrained=False)
    return folder


def _photo(seed=0, h=40, w=48):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_a_three_step_chain_over_a_folder_loads_each_model_once(tiny_set):
    recipe = Recipe((Step("repair", {"threshold": 0.0}), Step("denoise", {"strength": 20}),
                     Step("detect-scratches", {})))
    models = ops.ModelSet("cpu")
    for seed in range(3):
        seen = []
        result = run_chain(_photo(seed), recipe, models, progress=lambda f, m: seen.append(f))
        assert result.image.shape == (40, 48, 3) and result.mask is not None
        assert [s.op for s in result.steps] == ["repair", "denoise", "detect-scratches"]
        assert seen == sorted(seen) and seen[-1] == 1.0 and any(0.3 < f < 0.7 for f in seen)
    assert models.loads == 3  # detector, inpainter, denoiser: once each for three photos


def test_threshold_zero_repairs_everything_and_outside_stays(tiny_set):
    img = _photo(1)
    out = run_chain(img, Recipe((Step("repair", {"threshold": 0.0, "grain": False}),)), ops.ModelSet("cpu"))
    assert out.mask.min() == 255 and not np.array_equal(out.image, img)
    out = run_chain(img, Recipe((Step("repair", {"threshold": 1.0}),)), ops.ModelSet("cpu"))
    assert out.steps[0].result.info["summary"] == "No damage found." or out.mask.any()


def test_step_errors_name_the_step_and_parameters_are_checked_first(tiny_set):
    with pytest.raises(StepError, match="^Inpaint: nothing to inpaint"):
        run_chain(_photo(), Recipe((Step("denoise", {}), Step("inpaint", {}))), ops.ModelSet("cpu"))
    with pytest.raises(RestorerError, match="^nothing to inpaint"):  # one step: its own message
        run_chain(_photo(), Recipe((Step("inpaint", {}),)), ops.ModelSet("cpu"))
    calls = []
    with pytest.raises(RecipeError, match="denoise: unknown parameter 'sigma'"):
        run_chain(_photo(), Recipe((Step("repair", {}), Step("denoise", {"sigma": 3}))), ops.ModelSet("cpu"),
                  progress=lambda f, m: calls.append(m))
    assert calls == []  # nothing ran
    with pytest.raises(RecipeError, match="strength must be float"):
        ops.get("denoise").parse({"strength": "loud"})
    with pytest.raises(RecipeError, match="between 0 and 255"):
        ops.get("denoise").parse({"strength": 300})
    with pytest.raises(RecipeError, match="unknown step"):
        ops.get("sharpen")


def test_missing_model_is_a_user_facing_error(tmp_path):
    with pytest.raises(RestorerError, match="no denoise model is installed"):
        run_chain(_photo(), Recipe((Step("denoise", {}),)), ops.ModelSet("cpu"))
    assert issubclass(StepError, RestorerError)


def test_model_sets_belong_to_their_thread(tiny_set):
    import threading

    models = ops.ModelSet("cpu")
    errors = []
    t = threading.Thread(target=lambda: errors.append(pytest.raises(RuntimeError, models.get, ("denoise",))))
    t.start()
    t.join()
    assert errors and "belongs to the thread" in str(errors[0].value)


def test_registry_declarations_are_complete():
    assert set(ops.CHAIN_STEPS) <= set(ops.OPERATIONS)
    for name, op in ops.OPERATIONS.items():
        assert op.name == name and op.title and op.help
        op.parse({})  if name != "run-model" else None  # defaults are valid (run-model needs its model)
        for tasks in op.models.values():
            assert tasks and all(isinstance(t, str) for t in tasks)
    assert ops.for_model_task("restore") is ops.OPERATIONS["denoise"]
    assert ops.for_model_task("detect-scratches") is ops.OPERATIONS["detect-scratches"]


def test_every_operation_has_a_command_line_subcommand():
    from restorer_gui.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in ops.OPERATIONS:
        assert name in sub.choices, f"`restorer {name}` is missing"
    for name in ("restore", "batch"):
        assert "--steps" in sub.choices[name].format_help()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_import_contract_keeps_qt_out_of_core_and_inference_and_torch_out_of_core():
    """The layering of DESIGN.md, checked on every module (imports inside functions included)."""
    checked = 0
    for folder, banned in (("core", {"PySide6", "torch", "torchvision", "spandrel"}), ("inference", {"PySide6"})):
        for path in (ROOT / folder).rglob("*.py"):
            bad = _imports(path) & banned
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
            checked += 1
    assert checked > 20
    # and the contract bites: a module that imports Qt is caught
    probe = ROOT.parent / "tests" / "inference" / "__probe_contract.py"
    try:
        probe.write_text("from PySide6 import QtCore\n")
        assert "PySide6" in _imports(probe)
    finally:
        probe.unlink()


def _import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the package's modules it imports: at the top, inside functions and under TYPE_CHECKING alike
    (a type-only import is still a dependency between the two modules)."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def known(name: str) -> str | None:  # the module a dotted name lives in (a package's name is its __init__)
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {name: set() for name in modules}
    for name, path in modules.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [known(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] + [node.module or ""]) if node.level else node.module
                targets = [known(f"{base}.{a.name}") for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t and t != name and t.split(".")[0] == package.name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The import circles: modules that reach each other (strongly connected components of two or more)."""
    reach = {}
    for start in graph:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        reach[start] = seen
    circles = {frozenset({a} | {b for b in reach[a] if a in reach[b]}) for a in graph if a in reach[a]}
    return [set(c) for c in circles]


#: a circle still allowed: the operation registry lists run_model, and run_model looks up, in that registry,
#: the operation that serves a model's task
ALLOWED_CIRCLES = [{"restorer_gui.inference.ops", "restorer_gui.inference.ops.run_model"}]


def test_no_import_circles_between_modules(tmp_path):
    """The untangled circles (#18) stay untangled: the main window and its parts (autosave, batch window,
    restore controller, damage review), the undo commands and the document model, the model loader and
    registry, the two command lines. No other circle appears either."""
    graph = _import_graph(ROOT)
    assert len(graph) > 60 and "restorer_gui.qt.main_window" in graph["restorer_gui.app"]
    circles = [c for c in _cycles(graph) if not any(c <= allowed for allowed in ALLOWED_CIRCLES)]
    assert not circles, "import circles: " + "; ".join(" ↔ ".join(sorted(c)) for c in circles)
    for low, high in (("qt.autosave", "qt.main_window"), ("qt.batch_window", "qt.main_window"),
                      ("qt.restore", "qt.main_window"), ("qt.review", "qt.restore"),
                      ("qt.commands", "qt.document_model"), ("inference.registry", "inference.loader"),
                      ("training.cli", "cli")):
        assert f"restorer_gui.{high}" not in graph[f"restorer_gui.{low}"], f"{low} imports {high} again"
    # and the check bites: a type-only import and one inside a function close a circle
    pkg = tmp_path / "restorer_gui"
    (pkg / "qt").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "qt" / "__init__.py").write_text("")
    (pkg / "qt" / "window.py").write_text("def f():\n    from restorer_gui.qt.part import Part\n")
    (pkg / "qt" / "part.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .window import W\n")
    assert _cycles(_import_graph(pkg)) == [{"restorer_gui.qt.window", "restorer_gui.qt.part"}]


def test_operations_load_no_torch_on_import():
    import subprocess
    import sys

    code = "import sys, restorer_gui.inference.ops, restorer_gui.core.recipe; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_batch_writes_its_recipe_next_to_the_outputs(tiny_set, tmp_path):
    from restorer_gui.core import imageio
    from restorer_gui.core.batch import BatchOptions, plan_batch
    from restorer_gui.inference.batch import BatchRunner, RunSettings

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        imageio.save_image(src / f"p{i}.png", _photo(i))
    plan = plan_batch(BatchOptions(src, tmp_path / "out"))
    recipe = Recipe((Step("repair", {"threshold": 0.0}), Step("denoise", {"strength": 10})))
    models = ops.ModelSet("cpu")
    summary = BatchRunner(plan, None, RunSettings(log_dir=tmp_path / "logs"), recipe=recipe, models=models).run()
    assert summary.ok and len(summary.done) == 3 and models.loads == 3
    saved = Recipe.from_json((tmp_path / "out" / "restorer-recipe.json").read_text())
    assert saved == recipe
    log = [json.loads(line) for line in summary.log_path.read_text().splitlines()]
    assert log[0]["steps"] == ["repair", "denoise"]


def test_a_file_job_travels_and_gives_the_batch_runners_bytes(tiny_set, tmp_path):
    import pickle

    from restorer_gui.core import imageio
    from restorer_gui.core.batch import BatchOptions, plan_batch
    from restorer_gui.inference.batch import BatchRunner, FileJob, RunSettings, run_file_job

    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        imageio.save_image(src / f"p{i}.png", _photo(i))
    imageio.save_image(src / "bad.png", _photo(9))
    (src / "bad.png").write_bytes(b"\x89PNG broken")
    recipe = Recipe((Step("repair", {"threshold": 0.0}), Step("denoise", {"strength": 10})))
    settings = RunSettings(log_dir=tmp_path / "logs")
    BatchRunner(plan_batch(BatchOptions(src, tmp_path / "local")), None, settings, recipe=recipe,
                models=ops.ModelSet("cpu")).run()
    plan = plan_batch(BatchOptions(src, tmp_path / "remote"))
    models = ops.ModelSet("cpu")
    outcomes = []
    for i, item in enumerate(plan.items):
        job = pickle.loads(pickle.dumps(FileJob(recipe, item, settings, i)))  # what another process receives
        outcomes.append(run_file_job(job, models))
    assert [o.status for o in outcomes] == ["failed", "done", "done"]
    assert "not an image" in outcomes[0].reason
    for name in ("p0.png", "p1.png"):
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert models.loads == 3


def test_preferences_offer_a_model_choice_for_every_role_of_the_menu_operations():
    from restorer_gui.settings import MODEL_CHOICE_FIELDS, Settings

    for name in ("repair", "inpaint", "denoise", "detect-scratches"):
        for tasks in ops.get(name).models.values():
            assert tasks[0] in MODEL_CHOICE_FIELDS, f"{name}: no Preferences ▸ Models choice for {tasks[0]}"
            assert hasattr(Settings(), MODEL_CHOICE_FIELDS[tasks[0]])
