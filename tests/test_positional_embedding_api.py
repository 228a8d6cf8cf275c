"""Shapes, axes, TorchScript and every error of the positional-embedding family."""

import math

import pytest
import torch

from monai_afpe.networks.blocks import (
    POSITIONAL_EMBEDDING_KINDS,
    build_positional_embedding,
    default_afpe_scales,
    positional_embedding_options,
)

GRIDS = [(6,), (4, 5), (3, 4, 2), (2, 3, 2, 2)]


@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: f"{len(g)}axes")
@pytest.mark.parametrize("kind", POSITIONAL_EMBEDDING_KINDS)
def test_every_kind_on_one_to_four_axes(kind, grid):
    hidden = 48
    embedding = build_positional_embedding(kind, grid, hidden)
    tokens = torch.randn(2, math.prod(grid), hidden)
    out = embedding(tokens)
    assert out.shape == tokens.shape
    if kind == "none":
        torch.testing.assert_close(out, tokens)
    else:
        added = out - tokens
        torch.testing.assert_close(added[0], added[1])
        assert added.abs().sum() > 0


@pytest.mark.parametrize("kind", POSITIONAL_EMBEDDING_KINDS)
def test_every_kind_is_scriptable(kind):
    embedding = build_positional_embedding(kind, (3, 4, 2), 24)
    scripted = torch.jit.script(embedding)
    tokens = torch.randn(2, 24, 24)
    torch.testing.assert_close(scripted(tokens), embedding(tokens))
    if kind != "learnable":
        torch.testing.assert_close(
            scripted(tokens[:, :12], grid_size=[3, 2, 2]), embedding(tokens[:, :12], grid_size=[3, 2, 2])
        )


def test_physical_mode_is_scriptable_with_spacing():
    embedding = build_positional_embedding(
        "afpe", (3, 4, 2), 24, mode="physical", patch_size=4, reference_extent=50.0, scales=[1, 1, 0.5]
    )
    scripted = torch.jit.script(embedding)
    tokens, spacing = torch.randn(2, 24, 24), torch.tensor([[1.0, 1.0, 3.0], [0.5, 0.5, 5.0]])
    torch.testing.assert_close(scripted(tokens, spacing), embedding(tokens, spacing))


def test_options_of_each_kind_are_those_the_factory_passes_on():
    assert positional_embedding_options("sincos") == ("cls_position", "seed", "temperature")
    fourier = positional_embedding_options("afpe")
    assert {"scales", "mode", "reference_extent", "patch_size", "spacing", "cls_coordinate"} <= set(fourier)
    assert "learnable_scales" not in fourier and positional_embedding_options("lfpe") == fourier
    given = {"seed": 3, "mode": "physical", "patch_size": (2, 2), "reference_extent": 4.0, "spacing": (1.0, 2.0)}
    assert build_positional_embedding("afpe", (4, 4), 16, **given).mode == "physical"
    with pytest.raises(TypeError, match="reference_extnt"):
        build_positional_embedding("afpe", (4, 4), 16, reference_extnt=4.0)
    with pytest.raises(ValueError, match="fpe"):
        positional_embedding_options("fpe")


def test_default_scales():
    assert default_afpe_scales((16, 16, 4)) == (1.0, 1.0, 0.25)
    afpe = build_positional_embedding("afpe", (16, 8), 8)
    torch.testing.assert_close(afpe.scales, torch.tensor([1.0, 0.5]))
    torch.testing.assert_close(build_positional_embedding("ifpe", (16, 8), 8).scales, torch.tensor([1.0, 1.0]))


def test_physical_mode_uses_default_spacing_when_forward_gets_none():
    kwargs = dict(mode="physical", patch_size=2, reference_extent=10.0)
    with_default = build_positional_embedding("ifpe", (3, 3), 8, spacing=(1.0, 2.0), **kwargs)
    without = build_positional_embedding("ifpe", (3, 3), 8, **kwargs)
    tokens = torch.zeros(1, 9, 8)
    torch.testing.assert_close(with_default(tokens), without(tokens, spacing=torch.tensor([1.0, 2.0])))


@pytest.mark.parametrize(
    "kind, kwargs, message",
    [
        ("afpe", dict(hidden_size=7), "hidden_size must be even"),
        ("ifpe", dict(hidden_size=0), "hidden_size must be positive"),
        ("sincos", dict(hidden_size=20, grid_size=(2, 2, 2)), r"divisible by 2 \* 3 = 6"),
        ("afpe", dict(scales=[1.0, 2.0]), r"scales must be one or 3 finite numbers > 0, got \[1.0, 2.0\]"),
        ("afpe", dict(scales=[1.0, 0.0, 1.0]), "scales must be one or 3 finite numbers > 0"),
        ("afpe", dict(scales=[1.0, -1.0, 1.0]), "scales must be one or 3 finite numbers > 0"),
        ("afpe", dict(scales=[1.0, float("nan"), 1.0]), "scales must be one or 3 finite numbers > 0"),
        ("afpe", dict(scales=float("inf")), "scales must be one or 3 finite numbers > 0, got inf"),
        ("ifpe", dict(scales=[1.0, 2.0, 1.0]), "ifpe is isotropic"),
        ("magic", {}, "magic"),
        ("afpe", dict(mode="world"), "world"),
        ("afpe", dict(mode="physical"), "mode='physical' needs patch_size"),
        (
            "afpe",
            dict(mode="physical", patch_size=(2, 2), reference_extent=1.0),
            "patch_size must be one or 3 finite numbers > 0",
        ),
        ("afpe", dict(cls_position="middle"), "middle"),
        ("sincos", dict(cls_position="fourier"), "cls_position='fourier' needs a Fourier encoding"),
        ("afpe", dict(grid_size=(2, 2, 2, 2, 2)), "grid_size must have 1 to 4 axes"),
        ("afpe", dict(grid_size=(2, 0, 2)), "grid_size must be positive"),
        ("afpe", dict(cls_coordinate=(1.0, 2.0)), r"cls_coordinate must be one or 3 numbers, got \(1.0, 2.0\)"),
    ],
)
def test_construction_errors(kind, kwargs, message):
    arguments = dict(grid_size=(2, 3, 4), hidden_size=24) | kwargs
    with pytest.raises(ValueError, match=message):
        build_positional_embedding(kind, **arguments)


def physical(**kwargs):
    return build_positional_embedding(
        "afpe", (2, 3, 4), 24, mode="physical", patch_size=2, reference_extent=9.0, **kwargs
    )


@pytest.mark.parametrize(
    "spacing, message",
    [
        (torch.ones(2, 2), r"spacing must have shape \(B, 3\) or \(3,\)"),
        (torch.ones(2, 3, 1), r"spacing must have shape"),
        (torch.tensor([1.0, 0.0, 1.0]), "spacing must be finite and positive"),
        (torch.tensor([1.0, -2.0, 1.0]), "spacing must be finite and positive"),
        (torch.tensor([[1.0, float("nan"), 1.0]]), "spacing must be finite and positive"),
        (torch.tensor([[1.0, float("inf"), 1.0]]), "spacing must be finite and positive"),
    ],
)
def test_spacing_errors(spacing, message):
    with pytest.raises(ValueError, match=message):
        physical()(torch.zeros(1, 24, 24), spacing=spacing)


def test_physical_mode_without_spacing_and_token_count_errors():
    with pytest.raises(ValueError, match="mode='physical' needs spacing"):
        physical()(torch.zeros(1, 24, 24))
    with pytest.raises(ValueError, match=r"tokens hold 20 patches but grid_size \[2, 3, 4\] has 24"):
        physical()(torch.zeros(1, 20, 24), spacing=torch.ones(3))
    with pytest.raises(ValueError, match="grid_size must have 3 axes"):
        physical()(torch.zeros(1, 6, 24), spacing=torch.ones(3), grid_size=[2, 3])
    with pytest.raises(ValueError, match=r"spacing must be one or 3 finite numbers > 0, got \(1.0, 2.0\)"):
        physical(spacing=(1.0, 2.0))
