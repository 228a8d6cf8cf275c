"""MONAI's UNETR with a one-tensor forward that accepts spacing: the baseline a MONAI user would train."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn as nn

from monai_afpe.networks.blocks.attention import fuse_monai_attention

__all__ = ["MonaiUNETR"]


class MonaiUNETR(nn.Module):
    """MONAI's ``UNETR`` with the harness interface: ``forward(x, spacing=None)`` returns segmentation logits.

    MONAI fixes two things the AFPE arms vary: the encoder's positional embedding is MONAI ``ViT``'s default
    ``pos_embed_type="learnable"`` (a trainable table for the training input size) and the encoder has 12
    blocks. Patches are 16 voxels, as in :class:`~monai_afpe.networks.nets.AFPEUNETR`. The attention blocks get
    ``use_flash_attention`` (PyTorch's fused kernel), which MONAI 1.6 offers on ``SABlock`` but not through
    ``UNETR``, so the baseline is not slowed by the attention matrix. Spacing is accepted and ignored.
    With ``dropout_rate > 0`` MONAI's unfused attention is kept: its fused path drops attention weights in
    evaluation too.

    Args:
        in_channels, out_channels, img_size, feature_size, hidden_size, mlp_dim, num_heads, dropout_rate,
        spatial_dims, qkv_bias: as in ``monai.networks.nets.UNETR``.
        num_layers: must be 12 (MONAI's UNETR has no such option; accepted so that the harness's model options
            pass through unchanged).

    Raises:
        ValueError: ``num_layers`` other than 12.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        img_size: Sequence[int] | int,
        feature_size: int = 16,
        hidden_size: int = 768,
        mlp_dim: int = 3072,
        num_layers: int = 12,
        num_heads: int = 12,
        dropout_rate: float = 0.0,
        spatial_dims: int = 3,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        from monai.networks.nets import UNETR

        if num_layers != 12:
            raise ValueError(f"MONAI's UNETR has 12 transformer blocks (fixed by MONAI), got num_layers={num_layers}.")
        self.unetr = UNETR(
            in_channels=in_channels,
            out_channels=out_channels,
            img_size=img_size,
            feature_size=feature_size,
            hidden_size=hidden_size,
            mlp_dim=mlp_dim,
            num_heads=num_heads,
            dropout_rate=dropout_rate,
            spatial_dims=spatial_dims,
            qkv_bias=qkv_bias,
        )
        fuse_monai_attention(self.unetr.vit.blocks, dropout_rate)
        self.patch_size = [int(p) for p in self.unetr.patch_size]

    @property
    def vit(self) -> nn.Module:
        """The transformer encoder (for the harness's FLOP estimate)."""
        return self.unetr.vit

    def forward(self, x: torch.Tensor, spacing: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits ``(B, out_channels, *spatial)``; ``spacing`` is ignored."""
        return self.unetr(x)
