"""Inferers that MONAI does not provide."""

from monai_afpe.inferers.autocast import AUTOCAST_DTYPES, AutocastInferer, computes_natively_in
from monai_afpe.inferers.clip_averaging import ClipAveragingInferer
from monai_afpe.inferers.compiled import CompiledInferer

__all__ = ["AUTOCAST_DTYPES", "AutocastInferer", "ClipAveragingInferer", "CompiledInferer", "computes_natively_in"]
