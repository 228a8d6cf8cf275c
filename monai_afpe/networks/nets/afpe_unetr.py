"""UNETR segmentation network on the AFPE Vision Transformer encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import List, Optional

import torch
import torch.nn as nn
from monai.networks.blocks import UnetOutBlock, UnetrBasicBlock, UnetrPrUpBlock, UnetrUpBlock

from monai_afpe.networks.nets.afpe_vit import AFPEViT

__all__ = ["AFPEUNETR", "UNETR_PATCH_SIZE"]

UNETR_PATCH_SIZE = 16


class AFPEUNETR(nn.Module):
    """UNETR (Hatamizadeh et al., arXiv 2103.10504) whose ViT encoder takes any AFPE positional embedding.

    MONAI's ``UNETR`` with its decoder unchanged (``UnetrBasicBlock``, ``UnetrPrUpBlock``, ``UnetrUpBlock``,
    ``UnetOutBlock``) and its ``ViT`` replaced by :class:`~monai_afpe.networks.nets.AFPEViT` without head
    or class token, so it gains the positional-embedding choice of arXiv 2509.02488, per-sample spacing
    (``forward(x, spacing=...)``), fused attention, and any input size divisible by 16. Parameter names
    follow MONAI's ``UNETR``: :func:`~monai_afpe.networks.nets.load_monai_unetr_state_dict` loads its
    weights.

    As in MONAI, patches are 16 voxels along every axis (the decoder upsamples four times by 2) and the
    skip connections read the blocks at a quarter, half and three quarters of the depth (blocks 3, 6 and
    9 of 12).

    Sliding-window inference (``SlidingWindowInferer``, which passes ``spacing`` on to every call) with
    per-sample spacing needs an evaluation batch of one image: MONAI batches windows across images, so
    the rows of a ``(B, m)`` spacing would not follow their windows.

    Args:
        in_channels: input channels.
        out_channels: output channels (segmentation classes).
        img_size: default (training) input size, one value or one per axis, each a multiple of 16.
        feature_size: channels of the first decoder level.
        hidden_size: ViT token size.
        mlp_dim: ViT MLP size.
        num_layers: ViT blocks, a multiple of 4 (MONAI uses 12).
        num_heads: attention heads.
        pos_embed: positional-embedding kind (see :class:`~monai_afpe.networks.nets.AFPEViT`).
        pos_embed_kwargs: options of that kind; ``cls_position`` must stay ``"none"`` (no class token).
        norm_name: decoder normalisation, e.g. ``"instance"`` or ``("group", {"num_groups": 8})``.
        conv_block: use convolutional blocks in the encoder branches.
        res_block: use residual blocks.
        dropout_rate: ViT dropout.
        spatial_dims: 2 or 3.
        qkv_bias: give the query-key-value projections a bias.
        spacing_embedding: None, ``"tokens"`` or ``"film"``: a learned embedding of log-spacing on the
            encoder's tokens (see :class:`~monai_afpe.networks.nets.AFPEViT`; there is no class token).
        spacing_embedding_kwargs: its options (``mlp_dim``, ``reference_spacing``, ``spacing``).
        rotary_embedding: None, ``"axial"`` or ``"mixed"``: rotary positions in every encoder block.
        rotary_embedding_kwargs: its options (``mode``, ``reference_extent``, ``spacing``, ``theta``, ``seed``).
        gradient_checkpointing: recompute the encoder blocks' activations in the backward pass instead of
            storing them (see :class:`~monai_afpe.networks.nets.AFPEViT`).

    Raises:
        ValueError: ``num_layers`` not a positive multiple of 4, a ``cls_position`` other than ``"none"``, an
            ``img_size`` that is not a multiple of 16 (naming the axis), or invalid ViT options.

    Example::

        >>> net = AFPEUNETR(1, 3, img_size=(96, 96, 32), pos_embed="afpe",
        ...                 pos_embed_kwargs={"mode": "physical", "reference_extent": 200.0})
        >>> net(torch.rand(2, 1, 128, 96, 48), spacing=torch.tensor([[0.8, 0.8, 5.0], [0.7, 0.7, 3.0]])).shape
        torch.Size([2, 3, 128, 96, 48])
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
        pos_embed: str = "afpe",
        pos_embed_kwargs: dict | None = None,
        norm_name: tuple | str = "instance",
        conv_block: bool = True,
        res_block: bool = True,
        dropout_rate: float = 0.0,
        spatial_dims: int = 3,
        qkv_bias: bool = False,
        spacing_embedding: str | None = None,
        spacing_embedding_kwargs: dict | None = None,
        rotary_embedding: str | None = None,
        rotary_embedding_kwargs: dict | None = None,
        gradient_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 4 or num_layers % 4 != 0:
            raise ValueError(
                "num_layers must be a positive multiple of 4 (the skips read blocks at 1/4, 1/2 and 3/4 depth), "
                f"got {num_layers}."
            )
        cls_position = (pos_embed_kwargs or {}).get("cls_position", "none")
        if cls_position != "none":
            raise ValueError(
                f"AFPEUNETR has no class token: pos_embed_kwargs cls_position must be 'none', got '{cls_position}'."
            )
        self.skip_layers: List[int] = [num_layers // 4 * k for k in (1, 2, 3)]
        self.patch_size = UNETR_PATCH_SIZE
        self.vit = AFPEViT(
            in_channels=in_channels,
            img_size=img_size,
            patch_size=UNETR_PATCH_SIZE,
            hidden_size=hidden_size,
            mlp_dim=mlp_dim,
            num_layers=num_layers,
            num_heads=num_heads,
            dropout_rate=dropout_rate,
            spatial_dims=spatial_dims,
            qkv_bias=qkv_bias,
            pos_embed=pos_embed,
            pos_embed_kwargs=pos_embed_kwargs,
            num_classes=0,
            pooling="mean",
            spacing_embedding=spacing_embedding,
            spacing_embedding_kwargs=spacing_embedding_kwargs,
            rotary_embedding=rotary_embedding,
            rotary_embedding_kwargs=rotary_embedding_kwargs,
            gradient_checkpointing=gradient_checkpointing,
        )
        common = {"spatial_dims": spatial_dims, "kernel_size": 3, "norm_name": norm_name, "res_block": res_block}
        self.encoder1 = UnetrBasicBlock(in_channels=in_channels, out_channels=feature_size, stride=1, **common)
        self.encoder2, self.encoder3, self.encoder4 = (
            UnetrPrUpBlock(
                in_channels=hidden_size,
                out_channels=feature_size * channels,
                num_layer=num_layer,
                stride=1,
                upsample_kernel_size=2,
                conv_block=conv_block,
                **common,
            )
            for channels, num_layer in ((2, 2), (4, 1), (8, 0))
        )
        self.decoder5, self.decoder4, self.decoder3, self.decoder2 = (
            UnetrUpBlock(in_channels=c_in, out_channels=c_out, upsample_kernel_size=2, **common)
            for c_in, c_out in (
                (hidden_size, feature_size * 8),
                (feature_size * 8, feature_size * 4),
                (feature_size * 4, feature_size * 2),
                (feature_size * 2, feature_size),
            )
        )
        self.out = UnetOutBlock(spatial_dims=spatial_dims, in_channels=feature_size, out_channels=out_channels)

    @staticmethod
    def _to_feature_map(tokens: torch.Tensor, grid: List[int]) -> torch.Tensor:
        """Tokens ``(B, N, D)``, row-major over ``grid``, as a feature map ``(B, D, *grid)``."""
        return tokens.transpose(1, 2).reshape([tokens.shape[0], tokens.shape[2]] + grid)

    def forward(self, x: torch.Tensor, spacing: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Segmentation logits ``(B, out_channels, *spatial)`` for ``x`` ``(B, C, *spatial)``.

        Args:
            x: input; every spatial size a multiple of 16.
            spacing: voxel spacing per array axis, ``(B, m)`` or ``(m,)``, for physical-mode embeddings.
        """
        tokens, hidden_states = self.vit.forward_features(x, spacing, return_hidden_states=True)
        grid = [size // self.patch_size for size in x.shape[2:]]
        enc1 = self.encoder1(x)
        enc2 = self.encoder2(self._to_feature_map(hidden_states[self.skip_layers[0]], grid))
        enc3 = self.encoder3(self._to_feature_map(hidden_states[self.skip_layers[1]], grid))
        enc4 = self.encoder4(self._to_feature_map(hidden_states[self.skip_layers[2]], grid))
        dec3 = self.decoder5(self._to_feature_map(tokens, grid), enc4)
        dec2 = self.decoder4(dec3, enc3)
        dec1 = self.decoder3(dec2, enc2)
        return self.out(self.decoder2(dec1, enc1))
