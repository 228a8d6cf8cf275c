"""Pre-norm transformer encoder block with fused (SDPA) self-attention."""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.blocks import MLPBlock

from monai_afpe.networks.blocks.attention import SDPASelfAttention

__all__ = ["SDPATransformerBlock"]


class SDPATransformerBlock(nn.Module):
    """``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``: MONAI's ``TransformerBlock`` with fused attention.

    Parameter names match MONAI's ``TransformerBlock`` (``norm1``, ``attn.qkv``, ``attn.out_proj``,
    ``norm2``, ``mlp.linear1``, ``mlp.linear2``; the MLP is MONAI's ``MLPBlock``), so MONAI ViT / UNETR
    blocks load unchanged. It differs in two ways that matter for training: attention runs through
    :class:`~monai_afpe.networks.blocks.attention.SDPASelfAttention`, and there is no unused
    cross-attention norm (MONAI 1.6 always creates ``norm_cross_attn``, a parameter that never gets a
    gradient and makes ``DistributedDataParallel`` fail without ``find_unused_parameters``).

    Args:
        hidden_size: token feature size.
        mlp_dim: hidden size of the MLP.
        num_heads: attention heads; must divide ``hidden_size``.
        dropout_rate: dropout in attention and MLP, in training.
        qkv_bias: give the query-key-value projection a bias.
    """

    def __init__(
        self, hidden_size: int, mlp_dim: int, num_heads: int, dropout_rate: float = 0.0, qkv_bias: bool = False
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size)
        self.attn = SDPASelfAttention(hidden_size, num_heads, dropout_rate, qkv_bias)
        self.norm2 = nn.LayerNorm(hidden_size)
        self.mlp = MLPBlock(hidden_size, mlp_dim, dropout_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to tokens ``(B, N, hidden_size)``."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
