"""Bad inputs through the readers, ``load_image``, ``monai-afpe info``, the spacing transforms and the networks.

Issue 13: spacing is never silently wrong and a bad file is named. Every case here is one tiny input
(a NIfTI header set as a careless tool leaves it, a DICOM series with a slice missing, a video cut
short, a spacing of 0 or NaN handed to a transform) and its one expected outcome:

- ``error``: the exception type and a message that names the file (``{p}``) and the field;
- ``warning``: the warning and the spacing the result then has;
- ``value``: the spacing of the result, and no warning about the data.

docs/reliability.md counts the cases and gives the verdicts of the audit that produced them. Cases
still short of a clear error are marked ``xfail(strict=True)`` with the reason, so that fixing one
turns the mark into a failure that asks for it to be removed.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import LoadImage
from pydicom.uid import EnhancedMRImageStorage, EnhancedPETImageStorage, EnhancedUSVolumeStorage
from readers_testdata import (
    UNSET,
    data_warnings,
    rotation_z,
    sample_frames,
    us_region,
    write_enhanced,
    write_enhanced_ct,
    write_series,
    write_slice,
    write_us_cine,
    write_us_image,
    write_video,
    write_xa,
)

from monai_afpe.cli import main
from monai_afpe.data.readers import (
    DicomSeriesReader,
    ImageMetadataError,
    NiftiGeometryWarning,
    SimpleITKReader,
    UltrasoundCineReader,
    load_image,
)
from monai_afpe.networks.nets import AFPEUNETR, AFPEViT
from monai_afpe.transforms import (
    ComputeAFPEScales,
    ExtractSpacing,
    ExtractSpacingd,
    RandSpacing,
    RandSpacingd,
    SetPixelSpacing,
    SetPixelSpacingd,
    compute_afpe_scales,
    image_spacing,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")


@dataclass(frozen=True)
class Case:
    """One bad input: ``make(tmp_path)`` builds it, ``call(input)`` runs it; one of ``error`` / ``warning`` / neither.

    ``{p}`` in a pattern stands for the input file or folder (regex-escaped).
    """

    id: str
    make: Callable[[Path], object]
    call: Callable[[object], object]
    error: tuple[type[BaseException], str] | None = None
    warning: tuple[type[Warning], str] | None = None
    spacing: tuple[float, ...] | None = None
    xfail: tuple[str, type[BaseException]] | None = None  # why the case is still short, and what it raises now

    @property
    def kind(self) -> str:
        return "error" if self.error else "warning" if self.warning else "value"


# ------------------------------------------------------------------------------------------------ inputs


def nifti(name, shape=(4, 5, 6), sform=None, sform_code=0, qform=None, qform_code=0, pixdim=None, units="mm",
          xyzt=None, image_class=nib.Nifti1Image, time_unit="sec", edit=None):  # fmt: skip
    """A NIfTI file with exactly these header fields (nibabel would fix some); ``edit`` changes the stored header."""

    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        img = image_class(np.arange(math.prod(shape), dtype=np.float32).reshape(shape), None)
        header = img.header
        if qform is not None:
            header.set_qform(qform)
        if sform is not None:
            header.set_sform(sform)
        if pixdim is not None:
            header["pixdim"][1 : 1 + len(pixdim)] = pixdim
        header["sform_code"], header["qform_code"] = sform_code, qform_code
        if xyzt is not None:
            header["xyzt_units"] = xyzt
        else:
            header["xyzt_units"] = 0 if units is None else nib.nifti1.unit_codes.code[units]
            header["xyzt_units"] |= nib.nifti1.unit_codes.code[time_unit]
        nib.save(img, path)
        if edit is not None:  # an uncompressed file
            with open(path, "r+b") as f:
                stored = type(header).from_fileobj(f, check=False)
                edit(stored)
                f.seek(0)
                stored.write_to(f)
        return path

    return make


def cut(make, keep: float = 0.5, drop: int | None = None):
    """The file ``make`` writes, cut to a fraction of its bytes (or with its last ``drop`` bytes removed)."""

    def cut_make(tmp_path: Path) -> Path:
        path = make(tmp_path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - drop] if drop else data[: int(len(data) * keep)])
        return path

    return cut_make


def keep_header_only(make):
    def header_only(tmp_path: Path) -> Path:
        path = make(tmp_path)
        path.write_bytes(path.read_bytes()[:348])
        return path

    return header_only


def renamed(make, name: str):
    def rename(tmp_path: Path) -> Path:
        return make(tmp_path).rename(tmp_path / name)

    return rename


def file_with(name: str, content: bytes):
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return make


def folder(name: str, files: dict[str, bytes] | None = None):
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.mkdir()
        for file, content in (files or {}).items():
            (path / file).write_bytes(content)
        return path

    return make


def series(offsets=(0.0, 2.5, 5.0), replace=None, extra=None, edit=None, notes=False, **kwargs):
    """A CT series folder; ``replace`` rewrites slice 2 with these ``write_slice`` options, ``extra`` adds a slice,
    ``edit(name, dataset)`` changes the stored slices, ``notes`` adds a text file."""

    def make(tmp_path: Path) -> Path:
        path = tmp_path / "series"
        write_series(path, offsets, **kwargs)
        if notes:
            (path / "README.txt").write_text("scanner notes")
        if replace is not None:
            options = {"position": (10.0, -20.0, 30.0 + offsets[1]), "instance": 2, **replace}
            write_slice(path / "s2.dcm", **options)
        if extra is not None:
            write_slice(path / "extra.dcm", **extra)
        if edit is not None:
            for file in sorted(path.glob("s*.dcm")):
                ds = pydicom.dcmread(file)
                edit(file.name, ds)
                ds.save_as(file)
        return path

    return make


def dicom_slice(name="slice.dcm", **kwargs):
    def make(tmp_path: Path) -> Path:
        return write_slice(tmp_path / name, **kwargs)

    return make


def enhanced(positions=((0, 0, 0), (0, 0, 2), (0, 0, 4)), **kwargs):
    def make(tmp_path: Path) -> Path:
        return write_enhanced_ct(tmp_path / "enhanced.dcm", positions, **kwargs)

    return make


def cine(**kwargs):
    def make(tmp_path: Path) -> Path:
        return write_us_cine(tmp_path / "cine.dcm", **kwargs)

    return make


def us_image(**kwargs):
    def make(tmp_path: Path) -> Path:
        return write_us_image(tmp_path / "us.dcm", **kwargs)

    return make


def enhanced_of(sop_class, modality, **kwargs):
    """An enhanced multi-frame file of another SOP class than Enhanced CT."""

    def make(tmp_path: Path) -> Path:
        positions = ((0, 0, 0), (0, 0, 2), (0, 0, 4))
        return write_enhanced(tmp_path / "enhanced.dcm", positions, sop_class=sop_class, modality=modality, **kwargs)

    return make


def xa(**kwargs):
    def make(tmp_path: Path) -> Path:
        return write_xa(tmp_path / "xa.dcm", **kwargs)

    return make


def video(name="clip.avi", frames=None, **kwargs):
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        write_video(path, kwargs.pop("codec", "mjpeg"), kwargs.pop("pix_fmt", "yuvj420p"), frames=frames, **kwargs)
        return path

    return make


def audio_only(tmp_path: Path) -> Path:
    import av

    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


def absent(tmp_path: Path) -> Path:
    return tmp_path / "absent.nii.gz"


def image(affine=(0.8, 0.9, 2.0), shape=(1, 4, 5, 6), name="img.nii", units=None):
    """A MetaTensor; ``affine`` is the diagonal of its affine, or the affine itself."""
    matrix = np.asarray(affine, dtype=np.float64)
    matrix = np.diag([*matrix, 1.0]) if matrix.ndim == 1 else matrix
    meta = {"filename_or_obj": name, **({"spacing_units": units} if units else {})}
    return lambda tmp_path: MetaTensor(torch.zeros(shape), affine=torch.as_tensor(matrix), meta=meta)


def clip():
    return image((0.04, 1.0, 1.0), (3, 8, 6, 5), "v.avi", ("s", "mm", "mm"))


def given(value):
    return lambda tmp_path: value


# ------------------------------------------------------------------------------------------------ calls


def load(path):
    return load_image(path)


def sitk(path):
    """MONAI's usual way to name a reader: ``LoadImage`` then falls back to its other readers when ``read`` fails."""
    return LoadImage(reader=SimpleITKReader(), image_only=True, ensure_channel_first=True)(str(path))


def series_reader(path):
    return LoadImage(reader=DicomSeriesReader(), image_only=True, ensure_channel_first=True)(str(path))


def set_from_item(value):
    """``SetPixelSpacingd`` with the item's ``pixel_spacing`` = ``value``; the image."""
    return lambda x: SetPixelSpacingd("image")({"image": x, "pixel_spacing": value})["image"]


def load_with(**options):
    return lambda path: load_image(path, **options)


TINY_VIT = dict(in_channels=1, img_size=(16, 12, 8), patch_size=(4, 4, 2), hidden_size=24, mlp_dim=32, num_layers=1,
                num_heads=2)  # fmt: skip
PHYSICAL = dict(mode="physical", reference_extent=40.0)


def vit(**kwargs) -> AFPEViT:
    torch.manual_seed(0)
    return AFPEViT(**{**TINY_VIT, "pos_embed_kwargs": PHYSICAL, **kwargs})


def vit_forward(spacing, **kwargs):
    def call(_):
        return vit(**kwargs)(torch.zeros(2, 1, 16, 12, 8), spacing)

    return call


def unetr_forward(spacing):
    def call(_):
        torch.manual_seed(0)
        net = AFPEUNETR(1, 2, (16, 16, 16), feature_size=4, hidden_size=24, mlp_dim=32, num_layers=4, num_heads=2,
                        pos_embed_kwargs=PHYSICAL)  # fmt: skip
        return net(torch.zeros(1, 1, 16, 16, 16), spacing)

    return call


def info_line(path):
    """``monai-afpe info``: exit status and stderr, checked to be single lines; the message is returned or raised."""
    import contextlib
    import io

    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        code = main(["info", str(path)])
    lines = stderr.getvalue().splitlines()
    assert all(line.startswith("monai-afpe info: ") for line in lines) and "Traceback" not in stderr.getvalue()
    errors = [line for line in lines if line.startswith("monai-afpe info: error: ")]
    if code:
        assert code == 1 and len(errors) == 1 and stdout.getvalue() == ""
        raise RuntimeError(errors[0])
    for line in lines:
        warnings.warn(line, UserWarning, stacklevel=1)
    return code


# ------------------------------------------------------------------------------------------------ the cases

STALE_SFORM = dict(sform=np.diag([0.8, 0.8, 3.0, 1.0]), sform_code=1, pixdim=(1.0, 1.0, 1.0))
SINGULAR = np.array([[1.0, 2, 0, 0], [1, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 1]])
SAGITTAL_2D = np.array([[0.0, 0, 1, 0], [0.5, 0, 0, 0], [0, 0.7, 0, 0], [0, 0, 0, 1]])
GOOD_SFORM = dict(sform=np.diag([0.8, 0.8, 3.0, 1.0]), sform_code=1, pixdim=(0.8, 0.8, 3.0))


def bad_quaternion(header):
    header["quatern_b"], header["quatern_c"] = 1.0, 1.0


def dim_entry(index: int, value: int):
    def edit(header):
        header["dim"][index] = value

    return edit


def drop_instance_number(name, ds):
    if name == "s2.dcm":
        del ds.InstanceNumber


def drop_orientation(name, ds):
    del ds.ImageOrientationPatient


def instance_numbers_against_positions(name, ds):
    ds.InstanceNumber = {"s1.dcm": 2, "s2.dcm": 3, "s3.dcm": 1}[name]


MDE = ImageMetadataError
NGW = NiftiGeometryWarning
STALE = r"{p}: sform: the sform \(sform_code 1\) gives spacing 0\.8, 0\.8, 3 but pixdim\[1:4\] says 1, 1, 1"
UNREADABLE_BY_SITK = r"{p}: file: SimpleITK cannot read it: "
PIXEL_SPACING_ARG = r"pixel_spacing must be one or 2 finite numbers > 0"
SET_PIXEL_SPACING = r"pixel_spacing must be one or 2 finite numbers > 0 \(mm\)"
AFFINE_SPACING = r"img\.nii: field 'affine' gives spacing \[0\.8, {v}, 2\.0\]; spacing must be finite and > 0"
NET_SPACING = r"spacing must be finite and positive"
NET_DEFAULT_SPACING = r"spacing must be one or 3 finite numbers > 0"
SPACING_SHAPE = r"spacing must have shape \(B, 3\) or \(3,\)"
XA_DETECTOR = (
    r"{p}: FramePixelDataPropertiesSequence > ImagerPixelSpacing \(0018,1164\): .* the pixel size at the detector"
)
XA_UNCALIBRATED = r"{p}: PixelSpacing \(0028,0030\) / ImagerPixelSpacing \(0018,1164\): missing.* without calibration"

NIFTI_CASES = [
    # the NIfTI-1 rule: sform, else qform, else pixdim with a warning; errors name file and field
    Case(
        "nifti-sform1-stale-pixdim", nifti("a.nii.gz", **STALE_SFORM), load, warning=(NGW, STALE), spacing=(0.8, 0.8, 3)
    ),
    Case(
        "nifti-sform1-stale-pixdim-sitk",
        nifti("a.nii.gz", **STALE_SFORM),
        sitk,
        warning=(NGW, STALE),
        spacing=(0.8, 0.8, 3),
    ),
    Case(
        "nifti-pixdim0-valid-sform",
        nifti("a.nii", sform=np.diag([1, 1, 3, 1.0]), sform_code=2, pixdim=(0, 0, 0)),
        load,
        warning=(NGW, r"{p}: sform: .* gives spacing 1, 1, 3 but pixdim\[1:4\] says 0, 0, 0"),
        spacing=(1, 1, 3),
    ),
    Case(
        "nifti-pixdim0-valid-sform-sitk",
        nifti("a.nii", sform=np.diag([1, 1, 3, 1.0]), sform_code=2, pixdim=(0, 0, 0)),
        sitk,
        warning=(NGW, r"{p}: sform: .* pixdim\[1:4\] says 0, 0, 0"),
        spacing=(1, 1, 3),
    ),
    Case(
        "nifti-nan-pixdim-valid-sform",
        nifti("a.nii", sform=np.diag([1, 1, 2, 1.0]), sform_code=1, pixdim=(1, np.nan, 1)),
        load,
        warning=(NGW, r"{p}: sform: .* pixdim\[1:4\] says 1, nan, 1"),
        spacing=(1, 1, 2),
    ),
    Case(
        "nifti-negative-pixdim-valid-sform",
        nifti("a.nii", sform=np.diag([1, 2, 1, 1.0]), sform_code=1, pixdim=(1, -2, 1)),
        load,
        warning=(NGW, r"{p}: sform: .* says 1, -2, 1"),
        spacing=(1, 2, 1),
    ),
    Case(
        "nifti-singular-sform",
        nifti("a.nii", sform=SINGULAR, sform_code=1),
        load,
        error=(MDE, r"{p}: sform: singular affine"),
    ),
    Case(
        "nifti-singular-sform-sitk",
        nifti("a.nii", sform=SINGULAR, sform_code=1),
        sitk,
        error=(MDE, r"{p}: sform: singular affine"),
    ),
    Case(
        "nifti-zero-sform-column",
        nifti("a.nii", sform=np.diag([1, 1, 0, 1.0]), sform_code=1),
        load,
        error=(MDE, r"{p}: sform: zero spacing along array axes \[2\]"),
    ),
    Case(
        "nifti-inf-sform",
        nifti("a.nii", sform=np.diag([1, np.inf, 1, 1.0]), sform_code=1),
        load,
        error=(MDE, r"{p}: sform: non-finite values in the affine"),
    ),
    Case(
        "nifti-inf-sform-sitk",
        nifti("a.nii", sform=np.diag([1, np.inf, 1, 1.0]), sform_code=1),
        sitk,
        error=(MDE, r"{p}: sform: non-finite values in the affine"),
    ),
    Case(
        "nifti-nan-pixdim-qform",
        nifti("a.nii", qform=np.eye(4), qform_code=1, pixdim=(1, np.nan, 1)),
        load,
        error=(MDE, r"{p}: qform: pixdim\[1:4\] \(the qform's voxel size\) must be finite and > 0, got 1, nan, 1"),
    ),
    Case(
        "nifti-negative-pixdim-qform",
        nifti("a.nii", qform=np.eye(4), qform_code=1, pixdim=(1, -2, 1)),
        load,
        error=(MDE, r"{p}: qform: pixdim\[1:4\] .* got 1, -2, 1"),
    ),
    Case(
        "nifti-qform-not-a-rotation",
        nifti("a.nii", qform=np.eye(4), qform_code=1, edit=bad_quaternion),
        load,
        error=(MDE, r"{p}: qform: quatern_b, quatern_c, quatern_d = 1, 1, 0 are not a rotation"),
    ),
    Case(
        "nifti-qform-not-a-rotation-sitk",
        nifti("a.nii", qform=np.eye(4), qform_code=1, edit=bad_quaternion),
        sitk,
        error=(MDE, r"{p}: qform: quatern_b, quatern_c, quatern_d = 1, 1, 0 are not a rotation"),
    ),
    Case(
        "nifti-nan-pixdim-no-form",
        nifti("a.nii", pixdim=(1, np.nan, 1)),
        load,
        error=(MDE, r"{p}: pixdim: no sform or qform \(both codes 0\) and pixdim\[1:4\] = 1, nan, 1"),
    ),
    Case(
        "nifti-pixdim-only",
        nifti("a.nii", pixdim=(0.5, 0.75, 4.0)),
        load,
        warning=(NGW, r"{p}: pixdim: sform_code and qform_code are 0 .* 0\.5, 0\.75, 4 taken from pixdim"),
        spacing=(0.5, 0.75, 4),
    ),
    Case(
        "nifti-unknown-sform-code",
        nifti("a.nii", sform=np.eye(4), sform_code=9),
        load,
        error=(MDE, r"{p}: sform_code: unknown code 9"),
    ),
    Case(
        "nifti-2d",
        nifti("a.nii", (4, 5), sform=np.diag([0.5, 0.7, 1, 1.0]), sform_code=1, pixdim=(0.5, 0.7)),
        load,
        spacing=(0.5, 0.7),
    ),
    Case(
        "nifti-2d-sitk",
        nifti("a.nii", (4, 5), sform=np.diag([0.5, 0.7, 1, 1.0]), sform_code=1, pixdim=(0.5, 0.7)),
        sitk,
        spacing=(0.5, 0.7),
    ),
    Case(
        "nifti-2d-sagittal",
        nifti("a.nii", (4, 5), sform=SAGITTAL_2D, sform_code=1, pixdim=(0.5, 0.7)),
        load,
        spacing=(0.5, 0.7),
    ),
    Case(
        "nifti-2d-sagittal-sitk",
        nifti("a.nii", (4, 5), sform=SAGITTAL_2D, sform_code=1, pixdim=(0.5, 0.7)),
        sitk,
        error=(MDE, UNREADABLE_BY_SITK + r"Image.*Bad direction.* \(NiftiReader reads NIfTI-1 and NIfTI-2 files"),
    ),
    Case(
        "nifti-1d",
        nifti("a.nii", (5,), sform=np.diag([0.5, 1, 1, 1.0]), sform_code=1, pixdim=(0.5,)),
        load,
        error=(MDE, r"{p}: shape: too few dimensions: \(1, 5\)"),
    ),
    Case(
        "nifti-4d-time-in-s",
        nifti("a.nii", (4, 5, 6, 3), sform=np.diag([0.8, 0.9, 2, 1.0]), sform_code=1, pixdim=(0.8, 0.9, 2, 0.5)),
        load,
        spacing=(0.8, 0.9, 2),
    ),
    Case(
        "nifti-4d-time-in-ms",
        nifti(
            "a.nii",
            (4, 5, 6, 3),
            sform=np.diag([0.8, 0.9, 2, 1.0]),
            sform_code=1,
            pixdim=(0.8, 0.9, 2, 500),
            time_unit="msec",
        ),
        load,
        spacing=(0.8, 0.9, 2),
    ),
    Case(
        "nifti-5d-vector",
        nifti("a.nii", (4, 5, 6, 1, 3), sform=np.diag([0.8, 0.9, 2, 1.0]), sform_code=1, pixdim=(0.8, 0.9, 2, 1, 1)),
        load,
        error=(ValueError, r"{p}: field 'affine' is 4x4, too few dimensions for the 4 spatial axes"),
    ),
    Case(
        "nifti-microns",
        nifti("a.nii", sform=np.diag([800, 800, 3000, 1.0]), sform_code=1, pixdim=(800, 800, 3000), units="micron"),
        load,
        spacing=(0.8, 0.8, 3),
    ),
    Case(
        "nifti-microns-sitk",
        nifti("a.nii", sform=np.diag([800, 800, 3000, 1.0]), sform_code=1, pixdim=(800, 800, 3000), units="micron"),
        sitk,
        spacing=(0.8, 0.8, 3),
    ),
    Case(
        "nifti-metres",
        nifti("a.nii", sform=np.diag([8e-4, 8e-4, 3e-3, 1.0]), sform_code=1, pixdim=(8e-4, 8e-4, 3e-3), units="meter"),
        load,
        spacing=(0.8, 0.8, 3),
    ),
    Case(
        "nifti-unit-unstated",
        nifti("a.nii", **GOOD_SFORM, units=None),
        load,
        warning=(NGW, r"{p}: xyzt_units: spatial unit not stated \(0\); assuming millimetres"),
        spacing=(0.8, 0.8, 3),
    ),
    Case(
        "nifti-unit-code-5",
        nifti("a.nii", **GOOD_SFORM, xyzt=5),
        load,
        error=(MDE, r"{p}: xyzt_units: unknown spatial unit code 5"),
    ),
    Case(
        "nifti-dim0-zero",
        nifti("a.nii", **GOOD_SFORM, edit=dim_entry(0, 0)),
        load,
        error=(MDE, r"{p}: dim: dim\[0\] = 0 axes; the NIfTI standard allows 1 to 7"),
    ),
    Case(
        "nifti-dim0-zero-sitk",
        nifti("a.nii", **GOOD_SFORM, edit=dim_entry(0, 0)),
        sitk,
        error=(MDE, r"{p}: dim: dim\[0\] = 0 axes"),
    ),
    Case(
        "nifti-empty-axis",
        nifti("a.nii", **GOOD_SFORM, edit=dim_entry(2, 0)),
        load,
        error=(MDE, r"{p}: dim: dim\[1:4\] = \[4, 0, 6\]: axes \[2\] hold no voxel"),
    ),
    Case(
        "nifti-empty-axis-sitk",
        nifti("a.nii", **GOOD_SFORM, edit=dim_entry(2, 0)),
        sitk,
        error=(MDE, r"{p}: dim: dim\[1:4\] = \[4, 0, 6\]: axes \[2\] hold no voxel"),
    ),
    Case(
        "nifti2-stale-pixdim",
        nifti("a.nii", image_class=nib.Nifti2Image, **STALE_SFORM),
        load,
        warning=(NGW, STALE),
        spacing=(0.8, 0.8, 3),
    ),
    Case(
        "nifti2-stale-pixdim-sitk",
        nifti("a.nii", image_class=nib.Nifti2Image, **STALE_SFORM),
        sitk,
        error=(MDE, UNREADABLE_BY_SITK + r"Unable to determine ImageIO reader"),
    ),
    # damaged and mislabelled files
    Case(
        "nifti-truncated",
        cut(nifti("a.nii", (10, 10, 10), **GOOD_SFORM)),
        load,
        error=(MDE, r"{p}: data: cannot be read, the file is truncated or damaged \(OSError: Expected 4000 bytes"),
    ),
    Case(
        "nifti-truncated-sitk",
        cut(nifti("a.nii", (10, 10, 10), **GOOD_SFORM)),
        sitk,
        error=(MDE, r"{p}: data: the file is truncated or damaged: the header needs 4352 bytes"),
    ),
    Case(
        "nifti-gz-truncated",
        cut(nifti("a.nii.gz", (10, 10, 10), **GOOD_SFORM)),
        load,
        error=(MDE, r"{p}: data: cannot be read, the file is truncated or damaged \(EOFError: Compressed file ended"),
    ),
    Case(
        "nifti-gz-truncated-sitk",
        cut(nifti("a.nii.gz", (10, 10, 10), **GOOD_SFORM)),
        sitk,
        error=(MDE, r"{p}: data: the file is truncated or damaged"),
    ),
    Case(
        "nifti-header-only",
        keep_header_only(nifti("a.nii", **GOOD_SFORM)),
        load,
        error=(MDE, r"{p}: data: cannot be read, the file is truncated or damaged \(OSError: Expected 480 bytes"),
    ),
    Case(
        "nifti-header-only-sitk",
        keep_header_only(nifti("a.nii", **GOOD_SFORM)),
        sitk,
        error=(MDE, r"{p}: data: the file is truncated or damaged"),
    ),
    Case("nifti-empty", file_with("a.nii", b""), load, error=(MDE, r"{p}: file: empty \(0 bytes\)")),
    Case("nifti-empty-sitk", file_with("a.nii", b""), sitk, error=(MDE, UNREADABLE_BY_SITK)),
    Case("nifti-gz-empty", file_with("a.nii.gz", b""), load, error=(MDE, r"{p}: file: empty \(0 bytes\)")),
    Case(
        "nifti-text",
        file_with("a.nii", b"hello world\n" * 30),
        load,
        error=(MDE, r"{p}: file: not a NIfTI file nibabel can open \(Cannot work out file type"),
    ),
    Case(
        "nifti-gz-text",
        file_with("a.nii.gz", b"hello world\n" * 30),
        load,
        error=(MDE, r"{p}: file: not a NIfTI file nibabel can open \(.*is not a gzip file\)"),
    ),
    Case(
        "nifti-gz-named-nii",
        renamed(nifti("a.nii.gz", **GOOD_SFORM), "b.nii"),
        load,
        error=(MDE, r"{p}: file: not a NIfTI file nibabel can open \(Cannot work out file type"),
    ),
    Case(
        "nifti-named-nii-gz",
        renamed(nifti("a.nii", **GOOD_SFORM), "b.nii.gz"),
        load,
        error=(MDE, r"{p}: file: not a NIfTI file nibabel can open \(.*is not a gzip file\)"),
    ),
    Case(
        "nifti-named-mha",
        renamed(nifti("a.nii.gz", **GOOD_SFORM), "b.mha"),
        load,
        error=(MDE, UNREADABLE_BY_SITK + r"Unable to determine ImageIO reader"),
    ),
    Case(
        "nifti-named-png",
        renamed(nifti("a.nii.gz", **GOOD_SFORM), "b.png"),
        load,
        error=(ValueError, r"{p}: unsupported format: expected a NIfTI, MHA / MHD, NRRD or DICOM file"),
    ),
    Case(
        "nifti-no-suffix",
        renamed(nifti("a.nii.gz", **GOOD_SFORM), "b"),
        load,
        error=(ValueError, r"{p}: unsupported format"),
    ),
    Case("text-file", file_with("notes.txt", b"not an image"), load, error=(ValueError, r"{p}: unsupported format")),
    Case("mha-empty", file_with("a.mha", b""), load, error=(MDE, r"{p}: file: empty \(0 bytes\)")),
    Case(
        "mha-text",
        file_with("a.mha", b"garbage"),
        load,
        error=(MDE, UNREADABLE_BY_SITK + r"Unable to determine ImageIO reader"),
    ),
    Case("nrrd-text", file_with("a.nrrd", b"garbage"), load, error=(MDE, UNREADABLE_BY_SITK)),
    Case("missing-file", absent, load, error=(FileNotFoundError, r"{p}: no such file or folder")),
    Case("folder-empty", folder("empty"), load, error=(MDE, r"{p}: slices: no DICOM file in the folder")),
    Case(
        "folder-empty-series-reader",
        folder("empty"),
        series_reader,
        error=(MDE, r"{p}: slices: no DICOM file in the folder"),
    ),
    Case(
        "folder-empty-sitk",
        folder("empty"),
        sitk,
        error=(MDE, r"{p}: SeriesInstanceUID \(0020,000E\): no DICOM series in the folder"),
    ),
    Case(
        "folder-of-text-files",
        folder("notes", {"a.txt": b"x"}),
        load,
        error=(MDE, r"{p}: slices: no DICOM file in the folder"),
    ),
]

DICOM_CASES = [
    Case("dicom-series-good", series(), load, spacing=(0.8, 0.7, 2.5)),
    Case("dicom-series-good-sitk", series(), sitk, spacing=(0.8, 0.7, 2.5)),
    Case(
        "dicom-duplicate-position",
        series((0, 2.5, 2.5, 5)),
        load,
        error=(MDE, r"{p}: ImagePositionPatient \(0020,0032\): slices share a position .*s2\.dcm -> s3\.dcm"),
    ),
    Case(
        "dicom-duplicate-position-sitk",
        series((0, 2.5, 2.5, 5)),
        sitk,
        error=(MDE, r"{p}: ImagePositionPatient \(0020,0032\): slices share a position"),
    ),
    Case(
        "dicom-missing-slice",
        series((0, 2.5, 7.5, 10)),
        load,
        error=(MDE, r"{p}: ImagePositionPatient \(0020,0032\): slice positions are not uniformly spaced"),
    ),
    Case(
        "dicom-missing-slice-sitk",
        series((0, 2.5, 7.5, 10)),
        sitk,
        error=(MDE, r"{p}: ImagePositionPatient \(0020,0032\): slice positions are not uniformly spaced"),
    ),
    Case(
        "dicom-missing-slice-tolerated",
        series((0, 2.5, 7.5, 10)),
        load_with(tolerance=3.0),
        warning=(UserWarning, r"{p}: ImagePositionPatient \(0020,0032\): .* using the mean step"),
        spacing=(0.8, 0.7, 10 / 3),
    ),
    Case(
        "dicom-inconsistent-orientation",
        series(replace=dict(orientation=rotation_z(10))),
        load,
        error=(MDE, r"{p}: ImageOrientationPatient \(0020,0037\): inconsistent series: orientations differ"),
    ),
    Case(
        "dicom-inconsistent-orientation-sitk",
        series(replace=dict(orientation=rotation_z(10))),
        sitk,
        error=(MDE, r"{p}: ImageOrientationPatient \(0020,0037\): inconsistent series"),
    ),
    Case(
        "dicom-inconsistent-pixel-spacing",
        series(replace=dict(pixel_spacing=(0.5, 0.5))),
        load,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): inconsistent series: pixel spacings differ"),
    ),
    Case(
        "dicom-inconsistent-pixel-spacing-sitk",
        series(replace=dict(pixel_spacing=(0.5, 0.5))),
        sitk,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): inconsistent series"),
    ),
    Case(
        "dicom-no-pixel-spacing",
        series(pixel_spacing=UNSET),
        load,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): missing in s1\.dcm"),
    ),
    Case(
        "dicom-no-pixel-spacing-sitk",
        series(pixel_spacing=UNSET),
        sitk,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): missing in s1\.dcm"),
    ),
    Case(
        "dicom-no-pixel-spacing-in-one-slice",
        series(replace=dict(pixel_spacing=UNSET)),
        load,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): missing in s2\.dcm"),
    ),
    Case(
        "dicom-pixel-spacing-zero",
        series(pixel_spacing=(0, 0.7)),
        load,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): spacing must be finite and > 0, got 0, 0\.7 mm in s1\.dcm"),
    ),
    Case(
        "dicom-pixel-spacing-negative",
        series(pixel_spacing=(-0.7, 0.7)),
        load,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): spacing must be finite and > 0, got -0\.7, 0\.7 mm"),
    ),
    Case(
        "dicom-pixel-spacing-nan",
        series(pixel_spacing=("NaN", "0.7")),
        load,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): spacing must be finite and > 0, got nan, 0\.7 mm"),
    ),
    Case(
        "dicom-pixel-spacing-one-value",
        series(pixel_spacing=(0.7,)),
        load,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): expected 2 values in s1\.dcm"),
    ),
    Case(
        "dicom-no-position-in-one-slice",
        series(replace=dict(position=UNSET)),
        load,
        error=(MDE, r"{p}: ImagePositionPatient \(0020,0032\): missing in s2\.dcm"),
    ),
    Case(
        "dicom-no-orientation",
        series(edit=drop_orientation),
        load,
        error=(MDE, r"{p}: ImageOrientationPatient \(0020,0037\): missing in s1\.dcm"),
    ),
    Case(
        "dicom-orientation-not-orthonormal",
        series(orientation=(1, 0, 0, 0.5, 0.5, 0)),
        load,
        error=(MDE, r"{p}: ImageOrientationPatient \(0020,0037\): row and column directions must be unit vectors"),
    ),
    Case(
        "dicom-two-series",
        series(extra=dict(position=(10, -20, 37.5), instance=4, series_uid="9.9.9")),
        load,
        error=(MDE, r"{p}: SeriesInstanceUID \(0020,000E\): inconsistent series: 2 series in one stack"),
    ),
    Case(
        "dicom-two-series-sitk",
        series(extra=dict(position=(10, -20, 37.5), instance=4, series_uid="9.9.9")),
        sitk,
        warning=(UserWarning, r"{p}: SeriesInstanceUID \(0020,000E\): 2 series in the folder; reading 1\.2\.3\.4"),
        spacing=(0.8, 0.7, 2.5),
    ),
    Case(
        "dicom-different-image-sizes",
        series(replace=dict(rows=6)),
        load,
        error=(MDE, r"{p}: Rows, Columns \(0028,0010\), \(0028,0011\): inconsistent series: image sizes differ"),
    ),
    Case(
        "dicom-different-image-sizes-sitk",
        series(replace=dict(rows=6)),
        sitk,
        error=(MDE, r"{p}: Rows, Columns \(0028,0010\), \(0028,0011\): inconsistent series: image sizes differ"),
    ),
    Case(
        "dicom-no-instance-number-in-one-slice",
        series(edit=drop_instance_number),
        load,
        error=(MDE, r"{p}: InstanceNumber \(0020,0013\): missing in image file\(s\) s2\.dcm"),
    ),
    Case(
        "dicom-no-instance-number-in-one-slice-series-reader",
        series(edit=drop_instance_number),
        series_reader,
        error=(MDE, r"{p}: InstanceNumber \(0020,0013\): missing in image file\(s\) s2\.dcm"),
    ),
    Case(
        "dicom-no-instance-number-in-one-slice-sitk", series(edit=drop_instance_number), sitk, spacing=(0.8, 0.7, 2.5)
    ),
    Case(
        "dicom-instance-numbers-against-positions",
        series(edit=instance_numbers_against_positions),
        load,
        error=(MDE, r"{p}: ImagePositionPatient \(0020,0032\): inconsistent series: slice positions do not advance"),
    ),
    Case(
        "dicom-instance-numbers-against-positions-sitk",
        series(edit=instance_numbers_against_positions),
        sitk,
        spacing=(0.8, 0.7, 2.5),
    ),
    Case(
        "dicom-slice-thickness-disagrees",
        series(slice_thickness=5.0),
        load,
        warning=(UserWarning, r"{p}: SliceThickness \(0018,0050\): 5 mm disagrees with the 2\.5 mm step"),
        spacing=(0.8, 0.7, 2.5),
    ),
    Case(
        "dicom-slice-thickness-disagrees-sitk",
        series(slice_thickness=5.0),
        sitk,
        warning=(UserWarning, r"{p}: SliceThickness \(0018,0050\): 5 mm disagrees"),
        spacing=(0.8, 0.7, 2.5),
    ),
    Case(
        "dicom-series-with-a-text-file",
        series(notes=True),
        load,
        warning=(UserWarning, r"Failed to read {p}/README\.txt"),
        spacing=(0.8, 0.7, 2.5),
    ),
    Case("dicom-series-with-a-text-file-sitk", series(notes=True), sitk, spacing=(0.8, 0.7, 2.5)),
    Case("dicom-single-slice", dicom_slice(), load, spacing=(0.8, 0.7)),
    Case(
        "dicom-single-slice-sitk",
        dicom_slice(),
        sitk,
        warning=(UserWarning, r"{p}: slice spacing: a single slice states none; the third axis has SimpleITK's 1 mm"),
        spacing=(0.8, 0.7, 1.0),
    ),
    Case(
        "dicom-single-slice-no-position",
        dicom_slice(position=UNSET),
        load,
        error=(MDE, r"{p}: ImagePositionPatient \(0020,0032\): missing$"),
    ),
    Case(
        "dicom-single-slice-no-position-sitk",
        dicom_slice(position=UNSET),
        sitk,
        error=(MDE, r"{p}: ImagePositionPatient \(0020,0032\): missing$"),
    ),
    Case(
        "dicom-single-slice-no-pixel-spacing",
        dicom_slice(pixel_spacing=UNSET),
        load,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): missing$"),
    ),
    Case(
        "dicom-single-slice-no-pixel-spacing-sitk",
        dicom_slice(pixel_spacing=UNSET),
        sitk,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): missing$"),
    ),
    Case("dicom-named-nii", dicom_slice("slice.nii"), load, spacing=(0.8, 0.7)),
    Case("dicom-named-mha", dicom_slice("slice.mha"), load, spacing=(0.8, 0.7)),
    Case("dicom-no-suffix", dicom_slice("slice"), load, spacing=(0.8, 0.7)),
    Case(
        "dicom-truncated-pixel-data",
        cut(dicom_slice(rows=20, columns=20), drop=300),
        load,
        error=(MDE, r"{p}: PixelData \(7FE0,0010\): cannot be decoded: The number of bytes of pixel data is less"),
    ),
    Case(
        "dicom-truncated-pixel-data-sitk",
        cut(dicom_slice(rows=20, columns=20), drop=300),
        sitk,
        error=(MDE, UNREADABLE_BY_SITK),
    ),
    Case("dicom-empty", file_with("a.dcm", b""), load, error=(MDE, r"{p}: file: empty \(0 bytes\)")),
    Case(
        "dicom-tolerance-nan",
        series(),
        load_with(tolerance=float("nan")),
        error=(ValueError, r"tolerance must be a finite number >= 0 \(mm\), got nan"),
    ),
    Case("enhanced-good", enhanced(), load, spacing=(0.8, 0.7, 2.0)),
    Case("enhanced-good-sitk", enhanced(), sitk, spacing=(0.8, 0.7, 2.0)),
    Case(
        "enhanced-no-pixel-measures",
        enhanced(omit=("PixelMeasuresSequence",)),
        load,
        error=(MDE, r"{p}: PixelMeasuresSequence > PixelSpacing \(0028,0030\): missing in frame 1"),
    ),
    Case(
        "enhanced-no-pixel-measures-sitk",
        enhanced(omit=("PixelMeasuresSequence",)),
        sitk,
        error=(MDE, r"{p}: PixelMeasuresSequence > PixelSpacing \(0028,0030\): missing in frame 1"),
    ),
    Case(
        "enhanced-uneven-frames",
        enhanced(((0, 0, 0), (0, 0, 2), (0, 0, 6))),
        load,
        error=(MDE, r"{p}: PlanePositionSequence > ImagePositionPatient \(0020,0032\): .* not uniformly spaced"),
    ),
    Case(
        "enhanced-duplicate-frames",
        enhanced(((0, 0, 0), (0, 0, 2), (0, 0, 2))),
        load,
        error=(MDE, r"{p}: PlanePositionSequence > ImagePositionPatient \(0020,0032\): slices share a position"),
    ),
    Case(
        "enhanced-no-positions",
        enhanced(omit=("PlanePositionSequence",)),
        load,
        error=(MDE, r"{p}: PlanePositionSequence > ImagePositionPatient \(0020,0032\): missing in frame 1"),
    ),
    Case("cine-good", cine(), load, spacing=(0.04, 0.3, 0.4)),
    Case(
        "cine-sitk",
        cine(),
        sitk,
        error=(MDE, r"{p}: NumberOfFrames \(0028,0008\): 6 frames and no functional groups .* UltrasoundCineReader"),
    ),
    Case(
        "cine-no-timing",
        cine(timing={}),
        load,
        error=(MDE, r"{p}: FrameTime \(0018,1063\) / .*: missing: the time between frames is unknown"),
    ),
    Case(
        "cine-frame-time-zero",
        cine(timing={"FrameTime": 0}),
        load,
        error=(MDE, r"{p}: FrameTime \(0018,1063\): spacing must be finite and > 0, got 0 ms"),
    ),
    Case(
        "cine-frame-time-negative",
        cine(timing={"FrameTime": -40}),
        load,
        error=(MDE, r"{p}: FrameTime \(0018,1063\): spacing must be finite and > 0, got -40 ms"),
    ),
    Case(
        "cine-cine-rate-zero",
        cine(timing={"CineRate": 0}),
        load,
        error=(MDE, r"{p}: CineRate \(0018,0040\): spacing must be finite and > 0, got 0 frames/s"),
    ),
    Case(
        "cine-uneven-frame-time-vector",
        cine(timing={"FrameTimeVector": [0, 40, 40, 60, 40, 40]}),
        load,
        warning=(UserWarning, r"{p}: FrameTimeVector \(0018,1065\): frame intervals vary from 40 to 60 ms"),
        spacing=(0.044, 0.3, 0.4),
    ),
    Case(
        "cine-no-regions",
        cine(regions=[]),
        load,
        error=(MDE, r"{p}: SequenceOfUltrasoundRegions \(0018,6011\): missing, or holds no 2D region"),
    ),
    Case(
        "cine-no-regions-pixel-spacing-given", cine(regions=[]), load_with(pixel_spacing=0.3), spacing=(0.04, 0.3, 0.3)
    ),
    Case(
        "cine-region-unit-not-cm",
        cine(regions=[us_region(units_x=0)]),
        load,
        error=(MDE, r"{p}: SequenceOfUltrasoundRegions \(0018,6011\) > PhysicalUnitsXDirection: code 0 \(none\)"),
    ),
    Case(
        "cine-region-delta-zero",
        cine(regions=[us_region(delta_x=0)]),
        load,
        error=(MDE, r"{p}: SequenceOfUltrasoundRegions \(0018,6011\) > PhysicalDeltaX: spacing must be finite"),
    ),
    Case(
        "cine-regions-disagree",
        cine(regions=[us_region(), us_region(delta_x=0.05)]),
        load,
        error=(MDE, r"{p}: SequenceOfUltrasoundRegions \(0018,6011\) > PhysicalDeltaX/Y: 2D regions give different"),
    ),
    Case(
        "cine-region-outside-image",
        cine(regions=[us_region(bounds=(0, 0, 50, 50))]),
        load,
        warning=(UserWarning, r"{p}: SequenceOfUltrasoundRegions .* lies outside the 10 x 8 image"),
        spacing=(0.04, 0.3, 0.4),
    ),
    Case("cine-one-frame", cine(frames=1), load, spacing=(0.3, 0.4)),  # a still image: UltrasoundImageReader
    Case(
        "cine-one-frame-cine-reader",
        cine(frames=1),
        lambda path: LoadImage(reader=UltrasoundCineReader(), image_only=True)(str(path)),
        error=(
            MDE,
            r"{p}: NumberOfFrames \(0028,0008\): 1 frame: too few dimensions for a cine .*UltrasoundImageReader",
        ),
    ),
    # issue 14: what hospitals export. A single-frame ultrasound image calibrated only by its regions
    Case("us-image-good", us_image(), load, spacing=(0.3, 0.4)),
    Case(
        "us-image-no-regions",
        us_image(regions=[]),
        load,
        error=(MDE, r"{p}: SequenceOfUltrasoundRegions \(0018,6011\): missing, or holds no 2D region"),
    ),
    Case(
        "us-image-no-regions-pixel-spacing-given",
        us_image(regions=[]),
        load_with(pixel_spacing=0.3),
        spacing=(0.3, 0.3),
    ),
    Case(
        "us-image-region-in-degrees",
        us_image(regions=[us_region(units_y=12)]),
        load,
        error=(MDE, r"{p}: SequenceOfUltrasoundRegions \(0018,6011\) > PhysicalUnitsYDirection: code 12 \(degrees\)"),
    ),
    Case(
        "us-image-region-delta-negative",
        us_image(regions=[us_region(delta_y=-0.03)]),
        load,
        error=(MDE, r"{p}: SequenceOfUltrasoundRegions \(0018,6011\) > PhysicalDeltaY: .* got -0\.03 cm"),
    ),
    Case(
        "us-image-regions-disagree-same-size",
        us_image(regions=[us_region(), us_region(delta_y=0.05)]),
        load,
        error=(
            MDE,
            r"{p}: SequenceOfUltrasoundRegions \(0018,6011\) > PhysicalDeltaX/Y: .* no largest 2D tissue region",
        ),
    ),
    Case(
        "us-image-regions-disagree-largest-used",
        us_image(regions=[us_region(0.05, 0.05, bounds=(0, 0, 3, 3)), us_region()]),
        load,
        warning=(UserWarning, r"{p}: SequenceOfUltrasoundRegions \(0018,6011\) > PhysicalDeltaX/Y: .* using item 2"),
        spacing=(0.3, 0.4),
    ),
    Case(
        "us-image-region-outside-image",
        us_image(regions=[us_region(bounds=(0, 0, 50, 50))]),
        load,
        warning=(UserWarning, r"{p}: SequenceOfUltrasoundRegions .* lies outside the 10 x 8 image"),
        spacing=(0.3, 0.4),
    ),
    Case(
        "us-image-sitk",
        us_image(),
        sitk,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): missing: an ultrasound image .* UltrasoundImageReader"),
    ),
    Case(
        "us-image-series-reader",
        us_image(),
        series_reader,
        error=(MDE, r"{p}: PixelSpacing \(0028,0030\): missing: an ultrasound image .* UltrasoundImageReader"),
    ),
    # enhanced multi-frame objects other than CT, by SOP class
    Case("enhanced-mr-good", enhanced_of(EnhancedMRImageStorage, "MR"), load, spacing=(0.8, 0.7, 2.0)),
    Case(
        "enhanced-mr-no-functional-groups",
        enhanced_of(EnhancedMRImageStorage, "MR", omit=("functional groups",)),
        load,
        error=(MDE, r"{p}: PerFrameFunctionalGroupsSequence \(5200,9230\): missing, .* Enhanced MR Image Storage"),
    ),
    Case(
        "enhanced-pet-no-pixel-measures",
        enhanced_of(EnhancedPETImageStorage, "PT", omit=("PixelMeasuresSequence",)),
        load,
        error=(MDE, r"{p}: PixelMeasuresSequence > PixelSpacing \(0028,0030\): missing in frame 1"),
    ),
    Case(
        "enhanced-us-volume-frame-of-reference",
        enhanced_of(EnhancedUSVolumeStorage, "US", volume_frame=True),
        load,
        warning=(
            UserWarning,
            r"{p}: PlanePositionVolumeSequence > ImagePositionVolume \(0020,9301\): no patient plane",
        ),
        spacing=(0.8, 0.7, 2.0),
    ),
    # projection X-ray (XA): no plane position, frames are time points
    Case(
        "xa-detector-pixel-spacing",
        xa(),
        load,
        warning=(UserWarning, XA_DETECTOR),
        spacing=(0.0667, 0.2, 0.25),
    ),
    Case(
        "xa-calibrated-pixel-spacing",
        xa(pixel_spacing=(0.15, 0.15)),
        load,
        warning=(UserWarning, r"{p}: PixelMeasuresSequence > PixelSpacing \(0028,0030\): .* calibrated for"),
        spacing=(0.0667, 0.15, 0.15),
    ),
    Case("xa-no-calibration", xa(imager_pixel_spacing=None), load, error=(MDE, XA_UNCALIBRATED)),
    Case(
        "xa-classic-no-calibration", xa(enhanced=False, imager_pixel_spacing=None), load, error=(MDE, XA_UNCALIBRATED)
    ),
    Case(
        "xa-imager-spacing-zero",
        xa(imager_pixel_spacing=(0.0, 0.2)),
        load,
        error=(
            MDE,
            r"{p}: FramePixelDataPropertiesSequence > ImagerPixelSpacing \(0018,1164\): spacing must be finite",
        ),
    ),
    Case(
        "xa-no-frame-time",
        xa(timing={}),
        load,
        error=(MDE, r"{p}: FrameTime \(0018,1063\) / .*: missing: the time between frames is unknown"),
    ),
    Case(
        "xa-sitk",
        xa(),
        sitk,
        error=(MDE, r"{p}: SOPClassUID \(0008,0016\): Enhanced XA Image Storage: a projection X-ray image .*"),
    ),
    Case(
        "cine-reader-pixel-spacing-zero",
        given(0),
        lambda v: UltrasoundCineReader(pixel_spacing=v),
        error=(ValueError, PIXEL_SPACING_ARG + r", got 0\."),
    ),
    Case(
        "cine-reader-pixel-spacing-nan",
        given(float("nan")),
        lambda v: UltrasoundCineReader(pixel_spacing=v),
        error=(ValueError, PIXEL_SPACING_ARG + r", got nan\."),
    ),
]

VIDEO_CASES = [
    Case(
        "video-no-pixel-spacing",
        video(),
        load,
        warning=(UserWarning, r"{p}: pixel spacing: unknown in a video file; using 1\.0 mm"),
        spacing=(0.04, 1, 1),
    ),
    Case("video-pixel-spacing", video(), load_with(pixel_spacing=0.3), spacing=(0.04, 0.3, 0.3)),
    Case("video-pixel-spacing-zero", video(), load_with(pixel_spacing=0), error=(ValueError, PIXEL_SPACING_ARG)),
    Case("video-pixel-spacing-negative", video(), load_with(pixel_spacing=-1), error=(ValueError, PIXEL_SPACING_ARG)),
    Case(
        "video-pixel-spacing-nan", video(), load_with(pixel_spacing=float("nan")), error=(ValueError, PIXEL_SPACING_ARG)
    ),
    Case(
        "video-pixel-spacing-three-values",
        video(),
        load_with(pixel_spacing=(1, 1, 1)),
        error=(ValueError, PIXEL_SPACING_ARG),
    ),
    Case(
        "video-cut-inside-a-frame",
        cut(video(), keep=2 / 3),
        load_with(pixel_spacing=0.3),
        error=(MDE, r"{p}: (file: FFmpeg cannot open or decode it|frames: declared 8 \(container header\), decoded)"),
    ),
    Case(
        "video-empty",
        file_with("a.avi", b""),
        load_with(pixel_spacing=0.3),
        error=(MDE, r"{p}: file: empty \(0 bytes\)"),
    ),
    Case(
        "video-text-named-mp4",
        file_with("a.mp4", b"hello" * 100),
        load_with(pixel_spacing=0.3),
        error=(MDE, r"{p}: file: FFmpeg cannot open or decode it \(Invalid data found when processing input\)"),
    ),
    Case(
        "video-one-frame",
        video(frames=sample_frames(1)),
        load_with(pixel_spacing=0.3),
        error=(MDE, r"{p}: frames: 1 frame: too few dimensions for a video"),
    ),
    Case(
        "video-audio-only",
        audio_only,
        load_with(pixel_spacing=0.3),
        error=(MDE, r"{p}: video stream: none in the file"),
    ),
    Case(
        "video-variable-frame-rate",
        video(
            "clip.mkv",
            codec="ffv1",
            pix_fmt="yuv420p",
            container_format="matroska",
            pts=[0, 40, 80, 160, 200, 240, 280, 320],
        ),
        load_with(pixel_spacing=0.3),
        warning=(UserWarning, r"{p}: frame timestamps: variable frame rate"),
        spacing=(0.04, 0.3, 0.3),
    ),
    Case(
        "video-named-nii",
        renamed(video(), "clip.nii"),
        load,
        error=(MDE, r"{p}: file: not a NIfTI file nibabel can open"),
    ),
    Case("video-avi-named-mkv", renamed(video(), "clip.mkv"), load_with(pixel_spacing=0.3), spacing=(0.04, 0.3, 0.3)),
]

TRANSFORM_CASES = [
    Case(
        "extract-spacing-plain-tensor",
        given(torch.zeros(1, 4, 5, 6)),
        ExtractSpacing(),
        error=(ValueError, r"image spacing needs a MetaTensor with an affine"),
    ),
    Case(
        "extract-spacing-zero-column",
        image((0.8, 0.0, 2.0)),
        ExtractSpacing(),
        error=(ValueError, AFFINE_SPACING.format(v="0\\.0")),
    ),
    Case(
        "extract-spacing-nan",
        image((0.8, np.nan, 2.0)),
        ExtractSpacing(),
        error=(ValueError, AFFINE_SPACING.format(v="nan")),
    ),
    Case(
        "extract-spacing-inf",
        image((0.8, np.inf, 2.0)),
        ExtractSpacing(),
        error=(ValueError, AFFINE_SPACING.format(v="inf")),
    ),
    Case("extract-spacing-flipped-axis", image((-0.8, 0.9, 2.0)), ExtractSpacing(), spacing=(0.8, 0.9, 2.0)),
    Case(
        "extract-spacing-parallel-columns",
        image([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]),
        ExtractSpacing(),
        spacing=(1.0, 1.0, 2.0),
    ),  # the column norms, as documented; readers refuse such files
    Case(
        "extract-spacing-affine-too-small",
        image((0.8, 0.9)),
        ExtractSpacing(),
        error=(ValueError, r"img\.nii: field 'affine' is 3x3, too few dimensions for the 3 spatial axes"),
    ),
    Case(
        "extract-spacing-no-spatial-axis",
        image(shape=(3,)),
        ExtractSpacing(),
        error=(ValueError, r"img\.nii: expected a channel-first array with at least one spatial axis"),
    ),
    Case(
        "extract-spacingd-zero-column",
        image((0.8, 0.0, 2.0)),
        lambda x: ExtractSpacingd("image")({"image": x}),
        error=(ValueError, AFFINE_SPACING.format(v="0\\.0")),
    ),
    Case(
        "extract-spacingd-units-wrong-length",
        image(),
        lambda x: ExtractSpacingd("image", units=("mm", "mm"))({"image": x}),
        error=(ValueError, r"img\.nii: field 'units' must give one unit string per spatial axis \(3\)"),
    ),
    Case(
        "extract-spacingd-meta-units-wrong-length",
        image(units=("mm", "mm")),
        lambda x: ExtractSpacingd("image")({"image": x}),
        error=(ValueError, r"img\.nii: field 'spacing_units' must give one unit string per spatial axis \(3\)"),
    ),
    Case("set-pixel-spacing-zero", given(0), SetPixelSpacing, error=(ValueError, SET_PIXEL_SPACING + r", got 0\.")),
    Case("set-pixel-spacing-negative", given(-1.0), SetPixelSpacing, error=(ValueError, SET_PIXEL_SPACING)),
    Case("set-pixel-spacing-nan", given(float("nan")), SetPixelSpacing, error=(ValueError, SET_PIXEL_SPACING)),
    Case("set-pixel-spacing-inf", given(float("inf")), SetPixelSpacing, error=(ValueError, SET_PIXEL_SPACING)),
    Case("set-pixel-spacing-three-values", given((1, 1, 1)), SetPixelSpacing, error=(ValueError, SET_PIXEL_SPACING)),
    Case(
        "set-pixel-spacing-none",
        clip(),
        SetPixelSpacing(),
        error=(ValueError, r"v\.avi: SetPixelSpacing got no pixel_spacing"),
    ),
    Case(
        "set-pixel-spacing-call-nan",
        clip(),
        lambda x: SetPixelSpacing()(x, float("nan")),
        error=(ValueError, r"v\.avi: " + SET_PIXEL_SPACING + r", got nan"),
    ),
    Case(
        "set-pixel-spacing-axis-out-of-range",
        clip(),
        SetPixelSpacing(0.3, spatial_axes=(3,)),
        error=(ValueError, r"v\.avi: spatial_axes \(3,\) do not exist"),
    ),
    Case(
        "set-pixel-spacing-zero-column",
        image((0.04, 0.0, 1.0), (3, 8, 6, 5), "v.avi"),
        SetPixelSpacing(0.3),
        error=(ValueError, r"v\.avi: field 'affine': column 1 is zero"),
    ),
    Case(
        "set-pixel-spacingd-item-nan",
        clip(),
        set_from_item(math.nan),
        error=(ValueError, r"v\.avi: " + SET_PIXEL_SPACING),
    ),
    Case(
        "set-pixel-spacingd-item-text",
        clip(),
        set_from_item("x"),
        error=(ValueError, r"v\.avi: " + SET_PIXEL_SPACING + r", got 'x'"),
    ),
    Case(
        "set-pixel-spacingd-item-empty",
        clip(),
        set_from_item(()),
        error=(ValueError, r"v\.avi: " + SET_PIXEL_SPACING + r", got \(\)"),
    ),
    Case("set-pixel-spacingd-item-number-as-text", clip(), set_from_item("0.3"), spacing=(0.04, 0.3, 0.3)),
    Case(
        "set-pixel-spacingd-no-item-value",
        clip(),
        lambda x: SetPixelSpacingd("image")({"image": x})["image"],
        warning=(UserWarning, r"v\.avi: pixel spacing: the item has no 'pixel_spacing' and SetPixelSpacingd has no"),
        spacing=(0.04, 1, 1),
    ),
    Case(
        "rand-spacing-range-zero",
        given((0, 1)),
        RandSpacing,
        error=(ValueError, r"spacing_range must be positive \(mm or s\): 0 < low <= high, got \(0, 1\)"),
    ),
    Case("rand-spacing-range-negative", given((-1, 1)), RandSpacing, error=(ValueError, r"must be positive")),
    Case("rand-spacing-range-nan", given((math.nan, 1)), RandSpacing, error=(ValueError, r"pair of finite numbers")),
    Case("rand-spacing-range-inf", given((1, math.inf)), RandSpacing, error=(ValueError, r"pair of finite numbers")),
    Case(
        "rand-spacing-range-inverted",
        given((2, 1)),
        RandSpacing,
        error=(ValueError, r"spacing_range must have low <= high, got low=2 > high=1"),
    ),
    Case(
        "rand-spacing-range-three-values",
        given((1, 2, 3)),
        RandSpacing,
        error=(ValueError, r"spacing_range must be a \(low, high\) pair"),
    ),
    Case(
        "rand-spacing-range-scalar",
        given(1.0),
        RandSpacing,
        error=(ValueError, r"spacing_range must be a \(low, high\) pair for every axis"),
    ),
    Case(
        "rand-spacing-axis-count",
        image(),
        RandSpacing(((1, 2), (1, 2)), prob=1.0),
        error=(ValueError, r"spacing_range has 2 entries but the image has 3 spatial axes"),
    ),
    Case(
        "rand-spacing-zero-spacing-image",
        image((0.8, 0.0, 2.0)),
        RandSpacing((1, 2), prob=1.0),
        error=(ValueError, AFFINE_SPACING.format(v="0\\.0")),
    ),
    Case(
        "rand-spacing-plain-tensor",
        given(torch.zeros(1, 4, 5, 6)),
        RandSpacing((1, 2), prob=1.0),
        error=(ValueError, r"RandSpacing needs a MetaTensor with an affine"),
    ),
    Case(
        "rand-spacingd-plain-tensor",
        given(torch.zeros(1, 4, 5, 6)),
        lambda x: RandSpacingd("image", (1, 2), prob=1.0)({"image": x}),
        error=(ValueError, r"RandSpacingd needs MetaTensors with an affine under every key"),
    ),
    Case(
        "rand-spacingd-nan-spacing-image",
        image((0.8, np.nan, 2.0)),
        lambda x: RandSpacingd("image", (1, 2), prob=1.0)({"image": x}),
        error=(ValueError, AFFINE_SPACING.format(v="nan")),
    ),
    Case(
        "scales-spacing-zero",
        given([0.8, 0.0, 2.0]),
        lambda s: compute_afpe_scales(s, 2, (8, 8, 8)),
        error=(ValueError, r"spacing must be finite and > 0, got \[0\.8, 0\.0, 2\.0\]"),
    ),
    Case(
        "scales-spacing-negative",
        given([0.8, -1.0, 2.0]),
        lambda s: compute_afpe_scales(s, 2, (8, 8, 8)),
        error=(ValueError, r"spacing must be finite and > 0"),
    ),
    Case(
        "scales-spacing-nan",
        given([0.8, math.nan, 2.0]),
        lambda s: compute_afpe_scales(s, 2, (8, 8, 8)),
        error=(ValueError, r"spacing must be finite and > 0, got \[0\.8, nan, 2\.0\]"),
    ),
    Case(
        "scales-spacing-wrong-length",
        given([0.8, 2.0]),
        lambda s: compute_afpe_scales(s, 2, (8, 8, 8)),
        error=(ValueError, r"image_size must be one value or 2 values \(one per spatial axis\)"),
    ),
    Case(
        "scales-spacing-empty",
        given([]),
        lambda s: compute_afpe_scales(s, 2, (8, 8, 8)),
        error=(ValueError, r"spacing must have shape \(m,\) or \(B, m\), got shape \(0,\)"),
    ),
    Case(
        "compute-scales-zero-spacing-image",
        image((0.8, 0.0, 2.0)),
        ComputeAFPEScales(2),
        error=(ValueError, AFFINE_SPACING.format(v="0\\.0")),
    ),
    Case(
        "compute-scales-video-without-temporal-axes",
        clip(),
        ComputeAFPEScales(2),
        error=(ValueError, r"v\.avi: axes \(0, 1, 2\) have units \('s', 'mm', 'mm'\) but are normalised together"),
    ),
]

NETWORK_CASES = [
    Case(
        "vit-default-spacing-zero",
        given(0),
        lambda s: vit(pos_embed_kwargs={**PHYSICAL, "spacing": s}),
        error=(ValueError, NET_DEFAULT_SPACING + r", got 0\."),
    ),
    Case(
        "vit-default-spacing-negative",
        given((-1, 1, 1)),
        lambda s: vit(pos_embed_kwargs={**PHYSICAL, "spacing": s}),
        error=(ValueError, NET_DEFAULT_SPACING),
    ),
    Case(
        "vit-default-spacing-nan",
        given((math.nan, 1, 1)),
        lambda s: vit(pos_embed_kwargs={**PHYSICAL, "spacing": s}),
        error=(ValueError, NET_DEFAULT_SPACING),
    ),
    Case(
        "vit-default-spacing-wrong-length",
        given((1, 1)),
        lambda s: vit(pos_embed_kwargs={**PHYSICAL, "spacing": s}),
        error=(ValueError, NET_DEFAULT_SPACING + r", got \(1, 1\)"),
    ),
    Case("vit-spacing-zero", given(None), vit_forward(torch.tensor([1.0, 0.0, 1.0])), error=(ValueError, NET_SPACING)),
    Case(
        "vit-spacing-negative",
        given(None),
        vit_forward(torch.tensor([1.0, -1.0, 1.0])),
        error=(ValueError, NET_SPACING),
    ),
    Case("vit-spacing-nan", given(None), vit_forward(torch.tensor([1, math.nan, 1])), error=(ValueError, NET_SPACING)),
    Case("vit-spacing-inf", given(None), vit_forward(torch.tensor([1, math.inf, 1])), error=(ValueError, NET_SPACING)),
    Case(
        "vit-spacing-wrong-length",
        given(None),
        vit_forward(torch.tensor([1.0, 1.0])),
        error=(ValueError, SPACING_SHAPE + r" \(one value per token-grid axis\), got \[1, 2\]"),
    ),
    Case(
        "vit-spacing-wrong-rows",
        given(None),
        vit_forward(torch.ones(3, 3)),
        error=(ValueError, r"spacing has 3 rows but the input batch has 2 samples"),
    ),
    Case(
        "vit-spacing-three-dimensional",
        given(None),
        vit_forward(torch.ones(2, 3, 1)),
        error=(ValueError, SPACING_SHAPE),
    ),
    Case(
        "vit-spacing-missing",
        given(None),
        vit_forward(None),
        error=(ValueError, r"mode='physical' needs spacing: pass forward\(\.\.\., spacing="),
    ),
    Case(
        "vit-spacing-python-list",
        given(None),
        vit_forward([1.0, 1.0, 1.0]),
        error=(TypeError, r"spacing must be a torch.Tensor of shape \(B, m\) or \(m,\).*torch.as_tensor"),
    ),
    Case(
        "vit-spacing-embedding-nan",
        given(None),
        vit_forward(torch.tensor([1.0, math.nan, 1.0]), pos_embed_kwargs=None, spacing_embedding="cls"),
        error=(ValueError, NET_SPACING),
    ),
    Case(
        "vit-rotary-spacing-zero",
        given(None),
        vit_forward(
            torch.tensor([1.0, 0.0, 1.0]),
            pos_embed_kwargs=None,
            rotary_embedding="axial",
            rotary_embedding_kwargs=dict(mode="physical", reference_extent=4.0),
        ),
        error=(ValueError, NET_SPACING),
    ),
    Case(
        "unetr-spacing-zero", given(None), unetr_forward(torch.tensor([1.0, 0.0, 1.0])), error=(ValueError, NET_SPACING)
    ),
]

INFO_CASES = [
    Case(
        "info-singular-sform",
        nifti("a.nii", sform=SINGULAR, sform_code=1),
        info_line,
        error=(RuntimeError, r"^monai-afpe info: error: {p}: sform: singular affine"),
    ),
    Case(
        "info-truncated-gz",
        cut(nifti("a.nii.gz", (10, 10, 10), **GOOD_SFORM)),
        info_line,
        error=(RuntimeError, r"^monai-afpe info: error: {p}: data: cannot be read, the file is truncated or damaged"),
    ),
    Case(
        "info-empty-folder",
        folder("empty"),
        info_line,
        error=(RuntimeError, r"^monai-afpe info: error: {p}: slices: no DICOM file in the folder$"),
    ),
    Case(
        "info-missing-instance-number",
        series(edit=drop_instance_number),
        info_line,
        error=(RuntimeError, r"^monai-afpe info: error: {p}: InstanceNumber \(0020,0013\): missing"),
    ),
    Case(
        "info-us-image-no-regions",
        us_image(regions=[]),
        info_line,
        error=(RuntimeError, r"^monai-afpe info: error: {p}: SequenceOfUltrasoundRegions \(0018,6011\): missing"),
    ),
    Case(
        "info-xa-no-calibration",
        xa(imager_pixel_spacing=None),
        info_line,
        error=(RuntimeError, r"^monai-afpe info: error: " + XA_UNCALIBRATED),
    ),
    Case(
        "info-xa-detector-pixel-spacing",
        xa(),
        info_line,
        warning=(UserWarning, r"^monai-afpe info: warning: " + XA_DETECTOR),
    ),
    Case(
        "info-stale-pixdim",
        nifti("a.nii.gz", **STALE_SFORM),
        info_line,
        warning=(UserWarning, r"^monai-afpe info: warning: " + STALE),
    ),
]

CASES = NIFTI_CASES + DICOM_CASES + VIDEO_CASES + TRANSFORM_CASES + NETWORK_CASES + INFO_CASES


def _xfail(case: Case):
    reason, raises = case.xfail
    return pytest.mark.xfail(strict=True, reason=reason, raises=raises)


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[_xfail(c)] if c.xfail else []) for c in CASES],
)
def test_bad_input(case: Case, tmp_path):
    made = case.make(tmp_path)
    name = re.escape(str(made)) if isinstance(made, Path) else ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if case.error is not None:
            kind, pattern = case.error
            with pytest.raises(kind, match=pattern.replace("{p}", name)):
                case.call(made)
            return
        result = case.call(made)
    seen = data_warnings(
        caught, ignore="torch.jit", library_categories=(DeprecationWarning, FutureWarning, PendingDeprecationWarning)
    )
    if case.warning is not None:
        kind, pattern = case.warning
        pattern = pattern.replace("{p}", name)
        assert any(issubclass(w.category, kind) and re.search(pattern, str(w.message)) for w in seen), [
            str(w.message) for w in seen
        ]
    else:
        assert not seen, [str(w.message) for w in seen]
    if case.spacing is not None:
        spacing = result if isinstance(result, torch.Tensor) and not isinstance(result, MetaTensor) else None
        spacing = image_spacing(result) if spacing is None else spacing
        np.testing.assert_allclose(spacing.tolist(), case.spacing, rtol=1e-6)


def test_every_case_has_one_name_and_one_expected_outcome():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert all(c.spacing is not None for c in CASES if c.kind == "value")
    assert all(c.error is None or c.warning is None for c in CASES)
