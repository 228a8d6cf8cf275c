"""Inferers that MONAI does not provide."""

from monai_afpe.inferers.clip_averaging import ClipAveragingInferer

__all__ = ["ClipAveragingInferer"]
