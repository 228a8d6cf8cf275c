"""Writing generated data sets as real files: NIfTI, AVI, ultrasound cine DICOM, datalists, splits.

Shared by the synthetic generators and by the OrganMNIST3D export, so that every data set this
project writes stores its geometry where readers look for it: NIfTI files whose affine carries the
voxel spacing in mm, AVI files whose frame rate gives the time step, DICOM cine files with
``FrameTime`` and an ultrasound region calibrated in cm, and a datalist JSON that
:func:`monai.data.load_decathlon_datalist` reads. Every writer is deterministic (same input, same bytes).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import nibabel as nib
import numpy as np
from monai.utils import look_up_option

from monai_afpe.validation import check_positive_int, check_positive_number

__all__ = [
    "SPLIT_KEYS",
    "AVI_CODECS",
    "spacing_affine",
    "write_nifti",
    "write_json",
    "write_csv",
    "write_avi",
    "write_ultrasound_cine_dicom",
    "write_radiograph_dicom",
    "split_counts",
    "balanced_splits",
]

#: datalist keys of the three splits, in the order MONAI bundles use them
SPLIT_KEYS = ("training", "validation", "test")
#: AVI codecs for grayscale video -> pixel format; ``ffv1`` and ``rawvideo`` are lossless, ``mjpeg`` is not
AVI_CODECS = {"ffv1": "gray", "rawvideo": "gray", "mjpeg": "yuvj444p"}
#: DICOM SOP class "Ultrasound Multi-frame Image Storage"
_US_MULTIFRAME_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
#: DICOM SOP class "Digital X-Ray Image Storage - For Presentation"
_DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"


def spacing_affine(spacing: Sequence[float], origin: Sequence[float]) -> np.ndarray:
    """4x4 affine of an axis-aligned grid: ``diag(spacing)`` and the world position of voxel (0, 0, 0)."""
    affine = np.diag([*map(float, spacing), 1.0])
    affine[:3, 3] = np.asarray(origin, dtype=float)
    return affine


def _new_dataset(sop_class: str, modality: str, patient_id: str, uid_entropy, image_type: list[str]):
    """A pydicom ``Dataset`` with its file meta, SOP class, seeded study / series / instance UIDs and patient."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    def uid(kind: str) -> str:
        return generate_uid(entropy_srcs=[*map(str, uid_entropy), kind])

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid("instance")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.Modality = modality
    ds.PatientID = ds.PatientName = patient_id
    ds.SeriesNumber = ds.InstanceNumber = 1
    ds.ImageType = image_type
    return ds


def write_nifti(path: os.PathLike | str, array: np.ndarray, affine: np.ndarray) -> Path:
    """Write ``array`` (x, y, z) as NIfTI-1 with ``affine`` as both qform and sform, lengths in mm.

    ``.nii.gz`` files are written by nibabel's deterministic gzip (fixed modification time), so the
    same array gives the same bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(np.asarray(array), affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nib.save(image, path)
    return path


def write_json(path: os.PathLike | str, content: Mapping) -> Path:
    """Write ``content`` as indented JSON (a datalist or a Decathlon ``dataset.json``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n")
    return path


def write_csv(path: os.PathLike | str, rows: Sequence[Mapping], columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` as a CSV table with a header (``columns``, default: the keys of the first row)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns or rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_avi(path: os.PathLike | str, video: np.ndarray, fps: float, codec: str = "ffv1") -> Path:
    """Write a grayscale ``video`` (uint8, ``(frames, height, width)``) as AVI at ``fps`` frames per second.

    The default ``ffv1`` codec is lossless (what is written is what a reader decodes) and readable by
    FFmpeg-based readers (PyAV, OpenCV); ``mjpeg`` suits players without FFV1 but is lossy.
    Needs PyAV (``pip install av``).
    """
    try:
        import av
    except ImportError as e:
        raise ImportError(f"writing {path} needs PyAV: pip install av (or monai-afpe[video]).") from e
    pix_fmt = look_up_option(codec, AVI_CODECS)
    video = np.asarray(video)
    if video.ndim != 3 or video.dtype != np.uint8:
        raise ValueError(f"video must be a uint8 array (frames, height, width), got {video.dtype} {video.shape}.")
    check_positive_number(fps, "fps", unit="frames per second")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.height, stream.width = video.shape[1:]
        stream.pix_fmt = pix_fmt
        for frame in video:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="gray")))
        container.mux(stream.encode())
    return path


def write_ultrasound_cine_dicom(
    path: os.PathLike | str,
    video: np.ndarray,
    fps: float,
    pixel_spacing_mm: float,
    region: Sequence[int],
    reference_pixel: Sequence[int],
    uid_entropy: Sequence[str],
    reference_position_mm: Sequence[float] = (0.0, 0.0),
    patient_id: str = "SYNTHETIC",
    heart_rate: float | None = None,
) -> Path:
    """Write a grayscale ``video`` (uint8, ``(frames, rows, columns)``) as an ultrasound cine DICOM file.

    Ultrasound Multi-frame Image Storage, explicit VR little endian, MONOCHROME2, with the cine
    timing (``FrameTime`` in ms, ``FrameIncrementPointer`` -> FrameTime, ``CineRate``) and one
    ``SequenceOfUltrasoundRegions`` item: a 2D tissue region whose pixel size is
    ``PhysicalDeltaX`` / ``PhysicalDeltaY`` in cm (``PhysicalUnitsX/YDirection = 3``).

    Args:
        path: output file.
        video: uint8 frames.
        fps: frame rate; ``FrameTime = 1000 / fps`` ms.
        pixel_spacing_mm: square pixel size in mm (written in cm).
        region: ``(min_x, min_y, max_x, max_y)`` pixel bounds of the region, inside the image.
        reference_pixel: ``(x, y)`` pixel whose physical position is ``reference_position_mm``.
        uid_entropy: strings that make the study, series and instance UIDs (deterministic).
        reference_position_mm: ``(x, y)`` position of ``reference_pixel`` relative to the transducer
            (written in cm as ReferencePixelPhysicalValueX / Y).
        patient_id: PatientID and PatientName.
        heart_rate: beats per minute, written as HeartRate when given.
    """
    from pydicom.dataset import Dataset
    from pydicom.tag import Tag

    video = np.asarray(video)
    if video.ndim != 3 or video.dtype != np.uint8:
        raise ValueError(f"video must be a uint8 array (frames, rows, columns), got {video.dtype} {video.shape}.")
    frames, rows, columns = video.shape
    min_x, min_y, max_x, max_y = (int(v) for v in region)
    if not (0 <= min_x <= max_x < columns and 0 <= min_y <= max_y < rows):
        raise ValueError(f"region {tuple(region)} must lie inside the {columns}x{rows} image (x0 <= x1, y0 <= y1).")
    check_positive_number(fps, "fps", unit="frames per second")
    check_positive_number(pixel_spacing_mm, "pixel_spacing_mm", unit="mm")

    ds = _new_dataset(_US_MULTIFRAME_STORAGE, "US", patient_id, uid_entropy, ["DERIVED", "SECONDARY"])
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime = f"{1000.0 / fps:.10g}"
    ds.FrameIncrementPointer = Tag(0x0018, 0x1063)
    ds.CineRate = int(round(fps))
    ds.RecommendedDisplayFrameRate = int(round(fps))
    if heart_rate is not None:
        ds.HeartRate = int(round(heart_rate))
    item = Dataset()
    item.RegionSpatialFormat = 1  # 2D tissue image
    item.RegionDataType = 1  # tissue
    item.RegionFlags = 0
    item.RegionLocationMinX0, item.RegionLocationMinY0 = min_x, min_y
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = max_x, max_y
    item.PhysicalUnitsXDirection = item.PhysicalUnitsYDirection = 3  # cm
    item.PhysicalDeltaX = item.PhysicalDeltaY = float(pixel_spacing_mm) / 10.0
    item.ReferencePixelX0, item.ReferencePixelY0 = (int(v) for v in reference_pixel)
    item.ReferencePixelPhysicalValueX, item.ReferencePixelPhysicalValueY = (v / 10.0 for v in reference_position_mm)
    ds.SequenceOfUltrasoundRegions = [item]
    ds.PixelData = np.ascontiguousarray(video).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_radiograph_dicom(
    path: os.PathLike | str,
    image: np.ndarray,
    imager_pixel_spacing_mm: float,
    uid_entropy: Sequence[str],
    pixel_spacing_mm: float | None = None,
    magnification: float | None = None,
    bits_stored: int = 12,
    patient_id: str = "SYNTHETIC",
    view_position: str = "PA",
) -> Path:
    """Write a grayscale radiograph (uint16, ``(rows, columns)``) as a Digital X-Ray (DX) DICOM file.

    Digital X-Ray Image Storage - For Presentation, explicit VR little endian, MONOCHROME2, one frame, with
    ImagerPixelSpacing (0018,1164, at the detector), EstimatedRadiographicMagnificationFactor (0018,1114) when
    given and, when ``pixel_spacing_mm`` is given, PixelSpacing (0028,0030) with PixelSpacingCalibrationType
    ``GEOMETRY`` (the pixel size in the patient, which
    :func:`~monai_afpe.data.readers.projection_pixel_spacing` then uses without a warning). Square pixels.

    Args:
        path: output file.
        image: uint16 pixels below ``2 ** bits_stored``.
        imager_pixel_spacing_mm: pixel size at the detector (mm).
        uid_entropy: strings that make the study, series and instance UIDs (deterministic).
        pixel_spacing_mm: calibrated pixel size in the patient (mm), or None to leave PixelSpacing out.
        magnification: EstimatedRadiographicMagnificationFactor (>= 1), or None to leave it out.
        bits_stored: BitsStored (at most 16).
        patient_id: PatientID and PatientName.
        view_position: ViewPosition (PA, AP, LL, ...).

    Raises:
        ValueError: ``image`` is not a 2D uint16 array within ``bits_stored`` bits, a spacing is not > 0, the
            magnification is below 1.
    """

    image = np.asarray(image)
    bits_stored = check_positive_int(bits_stored, "bits_stored")
    if image.ndim != 2 or image.dtype != np.uint16 or bits_stored > 16 or int(image.max(initial=0)) >> bits_stored:
        raise ValueError(
            f"image must be a uint16 array (rows, columns) below 2 ** bits_stored (bits_stored={bits_stored} <= 16), "
            f"got {image.dtype} {image.shape}."
        )
    check_positive_number(imager_pixel_spacing_mm, "imager_pixel_spacing_mm", unit="mm")
    if pixel_spacing_mm is not None:
        check_positive_number(pixel_spacing_mm, "pixel_spacing_mm", unit="mm")
    if magnification is not None and not (np.isfinite(magnification) and magnification >= 1.0):
        raise ValueError(f"magnification must be a finite number >= 1 (SID / SOD), got {magnification!r}.")

    def ds_value(value: float) -> str:
        return f"{float(value):.6g}"

    ds = _new_dataset(_DX_FOR_PRESENTATION, "DX", patient_id, uid_entropy, ["DERIVED", "PRIMARY"])
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ViewPosition = view_position
    ds.BodyPartExamined = "CHEST"
    ds.Rows, ds.Columns = image.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits_stored, bits_stored - 1, 0
    ds.ImagerPixelSpacing = [ds_value(imager_pixel_spacing_mm)] * 2
    if magnification is not None:
        ds.EstimatedRadiographicMagnificationFactor = ds_value(magnification)
    if pixel_spacing_mm is not None:
        ds.PixelSpacing = [ds_value(pixel_spacing_mm)] * 2
        ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelData = np.ascontiguousarray(image, dtype="<u2").tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def split_counts(num_samples: int, fractions: Sequence[float]) -> tuple[int, ...]:
    """Number of samples per split for ``fractions`` (train, validation, test) of ``num_samples``.

    Validation and test get ``round(fraction * num_samples)`` but at least one sample each when their
    fraction is positive and enough samples remain for training; training gets the rest.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(
            "split fractions must be three non-negative numbers (train, validation, test) summing to 1, "
            f"got {fractions}."
        )
    check_positive_int(num_samples, "num_samples")
    held_out = []
    for fraction in fractions[1:]:
        count = int(round(fraction * num_samples))
        if fraction > 0 and count == 0 and num_samples - sum(held_out) > 1:
            count = 1
        held_out.append(count)
    train = num_samples - sum(held_out)
    if train < 1:
        raise ValueError(f"split fractions {fractions} leave no training sample out of num_samples={num_samples}.")
    return (train, *held_out)


def balanced_splits(
    num_samples: int, num_classes: int, fractions: Sequence[float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Class labels balanced over the whole set and over each split, in a random sample order.

    Positions ``0, 1, 2, ...`` get labels ``0, 1, ..., num_classes - 1, 0, 1, ...`` and consecutive
    blocks of positions form the test, validation and training splits, so every split cycles through
    the classes; a random permutation then maps positions to sample indices, so that neither a file
    name nor an index reveals the label.

    Returns:
        ``labels`` (int array) and ``splits`` (array of :data:`SPLIT_KEYS` entries), indexed by sample.
    """
    train, val, test = split_counts(num_samples, fractions)
    position_labels = np.arange(num_samples) % num_classes
    position_splits = np.array(["test"] * test + ["validation"] * val + ["training"] * train)
    order = rng.permutation(num_samples)
    return position_labels[order], position_splits[order]
