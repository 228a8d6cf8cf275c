"""A MONAI ``ImageReader`` backed by SimpleITK: DICOM series folders, MHA / MHD, NRRD, NIfTI.

MONAI's own :class:`~monai.data.ITKReader` needs the much heavier ``itk`` package; SimpleITK is already
a dependency of this project. This reader follows ``ITKReader``'s conventions exactly, so the two are
interchangeable in a pipeline:

- array in ITK index order ``(x, y, z)`` (the reverse of SimpleITK's NumPy view), channels last;
  ``reverse_indexing=True`` keeps NumPy's ``(z, y, x)`` order and, as in ``ITKReader``, leaves the
  affine unchanged;
- affine ``direction @ diag(spacing)`` with the origin as translation, for at most 3 spatial axes,
  converted from ITK's LPS to MONAI's RAS world unless ``affine_lps_to_ras=False``;
- DICOM series: the folder's files in SimpleITK's (GDCM's) order, sorted by position along the slice
  normal, ascending; :class:`~monai_afpe.data.readers.DicomSeriesReader` keeps ``PydicomReader``'s
  InstanceNumber order, so the two arrays are flipped along the slice axis where InstanceNumber rises
  against the normal, with the affine following the array in each (why two orders: see
  ``DicomSeriesReader``).

Unlike ``ITKReader``, the slice geometry of a DICOM series is validated with
:func:`~monai_afpe.data.readers.check_slice_geometry`: ITK only prints a note on uneven slices and
stacks slices of different planes (ITK itself refuses zero and non-finite spacings). And the affine of
a NIfTI file follows the NIfTI-1 rule of :func:`~monai_afpe.data.readers.nifti_affine` (sform, else
qform, else pixdim with a warning; errors on bad geometry), as :class:`~monai_afpe.data.readers.NiftiReader`
reads it: ITK takes the spacing from pixdim even when a valid sform says otherwise, with only a note on
the console. A single DICOM file is validated as a one-slice series (an enhanced multi-frame file by its
functional groups); other multi-frame files, whose frames ITK would stack as a third spatial axis with a
guessed spacing, are refused, and so are projection X-ray files (CR, DX, MG, XA, XRF) and ultrasound images
calibrated only by their ultrasound regions, naming the reader to use. An uncompressed or gzipped
NIfTI file whose voxel data is cut short is an error (ITK reads it without a word, the missing voxels
made up).

A file or folder SimpleITK cannot read is reported from :meth:`SimpleITKReader.get_data`, not from
``read``: MONAI's ``LoadImage`` answers a failing ``read`` by trying its other readers, and its
``NibabelReader`` would then read a NIfTI file with its own pixdim "correction", silently.
"""

from __future__ import annotations

import os
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from monai.config import PathLike
from monai.data.utils import is_supported_format, orientation_ras_lps
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple, optional_import, require_pkg

from monai_afpe.data.readers.enhanced_dicom import PROJECTION_XRAY_STORAGE, projection_refusal
from monai_afpe.data.readers.nifti import nifti_affine, nifti_to_millimetres, stored_nifti_header
from monai_afpe.data.readers.reader_base import ChannelStackReader
from monai_afpe.data.readers.slice_geometry import ENHANCED_DICOM_FIELDS, SliceGeometry, SliceStackMixin
from monai_afpe.data.readers.validation import ImageMetadataError

sitk, has_sitk = optional_import("SimpleITK")
pydicom, has_pydicom = optional_import("pydicom")
ImageOpener, _ = optional_import("nibabel.openers", name="ImageOpener")

__all__ = ["SITK_SUFFIXES", "SimpleITKReader"]

SITK_SUFFIXES = ("nii", "nii.gz", "mha", "mhd", "nrrd", "nhdr", "dcm", "gipl", "gipl.gz")
"""File suffixes :meth:`SimpleITKReader.verify_suffix` accepts (folders are read as DICOM series)."""


class _Unread:
    """A file or folder SimpleITK could not read; :meth:`SimpleITKReader.get_data` raises ``error``."""

    def __init__(self, error: Exception):
        self.error = error


def _sitk_message(error: Exception) -> str:
    """SimpleITK's message without the C++ source location and the ``sitk::ERROR:`` / ``ITK ERROR:`` prefix."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Exception thrown in SimpleITK"):
        lines = lines[1:]
    text = " ".join(lines)
    for prefix in ("sitk::ERROR:", "ITK ERROR:"):
        text = text.replace(prefix, "")
    return " ".join(text.split())


def _check_nifti_data(source: str) -> None:
    """Raise when the voxel data of a ``.nii`` or ``.nii.gz`` file ends before the header says it does."""
    header = stored_nifti_header(source)
    end = int(header.get_data_offset()) + int(np.prod(header.get_data_shape())) * header.get_data_dtype().itemsize
    with ImageOpener(source) as fileobj:
        try:
            fileobj.seek(end - 1)  # a gzipped file is decompressed up to there
            complete = len(fileobj.read(1)) == 1
        except (OSError, EOFError, zlib.error):
            complete = False
    if not complete:
        raise ImageMetadataError(
            source, "data", f"the file is truncated or damaged: the header needs {end} bytes (voxel data included)"
        )


def _dicom_file_geometry(name: str) -> tuple[list[SliceGeometry], dict | None] | None:
    """The slices of a DICOM file and their message fields, for ``check_slices``; None for other files.

    Raises:
        ImageMetadataError: a multi-frame file without functional groups (an ultrasound cine, say), a
            projection X-ray file (CR, DX, MG, XA, XRF), a single ultrasound image calibrated only by its regions.
    """
    if not has_pydicom or not pydicom.misc.is_dicom(name):
        return None
    ds = pydicom.dcmread(name, stop_before_pixels=True)
    frames = int(ds.get("NumberOfFrames") or 1)
    sop_class = str(ds.get("SOPClassUID") or "")
    if sop_class in PROJECTION_XRAY_STORAGE:
        raise projection_refusal(name, sop_class)
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        return [SliceGeometry.from_frame(ds, frame) for frame in range(frames)], ENHANCED_DICOM_FIELDS
    if frames > 1:
        raise ImageMetadataError(
            name,
            "NumberOfFrames (0028,0008)",
            f"{frames} frames and no functional groups (an ultrasound cine?): SimpleITK would stack the frames as a "
            "third spatial axis with a guessed spacing; read it with UltrasoundCineReader",
        )
    if "SequenceOfUltrasoundRegions" in ds and "PixelSpacing" not in ds:
        raise ImageMetadataError(
            name,
            "PixelSpacing (0028,0030)",
            "missing: an ultrasound image calibrated only by its SequenceOfUltrasoundRegions (0018,6011), which "
            "SimpleITK does not read; read it with UltrasoundImageReader (load_image picks it)",
        )
    return [SliceGeometry.from_dataset(ds, os.path.basename(name))], None


def _check_sitk_spacing(image, first: SliceGeometry, step: np.ndarray | None, source: str) -> None:
    """Raise unless SimpleITK's spacing of an enhanced file is the one its functional groups state.

    SimpleITK reads some enhanced files (Enhanced US Volume; frames whose uneven steps the tolerance
    accepts) at 1 x 1 x 1 mm without a word; the validated functional groups say what it should be: the
    in-plane spacing, and for more than one frame (``step`` not None) the frame step.
    """
    row, column = (float(v) for v in first.pixel_spacing)
    expected = np.asarray([column, row] + ([] if step is None else [float(np.linalg.norm(step))]))
    read = np.asarray(image.GetSpacing(), dtype=np.float64)[: len(expected)]
    if len(read) != len(expected) or not np.allclose(read, expected, rtol=1e-4, atol=1e-4):
        shown = ", ".join(f"{v:.6g}" for v in read)
        axes = "column, row" + ("" if step is None else ", frame step")
        raise ImageMetadataError(
            source,
            "spacing",
            f"SimpleITK reads ({shown}) mm, the functional groups state ({', '.join(f'{v:.6g}' for v in expected)}) "
            f"mm ({axes}); read it with EnhancedDicomReader (load_image picks it)",
        )


def _slice_geometry(reader, index: int, name: str) -> SliceGeometry:
    """Geometry of slice ``index`` from a SimpleITK series reader's per-slice DICOM dictionary."""

    def tag(key: str) -> list[str] | None:
        if not reader.HasMetaDataKey(index, key):
            return None
        value = reader.GetMetaData(index, key).strip()
        return [v.strip() for v in value.split("\\")] if value else None

    rows, columns = tag("0028|0010"), tag("0028|0011")
    thickness, between, uid = tag("0018|0050"), tag("0018|0088"), tag("0020|000e")
    return SliceGeometry(
        name=name,
        position=tag("0020|0032"),
        orientation=tag("0020|0037"),
        pixel_spacing=tag("0028|0030"),
        rows_columns=None if rows is None or columns is None else (int(rows[0]), int(columns[0])),
        slice_thickness=thickness and thickness[0],
        spacing_between_slices=between and between[0],
        series_uid=uid and uid[0],
    )


@require_pkg(pkg_name="SimpleITK")
class SimpleITKReader(SliceStackMixin, ChannelStackReader):
    """Load medical images with SimpleITK, with the conventions of MONAI's :class:`~monai.data.ITKReader`.

    Args:
        channel_dim: the channel dimension of the input image, default ``None``: ``original_channel_dim``
            is then ``"no_channel"`` for scalar images and ``-1`` otherwise (multi-component pixels, or
            a 4th image axis).
        series_name: SeriesInstanceUID to read when a folder holds several DICOM series; by default the
            first series is read, with a warning when there are several.
        reverse_indexing: keep SimpleITK's NumPy index order ``(z, y, x)`` instead of ITK's ``(x, y, z)``.
            As in ``ITKReader``, the affine is not changed, so it then no longer matches the array.
        affine_lps_to_ras: convert the affine from ITK's LPS to RAS (default), as ``ITKReader`` and
            ``NibabelReader`` do.
        tolerance: for DICOM series, the largest deviation (mm) of a slice step from the median step
            accepted with a warning (see :func:`~monai_afpe.data.readers.check_slice_geometry`).

    ``meta`` holds the image's metadata dictionary (keys starting with ``ITK_`` excluded), ``spacing``
    (SimpleITK's, as ``ITKReader`` does; it goes stale under spatial transforms, read the affine
    instead) and ``spacing_units`` (``"mm"`` per spatial axis). Several images are stacked as channels
    (a new first axis), with the first image's metadata, as MONAI's readers do.

    Raises:
        ValueError: ``tolerance`` is not a finite number >= 0.
    """

    def __init__(
        self,
        channel_dim: str | int | None = None,
        series_name: str = "",
        reverse_indexing: bool = False,
        affine_lps_to_ras: bool = True,
        tolerance: float = 0.0,
    ):
        super().__init__(tolerance=tolerance)
        self.channel_dim = float("nan") if channel_dim == "no_channel" else channel_dim
        self.series_name = series_name
        self.reverse_indexing = reverse_indexing
        self.affine_lps_to_ras = affine_lps_to_ras
        self._sources: list[str] = []
        self._slices: list[tuple[list[SliceGeometry], dict | None] | None] = []

    def verify_suffix(self, filename: Sequence[PathLike] | PathLike) -> bool:
        """Whether SimpleITK is installed and every name is a folder or has one of :data:`SITK_SUFFIXES`."""
        names = ensure_tuple(filename)
        return has_sitk and all(Path(n).is_dir() or is_supported_format(n, SITK_SUFFIXES) for n in names)

    def read(self, data: Sequence[PathLike] | PathLike, **kwargs):
        """Read one SimpleITK image per name (a folder is read as a DICOM series); a list for several names.

        The geometry of DICOM series is validated in :meth:`get_data` (``LoadImage`` tries its other
        readers when ``read`` fails, but reports errors from ``get_data``).

        What cannot be read (a folder without a DICOM series or without the series ``series_name``, a file
        SimpleITK does not read, a multi-frame DICOM file without functional groups) is raised from
        :meth:`get_data`, so that ``LoadImage`` does not fall back to a reader without these checks.

        Raises:
            TypeError: ``kwargs`` are given (SimpleITK reading takes no options here).
        """
        if kwargs:
            raise TypeError(f"SimpleITKReader.read takes no keyword arguments, got {sorted(kwargs)}.")
        self._sources = [str(name) for name in ensure_tuple(data)]
        self._slices = []
        images = []
        for name in self._sources:
            slices = None
            try:
                if os.path.isdir(name):
                    image, slices = self._read_series(name)
                else:
                    slices = _dicom_file_geometry(name)
                    image = sitk.ReadImage(name)
            except Exception as error:  # noqa: BLE001 - raised from get_data, naming the file
                image = _Unread(error)
            images.append(image)
            self._slices.append(slices)
        return images if len(images) > 1 else images[0]

    def _read_series(self, folder: str):
        field = "SeriesInstanceUID (0020,000E)"
        series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder)
        if not series:
            raise ImageMetadataError(folder, field, "no DICOM series in the folder")
        if self.series_name and self.series_name not in series:
            raise ImageMetadataError(folder, field, f"no series {self.series_name!r}; the folder holds {list(series)}")
        if not self.series_name and len(series) > 1:
            warnings.warn(f"{folder}: {field}: {len(series)} series in the folder; reading {series[0]}", stacklevel=3)
        files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, self.series_name or series[0])
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(files)
        reader.MetaDataDictionaryArrayUpdateOn()
        try:
            image = reader.Execute()
        except RuntimeError as error:  # the slices' own geometry may say why (e.g. different image sizes)
            headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files] if has_pydicom else []
            slices = [SliceGeometry.from_dataset(ds, os.path.basename(f)) for ds, f in zip(headers, files)]
            return _Unread(error), ((slices, None) if slices else None)
        return image, ([_slice_geometry(reader, i, os.path.basename(f)) for i, f in enumerate(files)], None)

    def get_one(self, img, index: int) -> tuple[np.ndarray, dict]:
        """Array and metadata (``affine``, ``original_affine``, ``spatial_shape``, ...) of one image.

        Raises ``ImageMetadataError`` when a DICOM series' or file's slice geometry is invalid (see
        :func:`~monai_afpe.data.readers.check_slice_geometry`), when a NIfTI file's geometry is (see
        :func:`~monai_afpe.data.readers.nifti_affine`) or its voxel data is cut short, and, naming the file
        (field ``file``), when SimpleITK could not read it. A single DICOM slice warns that its slice
        spacing is SimpleITK's placeholder.
        """
        source, slices = self._sources[index], self._slices[index]
        step = None if slices is None else self.check_slices(slices[0], source, slices[1])
        if isinstance(img, _Unread):
            self._raise_unread(img.error, source)
        if slices is not None and slices[1] is ENHANCED_DICOM_FIELDS:
            _check_sitk_spacing(img, slices[0][0], step, source)
        is_nifti = is_supported_format(source, ("nii", "nii.gz"))
        if is_nifti:
            _check_nifti_data(source)
        if slices is not None and len(slices[0]) == 1 and img.GetDimension() == 3 and img.GetSize()[2] == 1:
            warnings.warn(
                f"{source}: slice spacing: a single slice states none; the third axis has SimpleITK's "
                f"{img.GetSpacing()[2]:.6g} mm (DicomSeriesReader reads the slice as a 2D image)",
                stacklevel=3,
            )
        array = sitk.GetArrayFromImage(img)
        if not self.reverse_indexing:
            array = array.T if img.GetNumberOfComponentsPerPixel() == 1 else np.moveaxis(array.T, 0, -1)
        meta = {key: img.GetMetaData(key) for key in img.GetMetaDataKeys() if not key.startswith("ITK_")}
        meta["spacing"] = np.asarray(img.GetSpacing())
        affine = self._get_affine(img)
        if is_nifti:
            affine = self._nifti_affine(source, rank=len(affine) - 1)
            meta["spacing"][: len(affine) - 1] = np.linalg.norm(affine[:-1, :-1], axis=0)
        meta[MetaKeys.ORIGINAL_AFFINE] = affine
        meta[MetaKeys.AFFINE] = meta[MetaKeys.ORIGINAL_AFFINE].copy()
        meta[MetaKeys.SPACE] = SpaceKeys.RAS if self.affine_lps_to_ras else SpaceKeys.LPS
        meta[MetaKeys.SPATIAL_SHAPE] = self._get_spatial_shape(img)
        if self.channel_dim is None:
            no_channel = array.ndim == len(meta[MetaKeys.SPATIAL_SHAPE])
            meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = float("nan") if no_channel else -1
        else:
            meta[MetaKeys.ORIGINAL_CHANNEL_DIM] = self.channel_dim
        meta["spacing_units"] = ("mm",) * len(meta[MetaKeys.SPATIAL_SHAPE])
        return array, meta

    @staticmethod
    def _raise_unread(error: Exception, source: str) -> None:
        """Raise for what ``read`` could not read: the NIfTI geometry error if that is why, else one naming the file."""
        if isinstance(error, ImageMetadataError):
            raise error
        if is_supported_format(source, ("nii", "nii.gz")):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # only the error matters here
                    nifti_affine(stored_nifti_header(source), source)
            except ImageMetadataError as geometry:  # ITK refuses e.g. a singular sform
                raise geometry from error
            except Exception:  # noqa: BLE001 - not even a header: SimpleITK's message says what is wrong
                pass
            hint = " (NiftiReader reads NIfTI-1 and NIfTI-2 files, 2D ones in any plane)"
        else:
            hint = ""
        raise ImageMetadataError(source, "file", f"SimpleITK cannot read it: {_sitk_message(error)}{hint}") from error

    def _get_affine(self, image) -> np.ndarray:
        """``direction @ diag(spacing)`` and the origin, over at most 3 spatial axes; RAS unless asked not to."""
        dim = image.GetDimension()
        rank = min(dim, 3)
        direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(dim, dim)[:rank, :rank]
        affine = np.eye(rank + 1)
        affine[:rank, :rank] = direction @ np.diag(np.asarray(image.GetSpacing(), dtype=np.float64)[:rank])
        affine[:rank, -1] = np.asarray(image.GetOrigin(), dtype=np.float64)[:rank]
        return orientation_ras_lps(affine) if self.affine_lps_to_ras else affine

    def _nifti_affine(self, source: str, rank: int) -> np.ndarray:
        """The NIfTI-1 affine of ``source`` in mm over its first ``rank`` axes; RAS unless asked not to."""
        header = stored_nifti_header(source)
        affine = nifti_to_millimetres(header, nifti_affine(header, source)[0], source)
        axes = [*range(rank), 3]
        affine = affine[np.ix_(axes, axes)]
        return affine if self.affine_lps_to_ras else orientation_ras_lps(affine)

    def _get_spatial_shape(self, image) -> np.ndarray:
        size = list(image.GetSize())
        if isinstance(self.channel_dim, int):
            size.pop(self.channel_dim)
        return np.asarray(size[: min(image.GetDimension(), 3)])
