"""Writers of small test files for the reader tests: DICOM slices and series, enhanced (any SOP class), XA, projection
radiographs (CR, DX, MG), ultrasound cine and still DICOM, videos; and the filter that keeps the warnings about
the data among those a reader raised, and the check of ``monai-afpe info --json`` on one file.

Files written with pydicom 3 (``Dataset``, ``FileMetaDataset``, ``save_as(enforce_file_format=True)``)
and PyAV; paths of real files shipped inside installed packages are listed too.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    EnhancedXAImageStorage,
    ExplicitVRLittleEndian,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    XRayAngiographicImageStorage,
    generate_uid,
)

PYDICOM_FILES = Path(os.path.dirname(pydicom.data.get_testdata_file("CT_small.dcm", download=False)))
CT5N = PYDICOM_FILES / "dicomdirtests" / "98892001" / "CT5N"  # 16x16x5, 0.488281 x 0.488281 x 2.5 mm
CT2N = PYDICOM_FILES / "dicomdirtests" / "98892001" / "CT2N"  # two slices in different planes
CT_SMALL = PYDICOM_FILES / "CT_small.dcm"
US_CINE = Path(pydicom.data.get_testdata_file("examples_ybr_color.dcm", download=False))  # 30-frame echo clip
NIBABEL_DATA = Path(__import__("nibabel").__file__).parent / "tests" / "data"
FUNCTIONAL = NIBABEL_DATA / "functional.nii"  # (17, 21, 3, 20), 4 x 4 x 8 mm
STANDARD = NIBABEL_DATA / "standard.nii.gz"  # (4, 5, 7), 1 x 3 x 2 mm

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
UNSET = object()  # leave a tag out
OPTIONAL_DECODER_NOTES = "nvImageCodec|NvImgCodec"  # MONAI's notes on its optional GPU image decoder


def data_warnings(
    caught: list[warnings.WarningMessage],
    ignore: str | None = None,
    library_categories: tuple[type[Warning], ...] = (DeprecationWarning, FutureWarning),
) -> list[warnings.WarningMessage]:
    """The recorded warnings about the data: library deprecations (``library_categories``), MONAI's notes on its
    optional decoders (:data:`OPTIONAL_DECODER_NOTES`) and any warning whose message matches ``ignore`` left out."""
    pattern = OPTIONAL_DECODER_NOTES if ignore is None else f"{OPTIONAL_DECODER_NOTES}|{ignore}"
    return [
        w for w in caught if not issubclass(w.category, library_categories) and not re.search(pattern, str(w.message))
    ]


def info_json(path: Path, capsys, error: str | None, warning: str | None, *options: str, ignore: str | None = None):
    """Run ``monai-afpe info <path> --json <options>`` and check its exit code and standard error.

    Args:
        path: the file.
        capsys: pytest's ``capsys`` fixture of the test.
        error: the whole error message expected (``{p}`` stands for the path), or None for success.
        warning: a pattern of the one warning expected (``{p}`` stands for the escaped path), or None for none.
        options: further command-line options.
        ignore: a pattern of lines of standard error to leave out (library notes).

    Returns:
        the file's JSON record, or None when the expected error was given.
    """
    from monai_afpe.cli import main

    code = main(["info", str(path), "--json", *options])
    out, err = capsys.readouterr()
    if ignore is not None:
        err = "".join(line + "\n" for line in err.splitlines() if not re.search(ignore, line))
    if error is not None:
        assert code == 1 and out == ""
        assert err == "monai-afpe info: error: " + error.replace("{p}", str(path)) + "\n"
        return None
    assert code == 0
    (record,) = [json.loads(line) for line in out.splitlines()]
    if warning is None:
        assert err == ""
    else:
        (line,) = err.splitlines()
        assert re.search("^monai-afpe info: warning: " + warning.replace("{p}", re.escape(str(path))), line)
    return record


def _base(sop_class: str, rows: int, columns: int, frames: int | None = None, samples: int = 1) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.PatientID = "TEST"
    ds.Rows, ds.Columns = rows, columns
    if frames is not None:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = "RGB" if samples == 3 else "MONOCHROME2"
    if samples == 3:
        ds.PlanarConfiguration = 0
    bits = 8 if samples == 3 else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    return ds


def _ds(values) -> list[float]:
    """Values that fit a DS string (at most 16 characters)."""
    return [round(float(v), 8) for v in values]


def _set(ds: Dataset, keyword: str, value) -> None:
    if value is not UNSET and value is not None:
        setattr(ds, keyword, value)


def write_slice(
    path: Path,
    position=(0.0, 0.0, 0.0),
    orientation=AXIAL,
    pixel_spacing=(0.7, 0.8),
    rows: int = 4,
    columns: int = 5,
    instance: int = 1,
    series_uid: str = "1.2.3.4",
    slice_thickness=None,
    spacing_between_slices=None,
    pixels: np.ndarray | None = None,
) -> Path:
    """A classic CT slice; ``UNSET`` leaves a geometry tag out. Pixels default to ``instance * 100 + index``."""
    ds = _base(CTImageStorage, rows, columns)
    ds.Modality = "CT"
    ds.SeriesInstanceUID = series_uid
    ds.InstanceNumber = instance
    _set(ds, "ImagePositionPatient", None if position is UNSET else _ds(position))
    _set(ds, "ImageOrientationPatient", None if orientation is UNSET else _ds(orientation))
    _set(ds, "PixelSpacing", None if pixel_spacing is UNSET else list(pixel_spacing))
    _set(ds, "SliceThickness", slice_thickness)
    _set(ds, "SpacingBetweenSlices", spacing_between_slices)
    if pixels is None:
        pixels = instance * 100 + np.arange(rows * columns, dtype=np.uint16).reshape(rows, columns)
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def write_series(folder: Path, offsets, orientation=AXIAL, origin=(10.0, -20.0, 30.0), **kwargs) -> list[Path]:
    """One slice per offset (mm) along the slice normal, instance numbers 1..n, files ``s1.dcm``..."""
    folder.mkdir(parents=True, exist_ok=True)
    normal = np.cross(orientation[:3], orientation[3:])
    return [
        write_slice(
            folder / f"s{i + 1}.dcm",
            position=tuple(np.asarray(origin) + offset * normal),
            orientation=orientation,
            instance=i + 1,
            **kwargs,
        )
        for i, offset in enumerate(offsets)
    ]


def rotation_z(degrees: float) -> tuple[float, ...]:
    """An oblique orientation: the axial row and column directions rotated about z."""
    a = np.deg2rad(degrees)
    return (np.cos(a), np.sin(a), 0.0, -np.sin(a), np.cos(a), 0.0)


def write_enhanced(
    path: Path,
    positions,
    orientation=AXIAL,
    pixel_spacing=(0.7, 0.8),
    slice_thickness=None,
    rows: int = 4,
    columns: int = 5,
    per_frame_measures: bool = False,
    rescale=(1.0, -1024.0),
    omit: tuple[str, ...] = (),
    pixels: np.ndarray | None = None,
    sop_class: str = EnhancedCTImageStorage,
    modality: str = "CT",
    volume_frame: bool = False,
) -> Path:
    """An enhanced multi-frame file of SOP class ``sop_class``: orientation (and measures) shared, positions per
    frame; ``omit`` drops macros (``"functional groups"`` drops both sequences); ``volume_frame`` states the planes
    in the volume frame of reference (PlanePositionVolumeSequence, PlaneOrientationVolumeSequence), as an
    Enhanced US Volume may."""
    frames = len(positions)
    ds = _base(sop_class, rows, columns, frames)
    ds.Modality = modality
    ds.SeriesInstanceUID = generate_uid()
    position_sequence, position_keyword, orientation_sequence, orientation_keyword = (
        (
            "PlanePositionVolumeSequence",
            "ImagePositionVolume",
            "PlaneOrientationVolumeSequence",
            "ImageOrientationVolume",
        )
        if volume_frame
        else ("PlanePositionSequence", "ImagePositionPatient", "PlaneOrientationSequence", "ImageOrientationPatient")
    )
    measures = Dataset()
    measures.PixelSpacing = list(pixel_spacing)
    _set(measures, "SliceThickness", slice_thickness)
    shared = Dataset()
    if "PlaneOrientationSequence" not in omit:
        plane = Dataset()
        setattr(plane, orientation_keyword, _ds(orientation))
        setattr(shared, orientation_sequence, [plane])
    if "PixelMeasuresSequence" not in omit and not per_frame_measures:
        shared.PixelMeasuresSequence = [measures]
    if rescale is not None:
        transform = Dataset()
        transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = rescale[0], rescale[1], "HU"
        shared.PixelValueTransformationSequence = [transform]
    per_frame = []
    for position in positions:
        item = Dataset()
        if "PlanePositionSequence" not in omit:
            plane = Dataset()
            setattr(plane, position_keyword, _ds(position))
            setattr(item, position_sequence, [plane])
        if per_frame_measures and "PixelMeasuresSequence" not in omit:
            item.PixelMeasuresSequence = [measures]
        per_frame.append(item)
    if "functional groups" not in omit:
        ds.SharedFunctionalGroupsSequence = [shared]
        ds.PerFrameFunctionalGroupsSequence = per_frame
    if pixels is None:
        pixels = np.arange(frames * rows * columns, dtype=np.uint16).reshape(frames, rows, columns)
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def write_enhanced_ct(path: Path, positions, *args, **kwargs) -> Path:
    """An Enhanced CT file (:func:`write_enhanced` with its defaults)."""
    return write_enhanced(path, positions, *args, **kwargs)


def write_xa(
    path: Path,
    frames: int | None = 4,
    rows: int = 6,
    columns: int = 8,
    enhanced: bool = True,
    pixel_spacing=None,
    imager_pixel_spacing=(0.2, 0.25),
    in_functional_groups: bool = True,
    timing=None,
    magnification=None,
) -> Path:
    """An X-ray angiography file, Enhanced XA (``enhanced``) or classic XA; ``frames=None`` leaves NumberOfFrames out.

    Enhanced: ImagerPixelSpacing in FramePixelDataPropertiesSequence and PixelSpacing in PixelMeasuresSequence
    (shared functional groups) when ``in_functional_groups``, else as top-level tags, as a classic XA file has
    them. ``timing`` maps keywords (FrameTime, CineRate, ...) to values (default FrameTime 66.7 ms).
    """
    ds = _base(EnhancedXAImageStorage if enhanced else XRayAngiographicImageStorage, rows, columns, frames)
    ds.Modality = "XA"
    ds.SeriesInstanceUID = generate_uid()
    for keyword, value in (timing if timing is not None else {"FrameTime": 66.7}).items():
        setattr(ds, keyword, value)
    _set(ds, "EstimatedRadiographicMagnificationFactor", magnification)
    if enhanced and in_functional_groups:
        shared = Dataset()
        if imager_pixel_spacing is not None:
            properties = Dataset()
            properties.ImagerPixelSpacing = list(imager_pixel_spacing)
            shared.FramePixelDataPropertiesSequence = [properties]
        if pixel_spacing is not None:
            measures = Dataset()
            measures.PixelSpacing = list(pixel_spacing)
            shared.PixelMeasuresSequence = [measures]
        ds.SharedFunctionalGroupsSequence = [shared]
        ds.PerFrameFunctionalGroupsSequence = [Dataset() for _ in range(frames or 1)]
    else:
        _set(ds, "ImagerPixelSpacing", None if imager_pixel_spacing is None else list(imager_pixel_spacing))
        _set(ds, "PixelSpacing", None if pixel_spacing is None else list(pixel_spacing))
    count = frames or 1
    ds.PixelData = (np.arange(count * rows * columns) % 1000).astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def write_radiograph(
    path: Path,
    sop_class: str = "1.2.840.10008.5.1.4.1.1.1",
    modality: str = "CR",
    rows: int = 6,
    columns: int = 8,
    imager_pixel_spacing=(0.2, 0.25),
    pixel_spacing=None,
    magnification=None,
    calibration_type=None,
    calibration_description=None,
    rescale=None,
    extra: dict | None = None,
) -> Path:
    """A projection radiograph (default Computed Radiography; DX, MG, ... by ``sop_class`` and ``modality``), one
    frame, no NumberOfFrames, no plane position. ``None`` leaves a tag out; ``magnification`` is
    EstimatedRadiographicMagnificationFactor, ``calibration_type`` PixelSpacingCalibrationType (GEOMETRY, FIDUCIAL);
    ``extra`` maps more keywords to values. Pixels are ``index % 1000``."""
    ds = _base(sop_class, rows, columns)
    ds.Modality = modality
    ds.SeriesInstanceUID = generate_uid()
    ds.InstanceNumber = 1
    _set(ds, "ImagerPixelSpacing", None if imager_pixel_spacing is None else list(imager_pixel_spacing))
    _set(ds, "PixelSpacing", None if pixel_spacing is None else list(pixel_spacing))
    _set(ds, "EstimatedRadiographicMagnificationFactor", magnification)
    _set(ds, "PixelSpacingCalibrationType", calibration_type)
    _set(ds, "PixelSpacingCalibrationDescription", calibration_description)
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    ds.PixelData = (np.arange(rows * columns) % 1000).astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def us_region(
    delta_x=0.04, delta_y=0.03, units_x=3, units_y=3, bounds=(0, 0, 9, 7), spatial_format=1, data_type=1
) -> Dataset:
    """A SequenceOfUltrasoundRegions item (deltas in the unit of the unit codes; 3 = cm; data type 1 = tissue)."""
    region = Dataset()
    region.RegionSpatialFormat = spatial_format
    region.RegionDataType = data_type
    region.RegionFlags = 0
    (
        region.RegionLocationMinX0,
        region.RegionLocationMinY0,
        region.RegionLocationMaxX1,
        region.RegionLocationMaxY1,
    ) = bounds
    region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection = units_x, units_y
    region.PhysicalDeltaX, region.PhysicalDeltaY = delta_x, delta_y
    return region


def write_us_cine(
    path: Path, frames: int = 6, rows: int = 8, columns: int = 10, timing=None, regions=None, color: bool = False
) -> Path:
    """An ultrasound multi-frame file; ``timing`` maps keywords (FrameTime, CineRate, ...) to values."""
    ds = _base(UltrasoundMultiFrameImageStorage, rows, columns, frames, samples=3 if color else 1)
    ds.Modality = "US"
    ds.SeriesInstanceUID = generate_uid()
    for keyword, value in (timing if timing is not None else {"FrameTime": 40.0}).items():
        setattr(ds, keyword, value)
    regions = [us_region()] if regions is None else regions
    if regions:
        ds.SequenceOfUltrasoundRegions = regions
    shape = (frames, rows, columns, 3) if color else (frames, rows, columns)
    dtype = np.uint8 if color else np.uint16
    ds.PixelData = (np.arange(np.prod(shape)) % 200).astype(dtype).reshape(shape).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def write_us_image(
    path: Path,
    rows: int = 8,
    columns: int = 10,
    regions=None,
    frames: int | None = None,
    color: bool = False,
    sop_class: str = UltrasoundImageStorage,
) -> Path:
    """A single-frame ultrasound image (Ultrasound Image Storage) calibrated only by its regions; ``frames=1`` writes
    NumberOfFrames 1, ``sop_class`` another class (e.g. Ultrasound Multi-frame holding one frame)."""
    ds = _base(sop_class, rows, columns, frames, samples=3 if color else 1)
    ds.Modality = "US"
    ds.SeriesInstanceUID = generate_uid()
    regions = [us_region()] if regions is None else regions
    if regions:
        ds.SequenceOfUltrasoundRegions = regions
    shape = (rows, columns, 3) if color else (rows, columns)
    dtype = np.uint8 if color else np.uint16
    ds.PixelData = (np.arange(np.prod(shape)) % 200).astype(dtype).reshape(shape).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def sample_frames(frames: int = 8, height: int = 32, width: int = 48) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 frames with flat blocks (survive lossy codecs) that change over time."""
    video = np.zeros((frames, height, width, 3), np.uint8)
    for t in range(frames):
        video[t, ..., 0] = 20 * t
        video[t, :, : width // 2, 1] = 200
        video[t, height // 2 :, :, 2] = 100
    return video


def write_video(
    path: Path,
    codec: str,
    pix_fmt: str,
    rate: Fraction | int = 25,
    frames: np.ndarray | None = None,
    container_format: str | None = None,
    pts: list[int] | None = None,
) -> np.ndarray:
    """Encode RGB ``frames`` (default :func:`sample_frames`) with PyAV; ``pts`` in ms gives explicit timestamps."""
    import av

    frames = sample_frames() if frames is None else frames
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        if pts is not None:
            stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for i, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return frames
