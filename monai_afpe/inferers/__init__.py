"""Inferers that MONAI does not provide."""

from monai_afpe.inferers.autocast import AUTOCAST_DTYPES, AutocastInferer
from monai_afpe.inferers.clip_averaging import ClipAveragingInferer

__all__ = ["AUTOCAST_DTYPES", "AutocastInferer", "ClipAveragingInferer"]
