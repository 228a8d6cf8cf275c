"""The spacing embedding: the "told the spacing" baseline (class token, every token, FiLM) on AFPEViT and AFPEUNETR."""

import pytest
import torch

from monai_afpe.networks.blocks import SpacingEmbedding

SPACING = torch.tensor([[0.7, 0.7, 5.0], [1.0, 1.0, 1.0]])


def trained(embedding: SpacingEmbedding) -> SpacingEmbedding:
    """Move the zero-initialised last layer, as training would."""
    torch.manual_seed(1)
    torch.nn.init.normal_(embedding.mlp[2].weight, std=0.3)
    torch.nn.init.normal_(embedding.mlp[2].bias, std=0.3)
    return embedding


@pytest.fixture
def small_vit(tiny_vit):
    """Factory of tiny one-block ``AFPEViT``s of 3 classes, in evaluation mode: ``small_vit(**options)``."""
    return lambda **options: tiny_vit(1, (16, 16, 8), (8, 8, 4), num_classes=3, **options).eval()


@pytest.mark.parametrize("target", ["cls", "tokens", "film"])
def test_starts_as_the_identity(target):
    tokens = torch.randn(2, 9, 24)
    torch.testing.assert_close(SpacingEmbedding(3, 24, target)(tokens, SPACING), tokens)


def test_targets_act_where_they_say():
    tokens = torch.randn(2, 9, 24)
    cls = trained(SpacingEmbedding(3, 24, "cls"))
    features = cls.mlp((SPACING.log()))[:, None, :]
    out = cls(tokens, SPACING)
    torch.testing.assert_close(out[:, 1:], tokens[:, 1:])
    torch.testing.assert_close(out[:, :1], tokens[:, :1] + features)

    every = trained(SpacingEmbedding(3, 24, "tokens"))
    torch.testing.assert_close(every(tokens, SPACING), tokens + every.mlp(SPACING.log())[:, None, :])

    film = trained(SpacingEmbedding(3, 24, "film", reference_spacing=(1.0, 1.0, 2.5)))
    gamma, beta = film.mlp(SPACING.log() - torch.tensor([1.0, 1.0, 2.5]).log()).chunk(2, dim=-1)
    torch.testing.assert_close(film(tokens, SPACING), tokens * (1 + gamma[:, None]) + beta[:, None])


def test_per_sample_spacing_equals_one_sample_at_a_time():
    embedding = trained(SpacingEmbedding(3, 24, "film"))
    tokens = torch.randn(2, 9, 24)
    batched = embedding(tokens, SPACING)
    for i in range(2):
        torch.testing.assert_close(batched[i : i + 1], embedding(tokens[i : i + 1], SPACING[i]))
    # one spacing row for the whole batch
    torch.testing.assert_close(embedding(tokens, SPACING[1])[0], embedding(tokens[:1], SPACING[1])[0])


def test_default_spacing_and_missing_spacing():
    embedding = trained(SpacingEmbedding(3, 24, "tokens", spacing=(0.7, 0.7, 5.0)))
    tokens = torch.randn(1, 4, 24)
    torch.testing.assert_close(embedding(tokens), embedding(tokens, SPACING[0]))
    with pytest.raises(ValueError, match="needs spacing"):
        trained(SpacingEmbedding(3, 24, "tokens"))(tokens)


def test_invalid_options_are_named(small_vit):
    with pytest.raises(ValueError, match="film"):
        SpacingEmbedding(3, 24, "everywhere")
    with pytest.raises(ValueError, match="reference_spacing"):
        SpacingEmbedding(3, 24, reference_spacing=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="finite and positive"):
        SpacingEmbedding(3, 24)(torch.zeros(1, 2, 24), torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="pooling='mean' has none"):
        small_vit(spacing_embedding="cls", pooling="mean")
    with pytest.raises(ValueError, match="without spacing_embedding"):
        small_vit(spacing_embedding_kwargs={"mlp_dim": 8})


@pytest.mark.parametrize("target", ["cls", "tokens", "film"])
def test_a_spacing_blind_network_becomes_spacing_aware(small_vit, target):
    x = torch.randn(1, 1, 16, 16, 8)
    blind = small_vit(pos_embed="sincos")
    told = small_vit(pos_embed="sincos", spacing_embedding=target)
    # untrained, the embedding changes nothing: the blind network's weights give the same output
    missing, unexpected = told.load_state_dict(blind.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("spacing_embedding.") for k in missing)
    with torch.no_grad():
        torch.testing.assert_close(told(x, SPACING[0]), blind(x))
        trained(told.spacing_embedding)
        assert not torch.allclose(told(x, SPACING[0]), told(x, SPACING[1]), atol=1e-4)
        torch.testing.assert_close(blind(x, SPACING[0]), blind(x, SPACING[1]))


def test_works_with_every_positional_kind_and_learns(small_vit):
    for kind in ("none", "learnable", "sincos", "afpe"):
        net = small_vit(pos_embed=kind, spacing_embedding="tokens").train()
        out = net(torch.randn(2, 1, 16, 16, 8), SPACING)
        out.sum().backward()
        assert net.spacing_embedding.mlp[2].weight.grad.abs().sum() > 0


def test_unetr_takes_the_spacing_embedding(tiny_unetr):
    net = tiny_unetr(1, 2, 16, pos_embed="sincos", spacing_embedding="film").eval()
    trained(net.vit.spacing_embedding)
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        assert net(x, SPACING[0]).shape == (1, 2, 16, 16, 16)
        assert not torch.allclose(net(x, SPACING[0]), net(x, SPACING[1]), atol=1e-5)
    with pytest.raises(ValueError, match="pooling='mean' has none"):
        tiny_unetr(1, 2, 16, spacing_embedding="cls")
