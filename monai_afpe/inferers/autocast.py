"""Mixed precision for MONAI engines on any device: run an inferer under ``torch.autocast``, return float32."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from monai.inferers import Inferer, SimpleInferer
from monai.utils import look_up_option

from monai_afpe.validation import check_flag

__all__ = ["AUTOCAST_DTYPES", "AutocastInferer", "computes_natively_in"]

AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}

logger = logging.getLogger(__name__)


def computes_natively_in(device: torch.device | str, dtype: torch.dtype) -> bool:
    """Whether ``device`` has matrix units for ``dtype``, so that autocasting to it is faster than float32.

    CUDA: bfloat16 on Ampere and later (``torch.cuda.is_bf16_supported`` without emulation: older GPUs can
    run bfloat16 only emulated, slower than float32), float16 always. CPU:
    bfloat16 with AVX512-BF16 or AMX, float16 with AMX-FP16 (what oneDNN uses); without them PyTorch emulates
    the type and a step is slower than in float32. Any other device: False.

    Args:
        device: the device the inputs are on.
        dtype: ``torch.bfloat16`` or ``torch.float16``.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return dtype == torch.float16 or torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    probes = (
        ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        if dtype == torch.bfloat16
        else ("_is_amx_fp16_supported",)
    )
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


class AutocastInferer(Inferer):
    """Run another inferer under ``torch.autocast`` on the inputs' device and return float32 outputs.

    MONAI's engines offer mixed precision through ``amp=True``, which enters ``torch.autocast("cuda")``
    only: on a CPU it does nothing. This wrapper autocasts on whichever device the inputs are, so the same
    bundle trains in bfloat16 on a CPU with AVX512-BF16 or AMX and on a GPU. The outputs are cast back to
    float32, so losses, metrics and post-processing run in full precision. Under autocast the networks of
    this package keep the Fourier phases of their positional encodings in float32 (phases of several
    radians lose their fraction in bfloat16); convolutions and matrix products run in ``dtype``.

    bfloat16 has float32's exponent range, so training needs no gradient scaler. float16 does, and this
    inferer provides none: use float16 for inference, or MONAI's ``amp=True`` (CUDA) to train in it.

    Args:
        inferer: the inferer to wrap (default: ``SimpleInferer()``).
        dtype: ``"bfloat16"`` (default) or ``"float16"``.
        enabled: False runs the wrapped inferer unchanged (so a config can switch precision with one key);
            ``"auto"`` autocasts where the inputs' device computes in ``dtype`` natively
            (:func:`computes_natively_in`) and runs in float32 elsewhere, logging the choice once per device.

    Example::

        inferer = AutocastInferer(SlidingWindowInferer(roi_size=(64, 64, 32)), enabled=True)
        logits = inferer(image, network, spacing=spacing)  # float32, computed in bfloat16

    Raises:
        ValueError: an unknown ``dtype``, an ``enabled`` other than true, false or ``"auto"``, or an ``inferer``
            that is not callable.
    """

    def __init__(self, inferer: Inferer | None = None, dtype: str = "bfloat16", enabled: bool | str = True) -> None:
        if inferer is not None and not callable(inferer):
            raise ValueError(f"inferer must be a callable MONAI inferer, got {type(inferer).__name__}.")
        self.inferer = SimpleInferer() if inferer is None else inferer
        self.dtype = look_up_option(dtype, AUTOCAST_DTYPES)
        self.enabled: bool | str
        if isinstance(enabled, str) and enabled.strip().lower() == "auto":
            self.enabled = "auto"
        else:
            try:
                self.enabled = check_flag(enabled, "enabled")
            except ValueError:
                raise ValueError(f"enabled must be true, false or 'auto', got {enabled!r}.") from None
        self._auto_choices: dict[str, bool] = {}

    def autocasts_on(self, device: torch.device) -> bool:
        """Whether inputs on ``device`` run under autocast (``enabled``, or the ``"auto"`` choice for it)."""
        if self.enabled != "auto":
            return bool(self.enabled)
        key = str(device)
        if key not in self._auto_choices:
            self._auto_choices[key] = computes_natively_in(device, self.dtype)
            precision = str(self.dtype).removeprefix("torch.") if self._auto_choices[key] else "float32"
            logger.info(f"AutocastInferer(enabled='auto'): {precision} on {key}.")
        return self._auto_choices[key]

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self.autocasts_on(inputs.device):
            return self.inferer(inputs, network, *args, **kwargs)
        with torch.autocast(inputs.device.type, dtype=self.dtype):
            outputs = self.inferer(inputs, network, *args, **kwargs)
        return _to_float32(outputs)


def _to_float32(outputs: Any) -> Any:
    """Floating-point tensors of ``outputs`` (a tensor, or a tuple, list or dict of them) as float32."""
    if isinstance(outputs, torch.Tensor):
        return outputs.float() if outputs.is_floating_point() else outputs
    if isinstance(outputs, dict):
        return {key: _to_float32(value) for key, value in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(_to_float32(value) for value in outputs)
    return outputs
