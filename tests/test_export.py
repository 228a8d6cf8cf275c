"""TorchScript and ONNX export of AFPEViT and AFPEUNETR, spacing input included, as MONAI bundles export them."""

import contextlib
import json

import numpy as np
import pytest
import torch
from monai.bundle import ckpt_export, onnx_export
from monai.networks.utils import convert_to_onnx, convert_to_torchscript

from monai_afpe.networks.blocks import POSITIONAL_EMBEDDING_KINDS
from monai_afpe.networks.nets import AFPEViT

VIDEO_PHYSICAL = {"mode": "physical", "reference_extent": (0.5, 50.0, 50.0), "cls_position": "fourier"}
VIDEO_SPACING = torch.tensor([[0.02, 0.3, 0.3], [0.033, 0.25, 0.25]])  # (dt [s], dy [mm], dx [mm]) per sample
CT_PHYSICAL = {"mode": "physical", "reference_extent": 200.0}
CT_SPACING = torch.tensor([[0.8, 0.8, 3.0], [0.6, 0.7, 5.0]])
TOLERANCE = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture
def video_vit(tiny_vit):
    """Factory: a tiny echo-like regression ViT on (3, 4, 16, 16) clips, in eval mode."""

    def build(pos_embed="afpe", pos_embed_kwargs=None, **options):
        return tiny_vit(
            3,
            (4, 16, 16),
            (2, 8, 8),
            num_layers=2,
            pos_embed=pos_embed,
            pos_embed_kwargs=pos_embed_kwargs,
            num_classes=1,
            task="regression",
            output_bias=50.0,
            output_scale=10.0,
            **options,
        ).eval()

    return build


def with_trained_spacing_embedding(net):
    """Give the zero-initialised last layer of the spacing embedding weights, so that spacing changes the output."""
    torch.nn.init.normal_(net.spacing_embedding.mlp[2].weight, std=0.5)
    return net


SPACING_OPTIONS = {
    "spacing_embedding": "film",
    "rotary_embedding": "mixed",
    "rotary_embedding_kwargs": {"mode": "physical", "reference_extent": (0.05, 2.0, 2.0)},
}


@pytest.fixture
def ct_unetr(tiny_unetr):
    """Factory: a tiny two-class AFPEUNETR on 32³ volumes, in eval mode."""

    def build(pos_embed_kwargs=None):
        return tiny_unetr(1, 2, 32, pos_embed="afpe", pos_embed_kwargs=pos_embed_kwargs).eval()

    return build


def require_onnx():
    """Skip without the ONNX test dependencies: onnx, onnxruntime, onnxscript (torch's ONNX exporter needs it)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    return pytest.importorskip("onnx")


def onnx_outputs(path, *inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert len(names) == len(inputs), names
    return torch.from_numpy(session.run(None, {n: i.numpy() for n, i in zip(names, inputs)})[0])


@pytest.mark.parametrize("kind", POSITIONAL_EMBEDDING_KINDS)
def test_torchscript_vit_every_kind_matches_eager_at_two_sizes(kind, tmp_path, video_vit):
    net = video_vit(kind)
    x = torch.randn(2, 3, 4, 16, 16)
    convert_to_torchscript(net, tmp_path / "net.ts", verify=True, inputs=[x], **TOLERANCE)
    scripted = torch.jit.load(tmp_path / "net.ts")
    larger = torch.randn(1, 3, 8, 24, 16)
    interpolated = pytest.warns(UserWarning, match="interpolated") if kind == "learnable" else contextlib.nullcontext()
    with torch.no_grad(), interpolated:
        torch.testing.assert_close(scripted(larger), net(larger), **TOLERANCE)


def test_torchscript_vit_takes_spacing_and_keeps_error_messages(tmp_path, video_vit):
    net = video_vit("afpe", VIDEO_PHYSICAL)
    x = torch.randn(2, 3, 4, 16, 16)
    convert_to_torchscript(net, tmp_path / "net.ts", verify=True, inputs=[x, VIDEO_SPACING], **TOLERANCE)
    scripted = torch.jit.load(tmp_path / "net.ts")
    with torch.no_grad():
        torch.testing.assert_close(
            scripted(x, spacing=VIDEO_SPACING.flip(0)), net(x, VIDEO_SPACING.flip(0)), **TOLERANCE
        )
    with pytest.raises(Exception, match="input size 20 along spatial axis 1 is not a multiple of patch_size 8"):
        scripted(torch.randn(1, 3, 4, 20, 16), VIDEO_SPACING[0])
    with pytest.raises(Exception, match="mode='physical' needs spacing"):
        scripted(x)


def test_torchscript_unetr_takes_spacing(tmp_path, ct_unetr):
    net = ct_unetr(CT_PHYSICAL)
    x = torch.randn(2, 1, 32, 32, 32)
    convert_to_torchscript(net, tmp_path / "net.ts", verify=True, inputs=[x, CT_SPACING], **TOLERANCE)
    scripted = torch.jit.load(tmp_path / "net.ts")
    larger = torch.randn(1, 1, 32, 48, 32)
    with torch.no_grad():
        torch.testing.assert_close(scripted(larger, CT_SPACING[1]), net(larger, CT_SPACING[1]), **TOLERANCE)


def test_onnx_vit_with_spacing_input_matches_eager(tmp_path, video_vit):
    onnx = require_onnx()
    net = video_vit("afpe", VIDEO_PHYSICAL)
    x = torch.randn(2, 3, 4, 16, 16)
    convert_to_onnx(
        net, [x, VIDEO_SPACING], input_names=["image", "spacing"], output_names=["pred"], filename=tmp_path / "net.onnx"
    )
    assert [i.name for i in onnx.load(tmp_path / "net.onnx").graph.input] == ["image", "spacing"]
    for spacing in (VIDEO_SPACING, VIDEO_SPACING.flip(0)):  # spacing is a live input, not a constant
        with torch.no_grad():
            torch.testing.assert_close(onnx_outputs(tmp_path / "net.onnx", x, spacing), net(x, spacing), **TOLERANCE)


@pytest.mark.slow
def test_torchscript_and_onnx_keep_spacing_embedding_and_physical_rotary_live(tmp_path, video_vit):
    require_onnx()
    net = with_trained_spacing_embedding(video_vit("sincos", **SPACING_OPTIONS))
    x = torch.randn(2, 3, 4, 16, 16)
    convert_to_torchscript(net, tmp_path / "net.ts", verify=True, inputs=[x, VIDEO_SPACING], **TOLERANCE)
    convert_to_onnx(
        net, [x, VIDEO_SPACING], input_names=["image", "spacing"], output_names=["pred"], filename=tmp_path / "net.onnx"
    )
    scripted = torch.jit.load(tmp_path / "net.ts")
    with torch.no_grad():
        outputs = [net(x, spacing) for spacing in (VIDEO_SPACING, VIDEO_SPACING.flip(0))]
        assert not torch.allclose(outputs[0], outputs[1], atol=1e-3)  # spacing reaches the output
        for spacing, expected in zip((VIDEO_SPACING, VIDEO_SPACING.flip(0)), outputs):
            torch.testing.assert_close(scripted(x, spacing), expected, **TOLERANCE)
            torch.testing.assert_close(onnx_outputs(tmp_path / "net.onnx", x, spacing), expected, **TOLERANCE)


@pytest.mark.slow
def test_onnx_unetr_with_spacing_input_matches_eager(tmp_path, ct_unetr):
    require_onnx()
    net = ct_unetr(CT_PHYSICAL)
    x = torch.randn(2, 1, 32, 32, 32)
    convert_to_onnx(
        net, [x, CT_SPACING], input_names=["image", "spacing"], output_names=["pred"], filename=tmp_path / "net.onnx"
    )
    with torch.no_grad():
        torch.testing.assert_close(onnx_outputs(tmp_path / "net.onnx", x, CT_SPACING), net(x, CT_SPACING), **TOLERANCE)


def write_bundle(tmp_path, network_def, net):
    """A minimal bundle config and checkpoint, as ``python -m monai.bundle ckpt_export / onnx_export`` read them."""
    config = tmp_path / "inference.json"
    config.write_text(json.dumps({"network_def": network_def}))
    torch.save(net.state_dict(), tmp_path / "model.pt")
    return str(config), str(tmp_path / "model.pt")


def test_bundle_ckpt_export_and_onnx_export(tmp_path):
    require_onnx()
    network_def = {
        "_target_": "monai_afpe.networks.nets.AFPEViT",
        "in_channels": 1,
        "img_size": [16, 16, 8],
        "patch_size": [8, 8, 4],
        "hidden_size": 24,
        "mlp_dim": 32,
        "num_layers": 2,
        "num_heads": 2,
        "pos_embed": "afpe",
        "pos_embed_kwargs": {"scales": [0.8, 0.8, 0.1], "seed": 3},
        "num_classes": 3,
    }
    torch.manual_seed(0)
    net = AFPEViT(**{k: v for k, v in network_def.items() if k != "_target_"}).eval()
    config, checkpoint = write_bundle(tmp_path, network_def, net)
    ckpt_export(net_id="network_def", filepath=str(tmp_path / "model.ts"), ckpt_file=checkpoint, config_file=config)
    onnx_export(
        net_id="network_def",
        filepath=str(tmp_path / "model.onnx"),
        ckpt_file=checkpoint,
        config_file=config,
        input_shape=[1, 1, 16, 16, 8],
    )
    x = torch.randn(1, 1, 16, 16, 8)
    with torch.no_grad():
        expected = net(x)
        torch.testing.assert_close(torch.jit.load(tmp_path / "model.ts")(x), expected, **TOLERANCE)
    np.testing.assert_allclose(onnx_outputs(tmp_path / "model.onnx", x).numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
