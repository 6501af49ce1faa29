import numpy as np
import pytest
import torch

from restorer_gui.inference.jobs import CancelToken, JobCancelled
from restorer_gui.inference.tiling import TiledRunner, TileMemoryError, choose_tile, positions, ramp_weights
from tests.tiny_models import TinyDenoiser


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(1)
    return TinyDenoiser(width=8, layers=3).eval()  # receptive-field radius 3


def _fn(net):
    def run(x):
        with torch.inference_mode():
            return net(x)

    return run


def _image(h=150, w=133, seed=0):
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def test_positions_cover_the_axis_with_equal_tiles_and_enough_overlap():
    for length, tile, overlap, multiple in [(1000, 256, 32, 1), (513, 128, 32, 8), (130, 128, 16, 1), (64, 128, 16, 1)]:
        spans = positions(length, tile, overlap, multiple)
        assert spans[0][0] == 0 and spans[-1][1] == length
        size = spans[0][1] - spans[0][0]
        assert all(b - a == size for a, b in spans) and size <= min(tile, length)
        assert all(spans[i][1] - spans[i + 1][0] >= overlap for i in range(len(spans) - 1))
        total = np.zeros(length)
        for i in range(len(spans)):
            total[spans[i][0] : spans[i][1]] += ramp_weights(spans, i)
        assert np.allclose(total, 1.0, atol=1e-6)  # the ramps are complementary


def test_positions_balance_the_tiles_instead_of_repeating_work():
    # a 1000-px side with an 880-px limit: two tiles of about half the side, not two of 880
    spans = positions(1000, 880, 32, 8)
    assert len(spans) == 2 and spans[0][1] - spans[0][0] <= 528
    rng = np.random.default_rng(0)
    for _ in range(2000):
        multiple = int(rng.choice([1, 2, 8, 16]))
        overlap = int(rng.integers(0, 65))
        tile = int(rng.integers(max(2 * overlap + 2 * multiple, 16), 1100))
        tile = max(multiple, tile // multiple * multiple)
        length = int(rng.integers(1, 5000))
        min_size = int(rng.integers(0, tile + 1))
        spans = positions(length, tile, overlap, multiple, min_size)
        size = spans[0][1] - spans[0][0]
        assert spans[0][0] == 0 and spans[-1][1] == length
        assert all(b - a == size for a, b in spans) and size <= max(tile, 1)
        assert all(a % multiple == 0 for a, _ in spans[:-1])
        assert size == length or (size % multiple == 0 and size >= min(min_size, tile))
        assert all(spans[i][1] - spans[i + 1][0] >= overlap for i in range(len(spans) - 1)), (length, tile, overlap, multiple)
        # no more tiles than the old fixed-size layout and, with them, no more pixels than needed
        stride = max(1, tile - overlap - (multiple - 1))
        count = 1 if length <= tile else -(-(length - tile) // stride) + 1
        assert len(spans) <= count
        if len(spans) > 1:
            slack = (len(spans) - 1) * (overlap + 2 * multiple) + len(spans) * multiple
            assert len(spans) * size <= max(length + slack, len(spans) * -(-min_size // multiple) * multiple)


def test_tiled_output_equals_the_whole_image_output(net):
    image = _image()
    whole = TiledRunner(_fn(net), tile=1024).run(image)
    runner = TiledRunner(_fn(net), tile=48, overlap=16)
    tiled = runner.run(image)
    assert len(positions(150, 48, 16)) > 3
    assert tiled.shape == whole.shape and tiled.dtype == np.float32
    assert np.abs(tiled - whole).max() < 1e-3


def test_tiled_upscaling_equals_the_whole_image_output():
    torch.manual_seed(2)
    conv = torch.nn.Conv2d(3, 12, 3, padding=1)

    def up(x):
        with torch.inference_mode():
            return torch.nn.functional.pixel_shuffle(torch.sigmoid(conv(x)), 2)

    image = (_image(90, 70) * 65535).astype(np.uint16)
    whole = TiledRunner(up, tile=512, scale=2).run(image)
    tiled = TiledRunner(up, tile=40, overlap=16, scale=2).run(image)
    assert tiled.shape == (180, 140, 3) and tiled.dtype == np.uint16
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1


def test_tiles_follow_the_size_multiple_and_minimum(net):
    seen = []

    def fn(x):
        seen.append(tuple(x.shape[-2:]))
        return x

    TiledRunner(fn, tile=50, overlap=16, multiple=8).run(_image(100, 90))
    assert all(h % 8 == 0 and w % 8 == 0 for h, w in seen)
    seen.clear()
    TiledRunner(fn, tile=8, overlap=4, min_size=40).run(_image(100, 90))
    assert min(min(s) for s in seen) >= 40


def test_out_of_memory_halves_the_tile_and_retries(net):
    image = _image(130, 130)
    sizes = []

    def flaky(x):
        sizes.append(max(x.shape[-2:]))
        if max(x.shape[-2:]) > 64:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return _fn(net)(x)

    runner = TiledRunner(flaky, tile=128, overlap=32)
    out = runner.run(image)
    whole = TiledRunner(_fn(net), tile=1024).run(image)
    first = positions(130, 128, 32)[0][1]  # two balanced tiles of 82 px
    assert sizes[0] == first > 64 and runner.oom_retries >= 1 and runner.tile_limit <= 64
    assert sizes.count(first) == 1  # later tiles skip the size that failed
    assert np.abs(out - whole).max() < 1e-3

    def always(x):
        raise torch.cuda.OutOfMemoryError("out of memory")

    with pytest.raises(TileMemoryError):
        TiledRunner(always, tile=128).run(image)

    def other(x):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        TiledRunner(other, tile=128).run(image)


def test_cancel_takes_effect_within_one_tile(net):
    token = CancelToken()
    calls = []

    def fn(x):
        calls.append(1)
        if len(calls) == 2:
            token.cancel()
        return x

    with pytest.raises(JobCancelled):
        TiledRunner(fn, tile=32, overlap=8, cancel=token).run(_image(100, 100))
    assert len(calls) == 2


def test_progress_is_monotonic_and_ends_at_one(net):
    seen = []
    TiledRunner(_fn(net), tile=32, overlap=8, progress=lambda f, m: seen.append((f, m))).run(_image(70, 90))
    values = [f for f, _ in seen]
    assert values == sorted(values) and values[0] == 0.0 and values[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in seen)


def test_tile_size_comes_from_free_memory():
    cpu = torch.device("cpu")
    small = choose_tile(4 * 64 * 12, cpu, free_bytes=256 << 20)
    large = choose_tile(4 * 64 * 12, cpu, free_bytes=8 << 30)
    assert 64 <= small < large <= 1024
    assert choose_tile(10**9, cpu, multiple=8, min_size=96, free_bytes=1 << 20) == 96
    assert choose_tile(1000, torch.device("cuda"), multiple=16, free_bytes=40 << 30) % 16 == 0
