"""AFPEViT: every encoding kind in 1D, 2D, 3D and video, per-sample spacing, heads, input sizes, gradients,
state dicts and errors."""

import warnings

import pytest
import torch
from monai.networks.blocks import PatchEmbeddingBlock, SABlock, TransformerBlock

from monai_afpe.networks.blocks import (
    POSITIONAL_EMBEDDING_KINDS,
    PatchEmbedding,
    SDPASelfAttention,
    SDPATransformerBlock,
    attention,
    check_patch_grid,
)
from monai_afpe.networks.nets import AFPEViT

FOURIER_KINDS = ("ifpe", "afpe", "lfpe", "afpe_learnable_scales")

# tiny layouts: a signal, a 2D image, a volume and a video (C, T, H, W) cut into tubelets;
# spacing follows the array axes
LAYOUTS = {
    "1d": dict(in_channels=2, img_size=(32,), patch_size=(4,), spatial_dims=1),
    "2d": dict(in_channels=1, img_size=(16, 12), patch_size=(4, 4), spatial_dims=2),
    "3d": dict(in_channels=1, img_size=(16, 12, 8), patch_size=(4, 4, 2), spatial_dims=3),
    "video": dict(in_channels=3, img_size=(4, 16, 16), patch_size=(2, 8, 8), spatial_dims=3),
}
SPACINGS = {  # two samples per layout, (B, m), mm or (s, mm, mm)
    "1d": [[0.5], [1.5]],
    "2d": [[0.7, 0.7], [1.2, 0.5]],
    "3d": [[0.8, 0.8, 3.0], [0.6, 0.7, 5.0]],
    "video": [[0.02, 0.3, 0.3], [0.033, 0.25, 0.25]],
}
REFERENCE_EXTENTS = {"1d": 10.0, "2d": 20.0, "3d": 40.0, "video": (0.5, 20.0, 20.0)}
TINY = dict(hidden_size=24, mlp_dim=32, num_layers=1, num_heads=2)


def make_vit(layout="3d", pos_embed="afpe", physical=False, pos_embed_kwargs=None, **kwargs):
    pe_kwargs = dict(pos_embed_kwargs or {})
    if physical:
        pe_kwargs.update(mode="physical", reference_extent=REFERENCE_EXTENTS[layout])
    options = {**LAYOUTS[layout], **TINY, **kwargs}
    torch.manual_seed(0)
    return AFPEViT(pos_embed=pos_embed, pos_embed_kwargs=pe_kwargs, **options)


def make_input(layout="3d", batch=2, size=None):
    spec = LAYOUTS[layout]
    return torch.randn(
        batch, spec["in_channels"], *(size or spec["img_size"]), generator=torch.Generator().manual_seed(1)
    )


def spacing(layout="3d"):
    return torch.tensor(SPACINGS[layout])


def tokens_entering_blocks(net, x, spacing=None):
    """The tokens after patch and positional embedding, as the first block sees them."""
    seen = []
    handle = net.blocks[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    with torch.no_grad():
        net(x, spacing)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("kind", POSITIONAL_EMBEDDING_KINDS)
def test_every_kind_runs_in_1d_2d_3d_and_video(kind, layout):
    net = make_vit(layout, kind, num_classes=3).eval()
    out = net(make_input(layout))
    assert out.shape == (2, 3) and torch.isfinite(out).all()
    assert net.position_embedding.grid_size == [
        i // p for i, p in zip(LAYOUTS[layout]["img_size"], LAYOUTS[layout]["patch_size"])
    ]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("kind", FOURIER_KINDS)
def test_physical_mode_uses_each_samples_spacing(kind, layout):
    net = make_vit(layout, kind, physical=True, pos_embed_kwargs={"cls_position": "fourier"}).eval()
    x, s = make_input(layout), spacing(layout)
    with torch.no_grad():
        batched = net(x, s)
        one_by_one = torch.cat([net(x[i : i + 1], s[i]) for i in range(2)])
        swapped = net(x, s.flip(0))
    torch.testing.assert_close(batched, one_by_one, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(batched, swapped, atol=1e-4)  # the encoding depends on each sample's own spacing


def test_physical_mode_takes_the_patch_size_and_a_default_spacing():
    net = make_vit("video", physical=True)
    assert net.position_embedding.patch_size.tolist() == [2.0, 8.0, 8.0]
    with pytest.raises(ValueError, match="mode='physical' needs spacing"):
        net(make_input("video"))
    default = make_vit("video", physical=True, pos_embed_kwargs={"spacing": SPACINGS["video"][0]}).eval()
    x = make_input("video")
    torch.testing.assert_close(default(x), default(x, spacing("video")[0]))


def test_grid_mode_ignores_spacing():
    net = make_vit("3d", "afpe").eval()
    x = make_input()
    torch.testing.assert_close(net(x), net(x, spacing()))


@pytest.mark.parametrize("layout", ["2d", "video"])
def test_regression_head_starts_at_the_output_bias_and_scales_without_tanh(layout):
    net = make_vit(layout, task="regression", num_classes=2, output_bias=(55.0, -3.0), output_scale=(12.0, 2.0)).eval()
    assert net.output_scale.tolist() == [12.0, 2.0] and "output_scale" in net.state_dict()
    torch.testing.assert_close(net.head.bias.detach(), torch.tensor([55.0 / 12.0, -3.0 / 2.0]))
    with torch.no_grad():
        net.head.weight.zero_()
    torch.testing.assert_close(net(make_input(layout)), torch.tensor([[55.0, -3.0]] * 2))
    with torch.no_grad():
        net.head.weight.fill_(1.0)
        features = net.forward_features(make_input(layout))[0][:, 0]
        expected = (features.sum(1, keepdim=True) + net.head.bias) * net.output_scale
    torch.testing.assert_close(net(make_input(layout)), expected)
    assert expected.abs().max() > 1.0  # values, not tanh-squashed


@pytest.mark.parametrize("task, num_classes", [("classification", 4), ("multilabel", 1), ("multilabel", 5)])
def test_classification_heads_return_logits(task, num_classes):
    net = make_vit("2d", task=task, num_classes=num_classes, output_bias=-2.0).eval()
    assert net.output_scale is None and "output_scale" not in net.state_dict()
    torch.testing.assert_close(net.head.bias.detach(), torch.full((num_classes,), -2.0))
    assert net(make_input("2d")).shape == (2, num_classes)


def test_mean_pooling_has_no_class_token_and_no_head_returns_features():
    net = make_vit("3d", pooling="mean", num_classes=0).eval()
    assert net.cls_token is None and isinstance(net.head, torch.nn.Identity)
    x = make_input()
    tokens, hidden = net.forward_features(x, return_hidden_states=True)
    assert tokens.shape == (2, 4 * 3 * 4, 24) and len(hidden) == 1
    torch.testing.assert_close(net(x), tokens.mean(1))
    cls_net = make_vit("3d", pooling="cls").eval()
    tokens, hidden = cls_net.forward_features(x)
    assert tokens.shape == (2, 1 + 4 * 3 * 4, 24) and hidden == []


def test_attention_equals_monai_reference_attention():
    torch.manual_seed(0)
    reference = SABlock(48, 4, qkv_bias=True).eval()  # einsum + softmax, not the fused kernel
    fused = SDPASelfAttention(48, 4, qkv_bias=True).eval()
    fused.load_state_dict(reference.state_dict())
    x = torch.randn(3, 50, 48)
    torch.testing.assert_close(fused(x), reference(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("tokens", [65, attention.UNFUSED_BF16_CPU_MAX_TOKENS + 1])
def test_bf16_attention_follows_float32_on_either_side_of_the_unfused_limit(tokens, native, monkeypatch):
    monkeypatch.setattr(attention, "computes_natively_in", lambda device, dtype: native)
    torch.manual_seed(0)
    module = SDPASelfAttention(48, 4, qkv_bias=True).eval()
    unfused = native and tokens <= attention.UNFUSED_BF16_CPU_MAX_TOKENS  # emulated bfloat16: always fused
    x = torch.randn(2, tokens, 48)
    fused_calls = []
    fused = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(
        attention.F, "scaled_dot_product_attention", lambda *a, **k: fused_calls.append(1) or fused(*a, **k)
    )
    reference = module(x)
    assert len(fused_calls) == 1  # float32: always the fused kernel
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = module(x)
        assert len(fused_calls) == (1 if unfused else 2)
        with torch.no_grad():
            inferred = module(x)  # inference takes the same path
        assert len(fused_calls) == (1 if unfused else 3)
    torch.testing.assert_close(inferred, low.detach())
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), reference, rtol=0.05, atol=0.02)
    low.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in module.parameters())


def test_unfused_bf16_attention_drops_weights_in_training_only_and_scripts(monkeypatch):
    monkeypatch.setattr(attention, "computes_natively_in", lambda device, dtype: True)
    torch.manual_seed(0)
    module = SDPASelfAttention(16, 2, dropout_rate=0.5).to(torch.bfloat16)
    assert module.unfused_bf16_cpu_max_tokens == attention.UNFUSED_BF16_CPU_MAX_TOKENS
    x = torch.randn(2, 9, 16, dtype=torch.bfloat16)
    assert not torch.equal(module(x), module(x))
    module.eval()
    torch.testing.assert_close(module(x), module(x))
    torch.testing.assert_close(torch.jit.script(module)(x), module(x))


def test_transformer_block_loads_and_equals_monai_transformer_block():
    torch.manual_seed(0)
    reference = TransformerBlock(48, 96, 4).eval()
    block = SDPATransformerBlock(48, 96, 4).eval()
    result = block.load_state_dict(reference.state_dict(), strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == ["norm_cross_attn.weight", "norm_cross_attn.bias"]
    x = torch.randn(2, 30, 48)
    torch.testing.assert_close(block(x), reference(x), rtol=1e-5, atol=1e-5)


def test_patch_tokens_follow_monai_layout():
    torch.manual_seed(0)
    reference = PatchEmbeddingBlock(2, (16, 12, 8), (4, 4, 2), 24, 2, pos_embed_type="none")
    ours = PatchEmbedding(2, (4, 4, 2), 24, spatial_dims=3)
    ours.load_state_dict({k: v for k, v in reference.state_dict().items() if k.startswith("patch_embeddings.")})
    x = torch.randn(2, 2, 16, 12, 8)
    tokens, grid = ours(x)
    assert grid == [4, 3, 4]
    torch.testing.assert_close(tokens, reference(x))


@pytest.mark.parametrize("patch", [(8, 8, 2), (4, 1, 2)])
def test_stem_keeps_the_patch_grid_and_centres_each_token_on_its_patch(patch):
    stem = PatchEmbedding(1, patch, 8, spatial_dims=3, stem_channels=(4, 4, 4), stem_norm=None, stem_act=None)
    size = [8 * p for p in patch]
    x = torch.zeros(1, 1, *size, requires_grad=True)
    tokens, grid = stem(x)
    assert grid == [8, 8, 8] and tokens.shape == (1, 512, 8)
    # an interior token's receptive field is symmetric about its patch centre p * i + (p - 1) / 2
    index = [g // 2 for g in grid]
    flat = (index[0] * grid[1] + index[1]) * grid[2] + index[2]
    tokens[0, flat].abs().sum().backward()
    support = x.grad[0, 0].ne(0).nonzero().float()
    centre = (support.min(0).values + support.max(0).values) / 2
    torch.testing.assert_close(centre, torch.tensor([p * i + (p - 1) / 2 for p, i in zip(patch, index)]))


def test_3d_stem_runs_channels_last_with_the_values_and_gradients_of_the_default_layout():
    torch.manual_seed(0)
    stem = PatchEmbedding(2, (8, 8, 4), 16, spatial_dims=3, stem_channels=(4, 8, 8))
    assert stem.channels_last
    assert all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in stem.parameters() if p.dim() == 5)
    plain = PatchEmbedding(2, (8, 8, 4), 16, spatial_dims=3, stem_channels=(4, 8, 8))
    plain.channels_last = False
    plain.to(memory_format=torch.contiguous_format)
    plain.load_state_dict(stem.state_dict())  # weights load across layouts
    assert all(p.is_contiguous() for p in plain.parameters())
    x = torch.randn(2, 2, 16, 16, 8)
    (tokens, grid), (expected, expected_grid) = stem(x), plain(x)
    assert grid == expected_grid == [2, 2, 2] and tokens.is_contiguous()
    torch.testing.assert_close(tokens, expected, rtol=1e-5, atol=1e-5)
    tokens.square().sum().backward()
    expected.square().sum().backward()
    for (name, ours), theirs in zip(stem.named_parameters(), plain.parameters()):
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-4, msg=name)
    assert not PatchEmbedding(1, 4, 8, spatial_dims=3).channels_last  # one patch convolution: default layout
    assert not PatchEmbedding(1, 4, 8, spatial_dims=2, stem_channels=(4, 4)).channels_last


def test_stem_vit_runs_in_physical_mode_and_scripts():
    net = make_vit("3d", physical=True, img_size=(16, 16, 8), patch_size=(8, 8, 2), stem_channels=(4, 8, 8)).eval()
    x = torch.randn(2, 1, 16, 16, 8)
    assert [type(m).__name__ for m in net.patch_embedding.stem] == ["Convolution"] * 3
    assert [list(m.conv.stride) for m in net.patch_embedding.stem] == [[2, 2, 2], [2, 2, 1], [2, 2, 1]]
    out = net(x, spacing())
    assert out.shape == (2, 2)
    assert not torch.allclose(net(x, spacing()[[1, 0]]), out)
    torch.testing.assert_close(torch.jit.script(net)(x, spacing()), out)


@pytest.mark.parametrize(
    "patch, channels, message",
    [
        ((8, 8, 3), (4, 4, 4), "patch_size must be a power of two on every axis; got \\[8, 8, 3\\] \\(axis 2: 3\\)"),
        ((8, 8, 8), (4, 4), "needs 3 stride-2 stem layers, but stem_channels has 2 entries"),
        ((4, 4, 4), (4, 0), "stem_channels must be positive channel counts"),
    ],
)
def test_stem_argument_errors(patch, channels, message):
    with pytest.raises(ValueError, match=message):
        PatchEmbedding(1, patch, 8, spatial_dims=3, stem_channels=channels)


def test_block_argument_errors():
    with pytest.raises(
        ValueError, match="img_size has 2 spatial axes \\[16, 16\\], but patch_size \\[4, 4, 4\\] has 3"
    ):
        check_patch_grid([16, 16], [4, 4, 4], name="img_size")
    with pytest.raises(ValueError, match="in_channels and hidden_size must be positive, got 0 and 8"):
        PatchEmbedding(0, 4, 8, spatial_dims=2)
    with pytest.raises(ValueError, match="dropout_rate must be a number in \\[0, 1\\], got -0.1"):
        SDPASelfAttention(8, 2, dropout_rate=-0.1)
    with pytest.raises(ValueError, match="hidden_size \\(8\\) must be divisible by num_heads \\(3\\)"):
        SDPATransformerBlock(8, 16, 3)


def test_dropout_acts_in_training_only():
    net = make_vit("2d", dropout_rate=0.5)
    x = make_input("2d")
    net.eval()
    torch.testing.assert_close(net(x), net(x))  # MONAI 1.6's SDPA SABlock drops attention weights in eval
    net.train()
    assert not torch.allclose(net(x), net(x))


def test_bf16_autocast_on_cpu():
    net = make_vit("3d", "afpe").eval()
    x = make_input()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), net(x).detach(), rtol=0.05, atol=0.05)


@pytest.mark.parametrize(
    "kind, learnable",
    [
        ("lfpe", "position_embedding.gaussian"),
        ("afpe_learnable_scales", "position_embedding.log_scales"),
        ("learnable", "position_embedding.position_embeddings"),
    ],
)
def test_gradients_reach_learnable_encoding_parts(kind, learnable):
    net = make_vit("3d", kind, physical=kind != "learnable", pos_embed_kwargs={"cls_position": "learned"})
    params = dict(net.named_parameters())
    fixed = {"lfpe": "position_embedding.log_scales", "afpe_learnable_scales": "position_embedding.gaussian"}.get(kind)
    assert fixed is None or fixed not in params  # the other factor stays a buffer
    net(make_input(), spacing()).square().sum().backward()
    for name in (learnable, "position_embedding.learned_cls_embedding", "cls_token"):
        assert params[name].grad is not None and params[name].grad.abs().sum() > 0, name


def test_fixed_fourier_encoding_has_no_parameters_and_its_draw_is_stored():
    net = make_vit("3d", "afpe", pos_embed_kwargs={"seed": 3})
    assert not any(name.startswith("position_embedding") for name, _ in net.named_parameters())
    assert {"position_embedding.gaussian", "position_embedding.log_scales"} <= set(net.state_dict())


@pytest.mark.parametrize("kind", ["afpe", "lfpe", "afpe_learnable_scales"])
def test_state_dict_round_trip_keeps_the_frequency_draw(kind):
    trained = make_vit("video", kind, physical=True, pos_embed_kwargs={"seed": 1})
    optimizer = torch.optim.SGD(trained.parameters(), lr=0.5)
    trained(make_input("video"), spacing("video")).square().sum().backward()
    optimizer.step()
    fresh = make_vit("video", kind, physical=True, pos_embed_kwargs={"seed": 2})
    assert not torch.equal(fresh.position_embedding.gaussian, trained.position_embedding.gaussian)
    fresh.load_state_dict(trained.state_dict())
    torch.testing.assert_close(fresh.position_embedding.gaussian, trained.position_embedding.gaussian)
    torch.testing.assert_close(fresh.position_embedding.log_scales, trained.position_embedding.log_scales)
    trained.eval(), fresh.eval()
    x, s = make_input("video"), spacing("video")
    torch.testing.assert_close(fresh(x, s), trained(x, s))


# On a larger input the encoding of the training grid reappears exactly at the matching tokens:
# grid-mode Fourier features at every other token of a (2n - 1)-grid (positions linspace(0, 1, n)),
# sin-cos at the first n indices, physical mode at the central tokens (centred coordinates), and the
# interpolated learnable table at every other token (corner-aligned interpolation keeps the nodes).
@pytest.mark.parametrize("kind", POSITIONAL_EMBEDDING_KINDS)
def test_encoding_is_continuous_across_input_sizes(kind):
    net = make_vit("2d", kind, pooling="mean").eval()  # grid 4 x 3 at 16 x 12
    small, large = torch.zeros(1, 1, 16, 12), torch.zeros(1, 1, 28, 20)  # grids 4 x 3 and 7 x 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # continuous encodings need no interpolation
        if kind == "learnable":
            with pytest.warns(UserWarning, match="interpolated to \\[7, 5\\]"):
                tokens_large = tokens_entering_blocks(net, large)
        else:
            tokens_large = tokens_entering_blocks(net, large)
    tokens_small = tokens_entering_blocks(net, small).reshape(4, 3, -1)
    tokens_large = tokens_large.reshape(7, 5, -1)
    matching = tokens_large[:4, :3] if kind in ("sincos", "none") else tokens_large[::2, ::2]
    torch.testing.assert_close(matching, tokens_small, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", FOURIER_KINDS)
def test_physical_encoding_is_continuous_across_input_sizes(kind):
    net = make_vit("3d", kind, physical=True, pooling="mean").eval()  # grid 4 x 3 x 4 at 16 x 12 x 8
    large = make_input("3d", batch=1, size=(24, 20, 16))  # grid 6 x 5 x 8
    crop = large[:, :, 4:20, 4:16, 4:12]  # the central 4 x 3 x 4 tokens
    s = spacing("3d")[:1]
    tokens_large = tokens_entering_blocks(net, large, s).reshape(6, 5, 8, -1)[1:5, 1:4, 2:6]
    tokens_crop = tokens_entering_blocks(net, crop, s).reshape(4, 3, 4, -1)
    torch.testing.assert_close(tokens_large, tokens_crop, rtol=1e-5, atol=1e-5)


def test_input_size_errors_name_the_axis_and_the_sizes_that_work():
    net = make_vit("3d")
    with pytest.raises(
        ValueError, match="input size 13 along spatial axis 1 is not a multiple of patch_size 4.*12 or 16"
    ):
        net(torch.zeros(1, 1, 16, 13, 8))
    with pytest.raises(
        ValueError, match="input size 1 along spatial axis 2 .* sizes that work along that axis: 2, 4, ..."
    ):
        net(torch.zeros(1, 1, 16, 12, 1))
    with pytest.raises(
        ValueError, match="input must have shape \\(B, C, \\*spatial\\) with 3 spatial axes, got \\[1, 1, 16, 12\\]"
    ):
        net(torch.zeros(1, 1, 16, 12))
    with pytest.raises(ValueError, match="input has 3 channels .* expected 1"):
        net(torch.zeros(1, 3, 16, 12, 8))
    with pytest.raises(
        ValueError, match="img_size size 10 along spatial axis 0 is not a multiple of patch_size 4.*8 or 12"
    ):
        make_vit("3d", img_size=(10, 12, 8))


def test_spacing_errors():
    net = make_vit("3d", physical=True)
    x = make_input()
    with pytest.raises(ValueError, match="spacing has 3 rows but the input batch has 2 samples.*\\(2, 3\\)"):
        net(x, torch.ones(3, 3))
    with pytest.raises(ValueError, match="spacing must have shape \\(B, 3\\) or \\(3,\\)"):
        net(x, torch.ones(2, 2))
    with pytest.raises(ValueError, match="spacing must be finite and positive"):
        net(x, torch.tensor([1.0, 0.0, 1.0]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dropout_rate=1.5), "dropout_rate must be a number in \\[0, 1\\], got 1.5"),
        (dict(num_heads=5), "hidden_size \\(24\\) must be divisible by num_heads \\(5\\)"),
        (dict(num_layers=0), "num_layers must be at least 1, got 0"),
        (dict(task="segmentation"), "segmentation"),
        (dict(pooling="max"), "max"),
        (dict(spatial_dims=4, img_size=8, patch_size=4), "spatial_dims must be 1, 2 or 3"),
        (dict(patch_size=(4, 0, 2)), "patch_size must be positive on every axis"),
        (dict(num_classes=1), "at least 2 for task='classification', got 1 .*task='multilabel' with num_classes=1"),
        (
            dict(task="regression", num_classes=-1),
            "num_classes must be 0 \\(no head\\) or at least 1 for task='regression'",
        ),
        (dict(output_scale=2.0), "output_scale is for task='regression'"),
        (dict(task="regression", num_classes=1, output_scale=0.0), "output_scale must be positive"),
        (
            dict(task="regression", num_classes=2, output_bias=(1.0, 2.0, 3.0)),
            "output_bias needs 1 or num_classes=2 values, got 3",
        ),
        (dict(task="regression", num_classes=1, output_bias=float("nan")), "output_bias must be finite"),
        (dict(num_classes=0, output_bias=1.0), "output_bias and output_scale need a head"),
        (dict(pos_embed_kwargs={"patch_size": 4}), "pos_embed_kwargs must not set patch_size"),
        (
            dict(pooling="mean", pos_embed_kwargs={"cls_position": "learned"}),
            "cls_position='learned' positions a class token, but pooling='mean'",
        ),
        (dict(pos_embed="rope"), "rope"),
        (
            dict(pos_embed="sincos", pos_embed_kwargs={"cls_position": "fourier"}),
            "cls_position='fourier' needs a Fourier encoding",
        ),
        (dict(pos_embed_kwargs={"mode": "physical"}), "mode='physical' needs patch_size .* and reference_extent"),
    ],
)
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_vit("3d", **kwargs)
