"""What hospitals export (issue 14): single-frame ultrasound, every enhanced multi-frame SOP class, XA / XRF.

Each case is a DICOM file written with pydicom and goes through both entry points, ``load_image`` and
``monai-afpe info``: the reader ``select_reader`` picks, then the expected spacing (with units, shape and
the one data warning, if any) or the exact error text naming the file and the field.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    EnhancedMRColorImageStorage,
    EnhancedMRImageStorage,
    EnhancedPETImageStorage,
    EnhancedUSVolumeStorage,
    EnhancedXAImageStorage,
    EnhancedXRFImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    LegacyConvertedEnhancedMRImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
    UltrasoundMultiFrameImageStorage,
)
from readers_testdata import data_warnings, info_json, us_region, write_enhanced, write_us_image, write_xa

from monai_afpe.data.readers import (
    ENHANCED_MULTIFRAME_STORAGE,
    PROJECTION_XRAY_STORAGE,
    EnhancedDicomReader,
    ImageMetadataError,
    UltrasoundImageReader,
    load_image,
    select_reader,
)
from monai_afpe.transforms import image_spacing

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

STACK = [(10.0, -20.0, 30.0 + 3.0 * i) for i in range(3)]  # 3 frames, 3 mm apart along z
MM2 = ("mm", "mm")
MM3 = ("mm", "mm", "mm")
CINE = ("s", "mm", "mm")
LPS = dict(orientation="LPS")  # the axial stack, in RAS axis codes
XA_DETECTOR = (
    r"{p}: FramePixelDataPropertiesSequence > ImagerPixelSpacing \(0018,1164\): a projection X-ray image "
    r"\(Enhanced XA Image Storage\): no PixelSpacing; using 0\.2, 0\.25 mm, the pixel size at the detector: in the "
    r"patient, pixels are smaller by the geometric magnification, which is not applied"
)
NO_CALIBRATION = (
    "{p}: PixelSpacing (0028,0030) / ImagerPixelSpacing (0018,1164): missing, also in the functional groups "
    "(PixelMeasuresSequence, FramePixelDataPropertiesSequence): a projection X-ray image (Enhanced XA Image Storage) "
    "without calibration; the pixel size is unknown"
)


@dataclass(frozen=True)
class Export:
    """A file as exported; ``error`` is the exact message, ``warning`` a pattern; ``{p}`` stands for the file."""

    id: str
    make: Callable[[Path], Path]
    reader: type
    spacing: tuple[float, ...] | None = None
    units: tuple[str, ...] | None = None
    shape: tuple[int, ...] | None = None
    warning: str | None = None
    error: str | None = None
    orientation: str | None = None  # monai-afpe info's axis codes; None: no patient axes (ultrasound, X-ray)


def us(**kwargs):
    return lambda tmp_path: write_us_image(tmp_path / "us.dcm", **kwargs)


def enhanced(sop_class, modality, positions=STACK, **kwargs):
    return lambda tmp_path: write_enhanced(
        tmp_path / "enhanced.dcm", positions, sop_class=sop_class, modality=modality, rescale=None, **kwargs
    )


def xa(**kwargs):
    return lambda tmp_path: write_xa(tmp_path / "xa.dcm", **kwargs)


EXPORTS = [
    # (a) single-frame ultrasound: (C, H, W), (dy, dx) from the regions in cm
    Export("us-image", us(), UltrasoundImageReader, (0.3, 0.4), MM2, (1, 8, 10)),
    Export("us-image-number-of-frames-1", us(frames=1), UltrasoundImageReader, (0.3, 0.4), MM2, (1, 8, 10)),
    Export("us-image-colour", us(color=True), UltrasoundImageReader, (0.3, 0.4), MM2, (3, 8, 10)),
    Export(
        "us-multiframe-class-one-frame",
        us(frames=1, sop_class=UltrasoundMultiFrameImageStorage),
        UltrasoundImageReader,
        (0.3, 0.4),
        MM2,
        (1, 8, 10),
    ),
    Export(
        "us-image-doppler-region-not-used",
        us(regions=[us_region(), us_region(0.5, 0.2, units_x=4, units_y=7, spatial_format=3, data_type=3)]),
        UltrasoundImageReader,
        (0.3, 0.4),
        MM2,
    ),
    Export(
        "us-image-regions-disagree-largest-used",
        us(regions=[us_region(0.05, 0.05, bounds=(0, 0, 3, 3)), us_region(0.04, 0.03)]),
        UltrasoundImageReader,
        (0.3, 0.4),
        MM2,
        warning=(
            r"{p}: SequenceOfUltrasoundRegions \(0018,6011\) > PhysicalDeltaX/Y: 2D regions give different pixel "
            r"sizes \(dy, dx\): item 1: 0\.5, 0\.5 mm; item 2: 0\.3, 0\.4 mm; using item 2, the largest 2D tissue "
            r"region \(80 pixels\)"
        ),
    ),
    Export(
        "us-image-no-regions",
        us(regions=[]),
        UltrasoundImageReader,
        error=(
            "{p}: SequenceOfUltrasoundRegions (0018,6011): missing, or holds no 2D region (RegionSpatialFormat 1): "
            "the pixel size is unknown (give pixel_spacing= to the reader or to load_image, or --pixel-spacing to "
            "monai-afpe info)"
        ),
    ),
    Export(
        "us-image-region-in-degrees",
        us(regions=[us_region(units_x=12)]),
        UltrasoundImageReader,
        error=(
            "{p}: SequenceOfUltrasoundRegions (0018,6011) > PhysicalUnitsXDirection: code 12 (degrees); "
            "only 3 (cm) gives a pixel size"
        ),
    ),
    Export(
        "us-image-regions-disagree-same-size",
        us(regions=[us_region(), us_region(delta_x=0.05)]),
        UltrasoundImageReader,
        error=(
            "{p}: SequenceOfUltrasoundRegions (0018,6011) > PhysicalDeltaX/Y: 2D regions give different pixel sizes "
            "(dy, dx): item 1: 0.3, 0.4 mm; item 2: 0.3, 0.5 mm; no largest 2D tissue region to prefer "
            "(give pixel_spacing= to use another size)"
        ),
    ),
    # (b) enhanced multi-frame objects other than CT: the same functional groups, (columns, rows, frames)
    Export("enhanced-mr", enhanced(EnhancedMRImageStorage, "MR"), EnhancedDicomReader, (0.8, 0.7, 3.0), MM3, **LPS),
    Export("enhanced-pet", enhanced(EnhancedPETImageStorage, "PT"), EnhancedDicomReader, (0.8, 0.7, 3.0), MM3, **LPS),
    Export(
        "legacy-converted-ct",
        enhanced(LegacyConvertedEnhancedCTImageStorage, "CT"),
        EnhancedDicomReader,
        (0.8, 0.7, 3.0),
        MM3,
        **LPS,
    ),
    Export(
        "legacy-converted-mr",
        enhanced(LegacyConvertedEnhancedMRImageStorage, "MR"),
        EnhancedDicomReader,
        (0.8, 0.7, 3.0),
        MM3,
        **LPS,
    ),
    Export(
        "legacy-converted-pet",
        enhanced(LegacyConvertedEnhancedPETImageStorage, "PT"),
        EnhancedDicomReader,
        (0.8, 0.7, 3.0),
        MM3,
        **LPS,
    ),
    Export(
        "enhanced-us-volume-patient-planes",
        enhanced(EnhancedUSVolumeStorage, "US", pixel_spacing=(0.3, 0.4)),
        EnhancedDicomReader,
        (0.4, 0.3, 3.0),
        MM3,
        (1, 5, 4, 3),
        **LPS,
    ),
    Export(
        "enhanced-us-volume-frame-of-reference",
        enhanced(EnhancedUSVolumeStorage, "US", pixel_spacing=(0.3, 0.4), volume_frame=True),
        EnhancedDicomReader,
        (0.4, 0.3, 3.0),
        MM3,
        warning=(
            r"{p}: PlanePositionVolumeSequence > ImagePositionVolume \(0020,9301\): no patient plane position or "
            r"orientation .* in this Enhanced US Volume Storage file: its planes are read in the volume frame of "
            r"reference; the spacing holds"
        ),
    ),
    Export(
        "enhanced-mr-no-functional-groups",
        enhanced(EnhancedMRImageStorage, "MR", omit=("functional groups",)),
        EnhancedDicomReader,
        error=(
            "{p}: PerFrameFunctionalGroupsSequence (5200,9230): missing, and no SharedFunctionalGroupsSequence "
            "(5200,9229): not an enhanced multi-frame file, although its SOPClassUID is Enhanced MR Image Storage; "
            "its frames have no geometry"
        ),
    ),
    Export(
        "enhanced-mr-no-pixel-measures",
        enhanced(EnhancedMRImageStorage, "MR", omit=("PixelMeasuresSequence",)),
        EnhancedDicomReader,
        error="{p}: PixelMeasuresSequence > PixelSpacing (0028,0030): missing in frame 1",
    ),
    # projection X-ray (XA / XRF): no plane position; frames are time points, a cine (C, T, H, W)
    Export(
        "xa-enhanced-imager-spacing", xa(), EnhancedDicomReader, (0.0667, 0.2, 0.25), CINE, (1, 4, 6, 8), XA_DETECTOR
    ),
    Export(
        "xa-enhanced-calibrated-pixel-spacing",
        xa(pixel_spacing=(0.15, 0.15)),
        EnhancedDicomReader,
        (0.0667, 0.15, 0.15),
        CINE,
        warning=(
            r"{p}: PixelMeasuresSequence > PixelSpacing \(0028,0030\): a projection X-ray image \(Enhanced XA Image "
            r"Storage\): using 0\.15, 0\.15 mm, the pixel size in the plane it was calibrated for"
        ),
    ),
    Export(  # the magnification SID / SOD is applied (issue 17; before, it was only named in the warning)
        "xa-classic-multiframe",
        xa(enhanced=False, magnification=1.25),
        EnhancedDicomReader,
        (0.0667, 0.16, 0.2),
        CINE,
        (1, 4, 6, 8),
        warning=(
            r"{p}: ImagerPixelSpacing \(0018,1164\) / EstimatedRadiographicMagnificationFactor \(0018,1114\): a "
            r"projection X-ray image \(X-Ray Angiographic Image Storage\): no PixelSpacing; using 0\.2, 0\.25 mm / "
            r"1\.25 = 0\.16, 0\.2 mm, the pixel size at the detector scaled to the plane the magnification was "
            r"estimated for"
        ),
    ),
    Export("xa-one-frame", xa(frames=1), EnhancedDicomReader, (0.2, 0.25), MM2, (1, 6, 8), XA_DETECTOR),
    Export("xa-no-calibration", xa(imager_pixel_spacing=None), EnhancedDicomReader, error=NO_CALIBRATION),
    Export(
        "xa-imager-spacing-zero",
        xa(imager_pixel_spacing=(0.2, 0.0)),
        EnhancedDicomReader,
        error=(
            "{p}: FramePixelDataPropertiesSequence > ImagerPixelSpacing (0018,1164): spacing must be finite and > 0, "
            "got 0.2, 0 mm"
        ),
    ),
    Export(
        "xa-no-frame-time",
        xa(timing={}),
        EnhancedDicomReader,
        error=(
            "{p}: FrameTime (0018,1063) / FrameTimeVector (0018,1065) / CineRate (0018,0040) / "
            "RecommendedDisplayFrameRate (0008,2144): missing: the time between frames is unknown"
        ),
    ),
]

IDS = [e.id for e in EXPORTS]


@pytest.mark.parametrize("export", EXPORTS, ids=IDS)
def test_select_reader_by_sop_class(export: Export, tmp_path):
    assert type(select_reader(export.make(tmp_path))) is export.reader


@pytest.mark.parametrize("export", EXPORTS, ids=IDS)
def test_load_image(export: Export, tmp_path):
    path = export.make(tmp_path)
    if export.error is not None:
        with pytest.raises(ImageMetadataError) as raised:
            load_image(path)
        assert str(raised.value) == export.error.replace("{p}", str(path))
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = load_image(path)
    seen = [str(w.message) for w in data_warnings(caught)]
    if export.warning is None:
        assert seen == []
    else:
        assert len(seen) == 1 and re.search(export.warning.replace("{p}", re.escape(str(path))), seen[0]), seen
    np.testing.assert_allclose(image_spacing(img).tolist(), export.spacing, rtol=1e-6)
    assert img.meta["spacing_units"] == export.units
    if export.shape is not None:
        assert tuple(img.shape) == export.shape


@pytest.mark.parametrize("export", EXPORTS, ids=IDS)
def test_info(export: Export, tmp_path, capsys):
    path = export.make(tmp_path)
    record = info_json(path, capsys, export.error, export.warning, "--temporal-base-scale", "1")
    if record is None:
        return
    assert record["spacing"] == pytest.approx(export.spacing, rel=1e-6) and tuple(record["units"]) == export.units
    assert record["scales"] is not None
    assert record["orientation"] == export.orientation


@pytest.mark.parametrize("sop_class", sorted({**ENHANCED_MULTIFRAME_STORAGE, **PROJECTION_XRAY_STORAGE}))
def test_every_enhanced_and_projection_sop_class_goes_to_the_enhanced_reader(sop_class, tmp_path):
    """By the SOP class alone: also a file that lost its functional groups is read (and refused) by it."""
    path = write_enhanced(tmp_path / "a.dcm", STACK, sop_class=sop_class, omit=("functional groups",))
    assert type(select_reader(path)) is EnhancedDicomReader


@pytest.mark.parametrize(
    "sop_class",
    [
        uid
        for uid in ENHANCED_MULTIFRAME_STORAGE
        if uid not in PROJECTION_XRAY_STORAGE and uid != EnhancedMRColorImageStorage
    ],
)
def test_every_enhanced_volume_sop_class_reads_its_functional_groups(sop_class, tmp_path):
    img = load_image(write_enhanced(tmp_path / "a.dcm", STACK, sop_class=sop_class, modality="OT", rescale=None))
    np.testing.assert_allclose(image_spacing(img), [0.8, 0.7, 3.0])
    np.testing.assert_allclose(img.affine[:3, 3], [-10.0, 20.0, 30.0])  # RAS: the first frame's position


def test_enhanced_xrf_is_a_projection_too(tmp_path):
    """Enhanced XRF: frames are time points (the time step is asked for first), the pixel size from PixelSpacing."""
    path = write_enhanced(tmp_path / "xrf.dcm", STACK, sop_class=EnhancedXRFImageStorage, modality="RF")
    with pytest.raises(ImageMetadataError, match=r"xrf.dcm: FrameTime \(0018,1063\) / .*: missing"):
        load_image(path)
    ds = pydicom.dcmread(path)
    ds.CineRate = 10
    ds.save_as(path)
    with pytest.warns(UserWarning, match=r"PixelMeasuresSequence > PixelSpacing .*\(Enhanced XRF Image Storage\)"):
        img = load_image(path)
    assert img.shape == (1, 3, 4, 5)
    np.testing.assert_allclose(image_spacing(img), [0.1, 0.7, 0.8])
    assert EnhancedXAImageStorage in PROJECTION_XRAY_STORAGE and EnhancedXAImageStorage in ENHANCED_MULTIFRAME_STORAGE
