"""Spacing-aware transforms: physical spacing from a MetaTensor's affine, AFPE scales from it (arXiv 2509.02488),
random spacing and frame-rate augmentation, EchoNet-style clip sampling, and a check of the input spacing
against the range the model was trained on (its spacing contract)."""

from monai_afpe.transforms.array import ComputeAFPEScales, ExtractSpacing
from monai_afpe.transforms.clip_sampling import CLIP_MODES, SampleClip, SampleClipD, SampleClipd, SampleClipDict
from monai_afpe.transforms.dictionary import (
    ComputeAFPEScalesD,
    ComputeAFPEScalesd,
    ComputeAFPEScalesDict,
    ExtractSpacingD,
    ExtractSpacingd,
    ExtractSpacingDict,
)
from monai_afpe.transforms.pixel_spacing import SetPixelSpacing, SetPixelSpacingD, SetPixelSpacingd, SetPixelSpacingDict
from monai_afpe.transforms.scales import SCALE_POLICIES, ScalePolicy, check_patch_size, compute_afpe_scales
from monai_afpe.transforms.spacing import (
    DEFAULT_SPACING_UNIT,
    image_spacing,
    image_spatial_shape,
    spacing_from_affine,
    spacing_units,
)
from monai_afpe.transforms.spacing_augmentation import (
    FRAME_RATE_MODES,
    RandFrameRate,
    RandFrameRateD,
    RandFrameRated,
    RandFrameRateDict,
    RandSpacing,
    RandSpacingD,
    RandSpacingd,
    RandSpacingDict,
    resample_frame_rate,
)
from monai_afpe.transforms.spacing_contract import (
    SPACING_ACTIONS,
    SPACING_CONTRACT_FILENAME,
    CheckSpacingRange,
    CheckSpacingRangeD,
    CheckSpacingRanged,
    CheckSpacingRangeDict,
    SpacingOutOfRangeWarning,
    check_spacing_contract,
    load_spacing_contract,
)

__all__ = [
    "CLIP_MODES",
    "SampleClip",
    "SampleClipD",
    "SampleClipDict",
    "SampleClipd",
    "SetPixelSpacing",
    "SetPixelSpacingD",
    "SetPixelSpacingDict",
    "SetPixelSpacingd",
    "FRAME_RATE_MODES",
    "RandFrameRate",
    "RandFrameRateD",
    "RandFrameRateDict",
    "RandFrameRated",
    "RandSpacing",
    "RandSpacingD",
    "RandSpacingDict",
    "RandSpacingd",
    "resample_frame_rate",
    "ComputeAFPEScales",
    "ComputeAFPEScalesD",
    "ComputeAFPEScalesDict",
    "ComputeAFPEScalesd",
    "DEFAULT_SPACING_UNIT",
    "ExtractSpacing",
    "ExtractSpacingD",
    "ExtractSpacingDict",
    "ExtractSpacingd",
    "SCALE_POLICIES",
    "SPACING_ACTIONS",
    "SPACING_CONTRACT_FILENAME",
    "CheckSpacingRange",
    "CheckSpacingRangeD",
    "CheckSpacingRangeDict",
    "CheckSpacingRanged",
    "SpacingOutOfRangeWarning",
    "check_spacing_contract",
    "load_spacing_contract",
    "ScalePolicy",
    "check_patch_size",
    "compute_afpe_scales",
    "image_spacing",
    "image_spatial_shape",
    "spacing_from_affine",
    "spacing_units",
]
