"""Our architectures: registry, shapes, task attributes, size multiples, spandrel compatibility."""

from __future__ import annotations

import pytest
import torch

from restorer_gui.inference import archs
from restorer_gui.inference.archs.denoise_unet import DenoiseUNet, estimate_sigma

TINY = {
    "denoise_unet": {"nc": [8, 8, 16, 16], "nb": 2},
    "inpaint_net": {"nc": [8, 8, 16], "nb": 1},
    "scratch_unet": {"nc": [8, 16, 16]},
}


def test_registry_lists_our_architectures() -> None:
    assert {"denoise_unet", "inpaint_net", "scratch_unet"} <= set(archs.names())
    with pytest.raises(KeyError):
        archs.build("no_such_arch")


@pytest.mark.parametrize(
    ("name", "task", "multiple"),
    [("denoise_unet", "denoise", 8), ("inpaint_net", "inpaint", 4), ("scratch_unet", "detect-scratches", 4)],
)
def test_attributes_and_shapes(name: str, task: str, multiple: int) -> None:
    torch.manual_seed(0)
    m = archs.build(name, **TINY[name]).eval()
    assert m.task == task and m.size_multiple == multiple and isinstance(m.supports_half, bool)
    x = torch.rand(2, 3, 3 * multiple * 2, 5 * multiple)
    with torch.no_grad():
        if task == "denoise":
            y = m(x, torch.tensor([0.1, 0.2]))
            assert y.shape == x.shape
            assert m(x, None).shape == x.shape
        elif task == "inpaint":
            mask = torch.zeros(2, 1, *x.shape[-2:])
            mask[:, :, 4:10, 5:12] = 1
            y = m(x, mask)
            assert y.shape == x.shape
            assert torch.equal(y * (1 - mask), x * (1 - mask))  # known pixels kept
            assert 0 <= float(y.min()) and float(y.max()) <= 1
        else:
            assert m(x).shape == (2, 1, *x.shape[-2:])


def test_denoiser_needs_size_multiple() -> None:
    m = archs.build("denoise_unet", **TINY["denoise_unet"]).eval()
    with pytest.raises(RuntimeError), torch.no_grad():
        m(torch.rand(1, 3, 20, 20), 0.1)


def test_default_param_counts() -> None:
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(archs.build("denoise_unet")) == 1_063_920
    assert count(archs.build("scratch_unet")) < 600_000
    assert count(archs.build("inpaint_net")) < 6_000_000


def test_spandrel_recognises_denoiser_and_matches() -> None:
    spandrel = pytest.importorskip("spandrel")
    torch.manual_seed(0)
    m = DenoiseUNet(nc=[8, 8, 16, 16], nb=2).eval()
    desc = spandrel.ModelLoader().load_from_state_dict(m.state_dict())
    assert desc.architecture.id == "DRUNet"
    x = torch.rand(1, 3, 32, 24)
    with torch.no_grad():
        ours = m(x, torch.tensor([15 / 255])).clamp(0, 1)  # spandrel's default level is 15
        theirs = desc(x)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_sigma_estimate_on_flat_noise() -> None:
    g = torch.Generator().manual_seed(0)
    x = 0.5 + 0.1 * torch.randn(2, 3, 64, 64, generator=g)
    est = estimate_sigma(x)
    assert est.shape == (2,)
    assert torch.allclose(est, torch.full((2,), 0.1), rtol=0.1)


def test_push_pull_fill_keeps_known_pixels_and_fills_from_their_colours() -> None:
    from restorer_gui.inference.archs.inpaint_net import push_pull_fill

    torch.manual_seed(3)
    image = torch.rand(2, 3, 37, 50)
    hole = torch.zeros(2, 1, 37, 50)
    hole[0, :, 5:30, 10:45] = 1  # a wide hole
    hole[1, :, :, 20:22] = 1  # a thin vertical scratch through the whole image
    fill = push_pull_fill(image * (1 - hole), hole)
    known = hole < 0.5
    assert torch.allclose(fill.expand_as(image)[known.expand_as(image)], image[known.expand_as(image)], atol=1e-6)
    # a convex blend of known colours: never outside their range
    for b in range(2):
        sel = image[b][known[b].expand(3, -1, -1)].view(3, -1)
        inside = fill[b][~known[b].expand(3, -1, -1)].view(3, -1)
        assert (inside >= sel.min(1, keepdim=True).values - 1e-6).all()
        assert (inside <= sel.max(1, keepdim=True).values + 1e-6).all()
    # the scratch takes its neighbours' colours: a left/right split image fills with a value in between
    halves = torch.zeros(1, 3, 16, 16)
    halves[..., 8:] = 1.0
    scratch = torch.zeros(1, 1, 16, 16)
    scratch[..., 7:9] = 1
    filled = push_pull_fill(halves * (1 - scratch), scratch)
    assert 0.0 < float(filled[..., 7:9].mean()) < 1.0
    flat = torch.full((1, 3, 9, 9), 0.3)
    assert torch.allclose(push_pull_fill(flat * (1 - scratch[..., :9, :9]), scratch[..., :9, :9]), flat, atol=1e-6)
    assert torch.allclose(push_pull_fill(torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 8, 8)), torch.full((1, 3, 8, 8), 0.5))


def _strip_hole(h: int = 24, w: int = 32) -> torch.Tensor:
    hole = torch.zeros(2, 1, h, w)
    hole[0, :, 4:20, 9:17] = 1  # a block in the middle
    hole[1, :, :, 12:15] = 1  # a vertical scratch through the whole image, touching both borders
    return hole


@pytest.mark.parametrize("order", [1, 2])
def test_smooth_fill_continues_a_ramp_exactly_and_keeps_known_pixels(order: int) -> None:
    from restorer_gui.inference.archs.inpaint_net import smooth_fill

    h, w = 24, 32
    ramp = (torch.arange(w, dtype=torch.float32) / w).view(1, 1, 1, w).expand(2, 3, h, w).clone()
    ramp[:, 1] = 1 - ramp[:, 1]  # a falling ramp in green
    hole = _strip_hole(h, w)
    fill = smooth_fill(ramp * (1 - hole), hole, order)
    assert fill.dtype == torch.float32
    assert torch.equal(fill * (1 - hole), ramp * (1 - hole))
    assert torch.allclose(fill, ramp, atol=1e-4)  # the smoothest continuation of a ramp is the ramp
    # the push–pull start alone is not exact: the solver is what makes it so
    from restorer_gui.inference.archs.inpaint_net import push_pull_fill

    assert (push_pull_fill(ramp * (1 - hole), hole) - ramp).abs().max() > 1e-2


def test_membrane_fill_stays_within_the_known_colours_and_is_float32_under_autocast() -> None:
    from restorer_gui.inference.archs.inpaint_net import smooth_fill

    torch.manual_seed(1)
    image = torch.rand(2, 3, 24, 32)
    hole = _strip_hole()
    fill = smooth_fill(image * (1 - hole), hole, 1)
    for b in range(2):
        known = image[b][(hole[b] < 0.5).expand(3, -1, -1)]
        inside = fill[b][(hole[b] > 0.5).expand(3, -1, -1)]
        assert inside.min() >= known.min() - 1e-5 and inside.max() <= known.max() + 1e-5
        assert inside.std() > 0.01  # it is a fill that varies with its surroundings, not one flat colour
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = smooth_fill(image * (1 - hole), hole, 2)
    assert auto.dtype == torch.float32
    assert torch.allclose(auto, smooth_fill(image * (1 - hole), hole, 2), atol=1e-6)
    grey = smooth_fill(torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 8, 8), 2)
    assert torch.allclose(grey, torch.full((1, 3, 8, 8), 0.5))


def test_untrained_residual_inpainter_starts_near_the_membrane_fill() -> None:
    from restorer_gui.inference.archs.inpaint_net import smooth_fill

    torch.manual_seed(0)
    m = archs.build("inpaint_net", **TINY["inpaint_net"]).eval()
    assert m.residual and m.fill == "smooth" and m.enc0[0].conv.in_channels == 7
    assert m.out.weight.abs().sum() > 0  # small, not zero: a zero layer passes no gradient back
    image = torch.rand(1, 3, 24, 32)
    hole = torch.zeros(1, 1, 24, 32)
    hole[..., 6:18, 8:20] = 1
    with torch.no_grad():
        out = m(image, hole)
    fill = image * (1 - hole) + smooth_fill(image * (1 - hole), hole, 1) * hole
    assert torch.equal(out * (1 - hole), image * (1 - hole))
    assert 0 < float((out - fill).abs().max()) < 0.1


def test_inpainter_fill_choice_is_checked_and_the_push_pull_design_still_builds() -> None:
    with pytest.raises(ValueError, match="fill"):
        archs.build("inpaint_net", **TINY["inpaint_net"], fill="telea")
    legacy = archs.build("inpaint_net", **TINY["inpaint_net"], fill="push_pull", residual=False)
    assert legacy.enc0[0].conv.in_channels == 4
    out = legacy(torch.rand(1, 3, 16, 16), torch.ones(1, 1, 16, 16))
    assert out.shape == (1, 3, 16, 16) and bool(torch.isfinite(out).all())


def test_direct_inpainter_predicts_the_image_and_keeps_known_pixels() -> None:
    torch.manual_seed(0)
    m = archs.build("inpaint_net", **TINY["inpaint_net"], residual=False).eval()
    assert m.out.weight.abs().sum() > 0  # trained from an ordinary start, not from the smooth fill
    image = torch.rand(1, 3, 24, 32)
    hole = torch.zeros(1, 1, 24, 32)
    hole[..., 6:18, 8:20] = 1
    with torch.no_grad():
        out = m(image, hole)
        raw = m.predict_raw(image * (1 - hole), hole)
    assert torch.equal(out * (1 - hole), image * (1 - hole))
    assert torch.allclose(out * hole, raw.clamp(0, 1) * hole)
