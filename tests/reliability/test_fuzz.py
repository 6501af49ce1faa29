"""Property-based fuzzing (hypothesis) of the decoders' inputs: mutated photos of every format must
load as H×W×C uint8/uint16 or fail with a one-line ImageError; mutated projects must open or fail
with a one-line ProjectError.  Deterministic (derandomized); RESTORER_FUZZ_EXAMPLES scales it."""

from __future__ import annotations

import faulthandler
import json
import os

import numpy as np
import pytest

from restorer_gui.core.imageio import ImageData, ImageError, load_image
from restorer_gui.core.project import ProjectError, load_project
from tests.reliability.corpus import project_members as make_project_members
from tests.reliability.corpus import seed_images, write_project

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ_EXAMPLES = int(os.environ.get("RESTORER_FUZZ_EXAMPLES", "2000"))
PROJECT_FUZZ_EXAMPLES = FUZZ_EXAMPLES // 5
SEEDS = seed_images()
_FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=5000, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.integers(1, 1 << 20), st.just(0)),
    st.tuples(st.just("overwrite"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("graft"), st.integers(0, 1 << 20), st.sampled_from(sorted(SEEDS))),
    st.tuples(st.just("repeat"), st.integers(0, 1 << 20), st.integers(1, 48)),
)


def mutate(data: bytes, ops) -> bytes:
    """Bit flips, truncations, overwrites, splices from another format, repeated runs."""
    b = bytearray(data)
    for op, pos, arg in ops:
        if not b:
            break
        pos %= len(b)
        if op == "flip":
            b[pos] ^= 1 << arg
        elif op == "cut":
            del b[max(pos, 1):]
        elif op == "overwrite":
            b[pos : pos + len(arg)] = arg
        elif op == "graft":
            other = SEEDS[arg]
            start = pos % len(other)
            b[pos:] = other[start:]
        else:
            b[pos:pos] = b[pos : pos + arg]
    return bytes(b)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture
def watchdog():
    """A decoder stuck in C cannot be interrupted: dump the stacks and end the run instead of hanging."""
    faulthandler.dump_traceback_later(300, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@_FUZZ
@given(seed=st.sampled_from(sorted(SEEDS)), ops=st.lists(_MUTATION, min_size=1, max_size=4))
def test_fuzzed_images_load_or_fail_with_an_image_error(seed, ops, fuzz_dir, watchdog, tally):
    path = fuzz_dir / f"fuzzed.{seed}"
    path.write_bytes(mutate(SEEDS[seed], ops))
    try:
        image = load_image(path, max_pixels=4_000_000)
    except ImageError as exc:
        assert str(exc).startswith(path.name) and "\n" not in str(exc)
        tally["fuzzed images: refused with ImageError"] += 1
    else:
        px = image.pixels
        assert isinstance(image, ImageData) and px.dtype in (np.uint8, np.uint16)
        assert px.ndim == 3 and px.shape[2] in (1, 3, 4) and px.shape[0] * px.shape[1] > 0
        assert px.flags.c_contiguous and px.flags.writeable
        tally["fuzzed images: loaded"] += 1


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.floats() | st.text(max_size=12),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=6,
)
_FIELDS = ("format", "version", "width", "height", "channels", "bit_depth", "selected_layer", "source_path",
           "saved_path", "source_format", "layers", "has_icc")
_LAYER_FIELDS = ("file", "name", "operation", "params", "visible", "opacity")
_EDIT = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(_FIELDS), _JSON),
    st.tuples(st.just("del"), st.sampled_from(_FIELDS), st.none()),
    st.tuples(st.just("layer"), st.sampled_from(_LAYER_FIELDS), _JSON),
    st.tuples(st.just("member"), st.sampled_from(["original.tif", "mask.tif", "layer-000.tif"]),
              st.sampled_from(sorted(SEEDS))),
    st.tuples(st.just("bytes"), st.just(""), st.lists(_MUTATION, min_size=1, max_size=3)),
)


@pytest.fixture(scope="module")
def project_members(tmp_path_factory):
    return make_project_members(tmp_path_factory.mktemp("project"))


@settings(_FUZZ, max_examples=PROJECT_FUZZ_EXAMPLES)
@given(edits=st.lists(_EDIT, min_size=1, max_size=4))
def test_fuzzed_projects_open_or_fail_with_a_project_error(edits, project_members, fuzz_dir, watchdog, tally):
    members = dict(project_members)
    manifest = json.loads(members["manifest.json"])
    mutations = []
    for kind, key, value in edits:
        if kind == "set":
            manifest[key] = value
        elif kind == "del":
            manifest.pop(key, None)
        elif kind == "layer" and isinstance(manifest.get("layers"), list) and manifest["layers"]:
            entry = manifest["layers"][0]
            if isinstance(entry, dict):
                entry[key] = value
        elif kind == "member":
            members[key] = SEEDS[value]
        elif kind == "bytes":
            mutations += value
    path = write_project(fuzz_dir / "fuzzed.rgproj", members, json.dumps(manifest))
    if mutations:
        path.write_bytes(mutate(path.read_bytes(), mutations))
    try:
        doc, selected = load_project(path)
    except ProjectError as exc:
        assert str(exc).startswith(path.name) and "\n" not in str(exc)
        tally["fuzzed projects: refused with ProjectError"] += 1
    else:
        assert doc.mask.shape == doc.original.shape[:2]
        assert all(layer.pixels.shape[:2] == doc.original.shape[:2] for layer in doc.layers)
        assert selected is None or (type(selected) is int and 0 <= selected < len(doc.layers))
        tally["fuzzed projects: opened"] += 1
