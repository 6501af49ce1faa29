"""The recipe of what was done in the window: each result layer records its step, the project keeps the
steps, and File ▸ Export Recipe… writes the file that `restorer restore|batch --recipe` run."""

import json
import zipfile

import numpy as np

from restorer_gui.cli import main as cli_main
from restorer_gui.core import imageio
from restorer_gui.core.recipe import Recipe, Step
from restorer_gui.qt import recipe_export
from restorer_gui.qt.review import sensitivity_to_threshold

from .test_repair_flow import _scan, models  # noqa: F401 - the same cracked photo and tiny models


def _file_menu(window):
    return next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")


def test_repair_and_denoise_become_a_recipe_that_the_project_keeps_and_the_cli_runs(
        window, qtbot, models, tmp_path, dialogs):
    pixels = _scan(2)
    src = tmp_path / "scan.png"
    imageio.save_image(src, pixels)
    window.settings.device = "cpu"
    assert window.open_path(src)
    model = window.model
    export = window.restore.act_export_recipe
    assert export in _file_menu(window).actions() and not export.isEnabled()

    # Repair Damage: find, review at a chosen sensitivity, fill; then Denoise with Auto
    with qtbot.waitSignal(model.mask_changed, timeout=30_000):
        window.restore.act_repair.trigger()
    review = window.restore.review
    assert review.slider.value() != 60
    review.slider.setValue(60)  # sensitivity 60 %: the detector's cut at 0.4 (re-cut at once, no model run)
    assert window.settings.repair_threshold == sensitivity_to_threshold(60)
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        review.fill_button.click()
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.denoise(None)
    repair_step = Step("repair", {"threshold": sensitivity_to_threshold(60), "grow": None, "grain": True, "use_mask": True,
                                  "detector": "tiny-detect", "inpainter": "tiny-inpaint"})
    denoise_step = Step("denoise", {"strength": None, "auto": True, "inside_mask": False, "model": "tiny-denoise",
                                    "keep_grain": 0.0})
    assert [layer.step for layer in model.doc.layers] == [repair_step, denoise_step]
    assert export.isEnabled()

    # undo takes the layer and its step away, redo brings both back
    window.act_undo.trigger()
    assert model.doc.recipe().names == ["repair"]
    window.act_redo.trigger()
    assert model.doc.recipe().names == ["repair", "denoise"]
    shown = model.doc.flatten()

    # the project keeps each layer's step and the recipe, and a reopened project gives them back
    project = tmp_path / "scan.rgproj"
    assert window.save_project_to(project)
    with zipfile.ZipFile(project) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert [e["step"]["op"] for e in manifest["layers"]] == ["repair", "denoise"]
    assert Recipe.from_dict(manifest["recipe"]) == model.doc.recipe()
    window.close_document()
    assert window.model is None and not export.isEnabled()
    assert window.open_project(project)
    doc = window.model.doc
    assert [layer.step for layer in doc.layers] == [repair_step, denoise_step]
    assert doc.recipe() == Recipe((doc.layers[0].step, doc.layers[1].step))
    assert export.isEnabled()

    # Export Recipe writes it (".json" added), says so, and it needs no mask: no note
    assert recipe_export.export_recipe(window, tmp_path / "scan-recipe")
    written = tmp_path / "scan-recipe.json"
    assert Recipe.from_json(written.read_bytes()) == doc.recipe()
    assert "scan-recipe.json" in window.statusBar().currentMessage() and "repair, denoise" in window.statusBar().currentMessage()
    assert dialogs.shown == []

    # the command line takes the exported file unchanged and makes the picture the window shows
    assert cli_main(["restore", str(src), "-o", str(tmp_path / "cli.png"), "--recipe", str(written), "--device", "cpu"]) == 0
    np.testing.assert_array_equal(imageio.load_image(tmp_path / "cli.png").pixels, shown)
    (tmp_path / "in").mkdir()
    imageio.save_image(tmp_path / "in" / "scan.png", pixels)
    assert cli_main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--recipe", str(written),
                     "--device", "cpu"]) == 0
    np.testing.assert_array_equal(imageio.load_image(tmp_path / "out" / "scan.png").pixels, shown)
    assert Recipe.from_json((tmp_path / "out" / "restorer-recipe.json").read_bytes()) == doc.recipe()


def test_export_says_why_there_is_no_recipe_and_what_a_recipe_leaves_out(window, open_doc, qtbot, models, tmp_path,
                                                                         dialogs):
    model = open_doc(_scan(3))
    window.settings.device = "cpu"
    model.add_layer(model.doc.make_layer("retouched", _scan(4), "import"))
    export = window.restore.act_export_recipe
    assert not export.isEnabled()
    target = tmp_path / "r.json"
    assert not recipe_export.export_recipe(window, target)
    assert not target.exists() and "records the operation" in dialogs.shown[-1][2]

    model.doc.mask[10:30, 10:30] = 255
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.act_inpaint.trigger()
    assert model.doc.layers[-1].step == Step("inpaint", {"model": "tiny-inpaint", "grain": False})
    assert export.isEnabled()
    model.change_layer(model.doc.layers[-1].uid, visible=False)
    assert not recipe_export.export_recipe(window, target)
    assert not target.exists() and "hidden" in dialogs.shown[-1][2]

    model.change_layer(model.doc.layers[-1].uid, visible=True)
    assert recipe_export.export_recipe(window, target)
    assert Recipe.from_json(target.read_bytes()).names == ["inpaint"]
    assert "Inpaint used the mask" in dialogs.shown[-1][2]  # a recipe carries no mask: the user is told

    # a file that cannot be written: one clear message, nothing else changes
    folder = tmp_path / "taken.json"
    folder.mkdir()
    assert not recipe_export.export_recipe(window, folder)
    assert dialogs.shown[-1][:2] == ("critical", "Cannot export the recipe") and "taken.json" in dialogs.shown[-1][2]
    assert folder.is_dir() and target.exists()


def test_a_run_model_layer_records_its_step(window, open_doc, qtbot, models):
    model = open_doc(_scan(5))
    window.settings.device = "cpu"
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.run_model("tiny-denoise")
    assert model.doc.layers[-1].step == Step("run-model", {"model": "tiny-denoise", "strength": None})


def test_the_batch_dialog_loads_a_recipe_file_and_runs_it_as_the_cli_does(window, qtbot, models, tmp_path):
    from restorer_gui.qt.batch_dialog import BatchDialog

    recipe = Recipe((Step("repair", {"threshold": 0.4, "detector": "tiny-detect", "inpainter": "tiny-inpaint"}),
                     Step("denoise", {"strength": None, "auto": True, "inside_mask": False, "model": "tiny-denoise"})))
    file = tmp_path / "scan-recipe.json"
    recipe.save(file)
    src, out = tmp_path / "scans", tmp_path / "out"
    src.mkdir()
    for i in range(2):
        imageio.save_image(src / f"p{i}.png", _scan(10 + i))
    window.settings.device = "cpu"
    dialog = BatchDialog([("tiny-denoise", "Tiny")], window.settings)
    qtbot.addWidget(dialog)
    dialog.input_edit.setText(str(src))
    dialog.output_edit.setText(str(out))
    before = dialog.choices()

    # files that are no usable recipe are refused with the reason; nothing changes
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"format": "restorer-recipe", "version": 1,
                                "steps": [{"op": "denoise", "params": {"strenght": 3}}]}))
    assert not dialog.load_recipe(typo)
    assert "typo.json" in dialog.error_label.text() and "'strenght'" in dialog.error_label.text()
    assert not dialog.load_recipe(tmp_path / "missing.json")
    assert "cannot read the recipe" in dialog.error_label.text()
    assert dialog.loaded_recipe is None and dialog.choices() == before and dialog.step_boxes["denoise"].isEnabled()

    assert dialog.load_recipe(file)
    assert dialog.recipe_label.text() == "From scan-recipe.json: Repair Damage → Denoise"
    assert not dialog.step_boxes["repair"].isEnabled() and not dialog.denoise_box.isEnabled()
    assert dialog.validate() == "" and dialog.error_label.text() == ""
    choices = dialog.choices()
    assert choices.recipe() == recipe

    batch = window.start_batch(choices)
    with qtbot.waitSignal(batch.ended, timeout=60_000):
        pass
    assert "2 written" in batch.summary_label.text()
    assert Recipe.from_json((out / "restorer-recipe.json").read_bytes()) == recipe
    assert cli_main(["restore", str(src / "p0.png"), "-o", str(tmp_path / "cli.png"), "--recipe", str(file),
                     "--device", "cpu"]) == 0
    np.testing.assert_array_equal(imageio.load_image(tmp_path / "cli.png").pixels,
                                  imageio.load_image(out / "p0.png").pixels)

    dialog.clear_recipe()  # back to the boxes
    assert dialog.step_boxes["repair"].isEnabled() and dialog.choices().recipe() == before.recipe()
