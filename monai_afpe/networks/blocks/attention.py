"""Multi-head self-attention through PyTorch's fused ``scaled_dot_product_attention``: a fork of MONAI's ``SABlock``.

It mirrors ``monai.networks.blocks.SABlock`` of MONAI 1.6.1 (``monai/networks/blocks/selfattention.py``) in
its default layout (``use_combined_linear=True``, ``include_fc=True``, no causal mask, no relative
positions): same ``qkv`` and ``out_proj`` parameters, same ``softmax(q kᵀ / sqrt(d)) v``. It exists because
of two things MONAI 1.6.1 does not give:

- with ``use_flash_attention=True``, ``SABlock.forward`` passes ``dropout_p=self.dropout_rate`` to
  ``scaled_dot_product_attention`` whether or not the module is training, so with ``dropout_rate > 0``
  attention weights are dropped in ``eval()`` too and inference is random (two calls on the same input
  differ); here the attention dropout is ``self.dropout_rate if self.training else 0``;
- ``SABlock`` offers no way to transform queries and keys between the projection and the attention, which
  the rotary embeddings (``docs/design.md §1.6``) need; here ``forward`` takes the token ``positions``.

What would let it go: a MONAI release whose fused ``SABlock`` applies attention dropout in training only
and that accepts a rotary embedding (or a query / key hook); ``SDPATransformerBlock`` could then build
``SABlock(use_flash_attention=True)`` and the weights would load unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_afpe.inferers.autocast import computes_natively_in
from monai_afpe.networks.blocks.rotary_embedding import RotaryEmbedding
from monai_afpe.validation import check_num_heads, check_probability

__all__ = ["SDPASelfAttention", "UNFUSED_BF16_CPU_MAX_TOKENS", "fuse_monai_attention", "unfused_attention"]

UNFUSED_BF16_CPU_MAX_TOKENS = 256
"""Longest token sequence attended by :func:`unfused_attention` in bfloat16 on a CPU that computes in it natively.

PyTorch 2.13's fused CPU kernel is slow in bfloat16 on short sequences. ``benchmarks/bench_attention.py`` (2 CPU
cores with AVX512-BF16, two runs) measured forward and backward 3.4-4.5x faster unfused at 65 and 129 tokens and
the forward alone 1.2-1.7x faster; at 257 and 513 tokens the two are near their crossing (from 2x faster to 1.35x
slower between runs); from 1025 tokens on the fused kernel is 2.2-2.7x faster in training, 3.3-4.1x in the
forward, and never stores the ``N x N`` matrix. On a CPU without AVX512-BF16 or AMX (2 AVX2 cores) PyTorch emulates
bfloat16 and the unfused path is the slow one (3.1x in training, 11-13x in the forward at 65 and 129 tokens), so
there, as in float32 and on GPUs, every length uses the fused kernel.
"""


def unfused_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_rate: float = 0.0, training: bool = False
) -> torch.Tensor:
    """``softmax(q kᵀ / sqrt(d)) v`` as two matmuls, the softmax in float32, in the dtype of ``value``.

    Args:
        query, key, value: ``(..., N, head_dim)``.
        dropout_rate: dropout on the attention weights, applied when ``training``.
        training: apply the dropout.
    """
    scores = torch.matmul(query * query.shape[-1] ** -0.5, key.transpose(-2, -1)).float()
    return torch.matmul(F.dropout(scores.softmax(dim=-1).to(value.dtype), dropout_rate, training), value)


class SDPASelfAttention(nn.Module):
    """Multi-head self-attention computed by :func:`torch.nn.functional.scaled_dot_product_attention`.

    Numerically the attention of MONAI's ``SABlock`` (``softmax(q kᵀ / sqrt(d)) v``), with the same
    parameter names and layout (``qkv``: one linear layer whose output splits as ``(3, heads, head_dim)``;
    ``out_proj``), so MONAI ViT / UNETR weights load unchanged. The fused kernel never stores the
    ``N x N`` attention matrix, which makes long token sequences (a 1568-token echo clip) several times
    faster and smaller on CPU and GPU. In bfloat16 on a CPU with AVX512-BF16 or AMX
    (:func:`~monai_afpe.inferers.computes_natively_in`), sequences of at most
    :data:`UNFUSED_BF16_CPU_MAX_TOKENS` tokens go through :func:`unfused_attention` instead, which is several
    times faster there in training (the CT bundle's transformer, 65 tokens: a 1.6x faster train step,
    ``benchmarks/bench_networks.py --configs ct-bundle --bf16``). Unlike ``SABlock(use_flash_attention=True)``
    in MONAI 1.6, the attention dropout is applied in training only.

    Args:
        hidden_size: token feature size.
        num_heads: attention heads; must divide ``hidden_size``.
        dropout_rate: dropout on the attention weights and on the output, in training.
        qkv_bias: give the query-key-value projection a bias.
        rotary: a :class:`~monai_afpe.networks.blocks.RotaryEmbedding` that rotates queries and keys by
            their positions before the fused kernel, or ``None``.

    Raises:
        ValueError: ``dropout_rate`` outside ``[0, 1]`` or ``hidden_size`` not divisible by ``num_heads``.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        dropout_rate: float = 0.0,
        qkv_bias: bool = False,
        rotary: Optional[RotaryEmbedding] = None,
    ):
        super().__init__()
        self.dropout_rate = check_probability(dropout_rate, "dropout_rate")
        self.num_heads = check_num_heads(hidden_size, num_heads)
        self.head_dim = int(hidden_size) // self.num_heads
        self.unfused_bf16_cpu_max_tokens = (
            UNFUSED_BF16_CPU_MAX_TOKENS if computes_natively_in("cpu", torch.bfloat16) else 0
        )
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size, bias=qkv_bias)
        self.out_proj = nn.Linear(hidden_size, hidden_size)
        self.drop_output = nn.Dropout(dropout_rate)
        self.rotary = rotary

    def forward(
        self, x: torch.Tensor, positions: Optional[torch.Tensor] = None, num_prefix_tokens: int = 0
    ) -> torch.Tensor:
        """Attend over the tokens of ``x`` ``(B, N, hidden_size)``; returns the same shape.

        Args:
            x: tokens.
            positions: token positions ``(B | 1, N - num_prefix_tokens, m)`` for the rotary embedding
                (ignored without one).
            num_prefix_tokens: leading tokens without a position (a class token).
        """
        batch, tokens, channels = x.shape
        # unbind, not qkv[0], qkv[1], qkv[2]: its backward stacks once instead of zero-filling three full copies
        query, key, value = (
            self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        )
        if self.rotary is not None and positions is not None:
            query, key = self.rotary(query, key, positions, num_prefix_tokens)
        if query.device.type == "cpu" and query.dtype == torch.bfloat16 and tokens <= self.unfused_bf16_cpu_max_tokens:
            attended = unfused_attention(query, key, value, self.dropout_rate, self.training)
        else:
            attended = F.scaled_dot_product_attention(
                query, key, value, dropout_p=self.dropout_rate if self.training else 0.0
            )
        return self.drop_output(self.out_proj(attended.transpose(1, 2).reshape(batch, tokens, channels)))


def fuse_monai_attention(blocks: Iterable[nn.Module], dropout_rate: float) -> None:
    """Give MONAI's own transformer blocks PyTorch's fused attention where that changes nothing but speed.

    MONAI 1.6 offers ``use_flash_attention`` on ``SABlock`` but not through ``ViT`` or ``UNETR``; without it a
    MONAI baseline would be slowed by the attention matrix, not by its design. With ``dropout_rate > 0`` MONAI's
    unfused attention is kept: its fused path drops attention weights in evaluation too (see this module).

    Args:
        blocks: MONAI ``TransformerBlock``s, e.g. ``ViT.blocks``; each one's ``attn`` is an ``SABlock``.
        dropout_rate: the dropout rate the blocks were built with.
    """
    for block in blocks:
        block.attn.use_flash_attention = dropout_rate == 0.0
