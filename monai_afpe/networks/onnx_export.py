"""ONNX export of a spacing-aware network with the spacing as a second input and dynamic batch and spatial size.

MONAI's bundle command ``onnx_export`` traces one input of one fixed shape, so the graph it writes uses the
network's default spacing and accepts neither another batch size nor another image size. Here the graph has
two inputs, ``image`` ``(B, C, *spatial)`` and ``spacing`` ``(B, spatial_dims)`` (mm, or s for a time axis),
both with a dynamic batch axis and the image with dynamic spatial axes; the output ``pred`` is dynamic on the
batch axis and, for a dense output (segmentation), on its spatial axes too. The export goes through
:func:`monai.networks.utils.convert_to_onnx`; :func:`check_onnx_parity` runs the graph with ONNX Runtime
against the eager network.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

__all__ = ["ONNX_INPUT_NAMES", "ONNX_OUTPUT_NAME", "export_onnx", "onnx_predict", "check_onnx_parity"]

ONNX_INPUT_NAMES = ("image", "spacing")
ONNX_OUTPUT_NAME = "pred"


def _dynamic_axes(spatial_dims: int, dense_output: bool) -> dict[str, dict[int, str]]:
    spatial = {2 + i: f"size_{i}" for i in range(spatial_dims)}
    return {
        "image": {0: "batch", **spatial},
        "spacing": {0: "batch"},
        ONNX_OUTPUT_NAME: {0: "batch", **(spatial if dense_output else {})},
    }


def export_onnx(
    network: torch.nn.Module,
    image: torch.Tensor,
    spacing: torch.Tensor,
    filepath: os.PathLike | str,
    dynamic_spatial: bool = True,
    opset_version: int | None = None,
) -> Path:
    """Export ``network`` (``forward(x, spacing)``) to ONNX with inputs ``image`` and ``spacing``.

    Args:
        network: the network, put in ``eval()`` mode here.
        image: example input ``(B, C, *spatial)``; its values do not matter, its rank does (use ``B >= 2``:
            a batch of one lets the exporter fix the batch axis).
        spacing: example spacing ``(B, spatial_dims)``; a live input of the graph, not a constant.
        filepath: where to write the ``.onnx`` file (its folder is created).
        dynamic_spatial: also leave the image's spatial axes (and a dense output's) dynamic.
        opset_version: ONNX opset, or ``None`` for the exporter's default.

    Returns:
        the path written.

    Raises:
        ValueError: ``spacing`` not of shape ``(B, spatial_dims)`` for ``image``.
    """
    from monai.networks.utils import convert_to_onnx

    spatial_dims = image.ndim - 2
    if spacing.shape != (image.shape[0], spatial_dims):
        raise ValueError(
            f"export_onnx: spacing must have shape (B, spatial_dims) = ({image.shape[0]}, {spatial_dims}) for an image "
            f"of shape {tuple(image.shape)}, got {tuple(spacing.shape)}."
        )
    network = network.eval()
    with torch.no_grad():
        dense = network(image, spacing).ndim == image.ndim
    axes = _dynamic_axes(spatial_dims, dense)
    if not dynamic_spatial:
        axes = {name: {0: "batch"} for name in axes}
    filepath = Path(filepath)
    filepath.parent.mkdir(parents=True, exist_ok=True)
    options = {} if opset_version is None else {"opset_version": opset_version}
    convert_to_onnx(
        network,
        [image, spacing],
        input_names=list(ONNX_INPUT_NAMES),
        output_names=[ONNX_OUTPUT_NAME],
        dynamic_axes=axes,
        filename=str(filepath),
        **options,
    )
    return filepath


def onnx_predict(filepath: os.PathLike | str, image: torch.Tensor, spacing: torch.Tensor) -> torch.Tensor:
    """Run an exported graph with ONNX Runtime (CPU) on one batch."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(filepath), providers=["CPUExecutionProvider"])
    feed = {"image": image.detach().cpu().numpy(), "spacing": spacing.detach().cpu().float().numpy()}
    return torch.from_numpy(session.run([ONNX_OUTPUT_NAME], feed)[0])


def check_onnx_parity(
    filepath: os.PathLike | str,
    network: torch.nn.Module,
    batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    rtol: float = 1e-4,
    atol: float = 1e-4,
) -> float:
    """The largest absolute difference between the graph and the eager ``network`` over ``batches``.

    Args:
        filepath: the exported graph.
        network: the eager network it was exported from.
        batches: ``(image, spacing)`` pairs, e.g. other batch sizes, image sizes and spacings than the export's.
        rtol, atol: tolerance of each element, as in :func:`torch.testing.assert_close`.

    Raises:
        ValueError: a batch whose outputs differ beyond the tolerance, naming the file, the shapes and the
            largest difference.
    """
    worst = 0.0
    network = network.eval()
    for image, spacing in batches:
        with torch.no_grad():
            expected = network(image, spacing).float().cpu()
        got = onnx_predict(filepath, image, spacing)
        difference = float((got - expected).abs().max()) if got.shape == expected.shape else float("inf")
        if got.shape != expected.shape or not torch.allclose(got, expected, rtol=rtol, atol=atol):
            raise ValueError(
                f"{filepath}: the ONNX graph's output differs from the eager network's for image "
                f"{tuple(image.shape)} and spacing {tuple(spacing.shape)}: output shapes {tuple(got.shape)} and "
                f"{tuple(expected.shape)}, largest difference {difference:.3g} (allowed rtol {rtol}, atol {atol})."
            )
        worst = max(worst, difference)
    return worst
