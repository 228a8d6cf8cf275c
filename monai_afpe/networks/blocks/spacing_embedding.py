"""Tell a transformer its voxel spacing: a learned embedding of log-spacing added to tokens or as FiLM.

This is the "told the spacing" baseline: it gives a network each sample's spacing without
placing its tokens in millimetres, so that an experiment can separate the two ways a network can use
spacing (a physical-mode encoding, arXiv 2509.02488, changes its table with spacing and therefore also
tells the network the spacing). It combines with every positional kind and with rotary encodings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn as nn
from monai.utils import look_up_option

from monai_afpe.networks.blocks.positional_embedding import Float32Buffers, resolve_spacing
from monai_afpe.validation import check_per_axis

__all__ = ["SPACING_EMBEDDING_TARGETS", "SpacingEmbedding"]

#: where the embedding acts: added to the class token, added to every token, or FiLM on every token
SPACING_EMBEDDING_TARGETS = ("cls", "tokens", "film")


class SpacingEmbedding(Float32Buffers):
    """A learned function of ``log(spacing / reference_spacing)`` that conditions the tokens of a transformer.

    An MLP ``Linear(m, mlp_dim) - GELU - Linear(mlp_dim, out)`` maps each sample's log-spacing to

    - ``target="cls"``: a vector added to the class token (the first token);
    - ``target="tokens"``: a vector added to every token;
    - ``target="film"``: a per-channel scale and shift of every token, ``x (1 + γ) + β`` (FiLM,
      Perez et al., AAAI 2018).

    The last layer starts at zero, so a network with the embedding computes exactly what it computes
    without it until training moves that layer: adding the option never changes the starting point.
    Spacing may differ per sample (``(B, m)``); the module is TorchScript- and ONNX-exportable with the
    spacing as a live input. Log-spacing is computed in float32 (the reference and default spacings stay
    float32 when the module is cast to 16 bits) and fed to the MLP in its own dtype.

    Args:
        num_axes: spatial axes ``m`` of the spacing (3 for a volume or a 2D+t video).
        hidden_size: token feature size ``D``.
        target: one of :data:`SPACING_EMBEDDING_TARGETS`.
        mlp_dim: hidden size of the MLP.
        reference_spacing: spacing that maps to the input 0 (one value or one per axis), e.g. the typical
            spacing of the data, so the MLP sees values around zero.
        spacing: spacing used when ``forward`` gets none; ``None`` makes it required.

    Raises:
        ValueError: an unknown ``target``, non-positive sizes, or a reference or default spacing that is
            not finite and positive.

    Example::

        >>> embed = SpacingEmbedding(3, 96, target="film", reference_spacing=(1.0, 1.0, 2.5))
        >>> embed(torch.zeros(2, 65, 96), torch.tensor([[0.7, 0.7, 5.0], [1.0, 1.0, 1.0]])).shape
        torch.Size([2, 65, 96])
    """

    float32_buffers = ("log_reference_spacing", "default_spacing")

    def __init__(
        self,
        num_axes: int,
        hidden_size: int,
        target: str = "tokens",
        mlp_dim: int = 64,
        reference_spacing: Sequence[float] | float = 1.0,
        spacing: Sequence[float] | float | None = None,
    ) -> None:
        super().__init__()
        if int(num_axes) < 1 or int(hidden_size) < 1 or int(mlp_dim) < 1:
            raise ValueError(
                f"num_axes, hidden_size and mlp_dim must be positive, got {num_axes}, {hidden_size}, {mlp_dim}."
            )
        self.num_axes = int(num_axes)
        self.hidden_size = int(hidden_size)
        self.target = look_up_option(target, SPACING_EMBEDDING_TARGETS)
        reference = torch.tensor(check_per_axis(reference_spacing, self.num_axes, "reference_spacing"))
        self.register_buffer("log_reference_spacing", reference.log()[None], persistent=False)
        default = None if spacing is None else torch.tensor(check_per_axis(spacing, self.num_axes, "spacing"))[None]
        self.register_buffer("default_spacing", default, persistent=False)
        outputs = 2 * self.hidden_size if self.target == "film" else self.hidden_size
        self.mlp = nn.Sequential(nn.Linear(self.num_axes, int(mlp_dim)), nn.GELU(), nn.Linear(int(mlp_dim), outputs))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def conditioning(self, spacing: Optional[torch.Tensor], batch_size: int) -> torch.Tensor:
        """The MLP output per sample, ``(B, 1, D)`` (``(B, 1, 2D)`` for FiLM: ``γ`` then ``β``)."""
        spacing = resolve_spacing(
            spacing, self.default_spacing, self.num_axes, "the spacing embedding", self.log_reference_spacing.device
        )
        log_spacing = spacing.log() - self.log_reference_spacing
        features = self.mlp(log_spacing.to(self.mlp[0].weight.dtype))[:, None, :]
        if features.shape[0] == 1 and batch_size != 1:
            features = features.expand(batch_size, -1, -1)
        return features

    def forward(self, tokens: torch.Tensor, spacing: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Condition ``tokens`` ``(B, N, D)`` (class token first for ``target="cls"``) on ``spacing`` ``(B, m)`` or ``(m,)``."""
        features = self.conditioning(spacing, tokens.shape[0]).to(tokens.dtype)
        if self.target == "cls":
            return torch.cat([tokens[:, :1] + features, tokens[:, 1:]], dim=1)
        if self.target == "tokens":
            return tokens + features
        gamma, beta = features.chunk(2, dim=-1)
        return tokens * (1.0 + gamma) + beta
