"""Batch planning: scanning, output names, collisions, existing-output policies, in-place output."""

from pathlib import Path

import pytest

from restorer_gui.core.batch import (
    BatchOptions,
    BatchPlanError,
    BatchProgress,
    BatchSummary,
    FileOutcome,
    default_output_dir,
    parse_patterns,
    plan_batch,
)


def touch(root: Path, *names: str) -> None:
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def targets(plan) -> dict[str, str]:
    root = plan.options.output_dir
    return {str(i.relative): str(i.target.relative_to(root)) for i in plan.items}


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "scans"
    touch(root, "a.JPG", "b.png", "notes.txt", ".hidden.jpg", "sub/c.tif", "sub/deep/d.jpeg", ".cache/e.jpg")
    return root


def test_scan_flat_and_recursive_case_insensitive_skipping_hidden(src, tmp_path):
    out = tmp_path / "out"
    flat = plan_batch(BatchOptions(src, out))
    assert targets(flat) == {"a.JPG": "a.JPG", "b.png": "b.png"}
    deep = plan_batch(BatchOptions(src, out, recursive=True, fmt="png"))
    assert targets(deep) == {
        "a.JPG": "a.png", "b.png": "b.png", "sub/c.tif": "sub/c.png", "sub/deep/d.jpeg": "sub/deep/d.png",
    }
    assert {i.fmt for i in deep.items} == {"PNG"}
    only = plan_batch(BatchOptions(src, out, recursive=True, patterns="*.TIF; *.jpeg"))
    assert sorted(targets(only)) == ["sub/c.tif", "sub/deep/d.jpeg"]


def test_format_mapping(tmp_path):
    root = tmp_path / "in"
    touch(root, "a.bmp", "b.webp", "c.tiff", "d.jpeg")
    same = plan_batch(BatchOptions(root, tmp_path / "o"))
    assert targets(same) == {"a.bmp": "a.png", "b.webp": "b.png", "c.tiff": "c.tiff", "d.jpeg": "d.jpeg"}
    assert [i.fmt for i in same.items] == ["PNG", "PNG", "TIFF", "JPEG"]
    tiff = plan_batch(BatchOptions(root, tmp_path / "o", fmt="tiff"))
    assert set(targets(tiff).values()) == {"a.tif", "b.tif", "c.tif", "d.tif"}
    jpg = plan_batch(BatchOptions(root, tmp_path / "o", fmt="jpg"))
    assert {i.fmt for i in jpg.items} == {"JPEG"}


def test_two_inputs_never_share_an_output(tmp_path):
    root = tmp_path / "in"
    touch(root, "a.png", "a.jpg", "a.tif", "a_jpg.png")
    plan = plan_batch(BatchOptions(root, tmp_path / "o", fmt="png"))
    names = targets(plan)
    assert names["a.png"] == "a.png"  # the input already in the format keeps its name
    assert len(set(names.values())) == 4
    assert names["a.jpg"] not in ("a.png", "a_jpg.png")


def test_output_inside_input_is_not_scanned(src):
    out = src / "restored"
    touch(out, "old.jpg")
    plan = plan_batch(BatchOptions(src, out, recursive=True))
    assert not any("restored" in str(i.relative) for i in plan.items)


def test_in_place_output_gets_a_suffix_and_ignores_earlier_results(src):
    plan = plan_batch(BatchOptions(src, src, recursive=True))
    assert targets(plan)["a.JPG"] == "a-restored.JPG"
    assert targets(plan)["sub/c.tif"] == "sub/c-restored.tif"
    for item in plan.items:
        item.target.write_bytes(b"done")
    again = plan_batch(BatchOptions(src, src, recursive=True, on_existing="rename"))
    assert not any(i.relative.stem.endswith("-restored") for i in again.items)
    assert targets(again)["a.JPG"] == "a-restored (1).JPG"
    assert sum("earlier batch" in r for _, r in again.skipped) == 4


def test_output_never_replaces_an_input(tmp_path):
    """Output folder = parent of the input: `in/in/x.png` maps onto the input `in/x.png`."""
    root = tmp_path / "in"
    touch(root, "x.png", "in/x.png")
    plan = plan_batch(BatchOptions(root, tmp_path, recursive=True, on_existing="overwrite"))
    sources = {i.source for i in plan.items}
    assert all(i.target not in sources for i in plan.items)
    assert targets(plan)["in/x.png"] == "in/x-restored.png"


def test_existing_output_policies(tmp_path):
    root = tmp_path / "in"
    out = tmp_path / "out"
    touch(root, "a.png", "b.png")
    touch(out, "a.png", "a (1).png")
    skip = plan_batch(BatchOptions(root, out))
    assert targets(skip) == {"b.png": "b.png"}
    assert skip.skipped == [(root / "a.png", "the output already exists")]
    assert targets(plan_batch(BatchOptions(root, out, on_existing="rename")))["a.png"] == "a (2).png"
    assert targets(plan_batch(BatchOptions(root, out, on_existing="overwrite")))["a.png"] == "a.png"
    (out / "b.png").mkdir()
    blocked = plan_batch(BatchOptions(root, out, on_existing="overwrite"))
    assert "b.png" not in targets(blocked) and "folder" in blocked.skipped[-1][1]


def test_stale_temporaries_of_planned_outputs_are_found(tmp_path):
    root = tmp_path / "in"
    out = tmp_path / "out"
    touch(root, "a.png")
    touch(out, ".a.png.0123abcd.tmp", ".other.png.0123abcd.tmp")
    plan = plan_batch(BatchOptions(root, out))
    assert plan.stale_temps == [out / ".a.png.0123abcd.tmp"]


def test_usage_errors(tmp_path):
    with pytest.raises(BatchPlanError, match="does not exist"):
        plan_batch(BatchOptions(tmp_path / "nope", tmp_path / "o"))
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(BatchPlanError, match="not a folder"):
        plan_batch(BatchOptions(tmp_path / "file", tmp_path / "o"))
    with pytest.raises(BatchPlanError, match="not a folder"):
        plan_batch(BatchOptions(tmp_path, tmp_path / "file"))
    with pytest.raises(BatchPlanError, match="unknown output format"):
        plan_batch(BatchOptions(tmp_path, tmp_path / "o", fmt="gif"))


@pytest.mark.parametrize("text, reason", [
    ("/data/sc\0ans", "NUL"),
    ("~no-such-user-here/scans", "no user named “no-such-user-here”"),
    ("/data/\ud800", "cannot store"),
    ("", "no folder"),
])
def test_text_that_cannot_name_a_folder_is_a_one_line_plan_error(tmp_path, text, reason):
    for options in (BatchOptions(text, tmp_path / "o"), BatchOptions(tmp_path, text)):
        with pytest.raises(BatchPlanError, match=reason) as err:
            plan_batch(options)
        assert "\n" not in str(err.value) and "\0" not in str(err.value)
    with pytest.raises(BatchPlanError, match=reason):
        default_output_dir(text)


def test_awkward_folders_that_are_still_folders(tmp_path):
    assert default_output_dir("/") == Path("/restored")  # a root folder has no sibling
    assert default_output_dir("~") == Path.home().with_name(Path.home().name + "-restored")
    assert default_output_dir("/data/scans/../old") == Path("/data/old-restored")
    long = "/" + "x" * 5000  # too long for the file system: "does not exist", not OSError
    with pytest.raises(BatchPlanError, match="does not exist"):
        plan_batch(BatchOptions(long, tmp_path / "o"))
    with pytest.raises(BatchPlanError, match="does not exist"):
        plan_batch(BatchOptions(tmp_path / "missing", long))


def test_helpers():
    assert default_output_dir("/data/scans") == Path("/data/scans-restored")
    assert parse_patterns(" *.JPG, *.tif ") == ["*.jpg", "*.tif"]
    assert "*.png" in parse_patterns("")
    p = BatchProgress(finished=2, total=10, current=0.5, megapixels=24.0, elapsed=10.0)
    assert p.fraction == 0.25 and p.eta == pytest.approx(30.0)
    assert p.megapixels_per_second == 2.4 and p.files_per_minute == 12.0
    s = BatchSummary(planned=3, skipped=[(Path("s"), "the output already exists")], elapsed=75)
    s.done.append(FileOutcome(0, Path("a"), Path("A"), "done", megapixels=12.0))
    s.failed.append((Path("b"), "the file is truncated or corrupt"))
    assert s.not_processed == 1 and not s.ok
    assert s.headline() == "Finished: 1 written, 1 skipped, 1 failed, 1 not processed in 1 min 15 s, 0.16 MP/s."
    assert s.lines()[1] == "failed: b: the file is truncated or corrupt"
