import numpy as np
import pytest

from restorer_gui.inference import loader
from restorer_gui.inference.engine import EngineError
from restorer_gui.inference.jobs import CancelToken, JobCancelled
from restorer_gui.inference.ops.denoise import denoise, estimate_noise_sigma
from restorer_gui.inference.ops.detect import detect_scratches
from restorer_gui.inference.ops.inpaint import TILE_MIN_CONTEXT, inpaint, tile_context
from restorer_gui.inference.ops.run_model import run_model
from restorer_gui.inference.regions import has_wide_hole, hole_thickness_bound, mask_regions
from tests.tiny_models import save_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {
        task: loader.load_model(save_model(folder, task, task), "cpu")
        for task in ("denoise", "inpaint", "detect-scratches")
    }


def _photo(h=96, w=80, c=3, dtype=np.uint8, seed=0):
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, (h, w, c), endpoint=True, dtype=dtype)


def test_denoise_keeps_dtype_shape_and_alpha(models):
    model = models["denoise"]
    for dtype in (np.uint8, np.uint16):
        for channels in (1, 2, 3, 4):
            photo = _photo(50, 40, c=channels, dtype=dtype)
            out = denoise(photo, model, sigma=15, tile=32, overlap=8)
            assert out.dtype == dtype and out.shape == photo.shape
            colour = 3 if channels >= 3 else 1
            assert not np.array_equal(out[..., :colour], photo[..., :colour])
            assert np.array_equal(out[..., colour:], photo[..., colour:])  # alpha untouched
    gray2d = _photo(c=1)[..., 0]
    assert denoise(gray2d, model).shape == gray2d.shape


def test_sixteen_bit_keeps_its_precision(models):
    photo = np.full((40, 40, 3), 30000, np.uint16)
    photo[::2] += 7
    out = denoise(photo, models["denoise"], sigma=5)
    assert out.dtype == np.uint16
    assert len(np.unique(out)) > 2 and np.any(out % 257 != 0)  # not 8-bit values scaled up


def test_denoise_with_a_mask_changes_only_the_masked_area(models):
    photo = _photo(120, 100)
    mask = np.zeros((120, 100), np.uint8)
    mask[30:60, 20:50] = 255
    mask[70:80, 60:70] = 128  # soft: half-way blend
    out = denoise(photo, models["denoise"], mask=mask)
    assert np.array_equal(out[mask == 0], photo[mask == 0])
    assert not np.array_equal(out[mask == 255], photo[mask == 255])
    full = denoise(photo, models["denoise"])
    assert np.abs(out[mask == 255].astype(int) - full[mask == 255].astype(int)).max() <= 1


def test_inpaint_leaves_every_pixel_outside_the_mask_bit_identical(models):
    for dtype, channels in ((np.uint8, 3), (np.uint16, 4), (np.uint8, 1)):
        photo = _photo(200, 180, channels, dtype)
        mask = np.zeros((200, 180), np.uint8)
        mask[10:14, 10:90] = 255  # a scratch
        mask[150:190, 150:170] = 255  # a stain far away
        mask[20:23, 100:103] = 90  # soft speck, merges with the scratch's box
        out = inpaint(photo, mask, models["inpaint"])
        assert out.dtype == dtype and out.shape == photo.shape
        assert np.array_equal(out[mask == 0], photo[mask == 0])
        assert not np.array_equal(out[mask == 255], photo[mask == 255])
        if channels == 4:
            assert np.array_equal(out[..., 3], photo[..., 3])


def test_inpaint_regions_are_merged_and_large_ones_run_at_reduced_scale(models):
    hole = np.zeros((300, 300), bool)
    hole[10:20, 10:20] = True
    hole[10:20, 40:50] = True  # close: context boxes overlap → merged
    hole[250:260, 250:260] = True
    boxes = mask_regions(hole, min_context=16, context_ratio=0.5)
    assert len(boxes) == 2
    assert all(
        not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]) for a in boxes for b in boxes if a != b
    )

    model = models["inpaint"]
    sizes = []
    original = model.forward

    def spy(x, sigma, mask):
        sizes.append(tuple(x.shape[-2:]))
        return original(x, sigma, mask)

    model.forward = spy
    try:
        photo = _photo(240, 240)
        mask = np.zeros((240, 240), np.uint8)
        mask[20:220, 30:200] = 255
        out = inpaint(photo, mask, model, max_side=32)  # 240 px → 1/7.5 scale
    finally:
        model.forward = original
    assert max(max(s) for s in sizes) <= 32 and all(s[0] % 4 == 0 and s[1] % 4 == 0 for s in sizes)
    assert np.array_equal(out[mask == 0], photo[mask == 0])


def test_scratches_get_context_for_their_width_not_their_length():
    hole = np.zeros((1000, 1000), bool)
    hole[50:950, 300:304] = True  # two long scratches 200 px apart
    hole[50:950, 504:509] = True
    boxes = mask_regions(hole)
    assert len(boxes) == 2  # by length (0.75 × 900 px) they would have merged into one photo-sized box
    assert all(b[2] - b[0] <= 5 + 2 * 48 for b in boxes)
    blob = np.zeros((1000, 1000), bool)
    blob[400:600, 400:600] = True  # a compact hole keeps context in proportion to its size
    (box,) = mask_regions(blob)
    assert box == (250, 250, 750, 750)


def test_wide_hole_test_is_about_thickness():
    hole = np.zeros((200, 300), bool)
    hole[10:190, 20:26] = True  # 6 px wide, 180 long
    assert not has_wide_hole(hole, 8)
    for y, x in ((3, 5), (100, 211), (0, 0)):
        square = np.zeros((200, 300), bool)
        square[y : y + 15, x : x + 15] = True  # 2 × 8 − 1: holds an aligned 8-block wherever it lies
        assert has_wide_hole(square, 8)


@pytest.mark.parametrize("thickness", [1, 2, 3, 6, 7, 15, 16, 40])
def test_hole_thickness_bound_holds_for_bands_of_any_thickness(thickness):
    for offset in (0, 3, 5):
        band = np.zeros((300, 200), bool)
        band[50 + offset : 50 + offset + thickness, 10:190] = True
        bound = hole_thickness_bound(band, 256)
        assert thickness <= bound < 4 * thickness + 4  # an upper bound, and not a loose one
        assert hole_thickness_bound(band.T.copy(), 256) == bound


def test_tile_context_grows_with_the_hole_and_stays_within_a_quarter_window():
    scratch = np.zeros((1000, 1000), bool)
    scratch[::40] = True  # 1-px lines
    assert tile_context(scratch, 624) == TILE_MIN_CONTEXT
    band = scratch.copy()
    band[300:350] = True  # a 50-px band: bound < 4 × 32 − 1
    assert 2 * 50 <= tile_context(band, 624) <= 624 // 4
    assert tile_context(band, 160) == 40
    assert tile_context(scratch, 64) == 16  # small windows keep a quarter of context


def _spy_inpaint(model, calls, after=None):
    original = model.forward

    def spy(x, sigma, mask):
        calls.append((tuple(x.shape[-2:]), float(mask.sum())))
        if after is not None:
            after()
        return original(x, sigma, mask)

    model.forward = spy
    return original


def test_thin_damage_on_a_big_crop_is_filled_at_full_resolution_in_tiles(models):
    model = models["inpaint"]
    photo = _photo(256, 256, seed=3)
    mask = np.zeros((256, 256), np.uint8)
    for i in range(256):  # a 3-px diagonal scratch corner to corner: its box is the whole photo
        mask[i, max(0, i - 1) : i + 2] = 255
    mask[200:203, 20:120] = 255
    calls = []
    original = _spy_inpaint(model, calls)
    try:
        out = inpaint(photo, mask, model, max_side=64)
    finally:
        model.forward = original
    assert len(calls) > 4 and all(max(size) <= 64 for size, _ in calls)
    # every hole pixel reached the model at its own resolution (at 1/4 scale it would see ~1/4 of them)
    assert sum(m for _, m in calls) >= np.count_nonzero(mask)
    assert np.array_equal(out[mask == 0], photo[mask == 0])
    assert np.mean(out[mask == 255] != photo[mask == 255]) > 0.5

    token = CancelToken()
    calls.clear()
    original = _spy_inpaint(model, calls, after=token.cancel)
    try:
        with pytest.raises(JobCancelled):
            inpaint(photo, mask, model, max_side=64, cancel=token)
    finally:
        model.forward = original
    assert len(calls) == 1  # stops at the next tile, not after the whole region


def test_detect_scratches_returns_a_binary_mask(models):
    photo = _photo(64, 50)
    mask = detect_scratches(photo, models["detect-scratches"], threshold=0.5)
    assert mask.shape == (64, 50) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 255}
    assert detect_scratches(photo, models["detect-scratches"], threshold=0.0).min() == 255


def test_detect_scratches_uses_the_cut_from_the_models_card(models):
    import dataclasses

    photo = _photo(64, 50)
    model = models["detect-scratches"]
    masks = {}
    for cut in (0.0, 1.0, "junk", 7):
        info = dataclasses.replace(model.info, card={**model.info.card, "threshold": cut})
        carded = dataclasses.replace(model, info=info)
        masks[cut] = detect_scratches(photo, carded)
    assert masks[0.0].min() == 255  # every probability is ≥ 0
    assert np.array_equal(masks[1.0], detect_scratches(photo, model, threshold=1.0))
    default = detect_scratches(photo, model, threshold=0.5)
    assert np.array_equal(masks["junk"], default) and np.array_equal(masks[7], default)  # bad values: 0.5
    assert not np.array_equal(masks[0.0], masks[1.0])


def test_detector_scales_come_from_the_card_and_hostile_values_are_ignored():
    from restorer_gui.inference.ops.detect import card_scales

    assert card_scales(None) == (1.0,) and card_scales({}) == (1.0,)
    assert card_scales({"scales": [1.0, 0.5, 0.25]}) == (1.0, 0.5, 0.25)
    assert card_scales({"scales": [1.0, 0.5, 0.5, 2.0, -1, "x", True, None, 1e9]}) == (1.0, 0.5)
    assert card_scales({"scales": "1,0.5"}) == (1.0,) and card_scales({"scales": [7]}) == (1.0,)


def test_the_probability_is_the_full_size_map_or_where_higher_the_coarse_scales_mean(models):
    """Each coarse scale runs on a downscaled copy, its map comes back to full size, and the coarse maps
    are averaged; the full-size map wins where it is higher. A scale that would leave too small a
    picture is skipped rather than run on a few pixels."""
    import dataclasses

    from PIL import Image

    from restorer_gui.inference.ops.detect import MIN_SCALED_SIDE, _resize, detect_probability

    model = models["detect-scratches"]
    photo = _photo(240, 200, seed=3)
    full = detect_probability(photo, model, scales=(1.0,)).astype(np.float32)
    coarse = []
    for w, h in ((100, 120), (50, 60)):
        small = _resize(photo, w, h, Image.Resampling.LANCZOS)
        assert np.abs(small.astype(int) - np.asarray(Image.fromarray(photo).resize((w, h), Image.Resampling.LANCZOS))).mean() < 0.5
        prob = detect_probability(small, model, scales=(1.0,))
        coarse.append(_resize(prob[..., None], 200, 240, Image.Resampling.BILINEAR)[..., 0].astype(np.float32))
    mean = (coarse[0] + coarse[1]) / 2
    combined = detect_probability(photo, model, scales=(1.0, 0.5, 0.25))
    assert combined.shape == (240, 200) and combined.dtype == np.uint8
    assert np.abs(combined - np.maximum(full, mean)).max() <= 1.5  # rounding on the way
    assert (mean > full + 3).any() and (full > mean + 3).any()  # both sides of the max are exercised
    only_coarse = detect_probability(photo, model, scales=(0.5, 0.25))
    assert np.abs(only_coarse - mean).max() <= 1.5
    info = dataclasses.replace(model.info, card={**model.info.card, "scales": [1.0, 0.5, 0.25]})
    assert np.array_equal(detect_probability(photo, dataclasses.replace(model, info=info)), combined)
    tiny = MIN_SCALED_SIDE / 200 / 2  # leaves 24 px: skipped
    assert np.array_equal(detect_probability(photo, model, scales=(1.0, tiny)), full.astype(np.uint8))


def test_progress_and_cancel_in_operations(models):
    seen = []
    denoise(_photo(100, 100), models["denoise"], tile=40, progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        denoise(_photo(), models["denoise"], cancel=token)
    with pytest.raises(JobCancelled):
        inpaint(_photo(), np.full((96, 80), 255, np.uint8), models["inpaint"], cancel=token)


def test_wrong_inputs_are_reported(models):
    with pytest.raises(EngineError, match="inpaint model"):
        denoise(_photo(), models["inpaint"])
    with pytest.raises(EngineError, match="the mask is"):
        inpaint(_photo(), np.zeros((5, 5), np.uint8), models["inpaint"])
    with pytest.raises(EngineError, match="uint8 or uint16"):
        denoise(_photo().astype(np.float32), models["denoise"])
    with pytest.raises(EngineError, match="needs a mask"):
        run_model(_photo(), models["inpaint"])


def test_noise_estimate_is_close_to_the_truth():
    rng = np.random.default_rng(3)
    clean = np.full((300, 300, 3), 128.0)
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    assert abs(estimate_noise_sigma(noisy) - 20) < 2
    assert estimate_noise_sigma(clean.astype(np.uint8)) < 0.5
    noisy16 = noisy.astype(np.uint16) * 257
    assert abs(estimate_noise_sigma(noisy16) - 20) < 2


def test_inpaint_progress_moves_and_cancel_answers_inside_one_network_pass(models):
    """One region, one crop, one forward: progress still moves layer by layer under the region's
    label, and a cancel set mid-pass stops it at the next layer, before the network finishes."""
    photo = _photo(120, 120)
    mask = np.zeros((120, 120), np.uint8)
    mask[40:80, 40:80] = 255
    seen: list[tuple[float, str]] = []
    out = inpaint(photo, mask, models["inpaint"], progress=lambda f, m: seen.append((f, m)))
    inside = sorted({f for f, m in seen if m == "region 1/1" and 0.0 < f < 1.0})
    assert len(inside) >= 2, seen  # not one "region 1/1 0 %" for the whole pass
    assert np.array_equal(out[mask == 0], photo[mask == 0])

    token = CancelToken()
    layers_run: list[str] = []
    module = models["inpaint"].module
    handles = [m.register_forward_hook(lambda mod, i, o, n=n: layers_run.append(n))
               for n, m in module.named_modules() if next(m.children(), None) is None]

    def cancel_in_the_middle(fraction: float, message: str) -> None:
        if message == "region 1/1" and fraction > 0.0:
            token.cancel()

    try:
        with pytest.raises(JobCancelled):
            inpaint(photo, mask, models["inpaint"], progress=cancel_in_the_middle, cancel=token)
    finally:
        for h in handles:
            h.remove()
    leaves = [n for n, m in module.named_modules() if next(m.children(), None) is None]
    assert 0 < len(layers_run) < len(leaves)  # stopped part-way through the forward


def test_the_inpainters_smooth_fill_answers_a_cancel_between_solver_steps():
    """The membrane / thin-plate solve runs before any layer; its steps are checkpoints, so a
    cancel does not wait for the whole solve (the pass of a large crop took minutes before)."""
    import torch

    from restorer_gui.inference import archs
    from restorer_gui.inference.archs.inpaint_net import smooth_fill

    image, hole = torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
    hole[..., 8:24, 8:24] = 1
    steps = []
    with archs.checking(lambda: steps.append(1)):
        smooth_fill(image, hole, 1, iters=30)
    assert len(steps) == 30
    smooth_fill(image, hole, 1, iters=30)  # outside `checking`: no check, no error
    assert len(steps) == 30

    def stop():
        raise JobCancelled()

    with pytest.raises(JobCancelled), archs.checking(stop):
        smooth_fill(image, hole, 2, iters=30)


def test_a_cancel_during_a_tile_stops_that_tiles_network_pass(models):
    """A cancel that arrives while a tile is in the network stops it at the next layer instead of
    waiting for the tile (a 1 MP tile of the detector takes about 2 s on the 2-core CPU). Denoise,
    detect and upscale hand their token to the network the same way (engine.run_tiled's tile
    function); the tiny detector has a single layer, so denoise stands for them."""
    model = models["denoise"]
    token = CancelToken()
    leaves = [m for m in model.module.modules() if next(m.children(), None) is None]
    assert len(leaves) >= 2
    ran: list[int] = []
    handles = [m.register_forward_hook(lambda *_a, k=k: ran.append(k)) for k, m in enumerate(leaves)]
    handles.append(leaves[0].register_forward_hook(lambda *_a: token.cancel()))
    try:
        with pytest.raises(JobCancelled):
            denoise(_photo(64, 64), model, sigma=10, tile=64, cancel=token)
    finally:
        for h in handles:
            h.remove()
    assert ran == [0]  # the first layer ran; the second was never entered


def test_progress_creeps_through_a_solver_before_the_first_layer_then_follows_the_layers():
    import torch

    from restorer_gui.inference import archs
    from restorer_gui.inference.loader import PRE_LAYER_SHARE, _layer_hooks

    class Solver(torch.nn.Module):  # solver steps first (like the inpainter's smooth fill), then layers
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Identity(), torch.nn.Identity()

        def forward(self, x):
            for _ in range(50):
                archs.checkpoint()
            return self.b(self.a(x))

    seen: list[float] = []
    net = Solver()
    with _layer_hooks(net, None, lambda f, _m: seen.append(f)):
        net(torch.zeros(1))
    solver, layers = seen[:50], seen[50:]
    assert len(layers) == 2 and solver == sorted(solver) and 0 < solver[0] < solver[-1] < PRE_LAYER_SHARE
    assert PRE_LAYER_SHARE < layers[0] < layers[1] <= 0.99
