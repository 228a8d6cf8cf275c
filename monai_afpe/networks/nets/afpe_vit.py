"""Vision Transformer for 2D, 3D and video with a choice of (spacing-conditioned) positional embedding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from monai.utils import ensure_tuple_rep, look_up_option
from torch.utils.checkpoint import checkpoint

from monai_afpe.networks.blocks.head_start import start_head
from monai_afpe.networks.blocks.patch_embedding import PatchEmbedding, check_patch_grid
from monai_afpe.networks.blocks.positional_embedding_factory import build_positional_embedding
from monai_afpe.networks.blocks.rotary_embedding import RotaryEmbedding, RotaryPositions
from monai_afpe.networks.blocks.spacing_embedding import SpacingEmbedding
from monai_afpe.networks.blocks.transformer_block import SDPATransformerBlock
from monai_afpe.validation import check_num_heads, check_probability

__all__ = ["AFPEViT", "VIT_TASKS", "VIT_POOLING"]

VIT_TASKS = ("classification", "multilabel", "regression")
VIT_POOLING = ("cls", "mean")


class AFPEViT(nn.Module):
    """Vision Transformer whose positional embedding is any kind of the AFPE study, with one output tensor.

    Built for "Anisotropic Fourier Features for Positional Encoding in Medical Imaging" (arXiv 2509.02488):
    patch (tubelet) tokens get a positional embedding from
    :func:`~monai_afpe.networks.blocks.build_positional_embedding` (``none``, ``learnable``, ``sincos``,
    ``ifpe``, ``afpe``, ``lfpe``, ``afpe_learnable_scales``), pass through pre-norm transformer blocks with
    fused attention (:class:`~monai_afpe.networks.blocks.SDPATransformerBlock`), and a linear head turns the
    class token (or the token mean) into logits or values. Compared with MONAI's ``ViT``: ``forward``
    returns one tensor (no hidden-state tuple, no ``Tanh``), takes the voxel spacing of each sample, runs
    at any input size divisible by the patch size, and is several times faster on long sequences.

    Inputs are channel-first: ``(B, C, H, W)`` with ``spatial_dims=2``, ``(B, C, X, Y, Z)`` or a video
    ``(B, C, T, H, W)`` with ``spatial_dims=3`` (then ``patch_size=(t, h, w)`` is a tubelet and the spacing
    is ``(dt [s], dy [mm], dx [mm])``). Spacing always follows the array axes.

    Spacing: a Fourier embedding in physical mode (``pos_embed_kwargs={"mode": "physical",
    "reference_extent": ...}``) places tokens at their physical centres, computed per sample from
    ``forward(x, spacing=(B, m) tensor)``; the network passes its ``patch_size`` to the embedding. Other
    kinds and grid mode ignore ``spacing``. MONAI engines pass it from the batch with
    ``PrepareBatchExtraInput(extra_keys={"spacing": "image_spacing"})``.

    Two further ways to use spacing, off by default and combinable with every positional kind, so that
    experiments can tell them apart: ``spacing_embedding`` tells the network each sample's
    spacing (:class:`~monai_afpe.networks.blocks.SpacingEmbedding`: added to the class token, to every
    token, or FiLM) without placing tokens in millimetres; ``rotary_embedding`` rotates the queries and
    keys of every block by the token positions (:class:`~monai_afpe.networks.blocks.RotaryEmbedding`,
    axial or RoPE-Mixed), in token units or, in physical mode, in millimetres, so that attention scores
    depend on offsets in mm.

    Input size: continuous embeddings (all but ``learnable``) are evaluated exactly on the token grid of
    the input, so the network runs at any size divisible by ``patch_size`` without interpolation; a
    ``learnable`` table is interpolated with a warning.

    Mixed precision: run ``forward`` under ``torch.autocast(device_type, dtype=torch.bfloat16)`` on CPU or
    CUDA; attention then uses the bf16 fused kernel.

    Args:
        in_channels: input channels.
        img_size: the default (training) input size, one value or one per spatial axis; it fixes the
            ``learnable`` table and the cached grid-mode table.
        patch_size: patch (tubelet) size, one value or one per axis; must divide ``img_size``.
        hidden_size: token feature size.
        mlp_dim: MLP hidden size of each block.
        num_layers: transformer blocks.
        num_heads: attention heads; must divide ``hidden_size``.
        dropout_rate: dropout after the positional embedding, in attention and in the MLPs.
        spatial_dims: spatial axes, 2 or 3 (a video is 3); 1 works for signals.
        qkv_bias: give the query-key-value projections a bias.
        pos_embed: positional-embedding kind, one of ``POSITIONAL_EMBEDDING_KINDS``.
        pos_embed_kwargs: options of that kind, passed to ``build_positional_embedding``: ``seed``,
            ``cls_position`` (``"none"``, ``"learned"``, ``"fourier"``), ``temperature`` (sincos), ``scales``,
            ``mode`` (``"grid"``, ``"physical"``), ``reference_extent``, ``spacing`` (default spacing),
            ``cls_coordinate`` (Fourier kinds). ``patch_size`` is set by the network.
        num_classes: outputs of the head (classes, labels or regression targets); 0 removes the head and
            ``forward`` returns the pooled features ``(B, hidden_size)``.
        task: ``"classification"`` (single-label logits, at least 2, for ``CrossEntropyLoss``),
            ``"multilabel"`` (one logit per label, for ``BCEWithLogitsLoss``) or ``"regression"`` (values).
        pooling: ``"cls"``: a class token (initialised to zero, as in MONAI, plus the embedding's
            class-token position) feeds the head; ``"mean"``: the mean of the patch tokens, no class token.
        output_bias: initial bias of the head in output units, one value or one per output, e.g. the mean
            target of a regression or the log prior odds of rare labels.
        output_scale: regression only: a fixed factor on the head's output, one value or one per output,
            e.g. the standard deviation of the training targets. With ``output_bias`` at the target mean
            the head then starts in normalised units: ``y = output_scale * (W h + b)``, ``b`` initialised to
            ``output_bias / output_scale``, which lets training leave the predict-the-mean plateau. Stored
            as a buffer, so checkpoints keep it.
        stem_channels: None (default): each patch is projected by one strided convolution, as in MONAI's
            ``ViT``; channel counts: a convolutional stem of that many conv-norm-activation layers with
            the same token grid (see :class:`~monai_afpe.networks.blocks.PatchEmbedding`; ``patch_size``
            must then be a power of two per axis). ``bundles/afpe_ct_classification/docs/README.md``
            compares it with linear patches on a CPU budget.
        stem_norm: normalisation of the stem layers (MONAI norm name or ``(name, kwargs)``).
        stem_act: activation of the stem layers (MONAI activation name or ``(name, kwargs)``).
        spacing_embedding: None (default), or where a learned embedding of log-spacing acts: ``"cls"`` (the
            class token; needs ``pooling="cls"``), ``"tokens"`` (every token) or ``"film"`` (scale and
            shift of every token).
        spacing_embedding_kwargs: options of :class:`~monai_afpe.networks.blocks.SpacingEmbedding`:
            ``mlp_dim``, ``reference_spacing``, ``spacing`` (default spacing).
        rotary_embedding: None (default), ``"axial"`` or ``"mixed"`` (RoPE-Mixed, learned per head and block).
        rotary_embedding_kwargs: ``mode`` (``"grid"`` or ``"physical"``), ``reference_extent`` (mm or s
            per position unit, physical mode), ``spacing`` (default spacing), ``theta`` (frequency ladder
            base) and ``seed`` (frames of ``"mixed"``). The network passes its ``patch_size``.
        gradient_checkpointing: in training with gradients, recompute each transformer block's activations
            in the backward pass instead of storing them (``torch.utils.checkpoint``): activation memory
            of one block instead of all, for about one more forward pass of compute. For long token
            sequences; results are unchanged.

    Raises:
        ValueError: invalid sizes, rates, task, pooling or head options, a ``cls_position`` other than
            ``"none"`` with ``pooling="mean"``, ``patch_size`` in ``pos_embed_kwargs``, or a bad embedding
            option (see ``build_positional_embedding``).

    Example::

        >>> net = AFPEViT(3, img_size=(16, 112, 112), patch_size=(2, 8, 8), hidden_size=384, mlp_dim=1024,
        ...               num_layers=8, num_heads=8, pos_embed="afpe",
        ...               pos_embed_kwargs={"scales": (0.78, 0.11, 0.11), "seed": 0},
        ...               num_classes=1, task="regression", output_bias=55.0, output_scale=12.0)
        >>> net(torch.rand(2, 3, 16, 112, 112)).shape
        torch.Size([2, 1])
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
        pos_embed: str = "afpe",
        pos_embed_kwargs: dict | None = None,
        num_classes: int = 2,
        task: str = "classification",
        pooling: str = "cls",
        output_bias: Sequence[float] | float | None = None,
        output_scale: Sequence[float] | float | None = None,
        stem_channels: Sequence[int] | int | None = None,
        stem_norm: tuple | str = "batch",
        stem_act: tuple | str = "gelu",
        spacing_embedding: str | None = None,
        spacing_embedding_kwargs: dict | None = None,
        rotary_embedding: str | None = None,
        rotary_embedding_kwargs: dict | None = None,
        gradient_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        self.gradient_checkpointing = bool(gradient_checkpointing)
        check_probability(dropout_rate, "dropout_rate")
        check_num_heads(hidden_size, num_heads)
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}.")
        self.task = look_up_option(task, VIT_TASKS)
        self.pooling = look_up_option(pooling, VIT_POOLING)
        min_outputs = 2 if self.task == "classification" else 1
        if num_classes != 0 and num_classes < min_outputs:
            hint = " (a single logit is task='multilabel' with num_classes=1)" if self.task == "classification" else ""
            raise ValueError(
                f"num_classes must be 0 (no head) or at least {min_outputs} for task='{self.task}', "
                f"got {num_classes}{hint}."
            )
        self.num_classes = int(num_classes)

        self.patch_embedding = PatchEmbedding(
            in_channels, patch_size, hidden_size, spatial_dims, stem_channels, stem_norm, stem_act
        )
        self.patch_size: List[int] = self.patch_embedding.patch_size
        self.img_size: List[int] = [int(s) for s in ensure_tuple_rep(img_size, spatial_dims)]
        self.grid_size: List[int] = check_patch_grid(self.img_size, self.patch_size, name="img_size")

        kwargs = dict(pos_embed_kwargs or {})
        if "patch_size" in kwargs:
            raise ValueError(
                f"pos_embed_kwargs must not set patch_size (got {kwargs['patch_size']}): the network passes its own "
                f"patch_size {self.patch_size} to the positional embedding."
            )
        if kwargs.get("mode") == "physical":
            kwargs["patch_size"] = self.patch_size
        if self.pooling == "mean" and kwargs.get("cls_position", "none") != "none":
            raise ValueError(
                f"pos_embed_kwargs cls_position='{kwargs['cls_position']}' positions a class token, but pooling='mean' "
                "has none; use pooling='cls' or cls_position='none'."
            )
        self.position_embedding = build_positional_embedding(pos_embed, self.grid_size, hidden_size, **kwargs)
        self.dropout = nn.Dropout(dropout_rate)
        if self.pooling == "cls":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, hidden_size))
        else:
            self.register_parameter("cls_token", None)
        if spacing_embedding == "cls" and self.pooling != "cls":
            raise ValueError("spacing_embedding='cls' conditions the class token, but pooling='mean' has none.")
        if spacing_embedding is None and spacing_embedding_kwargs:
            raise ValueError(f"spacing_embedding_kwargs {spacing_embedding_kwargs} given without spacing_embedding.")
        self.spacing_embedding = (
            None
            if spacing_embedding is None
            else SpacingEmbedding(spatial_dims, hidden_size, spacing_embedding, **(spacing_embedding_kwargs or {}))
        )
        if rotary_embedding is None and rotary_embedding_kwargs:
            raise ValueError(f"rotary_embedding_kwargs {rotary_embedding_kwargs} given without rotary_embedding.")
        self.rotary_positions = None
        rotary: List[Optional[RotaryEmbedding]] = [None] * num_layers
        if rotary_embedding is not None:
            options = dict(rotary_embedding_kwargs or {})
            theta, seed = options.pop("theta", None), int(options.pop("seed", 0))
            self.rotary_positions = RotaryPositions(spatial_dims, patch_size=self.patch_size, **options)
            rotary = [
                RotaryEmbedding(
                    num_heads, hidden_size // num_heads, spatial_dims, rotary_embedding, theta, seed * 1000 + i
                )
                for i in range(num_layers)
            ]
        self.blocks = nn.ModuleList(
            [
                SDPATransformerBlock(hidden_size, mlp_dim, num_heads, dropout_rate, qkv_bias, rotary[i])
                for i in range(num_layers)
            ]
        )
        self.norm = nn.LayerNorm(hidden_size)

        self.head: nn.Module = nn.Identity()
        self.register_buffer("output_scale", None)
        if self.num_classes == 0:
            if output_bias is not None or output_scale is not None:
                raise ValueError("output_bias and output_scale need a head: num_classes must be positive.")
            return
        self.head = nn.Linear(hidden_size, self.num_classes)
        self.output_scale = start_head(self.head, self.task, output_bias, output_scale)

    def forward_features(
        self, x: torch.Tensor, spacing: Optional[torch.Tensor] = None, return_hidden_states: bool = False
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Encode ``x`` into normalised tokens; the backbone of :meth:`forward` and of ``AFPEUNETR``.

        Args:
            x: input ``(B, C, *spatial)``; every spatial size a multiple of ``patch_size``.
            spacing: voxel spacing per array axis, ``(B, m)`` (one row per sample) or ``(m,)``.
            return_hidden_states: also return the output of every block (before the final norm).

        Returns:
            the tokens after the final layer norm, ``(B, 1 + N, D)`` with the class token first for
            ``pooling="cls"``, else ``(B, N, D)``; and the per-block outputs (empty unless requested).

        Raises:
            ValueError: wrong input shape or size (naming the axis and the sizes that work), or a spacing
                whose rows do not match the batch.
            TypeError: a spacing that is not a tensor (a list, say).
        """
        if spacing is not None and not isinstance(spacing, torch.Tensor):
            raise TypeError(
                "spacing must be a torch.Tensor of shape (B, m) or (m,) in mm (s for a time axis); convert a list "
                "or an array with torch.as_tensor(spacing, dtype=torch.float32)."
            )
        tokens, grid = self.patch_embedding(x)
        batch = tokens.shape[0]
        if spacing is not None and spacing.dim() == 2 and spacing.shape[0] != 1 and spacing.shape[0] != batch:
            raise ValueError(
                f"spacing has {spacing.shape[0]} rows but the input batch has {batch} samples: pass one row per "
                f"sample, shape ({batch}, {len(grid)}), or one spacing for all, shape ({len(grid)},)."
            )
        tokens = self.dropout(self.position_embedding(tokens, spacing, grid))
        if self.cls_token is not None:
            cls = self.cls_token.expand(batch, -1, -1)
            cls_position = self.position_embedding.class_embedding(batch, spacing)
            if cls_position is not None:
                cls = cls + cls_position
            tokens = torch.cat([cls.to(tokens.dtype), tokens], dim=1)
        if self.spacing_embedding is not None:
            tokens = self.spacing_embedding(tokens, spacing)
        positions: Optional[torch.Tensor] = None
        if self.rotary_positions is not None:
            positions = self.rotary_positions(grid, spacing)
        num_prefix_tokens = 0 if self.cls_token is None else 1
        hidden_states: List[torch.Tensor] = []
        checkpointing = self.gradient_checkpointing and self.training and torch.is_grad_enabled()
        for block in self.blocks:
            if checkpointing and not torch.jit.is_scripting():
                tokens = checkpoint(block, tokens, positions, num_prefix_tokens, use_reentrant=False)
            else:
                tokens = block(tokens, positions, num_prefix_tokens)
            if return_hidden_states:
                hidden_states.append(tokens)
        return self.norm(tokens), hidden_states

    def forward(self, x: torch.Tensor, spacing: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits or values ``(B, num_classes)`` (pooled features ``(B, hidden_size)`` when ``num_classes=0``).

        Args:
            x: input ``(B, C, *spatial)``; every spatial size a multiple of ``patch_size``.
            spacing: voxel spacing per array axis (mm, s), ``(B, m)`` or ``(m,)``; used by physical-mode
                embeddings and the spacing embedding, ignored by the others.
        """
        tokens, _ = self.forward_features(x, spacing)
        pooled = tokens[:, 0] if self.pooling == "cls" else tokens.mean(dim=1)
        out = self.head(pooled)
        if self.output_scale is not None:
            out = out * self.output_scale.to(out.dtype)
        return out
