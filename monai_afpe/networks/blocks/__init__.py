"""Positional-embedding building blocks: pure feature functions, the module family and its factory."""

from monai_afpe.networks.blocks.attention import SDPASelfAttention
from monai_afpe.networks.blocks.patch_embedding import PatchEmbedding, check_patch_grid
from monai_afpe.networks.blocks.position_features import (
    fourier_features,
    grid_positions,
    physical_positions,
    sincos_axis_order,
    sincos_features,
)
from monai_afpe.networks.blocks.positional_embedding import (
    CLASS_TOKEN_POSITIONS,
    POSITION_MODES,
    FourierPositionalEmbedding,
    LearnablePositionalEmbedding,
    NoPositionalEmbedding,
    PositionalEmbedding,
    SinCosPositionalEmbedding,
    check_spacing,
)
from monai_afpe.networks.blocks.positional_embedding_factory import (
    POSITIONAL_EMBEDDING_KINDS,
    build_positional_embedding,
    default_afpe_scales,
)
from monai_afpe.networks.blocks.transformer_block import SDPATransformerBlock

__all__ = [
    "build_positional_embedding",
    "check_patch_grid",
    "check_spacing",
    "CLASS_TOKEN_POSITIONS",
    "default_afpe_scales",
    "fourier_features",
    "FourierPositionalEmbedding",
    "grid_positions",
    "LearnablePositionalEmbedding",
    "NoPositionalEmbedding",
    "PatchEmbedding",
    "physical_positions",
    "POSITION_MODES",
    "POSITIONAL_EMBEDDING_KINDS",
    "PositionalEmbedding",
    "SDPASelfAttention",
    "SDPATransformerBlock",
    "sincos_axis_order",
    "sincos_features",
    "SinCosPositionalEmbedding",
]
