"""Pre-norm transformer encoder block with fused (SDPA) self-attention: a fork of MONAI's ``TransformerBlock``.

It mirrors ``monai.networks.blocks.TransformerBlock`` of MONAI 1.6.1 (``monai/networks/blocks/transformerblock.py``)
without cross-attention: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``, with MONAI's parameter names and
MONAI's own ``MLPBlock``, so MONAI ViT / UNETR blocks load (their ``norm_cross_attn`` keys are skipped). It
exists because of two things in MONAI 1.6.1:

- ``TransformerBlock.__init__`` always creates ``norm_cross_attn = nn.LayerNorm(hidden_size)`` but uses it
  only when ``with_cross_attention=True``. In a self-attention block its weight and bias never get a
  gradient, and ``DistributedDataParallel`` without ``find_unused_parameters=True`` then stops at the second
  training step ("Expected to have finished reduction in the prior iteration ..."); the bundles'
  ``multi_gpu_train.json`` wrap the network in plain DDP.
- its attention is ``SABlock``, whose fused path drops attention weights in eval mode and which cannot
  rotate queries and keys (see :mod:`monai_afpe.networks.blocks.attention`); ``forward`` here passes
  rotary ``positions`` and the number of prefix (class) tokens.

What would let it go: a MONAI release that creates ``norm_cross_attn`` only with cross-attention, together
with the ``SABlock`` fixes that would retire ``SDPASelfAttention``.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
from monai.networks.blocks import MLPBlock

from monai_afpe.networks.blocks.attention import SDPASelfAttention
from monai_afpe.networks.blocks.rotary_embedding import RotaryEmbedding

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
        rotary: the block's rotary embedding of queries and keys, or ``None``.
    """

    def __init__(
        self,
        hidden_size: int,
        mlp_dim: int,
        num_heads: int,
        dropout_rate: float = 0.0,
        qkv_bias: bool = False,
        rotary: Optional[RotaryEmbedding] = None,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size)
        self.attn = SDPASelfAttention(hidden_size, num_heads, dropout_rate, qkv_bias, rotary)
        self.norm2 = nn.LayerNorm(hidden_size)
        self.mlp = MLPBlock(hidden_size, mlp_dim, dropout_rate)

    def forward(
        self, x: torch.Tensor, positions: Optional[torch.Tensor] = None, num_prefix_tokens: int = 0
    ) -> torch.Tensor:
        """Apply the block to tokens ``(B, N, hidden_size)``; ``positions`` feed a rotary embedding (see ``attn``)."""
        x = x + self.attn(self.norm1(x), positions, num_prefix_tokens)
        return x + self.mlp(self.norm2(x))
