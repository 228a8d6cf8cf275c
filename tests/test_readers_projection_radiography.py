"""Projection radiography (issue 17): CR / DX / MG (and XA / XRF) pixel size by the DICOM rule, PNG / JPEG exports.

The rule (:func:`~monai_afpe.data.readers.projection_pixel_spacing`): a calibrated PixelSpacing, else
ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor, else ImagerPixelSpacing at the detector, with a
warning naming the file and the field whenever it is not a calibrated PixelSpacing. Each case is a DICOM file
written with pydicom and goes through ``select_reader``, ``load_image`` and ``monai-afpe info``: the spacing, the
field it came from (``meta["spacing_source"]``) and the warning, or the exact error text.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged
from readers_testdata import data_warnings, info_json, write_radiograph, write_xa

from monai_afpe.cli import main
from monai_afpe.data.readers import (
    PROJECTION_XRAY_STORAGE,
    DicomSeriesReader,
    EnhancedDicomReader,
    ImageMetadataError,
    RasterImageReader,
    SimpleITKReader,
    load_image,
    projection_pixel_spacing,
    select_reader,
)
from monai_afpe.transforms import SetPixelSpacingd, image_spacing

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

CR = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
DX_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
MG_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
MG_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
XA = "1.2.840.10008.5.1.4.1.1.12.1"
MAGNIFICATION_EXPECTED = (
    "expected one finite number >= 1 (source-to-detector over source-to-object distance: the detector is never "
    "nearer the source than the patient), got "
)
DETECTOR = (
    r"{p}: ImagerPixelSpacing \(0018,1164\): a projection X-ray image \({sop}\): no PixelSpacing; using 0\.2, 0\.25 "
    r"mm, the pixel size at the detector: in the patient, pixels are smaller by the geometric magnification, which "
    r"is not applied \(no EstimatedRadiographicMagnificationFactor \(0018,1114\)\): sizes in the anatomy come out "
    r"larger by it, typically 1\.1-1\.2 for a chest PA radiograph$"
)


@dataclass(frozen=True)
class Radiograph:
    """A file as exported; ``error`` is the exact message, ``warning`` a pattern; ``{p}`` stands for the file."""

    id: str
    make: Callable[[Path], Path]
    spacing: tuple[float, float] | None = None
    source: str | None = None
    warning: str | None = None
    error: str | None = None


def radiograph(sop_class=CR, modality="CR", **kwargs):
    return lambda tmp_path: write_radiograph(tmp_path / "x.dcm", sop_class=sop_class, modality=modality, **kwargs)


CASES = [
    # PixelSpacing present and calibrated: used as it is, no warning
    Radiograph(
        "dx-pixel-spacing-geometry",
        radiograph(DX_PRESENTATION, "DX", pixel_spacing=(0.17, 0.21), calibration_type="GEOMETRY", magnification=1.2),
        (0.17, 0.21),
        "PixelSpacing (calibrated: GEOMETRY)",
    ),
    Radiograph(
        "cr-pixel-spacing-fiducial",
        radiograph(pixel_spacing=(0.18, 0.18), calibration_type="FIDUCIAL"),
        (0.18, 0.18),
        "PixelSpacing (calibrated: FIDUCIAL)",
    ),
    Radiograph(
        "dx-pixel-spacing-calibration-description-only",
        radiograph(DX_PROCESSING, "DX", pixel_spacing=(0.18, 0.18), calibration_description="ruler at the skin"),
        (0.18, 0.18),
        "PixelSpacing (calibrated: ruler at the skin)",
    ),
    # PixelSpacing present, calibration not stated
    Radiograph(
        "cr-pixel-spacing-differs-from-imager",
        radiograph(pixel_spacing=(0.17, 0.21)),
        (0.17, 0.21),
        "PixelSpacing (calibration type not stated)",
        warning=(
            r"{p}: PixelSpacing \(0028,0030\): a projection X-ray image \(Computed Radiography Image Storage\): using "
            r"0\.17, 0\.21 mm, the pixel size in the plane it was calibrated for \(PixelSpacingCalibrationType: not "
            r"stated; it differs from ImagerPixelSpacing \(0018,1164\) 0\.2, 0\.25 mm, so it was corrected for the "
            r"magnification or calibrated\)"
        ),
    ),
    Radiograph(
        "cr-pixel-spacing-only",
        radiograph(pixel_spacing=(0.17, 0.21), imager_pixel_spacing=None),
        (0.17, 0.21),
        "PixelSpacing (calibration not stated)",
        warning=(
            r"{p}: PixelSpacing \(0028,0030\): a projection X-ray image \(Computed Radiography Image Storage\): using "
            r"0\.17, 0\.21 mm as the pixel size in the patient; with neither PixelSpacingCalibrationType nor "
            r"ImagerPixelSpacing, whether it was corrected for the geometric magnification cannot be told"
        ),
    ),
    # only ImagerPixelSpacing (or a PixelSpacing equal to it, not calibrated) and the magnification
    Radiograph(
        "cr-imager-spacing-magnification",
        radiograph(magnification=1.15),
        (0.2 / 1.15, 0.25 / 1.15),
        "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor 1.15",
        warning=(
            r"{p}: ImagerPixelSpacing \(0018,1164\) / EstimatedRadiographicMagnificationFactor \(0018,1114\): a "
            r"projection X-ray image \(Computed Radiography Image Storage\): no PixelSpacing; using 0\.2, 0\.25 mm / "
            r"1\.15 = 0\.173913, 0\.217391 mm, the pixel size at the detector scaled to the plane the magnification "
            r"was estimated for; anatomy nearer the source or the detector is magnified differently$"
        ),
    ),
    Radiograph(
        "mg-pixel-spacing-equal-to-imager-magnification",
        radiograph(MG_PRESENTATION, "MG", pixel_spacing=(0.2, 0.25), magnification=1.25),
        (0.16, 0.2),
        "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor 1.25",
        warning=(
            r"{p}: ImagerPixelSpacing \(0018,1164\) / EstimatedRadiographicMagnificationFactor \(0018,1114\): a "
            r"projection X-ray image \(Digital Mammography X-Ray Image Storage - For Presentation\): PixelSpacing "
            r"\(0028,0030\) equals it and no PixelSpacingCalibrationType is stated: not calibrated; using 0\.2, 0\.25 "
            r"mm / 1\.25 = 0\.16, 0\.2 mm"
        ),
    ),
    Radiograph(
        "xa-single-frame-magnification",
        lambda tmp_path: write_xa(tmp_path / "x.dcm", frames=None, enhanced=False, magnification=1.25),
        (0.16, 0.2),
        "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor 1.25",
        warning=r"{p}: ImagerPixelSpacing \(0018,1164\) / EstimatedRadiographicMagnificationFactor \(0018,1114\): ",
    ),
    # only ImagerPixelSpacing: the detector plane
    Radiograph(
        "cr-imager-spacing-only",
        radiograph(),
        (0.2, 0.25),
        "ImagerPixelSpacing (detector plane, no magnification)",
        warning=DETECTOR.replace("{sop}", r"Computed Radiography Image Storage"),
    ),
    Radiograph(
        "mg-processing-imager-spacing-only",
        radiograph(MG_PROCESSING, "MG"),
        (0.2, 0.25),
        "ImagerPixelSpacing (detector plane, no magnification)",
        warning=DETECTOR.replace("{sop}", r"Digital Mammography X-Ray Image Storage - For Processing"),
    ),
    Radiograph(
        "dx-pixel-spacing-equal-to-imager",
        radiograph(DX_PRESENTATION, "DX", pixel_spacing=(0.2, 0.25)),
        (0.2, 0.25),
        "ImagerPixelSpacing (detector plane, no magnification)",
        warning=(
            r"{p}: ImagerPixelSpacing \(0018,1164\): a projection X-ray image \(Digital X-Ray Image Storage - For "
            r"Presentation\): PixelSpacing \(0028,0030\) equals it and no PixelSpacingCalibrationType is stated: not "
            r"calibrated; using 0\.2, 0\.25 mm, the pixel size at the detector"
        ),
    ),
    # neither: an error
    Radiograph(
        "cr-no-spacing",
        radiograph(imager_pixel_spacing=None),
        error=(
            "{p}: PixelSpacing (0028,0030) / ImagerPixelSpacing (0018,1164): missing: a projection X-ray image "
            "(Computed Radiography Image Storage) without calibration; the pixel size is unknown"
        ),
    ),
    Radiograph(
        "dx-no-spacing-magnification-alone",
        radiograph(DX_PRESENTATION, "DX", imager_pixel_spacing=None, magnification=1.1),
        error=(
            "{p}: PixelSpacing (0028,0030) / ImagerPixelSpacing (0018,1164): missing: a projection X-ray image "
            "(Digital X-Ray Image Storage - For Presentation) without calibration; the pixel size is unknown"
        ),
    ),
    # bad values: errors naming the file, the field and what was expected
    Radiograph(
        "cr-imager-spacing-zero",
        radiograph(imager_pixel_spacing=(0.2, 0.0)),
        error="{p}: ImagerPixelSpacing (0018,1164): spacing must be finite and > 0, got 0.2, 0 mm",
    ),
    Radiograph(
        "cr-imager-spacing-negative",
        radiograph(imager_pixel_spacing=(-0.2, 0.2), magnification=1.1),
        error="{p}: ImagerPixelSpacing (0018,1164): spacing must be finite and > 0, got -0.2, 0.2 mm",
    ),
    Radiograph(
        "dx-imager-spacing-nan",
        radiograph(DX_PRESENTATION, "DX", imager_pixel_spacing=("nan", "0.2")),
        error="{p}: ImagerPixelSpacing (0018,1164): spacing must be finite and > 0, got nan, 0.2 mm",
    ),
    Radiograph(
        "dx-imager-spacing-three-values",
        radiograph(DX_PRESENTATION, "DX", imager_pixel_spacing=(0.1, 0.2, 0.3)),
        error="{p}: ImagerPixelSpacing (0018,1164): expected 2 values, got [0.1, 0.2, 0.3]",
    ),
    Radiograph(
        "cr-pixel-spacing-zero-imager-fine",
        radiograph(pixel_spacing=(0.0, 0.2)),
        error="{p}: PixelSpacing (0028,0030): spacing must be finite and > 0, got 0, 0.2 mm",
    ),
    Radiograph(
        "mg-pixel-spacing-one-value",
        radiograph(MG_PRESENTATION, "MG", pixel_spacing=(0.1,), calibration_type="GEOMETRY"),
        error="{p}: PixelSpacing (0028,0030): expected 2 values, got '0.1'",
    ),
    Radiograph(
        "cr-magnification-zero",
        radiograph(magnification=0),
        error="{p}: EstimatedRadiographicMagnificationFactor (0018,1114): " + MAGNIFICATION_EXPECTED + "0.0",
    ),
    Radiograph(
        "cr-magnification-negative",
        radiograph(magnification=-1.2),
        error="{p}: EstimatedRadiographicMagnificationFactor (0018,1114): " + MAGNIFICATION_EXPECTED + "-1.2",
    ),
    Radiograph(
        "dx-magnification-below-one",
        radiograph(DX_PRESENTATION, "DX", magnification=0.8),
        error="{p}: EstimatedRadiographicMagnificationFactor (0018,1114): " + MAGNIFICATION_EXPECTED + "0.8",
    ),
    Radiograph(
        "dx-magnification-infinite",
        radiograph(DX_PRESENTATION, "DX", magnification="inf"),
        error="{p}: EstimatedRadiographicMagnificationFactor (0018,1114): " + MAGNIFICATION_EXPECTED + "inf",
    ),
    Radiograph(
        "mg-magnification-two-values",
        radiograph(MG_PRESENTATION, "MG", magnification=["1.1", "1.2"]),
        error="{p}: EstimatedRadiographicMagnificationFactor (0018,1114): " + MAGNIFICATION_EXPECTED + "[1.1, 1.2]",
    ),
]
IDS = [c.id for c in CASES]


def _make(case: Radiograph, tmp_path: Path) -> Path:
    with warnings.catch_warnings():  # pydicom warns on writing a DS "nan" or "inf"
        warnings.simplefilter("ignore")
        return case.make(tmp_path)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_select_reader_by_sop_class(case: Radiograph, tmp_path):
    assert type(select_reader(_make(case, tmp_path))) is EnhancedDicomReader


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_load_image(case: Radiograph, tmp_path):
    path = _make(case, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if case.error is not None:
            with pytest.raises(ImageMetadataError) as raised:
                load_image(path)
            assert str(raised.value) == case.error.replace("{p}", str(path))
            return
        img = load_image(path)
    seen = [str(w.message) for w in data_warnings(caught, ignore="Invalid value for VR DS")]
    if case.warning is None:
        assert seen == []
    else:
        assert len(seen) == 1 and re.search(case.warning.replace("{p}", re.escape(str(path))), seen[0]), seen
    assert tuple(img.shape) == (1, 6, 8) and img.meta["spacing_units"] == ("mm", "mm")
    np.testing.assert_allclose(image_spacing(img).tolist(), case.spacing, rtol=1e-9)
    assert img.meta["spacing_source"] == case.source and img.meta["patient_affine"] is False


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_info(case: Radiograph, tmp_path, capsys):
    path = _make(case, tmp_path)
    record = info_json(path, capsys, case.error, case.warning, ignore="Invalid value for VR DS")
    if record is None:
        return
    assert record["spacing"] == pytest.approx(case.spacing, rel=1e-6) and record["units"] == ["mm", "mm"]
    assert record["spacing_source"] == case.source and record["orientation"] is None


def test_info_table_shows_where_the_spacing_came_from(tmp_path, capsys):
    calibrated = write_radiograph(tmp_path / "cal.dcm", pixel_spacing=(0.17, 0.21), calibration_type="GEOMETRY")
    magnified = write_radiograph(tmp_path / "mag.dcm", magnification=1.25)
    code = main(["info", str(calibrated), str(magnified)])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and err.count("warning:") == 1
    assert lines[0].split()[:7] == ["PATH", "SHAPE", "(C,", "...)", "SPACING", "SPACING", "FROM"]
    assert "0.17, 0.21 mm" in lines[1] and "PixelSpacing (calibrated: GEOMETRY)" in lines[1]
    assert (
        "0.16, 0.2 mm" in lines[2] and "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor 1.25" in lines[2]
    )
    assert "n/a (no patient axes)" in lines[2]


def test_radiograph_values_rescaled_and_layout(tmp_path):
    path = write_radiograph(
        tmp_path / "cr.dcm", rescale=(2.0, -10.0), pixel_spacing=(0.1, 0.1), calibration_type="GEOMETRY"
    )
    img = load_image(path)
    stored = pydicom.dcmread(path).pixel_array
    assert img.shape == (1, 6, 8)
    np.testing.assert_array_equal(img[0].numpy(), stored * 2.0 - 10.0)
    np.testing.assert_allclose(img.affine.numpy(), np.diag([0.1, 0.1, 1.0, 1.0]))


def test_projection_pixel_spacing_on_a_dataset(tmp_path):
    ds = pydicom.dcmread(write_radiograph(tmp_path / "cr.dcm", magnification=1.25))
    with pytest.warns(UserWarning, match=r"^cr\.dcm: ImagerPixelSpacing \(0018,1164\) / EstimatedRadiograph"):
        spacing, source = projection_pixel_spacing(ds, "cr.dcm")
    np.testing.assert_allclose(spacing, (0.16, 0.2))
    assert source == "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor 1.25"
    ds.PixelSpacing, ds.PixelSpacingCalibrationType = [0.15, 0.15], "GEOMETRY"  # calibrated wins, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert projection_pixel_spacing(ds, "cr.dcm") == ((0.15, 0.15), "PixelSpacing (calibrated: GEOMETRY)")
    ds.EstimatedRadiographicMagnificationFactor = 0  # not used with a calibrated PixelSpacing
    assert projection_pixel_spacing(ds, "cr.dcm")[0] == (0.15, 0.15)


@pytest.mark.parametrize("sop_class", [CR, DX_PRESENTATION, DX_PROCESSING, MG_PRESENTATION, MG_PROCESSING])
def test_radiography_classes_are_projection_x_ray(sop_class):
    assert sop_class in PROJECTION_XRAY_STORAGE


@pytest.mark.parametrize("reader", [DicomSeriesReader, SimpleITKReader], ids=["series", "sitk"])
def test_other_readers_refuse_a_radiograph_naming_the_reader_to_use(reader, tmp_path):
    path = write_radiograph(tmp_path / "dx.dcm", sop_class=DX_PRESENTATION, modality="DX")
    with pytest.raises(ImageMetadataError) as raised:
        LoadImaged("image", reader=reader())({"image": str(path)})
    assert re.search(
        r"dx\.dcm: SOPClassUID \(0008,0016\): Digital X-Ray Image Storage - For Presentation: a projection X-ray image "
        r"has no plane position.*read it with EnhancedDicomReader \(load_image picks it\)",
        str(raised.value),
    )


def test_a_folder_of_radiographs_is_not_a_series(tmp_path):
    (tmp_path / "cr").mkdir()
    for name in ("a.dcm", "b.dcm"):
        write_radiograph(tmp_path / "cr" / name)
    with pytest.raises(ImageMetadataError, match=r"cr/a\.dcm: SOPClassUID \(0008,0016\): Computed Radiography"):
        LoadImaged("image", reader=DicomSeriesReader())({"image": str(tmp_path / "cr")})


# PNG / JPEG exports: the pixel size is given (the files state none)


def _grey8(tmp_path: Path, name: str = "cxr.png") -> tuple[Path, np.ndarray]:
    from PIL import Image

    pixels = (np.arange(6 * 8) * 5 % 256).astype(np.uint8).reshape(6, 8)
    Image.fromarray(pixels, mode="L").save(tmp_path / name, dpi=(72, 72))
    return tmp_path / name, pixels


def test_png_grey_8_bit_with_given_pixel_spacing(tmp_path):
    path, pixels = _grey8(tmp_path)
    assert type(select_reader(path)) is RasterImageReader
    img = load_image(path, pixel_spacing=(0.143, 0.15))
    assert img.shape == (1, 6, 8) and img.meta["spacing_units"] == ("mm", "mm")
    np.testing.assert_allclose(image_spacing(img).tolist(), (0.143, 0.15))
    np.testing.assert_array_equal(img[0].numpy(), pixels)
    assert img.meta["spacing_source"] == "pixel_spacing (given)" and img.meta["patient_affine"] is False


def test_png_16_bit_keeps_its_values(tmp_path):
    from PIL import Image

    pixels = (np.arange(6 * 8, dtype=np.uint16) * 1000).reshape(6, 8)
    Image.fromarray(pixels).save(tmp_path / "cxr16.png")
    img = load_image(tmp_path / "cxr16.png", pixel_spacing=0.2)
    np.testing.assert_array_equal(img[0].numpy(), pixels.astype(np.float32))
    np.testing.assert_allclose(image_spacing(img).tolist(), (0.2, 0.2))


def test_jpeg_colour_with_given_pixel_spacing(tmp_path):
    from PIL import Image

    pixels = np.zeros((16, 24, 3), np.uint8)
    pixels[..., 0], pixels[:, :12, 1] = 200, 100
    Image.fromarray(pixels, mode="RGB").save(tmp_path / "cxr.jpg", quality=95)
    img = load_image(tmp_path / "cxr.jpg", pixel_spacing=(0.3, 0.3))
    assert img.shape == (3, 16, 24)
    difference = np.abs(img.numpy().transpose(1, 2, 0) - pixels)  # lossy, most at the colour edge
    assert difference.mean() < 3 and difference.max() < 40
    np.testing.assert_allclose(image_spacing(img).tolist(), (0.3, 0.3))


def test_png_without_pixel_spacing_is_an_error_naming_the_file(tmp_path, capsys):
    path, _ = _grey8(tmp_path)
    expected = (
        f"{path}: pixel spacing: a PNG / JPEG file states no pixel size (its dpi, if any, is for printing): give "
        "pixel_spacing= to the reader or to load_image, or --pixel-spacing to monai-afpe info"
    )
    with pytest.raises(ImageMetadataError) as raised:
        load_image(path)
    assert str(raised.value) == expected
    capsys.readouterr()
    assert main(["info", str(path)]) == 1
    assert capsys.readouterr().err == f"monai-afpe info: error: {expected}\n"


def test_info_png_with_pixel_spacing(tmp_path, capsys):
    path, _ = _grey8(tmp_path)
    code = main(["info", str(path), "--json", "--pixel-spacing", "0.143"])
    out, err = capsys.readouterr()
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and err == ""
    assert record["spacing"] == [0.143, 0.143] and record["spacing_source"] == "pixel_spacing (given)"
    assert record["shape"] == [1, 6, 8] and record["orientation"] is None


def test_damaged_png_names_the_file(tmp_path):
    path, _ = _grey8(tmp_path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ImageMetadataError, match=rf"^{re.escape(str(path))}: data: cannot be decoded as PNG / JPEG"):
        load_image(path, pixel_spacing=0.2)


def test_png_reader_in_a_pipeline_with_per_item_spacing(tmp_path):
    """LoadImaged with RasterImageReader, then each item's own pixel size with SetPixelSpacingd on (H, W)."""
    first, _ = _grey8(tmp_path, "a.png")
    second, _ = _grey8(tmp_path, "b.png")
    pipeline = Compose(
        [
            LoadImaged("image", reader=RasterImageReader(pixel_spacing=1.0)),
            EnsureChannelFirstd("image"),
            SetPixelSpacingd("image", spacing_key="pixel_spacing", spatial_axes=(0, 1)),
        ]
    )
    items = [{"image": str(first), "pixel_spacing": 0.139}, {"image": str(second), "pixel_spacing": (0.16, 0.17)}]
    out = [pipeline(item)["image"] for item in items]
    np.testing.assert_allclose(image_spacing(out[0]).tolist(), (0.139, 0.139))
    np.testing.assert_allclose(image_spacing(out[1]).tolist(), (0.16, 0.17))


def test_raster_reader_argument_checked():
    with pytest.raises(ValueError, match=r"pixel_spacing must be one or 2 finite numbers > 0"):
        RasterImageReader(pixel_spacing=0)
