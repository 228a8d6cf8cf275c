"""NiftiReader: the NIfTI-1 rule (sform, else qform, else pixdim with a warning), never a silent guess.

Files are written with nibabel and their header fields set as a scanner or a careless tool would leave
them; nibabel's own test files check the documented spacings.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monai.bundle import ConfigParser
from monai.transforms import Compose, EnsureChannelFirstd, LoadImage, LoadImaged, Orientationd
from nibabel.openers import ImageOpener
from readers_testdata import FUNCTIONAL, NIBABEL_DATA, STANDARD

from monai_afpe.cli import main
from monai_afpe.data.readers import (
    DicomSeriesReader,
    ImageMetadataError,
    NiftiGeometryWarning,
    NiftiReader,
    load_image,
    nifti_affine,
    select_reader,
)
from monai_afpe.transforms import ExtractSpacingd, image_spacing, spacing_from_affine

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

EXAMPLE4D = NIBABEL_DATA / "example4d.nii.gz"
BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def write_nifti(path, shape=(4, 5, 6), sform=None, sform_code=0, qform=None, qform_code=0, pixdim=None, units="mm"):
    """Write a NIfTI-1 file with exactly these header fields (nibabel would otherwise fix some on the way)."""
    img = nib.Nifti1Image(np.arange(math.prod(shape), dtype=np.float32).reshape(shape), None)
    header = img.header
    if qform is not None:
        header.set_qform(qform)  # quaternion, offsets and pixdim[1:4] from the affine
    if sform is not None:
        header.set_sform(sform)
    if pixdim is not None:
        header["pixdim"][1 : 1 + len(pixdim)] = pixdim
    header["sform_code"], header["qform_code"] = sform_code, qform_code
    header["xyzt_units"] = 0 if units is None else nib.nifti1.unit_codes.code[units] | 8  # time in s
    nib.save(img, path)
    with ImageOpener(str(path)) as f:  # the file holds what the test means
        stored = nib.Nifti1Header.from_fileobj(f, check=False)
    assert (int(stored["sform_code"]), int(stored["qform_code"])) == (sform_code, qform_code)
    if pixdim is not None:
        np.testing.assert_array_equal(stored["pixdim"][1 : 1 + len(pixdim)], np.float32(pixdim))
    return Path(path)


def load(path, **kwargs):
    return LoadImage(reader=NiftiReader(**kwargs), image_only=True, ensure_channel_first=True)(path)


def rotation(a: float, b: float, c: float) -> np.ndarray:
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def affine_of(linear, translation=(10.0, -20.0, 5.0)) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3], affine[:3, 3] = linear, translation
    return affine


# --- the adversarial files of the issue -------------------------------------------------------------


def test_scanner_sform_wins_over_a_stale_pixdim(tmp_path):
    path = write_nifti(tmp_path / "stale.nii.gz", sform=np.diag([0.8, 0.8, 3.0, 1.0]), sform_code=1, pixdim=(1, 1, 1))
    with pytest.warns(NiftiGeometryWarning) as caught:
        img = load(path)
    np.testing.assert_allclose(image_spacing(img), [0.8, 0.8, 3.0], rtol=1e-6)
    (message,) = [str(w.message) for w in caught if w.category is NiftiGeometryWarning]
    assert str(path) in message and "sform (sform_code 1) gives spacing 0.8, 0.8, 3" in message
    assert "pixdim[1:4] says 1, 1, 1" in message
    np.testing.assert_allclose(image_spacing(load_image(path)), [0.8, 0.8, 3.0], rtol=1e-6)


def test_zero_pixdim_with_a_valid_sform(tmp_path):
    path = write_nifti(tmp_path / "zero.nii", sform=np.diag([1.0, 1.0, 3.0, 1.0]), sform_code=2, pixdim=(0, 0, 0))
    disagreement = r"zero.nii: sform: .* gives spacing 1, 1, 3 but pixdim\[1:4\] says 0, 0, 0"
    with pytest.warns(NiftiGeometryWarning, match=disagreement):
        img = load(path)
    np.testing.assert_allclose(image_spacing(img), [1.0, 1.0, 3.0])


def test_qform_only(tmp_path):
    qform = affine_of(rotation(0.3, -0.2, 1.1) @ np.diag([-0.7, 0.9, 2.5]))  # a flip is the qform's qfac
    path = write_nifti(tmp_path / "qform.nii.gz", qform=qform, qform_code=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NiftiGeometryWarning)  # agrees with pixdim: nothing to say
        img = load(path)
    np.testing.assert_allclose(img.affine, qform, atol=1e-5)
    np.testing.assert_allclose(image_spacing(img), [0.7, 0.9, 2.5], rtol=1e-6)


def test_neither_form_uses_pixdim_with_a_warning(tmp_path):
    path = write_nifti(tmp_path / "analyze.nii.gz", pixdim=(0.5, 0.75, 4.0))
    fallback = r"analyze.nii.gz: pixdim: sform_code and qform_code are 0 .*0.5, 0.75, 4"
    with pytest.warns(NiftiGeometryWarning, match=fallback):
        img = load(path)
    np.testing.assert_allclose(image_spacing(img), [0.5, 0.75, 4.0])
    np.testing.assert_allclose(img.affine, nib.load(path).affine)  # nibabel's ANALYZE orientation


@pytest.mark.parametrize(
    "fields, field, problem",
    [
        ({"sform": np.diag([1.0, 1.0, 0.0, 1.0]), "sform_code": 1}, "sform", r"zero spacing along array axes \[2\]"),
        ({"sform": np.zeros((4, 4)), "sform_code": 1}, "sform", "zero spacing along array axes"),
        ({"sform": np.diag([1.0, np.nan, 2.0, 1.0]), "sform_code": 1}, "sform", "non-finite values"),
        ({"sform": affine_of([[1, 2, 0], [1, 2, 0], [0, 0, 3]]), "sform_code": 4}, "sform", "singular affine"),
        ({"sform": affine_of(np.diag([1.0, 1.0, 1.0]), (0, np.inf, 0)), "sform_code": 1}, "sform", "non-finite"),
        ({"qform": np.eye(4), "qform_code": 1, "pixdim": (1.0, 0.0, 1.0)}, "qform", r"pixdim\[1:4\] .* > 0"),
        ({"qform": np.eye(4), "qform_code": 1, "pixdim": (1.0, np.nan, 1.0)}, "qform", "finite and > 0"),
        ({"pixdim": (0.0, 0.0, 0.0)}, "pixdim", "no sform or qform .* finite and > 0"),
        ({"pixdim": (1.0, -2.0, 1.0)}, "pixdim", "finite and > 0"),
        ({"sform": np.eye(4), "sform_code": 9}, "sform_code", "unknown code 9"),
        ({"qform": np.eye(4), "qform_code": -1}, "qform_code", "unknown code -1"),
    ],
    ids=[
        "sform-zero-axis",
        "sform-zero",
        "sform-nan",
        "sform-singular",
        "sform-inf-offset",
        "qform-zero-pixdim",
        "qform-nan-pixdim",
        "pixdim-zero",
        "pixdim-negative",
        "bad-sform-code",
        "bad-qform-code",
    ],
)
def test_bad_geometry_names_file_and_field(tmp_path, fields, field, problem):
    path = write_nifti(tmp_path / "bad.nii.gz", **fields)
    with pytest.raises(ImageMetadataError, match=rf"{tmp_path / 'bad.nii.gz'}: {field}: .*{problem}") as error:
        load(path)
    assert error.value.field == field and error.value.source == str(path)
    with pytest.raises(ImageMetadataError, match=rf"bad.nii.gz: {field}: "):
        load_image(path)


def test_error_is_not_hidden_by_monai_falling_back_to_another_reader(tmp_path):
    """``LoadImage`` tries other readers only when ``read`` fails; the geometry check is in ``get_data``."""
    path = write_nifti(tmp_path / "singular.nii", sform=np.diag([1.0, 1.0, 0.0, 1.0]), sform_code=1)
    loader = LoadImage(reader=[DicomSeriesReader(), "monai_afpe.data.readers.NiftiReader"], image_only=True)
    with pytest.raises(ImageMetadataError, match="singular.nii: sform: zero spacing"):
        loader(path)


def test_units_other_than_mm(tmp_path):
    path = write_nifti(
        tmp_path / "metres.nii",
        sform=affine_of(np.diag([8e-4, 8e-4, 3e-3])),
        sform_code=1,
        pixdim=(8e-4, 8e-4, 3e-3),
        units="meter",
    )
    img = load(path)
    np.testing.assert_allclose(image_spacing(img), [0.8, 0.8, 3.0], rtol=1e-6)
    np.testing.assert_allclose(img.affine[:3, 3], [10_000.0, -20_000.0, 5_000.0], rtol=1e-6)
    header = nib.load(path).header
    header["xyzt_units"] = 5  # not a spatial unit of the standard
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), None, header), tmp_path / "units.nii")
    with pytest.raises(ImageMetadataError, match="units.nii: xyzt_units: unknown spatial unit code 5"):
        load(tmp_path / "units.nii")


# --- geometry that is legitimate ---------------------------------------------------------------------


@pytest.mark.parametrize("flips", [(1, 1, 1), (-1, 1, 1), (1, -1, -1), (-1, -1, -1)])
def test_oblique_and_flipped_sform_spacing_is_the_column_norms(tmp_path, flips):
    linear = rotation(0.4, -0.25, 2.0) @ np.diag(np.multiply(flips, [0.9, 1.3, 4.0]))
    path = write_nifti(tmp_path / "oblique.nii.gz", sform=affine_of(linear), sform_code=1, pixdim=(0.9, 1.3, 4.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NiftiGeometryWarning)
        img = load(path)
    np.testing.assert_allclose(img.affine, affine_of(linear), atol=1e-5)
    np.testing.assert_allclose(image_spacing(img), [0.9, 1.3, 4.0], rtol=1e-6)


def test_4d_time_goes_to_the_channel_and_pixdim4_is_not_compared(tmp_path):
    path = write_nifti(
        tmp_path / "fmri.nii.gz",
        shape=(5, 6, 7, 3),
        sform=np.diag([2.0, 2.0, 3.5, 1.0]),
        sform_code=1,
        pixdim=(2.0, 2.0, 3.5, 2.5),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", NiftiGeometryWarning)
        img = load(path)
    assert img.shape == (3, 5, 6, 7)
    np.testing.assert_allclose(image_spacing(img), [2.0, 2.0, 3.5])


@pytest.mark.parametrize(
    "path, shape, spacing",
    [
        (STANDARD, (1, 4, 5, 7), (1.0, 3.0, 2.0)),
        (FUNCTIONAL, (20, 17, 21, 3), (4.0, 4.0, 8.0)),
        (EXAMPLE4D, (2, 128, 96, 24), (2.0, 2.0, 2.2)),
    ],
    ids=["standard", "functional", "example4d"],
)
def test_nibabel_test_files_give_their_documented_spacing(path, shape, spacing):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = load(path)
        loaded = load_image(path)
    assert img.shape == shape and loaded.shape == shape
    np.testing.assert_allclose(image_spacing(img), spacing, rtol=1e-6)
    np.testing.assert_allclose(image_spacing(loaded), spacing, rtol=1e-6)
    geometry = [str(w.message) for w in caught if issubclass(w.category, NiftiGeometryWarning)]
    # standard.nii.gz states no unit; no file disagrees with its pixdim
    no_unit = f"{path}: xyzt_units: spatial unit not stated (0); assuming millimetres"
    assert geometry == ([no_unit] * 2 if path == STANDARD else [])


def test_monai_pipeline_with_the_reader(tmp_path):
    sform = affine_of(rotation(0.0, 0.0, np.pi / 2) @ np.diag([0.8, 0.8, 3.0]))
    path = write_nifti(tmp_path / "stale.nii.gz", sform=sform, sform_code=1, pixdim=(1, 1, 1))
    pipeline = Compose(
        [
            LoadImaged("image", reader=NiftiReader(), image_only=True),
            EnsureChannelFirstd("image"),
            Orientationd("image", axcodes="RAS"),
            ExtractSpacingd("image"),
        ]
    )
    with pytest.warns(NiftiGeometryWarning):
        data = pipeline({"image": str(path)})
    assert data["image"].shape == (1, 5, 4, 6)  # the 90° rotation swaps the first two axes
    np.testing.assert_allclose(data["image_spacing"], [0.8, 0.8, 3.0], rtol=1e-6)
    assert data["image"].meta["spacing_units"] == ("mm", "mm", "mm")
    with pytest.warns(NiftiGeometryWarning):
        canonical = load(path, as_closest_canonical=True)
    assert canonical.shape == (1, 5, 4, 6)
    np.testing.assert_allclose(image_spacing(canonical), [0.8, 0.8, 3.0], rtol=1e-6)


def test_one_reader_serves_many_threads(tmp_path):
    """CacheDataset loads with worker threads that share one reader: read and get_data keep no shared state."""
    from monai.data import CacheDataset

    items = []
    for i in range(24):
        sform = affine_of(np.diag([0.5 + 0.1 * i, 0.8, 1.0 + i]))
        path = write_nifti(tmp_path / f"{i}.nii.gz", sform=sform, sform_code=1, pixdim=(0.5 + 0.1 * i, 0.8, 1.0 + i))
        items.append({"image": str(path)})
    transform = Compose(
        [
            LoadImaged("image", reader=NiftiReader(), image_only=True),
            EnsureChannelFirstd("image"),
            ExtractSpacingd("image"),
        ]
    )
    dataset = CacheDataset(items, transform, cache_rate=1.0, num_workers=4, progress=False)
    for i in range(24):
        np.testing.assert_allclose(dataset[i]["image_spacing"], [0.5 + 0.1 * i, 0.8, 1.0 + i], rtol=1e-6)


def test_project_readers_and_bundles_use_the_reader(tmp_path):
    assert type(select_reader(write_nifti(tmp_path / "a.nii.gz"))) is NiftiReader
    for config in [
        "afpe_ct_classification/configs/train.json",
        "afpe_ct_classification/configs/inference.json",
        "afpe_unetr_ct_segmentation/configs/train.json",
    ]:
        parser = ConfigParser()
        parser.read_config(BUNDLES / config)
        text = (BUNDLES / config).read_text()
        assert '"NibabelReader"' not in text and "monai_afpe.data.readers.NiftiReader" in text, config
        key = "image_readers" if "image_readers" in parser.config else "image_reader"
        readers = parser.get_parsed_content(key)
        readers = readers if isinstance(readers, list) else [readers]
        assert any(r == "monai_afpe.data.readers.NiftiReader" or isinstance(r, NiftiReader) for r in readers), config


# --- monai-afpe info ---------------------------------------------------------------------------------


def test_info_reports_the_true_spacing_and_the_disagreement(tmp_path, capsys):
    path = write_nifti(tmp_path / "stale.nii.gz", sform=np.diag([0.8, 0.8, 3.0, 1.0]), sform_code=1, pixdim=(1, 1, 1))
    code = main(["info", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and '"spacing": [0.8, 0.8, 3.0]' in out
    assert f"monai-afpe info: warning: {path}: sform:" in err and "pixdim[1:4] says 1, 1, 1" in err


def test_info_on_singular_geometry_is_an_error_naming_file_and_field(tmp_path, capsys):
    path = write_nifti(tmp_path / "flat.nii.gz", sform=affine_of([[1, 1, 0], [0, 0, 0], [0, 0, 2]]), sform_code=1)
    code = main(["info", str(path)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.strip() == f"monai-afpe info: error: {path}: sform: " + err.split(": sform: ", 1)[1].strip()
    assert "singular affine" in err and err.count("\n") == 1


# --- property: any sform's spacing is the norms of its columns --------------------------------------

angles = st.floats(-math.pi, math.pi, allow_nan=False)
lengths = st.floats(0.05, 10.0, allow_nan=False)
shears = st.floats(-1.0, 1.0, allow_nan=False)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    euler=st.tuples(angles, angles, angles),
    flips=st.tuples(*[st.sampled_from([-1.0, 1.0])] * 3),
    shear=st.tuples(shears, shears, shears),
    scale=st.tuples(lengths, lengths, lengths),
    pixdim=st.tuples(lengths, lengths, lengths),
)
def test_any_sform_gives_its_column_norms(tmp_path, euler, flips, shear, scale, pixdim):
    upper = np.array([[1.0, shear[0], shear[1]], [0.0, 1.0, shear[2]], [0.0, 0.0, 1.0]])
    sform = affine_of(rotation(*euler) @ np.diag(flips) @ upper @ np.diag(scale))
    truth = np.linalg.norm(sform.astype(np.float32)[:3, :3].astype(np.float64), axis=0)  # as stored
    path = write_nifti(tmp_path / "random.nii", shape=(2, 2, 2), sform=sform, sform_code=1, pixdim=pixdim)
    reader = NiftiReader()
    with warnings.catch_warnings(), ImageOpener(str(path)) as f:
        warnings.simplefilter("ignore", NiftiGeometryWarning)  # pixdim is random
        _, meta = reader.get_data(reader.read(path))
        affine, field = nifti_affine(nib.Nifti1Header.from_fileobj(f, check=False), path)
    np.testing.assert_allclose(spacing_from_affine(meta["affine"]).numpy(), truth, rtol=1e-6)
    assert field == "sform"
    np.testing.assert_allclose(affine, meta["affine"])
