"""The starting point of a prediction head: its bias in output units and a fixed output scale."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
from monai.utils import ensure_tuple

__all__ = ["start_head"]


def _per_output(value: Any, num_outputs: int, name: str) -> torch.Tensor:
    """One finite float per output from a scalar or a sequence of length ``num_outputs``."""
    values = [float(v) for v in ensure_tuple(value)]
    if len(values) == 1:
        values = values * num_outputs
    if len(values) != num_outputs:
        raise ValueError(f"{name} needs 1 or num_classes={num_outputs} values, got {len(values)}: {value}.")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} must be finite, got {value}.")
    return torch.tensor(values)


def start_head(head: nn.Linear, task: str, output_bias: Any = None, output_scale: Any = None) -> torch.Tensor | None:
    """Set a linear head's bias to ``output_bias / output_scale`` and return the scale to multiply its output by.

    A regression head then starts in normalised units, ``y = output_scale * (W h + b)`` with ``b`` at the
    target mean over the target standard deviation, so training leaves the predict-the-mean plateau at
    once; a classification head can start at the log prior odds of rare labels.

    Args:
        head: the network's final ``nn.Linear``; its bias is overwritten in place.
        task: the network's task; ``output_scale`` is only for ``"regression"``.
        output_bias: initial bias in output units, one value or one per output; None leaves the bias alone.
        output_scale: regression only: a positive factor on the output, one value or one per output.

    Returns:
        The output scale ``(num_outputs,)``, or None when ``output_scale`` is None.

    Raises:
        ValueError: a value count other than 1 or the number of outputs, a non-finite value, a non-positive
            scale, or a scale for a task other than regression.
    """
    num_outputs = head.out_features
    scale = None
    if output_scale is not None:
        if task != "regression":
            raise ValueError(
                f"output_scale is for task='regression' (the target standard deviation), got task='{task}'."
            )
        scale = _per_output(output_scale, num_outputs, "output_scale")
        if not bool((scale > 0).all()):
            raise ValueError(f"output_scale must be positive, got {output_scale}.")
    if output_bias is not None:
        with torch.no_grad():
            bias = _per_output(output_bias, num_outputs, "output_bias")
            head.bias.copy_(bias if scale is None else bias / scale)
    return scale
