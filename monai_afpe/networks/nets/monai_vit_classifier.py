"""MONAI's ViT as a one-tensor classifier: the baseline a MONAI user would train instead of AFPEViT."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn as nn
from monai.utils import look_up_option

from monai_afpe.networks.blocks.attention import fuse_monai_attention
from monai_afpe.networks.blocks.head_start import start_head
from monai_afpe.networks.nets.afpe_vit import VIT_TASKS

__all__ = ["MonaiViTClassifier"]


class MonaiViTClassifier(nn.Module):
    """MONAI's ``ViT`` as a classifier with the harness interface: ``forward(x, spacing=None)`` returns logits.

    MONAI's ``ViT(classification=True)`` returns ``(logits, hidden_states)`` and applies ``Tanh`` to the
    logits by default; here the head is linear and only the logits are returned. Its attention blocks
    get ``use_flash_attention`` (PyTorch's fused kernel), which MONAI 1.6 offers on ``SABlock`` but not
    through ``ViT``: without it the baseline would be slowed by the attention matrix, not by its design.
    With ``dropout_rate > 0`` MONAI's unfused attention is kept: its fused path drops attention weights in
    evaluation too.
    Spacing is accepted and ignored (MONAI's ViT has no use for it). For regression the head can start
    in normalised units, as :class:`~monai_afpe.networks.nets.AFPEViT`'s does (``output_bias``,
    ``output_scale``), so that a comparison with it differs only in the encoding and the input grid.

    Args:
        in_channels, img_size, patch_size, hidden_size, mlp_dim, num_layers, num_heads, dropout_rate,
        spatial_dims, qkv_bias: as in ``monai.networks.nets.ViT``.
        pos_embed: MONAI's ``pos_embed_type``: ``"none"``, ``"learnable"`` or ``"sincos"``.
        num_classes: outputs of the head (logits, or values for regression).
        task: ``"classification"``, ``"multilabel"`` or ``"regression"``, as in ``AFPEViT``.
        output_bias: initial bias of the head in output units, one value or one per output.
        output_scale: regression only: a fixed positive factor on the head's output (the target standard
            deviation), stored as a buffer.

    Raises:
        ValueError: an unknown task, or invalid ``output_bias`` / ``output_scale``.
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
        task: str = "classification",
        output_bias: Sequence[float] | float | None = None,
        output_scale: Sequence[float] | float | None = None,
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
        fuse_monai_attention(self.vit.blocks, dropout_rate)
        self.patch_size = [int(p) for p in ensure_tuple_rep(patch_size, spatial_dims)]
        self.pooling = "cls"
        self.task = look_up_option(task, VIT_TASKS)
        self.register_buffer("output_scale", None)
        self.output_scale = start_head(self.vit.classification_head, self.task, output_bias, output_scale)

    @property
    def blocks(self) -> nn.ModuleList:
        """The transformer blocks (for the harness's FLOP estimate)."""
        return self.vit.blocks

    @property
    def norm(self) -> nn.Module:
        """The final layer norm (for the harness's FLOP estimate)."""
        return self.vit.norm

    def forward(self, x: torch.Tensor, spacing: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits or values ``(B, num_classes)``; ``spacing`` is ignored."""
        out = self.vit(x)[0]
        if self.output_scale is not None:
            out = out * self.output_scale.to(out.dtype)
        return out
