"""Positional-embedding building blocks: pure feature functions, the module family and its factory."""

from monai_afpe.networks.blocks.attention import SDPASelfAttention, fuse_monai_attention
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
    positional_embedding_options,
)
from monai_afpe.networks.blocks.rotary_embedding import (
    ROTARY_DEFAULT_THETA,
    ROTARY_KINDS,
    RotaryEmbedding,
    RotaryPositions,
    apply_rotary,
    axial_rotary_frequencies,
    mixed_rotary_frequencies,
    rotary_angles,
)
from monai_afpe.networks.blocks.spacing_embedding import SPACING_EMBEDDING_TARGETS, SpacingEmbedding
from monai_afpe.networks.blocks.transformer_block import SDPATransformerBlock

__all__ = [
    "apply_rotary",
    "axial_rotary_frequencies",
    "mixed_rotary_frequencies",
    "rotary_angles",
    "ROTARY_DEFAULT_THETA",
    "ROTARY_KINDS",
    "RotaryEmbedding",
    "RotaryPositions",
    "SPACING_EMBEDDING_TARGETS",
    "SpacingEmbedding",
    "build_positional_embedding",
    "check_patch_grid",
    "check_spacing",
    "CLASS_TOKEN_POSITIONS",
    "default_afpe_scales",
    "fourier_features",
    "fuse_monai_attention",
    "FourierPositionalEmbedding",
    "grid_positions",
    "LearnablePositionalEmbedding",
    "NoPositionalEmbedding",
    "PatchEmbedding",
    "physical_positions",
    "POSITION_MODES",
    "POSITIONAL_EMBEDDING_KINDS",
    "PositionalEmbedding",
    "positional_embedding_options",
    "SDPASelfAttention",
    "SDPATransformerBlock",
    "sincos_axis_order",
    "sincos_features",
    "SinCosPositionalEmbedding",
]
