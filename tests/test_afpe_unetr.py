"""AFPEUNETR: every encoding kind in 2D and 3D, video, spacing per sample, input sizes, MONAI UNETR weights, errors."""

import warnings

import pytest
import torch
from monai.networks.nets import UNETR

from monai_afpe.networks.blocks import POSITIONAL_EMBEDDING_KINDS
from monai_afpe.networks.nets import AFPEUNETR, AFPEViT, load_monai_unetr_state_dict

TINY = dict(feature_size=4, hidden_size=24, mlp_dim=32, num_layers=4, num_heads=2)
PHYSICAL = {"mode": "physical", "reference_extent": 100.0}


def make_unetr(spatial_dims=3, pos_embed="afpe", pos_embed_kwargs=None, img_size=32, **kwargs):
    torch.manual_seed(0)
    options = {**TINY, **kwargs}
    return AFPEUNETR(
        1, 3, img_size, pos_embed=pos_embed, pos_embed_kwargs=pos_embed_kwargs, spatial_dims=spatial_dims, **options
    )


def make_monai_unetr(**kwargs):
    torch.manual_seed(1)
    options = dict(feature_size=4, hidden_size=24, mlp_dim=32, num_heads=2, img_size=32, **kwargs)
    return UNETR(1, 3, **options).eval()


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("kind", POSITIONAL_EMBEDDING_KINDS)
def test_every_kind_segments_in_2d_and_3d(kind, spatial_dims):
    net = make_unetr(spatial_dims, kind).eval()
    x = torch.randn(2, 1, *([32] * spatial_dims))
    with torch.no_grad():
        out = net(x)
    assert out.shape == (2, 3, *([32] * spatial_dims)) and torch.isfinite(out).all()


def test_video_with_per_sample_spacing_and_another_input_size():
    kwargs = {"mode": "physical", "reference_extent": (0.5, 100.0, 100.0)}
    net = AFPEUNETR(3, 2, (16, 32, 32), pos_embed="afpe", pos_embed_kwargs=kwargs, **TINY).eval()
    x = torch.randn(2, 3, 16, 48, 32)  # (B, C, T, H, W), another size than img_size
    s = torch.tensor([[0.02, 0.3, 0.3], [0.033, 0.25, 0.25]])  # (dt [s], dy [mm], dx [mm])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")
        batched = net(x, spacing=s)
        one_by_one = torch.cat([net(x[i : i + 1], spacing=s[i]) for i in range(2)])
        swapped = net(x, spacing=s.flip(0))
    assert batched.shape == (2, 2, 16, 48, 32)
    torch.testing.assert_close(batched, one_by_one, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(batched, swapped, atol=1e-4)


def test_skips_read_quarter_half_and_three_quarter_depth():
    assert make_unetr(num_layers=12).skip_layers == [3, 6, 9]  # MONAI's hidden_states_out[3], [6], [9]
    assert make_unetr(num_layers=4).skip_layers == [1, 2, 3]
    net = make_unetr(pos_embed="sincos")
    assert isinstance(net.vit, AFPEViT) and net.vit.cls_token is None and isinstance(net.vit.head, torch.nn.Identity)


def test_gradients_reach_a_learnable_frequency_matrix():
    net = make_unetr(pos_embed="lfpe", pos_embed_kwargs=PHYSICAL)
    net(torch.randn(1, 1, 32, 32, 32), spacing=torch.tensor([1.0, 1.0, 2.5])).square().mean().backward()
    assert net.vit.position_embedding.gaussian.grad.abs().sum() > 0


def test_monai_weights_with_the_same_learnable_table_give_monai_outputs():
    monai_net = make_monai_unetr()
    net = make_unetr(pos_embed="learnable", num_layers=12).eval()
    report = load_monai_unetr_state_dict(net, monai_net.state_dict())
    assert report.loaded == sorted(net.state_dict()) and report.kept == []
    assert set(report.skipped) == {f"vit.blocks.{i}.norm_cross_attn.{p}" for i in range(12) for p in ("weight", "bias")}
    assert all("never uses" in reason for reason in report.skipped.values())
    x = torch.randn(2, 1, 32, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x), monai_net(x), rtol=1e-4, atol=1e-4)


def test_monai_weights_into_a_fourier_encoding_report_the_table_and_keep_the_draw():
    monai_net = make_monai_unetr()
    monai_state = monai_net.state_dict()
    net = make_unetr(pos_embed="afpe", pos_embed_kwargs={"seed": 4}, num_layers=12).eval()
    gaussian = net.vit.position_embedding.gaussian.clone()
    report = load_monai_unetr_state_dict(net, monai_state)
    assert report.kept == ["vit.position_embedding.gaussian", "vit.position_embedding.log_scales"]
    assert "no counterpart in a FourierPositionalEmbedding" in report.skipped["vit.patch_embedding.position_embeddings"]
    assert len(report.skipped) == 25 and "skipped 1 (MONAI's learnable position table" in str(report)
    ours = net.state_dict()
    for key in report.loaded:  # decoder, patch projection, blocks and norm
        assert torch.equal(ours[key], monai_state[key]), key
    assert any(k.startswith("decoder2.") for k in report.loaded) and "vit.blocks.11.attn.qkv.weight" in report.loaded
    torch.testing.assert_close(net.vit.position_embedding.gaussian, gaussian)


def test_monai_weights_without_a_position_table_equal_the_none_encoding():
    monai_net = make_monai_unetr()
    with torch.no_grad():
        monai_net.vit.patch_embedding.position_embeddings.zero_()
    net = make_unetr(pos_embed="none", num_layers=12).eval()
    load_monai_unetr_state_dict(net, monai_net.state_dict())
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x), monai_net(x), rtol=1e-4, atol=1e-4)


def test_monai_weights_that_do_not_fit_are_reported():
    monai_state = make_monai_unetr().state_dict()
    net = make_unetr(pos_embed="learnable", img_size=(32, 32, 48), feature_size=8)  # 4 blocks, other grid and widths
    report = load_monai_unetr_state_dict(net, monai_state)
    assert "no tensor of that name in the model (num_layers=4)" == report.skipped["vit.blocks.4.attn.qkv.weight"]
    assert (
        "does not fit the model's [1, 12, 24] (a different token grid)"
        in report.skipped["vit.patch_embedding.position_embeddings"]
    )
    assert (
        report.skipped["encoder1.layer.conv1.conv.weight"]
        == "shape [4, 1, 3, 3, 3] does not match the model's [8, 1, 3, 3, 3]"
    )
    assert "vit.blocks.3.mlp.linear1.weight" in report.loaded and "encoder1.layer.conv1.conv.weight" in report.kept


def test_loader_errors():
    with pytest.raises(TypeError, match="model must be an AFPEUNETR, got AFPEViT"):
        load_monai_unetr_state_dict(AFPEViT(1, 16, 8, hidden_size=8, mlp_dim=8, num_layers=1, num_heads=1), {})
    with pytest.raises(ValueError, match="no tensor of the state dict fits the model.*'module.vit.norm.weight'"):
        load_monai_unetr_state_dict(make_unetr(), {"module.vit.norm.weight": torch.ones(24)})


def test_argument_and_input_errors():
    with pytest.raises(ValueError, match="num_layers must be a positive multiple of 4.*got 6"):
        make_unetr(num_layers=6)
    with pytest.raises(
        ValueError, match="img_size size 40 along spatial axis 0 is not a multiple of patch_size 16.*32 or 48"
    ):
        make_unetr(img_size=(40, 32, 32))
    with pytest.raises(ValueError, match="AFPEUNETR has no class token: pos_embed_kwargs cls_position must be 'none'"):
        make_unetr(pos_embed_kwargs={"cls_position": "learned"})
    net = make_unetr()
    with pytest.raises(
        ValueError, match="input size 40 along spatial axis 2 is not a multiple of patch_size 16.*32 or 48"
    ):
        net(torch.zeros(1, 1, 32, 32, 40))
