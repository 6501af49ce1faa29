"""Each result layer's recipe step and the document's recipe in project files (no Qt, no torch)."""

import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from restorer_gui.core.document import Document
from restorer_gui.core.imageio import ImageData
from restorer_gui.core.project import ProjectSnapshot, load_project, save_project
from restorer_gui.core.recipe import Recipe, RecipeError, Step

from .test_project import _rewrite_manifest

OLD_PROJECT = Path(__file__).parent.parent / "data" / "projects" / "before-recipes.rgproj"

REPAIR = Step("repair", {"threshold": 0.4, "grow": None, "grain": True, "use_mask": True, "detector": "tiny-detect",
                         "inpainter": "tiny-inpaint"})
DENOISE = Step("denoise", {"strength": None, "auto": True, "inside_mask": False, "model": "tiny-denoise"})
UPSCALE = Step("upscale", {"model": None})


def make_doc(tmp_path):
    rng = np.random.default_rng(5)
    doc = Document(ImageData(pixels=rng.integers(0, 256, (20, 24, 3), dtype=np.uint8), path=tmp_path / "scan.png"))

    def layer(name, step, **params):
        return doc.make_layer(name, rng.integers(0, 256, (20, 24, 3), dtype=np.uint8), step.op if step else "import",
                              step=step, **params)

    repaired = layer("Repair damage", REPAIR, model="tiny-inpaint", grain=True)
    imported = layer("retouched", None, source="/tmp/retouched.png")
    tried = layer("Upscale", UPSCALE)
    tried.visible = False  # a hidden try is not part of the visible result's recipe
    denoised = layer("Denoise (auto, σ≈9.8)", DENOISE, sigma=9.8, auto=True, inside_mask=False, model="tiny-denoise")
    doc.layers += [repaired, imported, tried, denoised]
    return doc


def manifest_of(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("manifest.json"))


def test_the_recipe_is_the_visible_steps_bottom_to_top(tmp_path):
    doc = make_doc(tmp_path)
    assert doc.recipe() == Recipe((REPAIR, DENOISE))
    doc.layers[2].visible = True
    assert doc.recipe().names == ["repair", "upscale", "denoise"]
    doc.layers[0].opacity = 0.0
    assert doc.recipe().names == ["upscale", "denoise"]
    for layer in doc.layers:
        layer.visible = False
    assert doc.recipe() is None
    assert Document(doc.image).recipe() is None


def test_steps_and_recipe_survive_a_save_and_a_reopen(tmp_path):
    doc = make_doc(tmp_path)
    path = tmp_path / "work.rgproj"
    save_project(path, ProjectSnapshot.of(doc))

    manifest = manifest_of(path)
    assert [entry["step"] for entry in manifest["layers"]] == [REPAIR.to_dict(), None, UPSCALE.to_dict(), DENOISE.to_dict()]
    # the saved recipe is the recipe file format: taken out of the manifest, it loads (and runs) as it is
    assert manifest["recipe"] == json.loads(Recipe((REPAIR, DENOISE)).to_json())
    assert Recipe.from_json(json.dumps(manifest["recipe"])) == Recipe((REPAIR, DENOISE))

    loaded, _ = load_project(path)
    assert [layer.step for layer in loaded.layers] == [REPAIR, None, UPSCALE, DENOISE]
    assert [(l.name, l.operation, l.params) for l in loaded.layers] == [(l.name, l.operation, l.params) for l in doc.layers]
    assert loaded.recipe() == doc.recipe() == Recipe((REPAIR, DENOISE))
    for a, b in zip(loaded.layers, doc.layers):
        np.testing.assert_array_equal(a.pixels, b.pixels)

    save_project(path, ProjectSnapshot.of(loaded))  # and once more: nothing drifts
    assert manifest_of(path)["layers"] == manifest["layers"] and manifest_of(path)["recipe"] == manifest["recipe"]


def test_a_snapshot_keeps_the_steps_of_layers_changed_later(tmp_path):
    doc = make_doc(tmp_path)
    snap = ProjectSnapshot.of(doc)
    doc.layers[0].step = None
    doc.layers[0].params["grain"] = False
    assert snap.layers[0].step == REPAIR and snap.layers[0].params["grain"] is True
    assert [l.uid for l in snap.layers] == [l.uid for l in doc.layers]


def test_a_project_saved_before_recipes_still_opens(tmp_path):
    """A file written by the version before steps were recorded (no "step", no "recipe" in its manifest)."""
    manifest = manifest_of(OLD_PROJECT)
    assert "recipe" not in manifest and all("step" not in entry for entry in manifest["layers"])
    doc, selected = load_project(OLD_PROJECT)
    assert [(l.name, l.operation, l.params, l.opacity) for l in doc.layers] == [
        ("Denoise σ 25", "denoise", {"sigma": 25.0, "auto": False, "inside_mask": False, "model": "tiny-denoise"}, 1.0),
        ("Inpaint", "inpaint", {"model": "tiny-inpaint"}, 0.5)]
    assert [l.step for l in doc.layers] == [None, None] and doc.recipe() is None
    assert selected == 1 and doc.mask[4, 5] == 255 and doc.layers[1].pixels.shape == (12, 16, 3)

    # saved again by this version, it gains the keys (empty) and opens the same
    copy = tmp_path / "again.rgproj"
    save_project(copy, ProjectSnapshot.of(doc))
    assert manifest_of(copy)["recipe"] is None
    again, _ = load_project(copy)
    assert [l.name for l in again.layers] == ["Denoise σ 25", "Inpaint"] and again.recipe() is None


BAD_STEPS = [
    "denoise",
    ["denoise", {}],
    42,
    {"params": {"auto": True}},
    {"op": 7, "params": {}},
    {"op": "../../etc/passwd", "params": {}},
    {"op": "Denoise; rm -rf ~", "params": {}},
    {"op": "denoise", "params": ["auto"]},
    {"op": "denoise", "params": "auto=true"},
    {"op": "denoise", "params": {"auto": True}, "extra": "ignored"},  # readable: extra keys are no harm
]


@pytest.mark.parametrize("raw", BAD_STEPS)
def test_a_damaged_step_is_left_out_with_a_log_line_and_the_layer_kept(tmp_path, caplog, raw):
    doc = make_doc(tmp_path)
    path = tmp_path / "odd.rgproj"
    save_project(path, ProjectSnapshot.of(doc))
    layers = manifest_of(path)["layers"]
    layers[3]["step"] = raw
    _rewrite_manifest(path, layers=layers)
    with caplog.at_level(logging.WARNING, logger="restorer_gui.core.project"):
        loaded, _ = load_project(path)
    assert [l.name for l in loaded.layers] == [l.name for l in doc.layers]  # no layer lost
    np.testing.assert_array_equal(loaded.layers[3].pixels, doc.layers[3].pixels)
    assert loaded.layers[0].step == REPAIR
    if isinstance(raw, dict) and raw.get("extra"):
        assert loaded.layers[3].step == Step("denoise", {"auto": True})
        assert not [r for r in caplog.records if "left out" in r.getMessage()]
        return
    assert loaded.layers[3].step is None and loaded.recipe() == Recipe((REPAIR,))
    lines = [r.getMessage() for r in caplog.records]
    assert any("odd.rgproj" in line and "Denoise (auto" in line and "left out" in line for line in lines), lines


@pytest.mark.parametrize("raw", ["repair,denoise", [1, 2], {"format": "something else"},
                                 {"format": "restorer-recipe", "version": 9, "steps": []},
                                 {"format": "restorer-recipe", "version": 1, "steps": []},
                                 {"format": "restorer-recipe", "version": 1, "steps": [{"op": "face"}]}])
def test_a_damaged_or_stale_saved_recipe_only_gets_a_log_line(tmp_path, caplog, raw):
    doc = make_doc(tmp_path)
    path = tmp_path / "odd.rgproj"
    save_project(path, ProjectSnapshot.of(doc))
    _rewrite_manifest(path, recipe=raw)
    with caplog.at_level(logging.WARNING, logger="restorer_gui.core.project"):
        loaded, _ = load_project(path)
    assert loaded.recipe() == Recipe((REPAIR, DENOISE))  # rebuilt from the layers' steps
    assert len(loaded.layers) == 4
    assert any("odd.rgproj" in r.getMessage() and "recipe" in r.getMessage() for r in caplog.records)


def test_step_of_an_operations_parameters_keeps_every_field():
    @dataclass(frozen=True)
    class Params:
        strength: float | None = None
        auto: bool = False
        model: str | None = None

    step = Step.of("denoise", Params(auto=True, model="m"))
    assert step == Step("denoise", {"strength": None, "auto": True, "model": "m"})
    assert Step.of("denoise", {"auto": True}) == Step("denoise", {"auto": True})
    assert Step.of("face", None) == Step("face", {})
    with pytest.raises(RecipeError, match="plain values"):
        Step.of("denoise", {"when": object()})


def test_a_recipe_saves_atomically_and_says_why_it_cannot(tmp_path):
    recipe = Recipe((REPAIR, DENOISE))
    target = tmp_path / "recipe.json"
    recipe.save(target)
    assert Recipe.from_json(target.read_bytes()) == recipe
    assert [p.name for p in tmp_path.iterdir()] == ["recipe.json"]
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(RecipeError, match="folder.json"):
        recipe.save(tmp_path / "folder.json")
    with pytest.raises(RecipeError, match="recipe.json"):
        recipe.save(tmp_path / "missing" / "recipe.json")
    assert Recipe.from_json(target.read_bytes()) == recipe
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.json", "recipe.json"]

