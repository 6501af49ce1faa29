"""Community checkpoints: random-weight spandrel architectures in their real key layout, saved to
files and loaded through our safe loader (never spandrel's file loading)."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from restorer_gui.inference import loader
from restorer_gui.inference.ops.denoise import denoise
from restorer_gui.inference.ops.inpaint import inpaint
from restorer_gui.inference.ops.run_model import run_model

spandrel_archs = pytest.importorskip("spandrel.architectures")


def _dncnn():
    from spandrel.architectures.DnCNN import DnCNN

    return DnCNN(in_nc=3, out_nc=3, nc=8, nb=8, act_mode="R")


def _drunet():
    from spandrel.architectures.DRUNet import DRUNet

    return DRUNet(in_nc=4, out_nc=3, nc=[8, 16, 16, 16], nb=2)


def _scunet():
    from spandrel.architectures.SCUNet import SCUNet

    return SCUNet(in_nc=3, config=[1] * 7, dim=64)


def _nafnet():
    from spandrel.architectures.NAFNet import NAFNet

    return NAFNet(img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1], dec_blk_nums=[1])


def _kbnet():
    from spandrel.architectures.KBNet import KBNet_s

    return KBNet_s(img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1])


def _fbcnn():
    from spandrel.architectures.FBCNN import FBCNN

    return FBCNN(in_nc=3, out_nc=3, nc=[8, 16, 32, 512], nb=2)  # the quality-factor head needs 512


def _esrgan():
    from spandrel.architectures.ESRGAN import ESRGAN

    return ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=2)


def _swinir():
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(
        img_size=16, in_chans=3, embed_dim=12, depths=[1], num_heads=[2], window_size=4, upscale=4,
        upsampler="pixelshuffledirect",
    )  # fmt: skip


def _restoreformer():
    from spandrel.architectures.RestoreFormer import RestoreFormer

    return RestoreFormer(
        n_embed=32, embed_dim=32, ch=32, ch_mult=(1,) * 6, num_res_blocks=1, attn_resolutions=(16,),
        resolution=512, z_channels=32,
    )  # fmt: skip


def _lama():
    from spandrel.architectures.LaMa import LaMa

    return LaMa(in_nc=4, out_nc=3)  # fixed hyper-parameters (51 M weights): the one big test model


KINDS = [
    # factory, file suffix, expected task, expected scale, architecture id
    (_dncnn, ".pth", "denoise", 1, "DnCNN"),
    (_drunet, ".safetensors", "denoise", 1, "DRUNet"),
    (_scunet, ".pth", "denoise", 1, "SCUNet"),
    (_nafnet, ".safetensors", "restore", 1, "NAFNet"),
    (_kbnet, ".ckpt", "restore", 1, "KBNet"),
    (_fbcnn, ".pth", "restore", 1, "FBCNN"),
    (_esrgan, ".pth", "upscale", 2, "ESRGAN"),
    (_swinir, ".safetensors", "upscale", 4, "SwinIR"),
    (_restoreformer, ".pth", "face", 1, "RestoreFormer"),
]


def _save(module, path):
    state = {k: v.contiguous() for k, v in module.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"params_ema": state}, path)  # wrapped the way BasicSR/KAIR releases are
    return path


@pytest.mark.filterwarnings("ignore:torch.meshgrid")  # inside spandrel's SwinIR
@pytest.mark.parametrize(("factory", "suffix", "task", "scale", "arch"), KINDS, ids=[k[4] for k in KINDS])
def test_community_architecture_loads_and_runs_for_its_purpose(tmp_path, factory, suffix, task, scale, arch):
    torch.manual_seed(0)
    path = _save(factory().eval(), tmp_path / f"model{suffix}")
    model = loader.load_model(path, "cpu")
    assert (model.task, model.scale, model.architecture) == (task, scale, f"spandrel:{arch}")
    assert not model.module.training and not any(p.requires_grad for p in model.module.parameters())
    photo = np.random.default_rng(0).integers(0, 65535, (44, 36, 3), dtype=np.uint16, endpoint=True)
    out = run_model(photo, model, tile=64)
    assert out.dtype == np.uint16 and out.shape == (44 * scale, 36 * scale, 3)


def test_sigma_map_denoisers_take_the_requested_level(tmp_path):
    torch.manual_seed(0)
    model = loader.load_model(_save(_drunet().eval(), tmp_path / "drunet.pth"), "cpu")
    assert model.accepts_sigma and model.needs_sigma and model.size_multiple == 8
    photo = np.random.default_rng(1).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    low = denoise(photo, model, sigma=5)
    high = denoise(photo, model, sigma=50)
    assert not np.array_equal(low, high)


def test_lama_inpaints_and_keeps_the_outside_bit_identical(tmp_path):
    torch.manual_seed(0)
    model = loader.load_model(_save(_lama().eval(), tmp_path / "big-lama.safetensors"), "cpu")
    assert model.task == "inpaint" and model.size_multiple == 8 and model.min_size == 16
    photo = np.random.default_rng(2).integers(0, 255, (70, 60, 3), dtype=np.uint8)
    mask = np.zeros((70, 60), np.uint8)
    mask[30:40, 20:35] = 255
    out = inpaint(photo, mask, model)
    assert np.array_equal(out[mask == 0], photo[mask == 0])
    assert not np.array_equal(out[mask > 0], photo[mask > 0])


def test_gfpgan_face_restorer():
    pytest.skip(
        "GFPGAN has fixed hyper-parameters in spandrel (87 M weights, 512-px StyleGAN decoder): "
        "building and running it takes ~15 s on this CPU; RestoreFormer covers the face kind"
    )
