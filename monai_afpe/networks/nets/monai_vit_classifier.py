"""MONAI's ViT as a one-tensor classifier: the baseline a MONAI user would train instead of AFPEViT."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn as nn

__all__ = ["MonaiViTClassifier"]


class MonaiViTClassifier(nn.Module):
    """MONAI's ``ViT`` as a classifier with the harness interface: ``forward(x, spacing=None)`` returns logits.

    MONAI's ``ViT(classification=True)`` returns ``(logits, hidden_states)`` and applies ``Tanh`` to the
    logits by default; here the head is linear and only the logits are returned. Its attention blocks
    get ``use_flash_attention`` (PyTorch's fused kernel), which MONAI 1.6 offers on ``SABlock`` but not
    through ``ViT``: without it the baseline would be slowed by the attention matrix, not by its design.
    With ``dropout_rate > 0`` MONAI's unfused attention is kept: its fused path drops attention weights in
    evaluation too.
    Spacing is accepted and ignored (MONAI's ViT has no use for it).

    Args:
        in_channels, img_size, patch_size, hidden_size, mlp_dim, num_layers, num_heads, dropout_rate,
        spatial_dims, qkv_bias: as in ``monai.networks.nets.ViT``.
        pos_embed: MONAI's ``pos_embed_type``: ``"none"``, ``"learnable"`` or ``"sincos"``.
        num_classes: logits of the head.
    """

    def __init__(
        self,
        in_channels: int,
        img_size: Sequence[int] | int,
        patch_size: Sequence[int] | int,
        hidden_size: int = 768,
        mlp_dim: int = 3072,
        num_layers: int = 12,
        num_heads: int = 12,
        dropout_rate: float = 0.0,
        spatial_dims: int = 3,
        qkv_bias: bool = False,
        pos_embed: str = "learnable",
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        from monai.networks.nets import ViT
        from monai.utils import ensure_tuple_rep

        self.vit = ViT(
            in_channels=in_channels,
            img_size=img_size,
            patch_size=patch_size,
            hidden_size=hidden_size,
            mlp_dim=mlp_dim,
            num_layers=num_layers,
            num_heads=num_heads,
            pos_embed_type=pos_embed,
            classification=True,
            num_classes=num_classes,
            dropout_rate=dropout_rate,
            spatial_dims=spatial_dims,
            post_activation=None,
            qkv_bias=qkv_bias,
        )
        for block in self.vit.blocks:
            block.attn.use_flash_attention = dropout_rate == 0.0
        self.patch_size = [int(p) for p in ensure_tuple_rep(patch_size, spatial_dims)]
        self.pooling = "cls"

    @property
    def blocks(self) -> nn.ModuleList:
        """The transformer blocks (for the harness's FLOP estimate)."""
        return self.vit.blocks

    @property
    def norm(self) -> nn.Module:
        """The final layer norm (for the harness's FLOP estimate)."""
        return self.vit.norm

    def forward(self, x: torch.Tensor, spacing: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits ``(B, num_classes)``; ``spacing`` is ignored."""
        return self.vit(x)[0]
