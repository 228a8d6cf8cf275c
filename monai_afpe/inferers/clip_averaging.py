"""Test-time averaging over clips: EchoNet-Dynamic's protocol of predicting a video from all its clips."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from monai.inferers import Inferer

from monai_afpe.validation import check_positive_int

__all__ = ["ClipAveragingInferer"]


class ClipAveragingInferer(Inferer):
    """Run a network on every clip of each sample and average the outputs over the clips.

    Input ``(B, N, *clip_shape)`` — a batch of ``N`` clips per sample, as collated from
    :class:`~monai_afpe.transforms.clip_sampling.SampleClipd` in ``"all"`` mode — gives the mean of
    the network's outputs over ``N``: ``(B, *output_shape)``. This is EchoNet-Dynamic's test-time
    protocol. Clips go through the network in chunks of ``clip_batch_size``. A tensor keyword argument
    whose first dimension is ``B`` (e.g. ``spacing``) is repeated for each clip.

    Args:
        clip_batch_size: clips per network call (None: all ``B * N`` at once).
    """

    def __init__(self, clip_batch_size: int | None = None) -> None:
        self.clip_batch_size = check_positive_int(clip_batch_size, "clip_batch_size", allow_none=True)

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        if inputs.ndim < 3:
            raise ValueError(
                f"ClipAveragingInferer expects inputs (batch, clips, ...) with at least 3 dimensions, "
                f"got shape {tuple(inputs.shape)}."
            )
        batch, clips = inputs.shape[:2]
        flat = inputs.reshape(batch * clips, *inputs.shape[2:])
        kwargs = {
            key: value.repeat_interleave(clips, dim=0)
            if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == batch
            else value
            for key, value in kwargs.items()
        }
        size = self.clip_batch_size or flat.shape[0]
        outputs = []
        for start in range(0, flat.shape[0], size):
            chunk_kwargs = {
                key: value[start : start + size]
                if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == flat.shape[0]
                else value
                for key, value in kwargs.items()
            }
            outputs.append(network(flat[start : start + size], *args, **chunk_kwargs))
        output = torch.cat(outputs, dim=0)
        return output.reshape(batch, clips, *output.shape[1:]).mean(dim=1)
