"""Properties of the NIfTI-1 spacing policy (:func:`nifti_affine`) on random geometry, headers in memory.

The policy (``monai_afpe/data/readers/nifti.py``, DESIGN.md §2): the sform when ``sform_code > 0``, else
the qform when ``qform_code > 0``, else ``pixdim`` with a warning; the spacing is the norms of the chosen
affine's columns (the distance between neighbouring voxels along each array axis, also for a sheared
affine); a warning names both when ``pixdim`` disagrees; zero, non-finite or singular geometry raises
:class:`ImageMetadataError` naming the file and the field.

Headers live in memory (``nibabel.Nifti1Header``), which is what the reader hands to ``nifti_affine``;
writing 500 files per property would cost more than the whole property. The header stores float32, so
expected values are compared with a relative tolerance of 1e-5.
"""

from __future__ import annotations

import re
import warnings

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monai_afpe.data.readers import ImageMetadataError, NiftiGeometryWarning, nifti_affine
from monai_afpe.transforms import spacing_from_affine

SOURCE = "memory/case.nii.gz"
FORM_CODES = sorted(c for c in nib.nifti1.xform_codes.value_set() if c > 0)

PROPERTY = settings(max_examples=500, deadline=None, derandomize=True)  # the same examples on every run

unit = st.floats(-1.0, 1.0, allow_nan=False)
quaternions = st.tuples(unit, unit, unit, unit)
flips = st.tuples(*[st.sampled_from([-1.0, 1.0])] * 3)
spacings = st.tuples(*[st.floats(0.05, 20.0, allow_nan=False)] * 3)
offsets = st.tuples(*[st.floats(-500.0, 500.0, allow_nan=False)] * 3)
shears = st.tuples(*[st.floats(-2.0, 2.0, allow_nan=False)] * 3)


def rotation(q) -> np.ndarray:
    """The rotation of the quaternion ``q = (w, x, y, z)``, normalised (a near-zero ``q`` is the identity)."""
    q = np.asarray(q, dtype=np.float64)
    norm = np.linalg.norm(q)
    w, x, y, z = q / norm if norm > 1e-3 else (1.0, 0.0, 0.0, 0.0)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def affine_of(linear, offset=(0.0, 0.0, 0.0)) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3], affine[:3, 3] = linear, offset
    return affine


def header(shape=(2, 3, 4)) -> nib.Nifti1Header:
    h = nib.Nifti1Header()
    h.set_data_shape(shape)
    h["xyzt_units"] = 2  # mm
    return h


def read(h):
    """``nifti_affine`` of ``h``, with the geometry warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        affine, field = nifti_affine(h, SOURCE)
    return affine, field, [str(w.message) for w in caught if issubclass(w.category, NiftiGeometryWarning)]


def stored(value) -> np.ndarray:
    """``value`` as the float32 header holds it, back in float64."""
    return np.asarray(value, dtype=np.float32).astype(np.float64)


def test_rotation_helper_gives_proper_rotations():
    r = rotation((0.3, -0.5, 0.7, 0.1))
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(r), 1.0)
    np.testing.assert_allclose(
        rotation((np.cos(0.2), 0, 0, np.sin(0.2)))[:2, :2],
        [[np.cos(0.4), -np.sin(0.4)], [np.sin(0.4), np.cos(0.4)]],
        atol=1e-12,
    )


# --- legitimate geometry ---------------------------------------------------------------------------


@PROPERTY
@given(
    q=quaternions,
    flip=flips,
    spacing=spacings,
    offset=offsets,
    sform_code=st.sampled_from(FORM_CODES),
    qform_code=st.sampled_from([0] + FORM_CODES),
    qform_spacing=spacings,
    pixdim_error=st.one_of(st.floats(-1e-5, 1e-5), st.floats(0.01, 0.5), st.floats(-0.5, -0.01)),
)
def test_sform_of_rotation_flip_and_scaling_gives_the_scaling(
    q, flip, spacing, offset, sform_code, qform_code, qform_spacing, pixdim_error
):
    """The sform wins over any qform; its spacing is the scaling; pixdim is compared with it (warning iff off)."""
    sform = affine_of(rotation(q) @ np.diag(flip) @ np.diag(spacing), offset)
    h = header()
    h.set_qform(affine_of(np.diag(qform_spacing)), qform_code)  # another geometry, never used
    h.set_sform(sform, sform_code)
    pixdim = np.asarray(spacing) * (1.0 + pixdim_error)
    h["pixdim"][1:4] = pixdim
    affine, field, messages = read(h)
    assert field == "sform"
    np.testing.assert_allclose(affine, stored(sform), rtol=0, atol=1e-12)
    np.testing.assert_allclose(spacing_from_affine(affine).numpy(), spacing, rtol=1e-5)
    if abs(pixdim_error) < 1e-4:
        assert messages == []
    else:
        (message,) = messages
        assert message.startswith(f"{SOURCE}: sform: the sform (sform_code {sform_code}) gives spacing ")
        assert "pixdim[1:4] says " in message


@PROPERTY
@given(
    q=quaternions,
    flip=flips,
    spacing=spacings,
    offset=offsets,
    qform_code=st.sampled_from(FORM_CODES),
    junk=st.sampled_from([np.nan, np.inf, 0.0, 7.0]),
)
def test_qform_of_rotation_flip_and_scaling_gives_the_scaling(q, flip, spacing, offset, qform_code, junk):
    """``sform_code`` 0: the qform (flips through ``qfac``), whatever the unused sform holds."""
    qform = affine_of(rotation(q) @ np.diag(flip) @ np.diag(spacing), offset)
    h = header()
    h.set_qform(qform, qform_code)  # sets pixdim[1:4] and qfac as well
    for row in ("srow_x", "srow_y", "srow_z"):
        h[row] = junk  # sform_code is 0: never read
    h["sform_code"] = 0
    affine, field, messages = read(h)
    assert field == "qform" and messages == []
    np.testing.assert_allclose(spacing_from_affine(affine).numpy(), spacing, rtol=1e-5)
    # the qform stores b, c, d in float32 and recomputes a = sqrt(1 - b² - c² - d²), which loses up to
    # about sqrt(float32 eps) ~ 3e-4 in a near a half turn (a ~ 0), up to 1.1e-3 in the rotation's entries
    # (found by hypothesis): the directions agree to 3e-3
    np.testing.assert_allclose(affine[:3, :3] / np.asarray(spacing), qform[:3, :3] / np.asarray(spacing), atol=3e-3)
    np.testing.assert_allclose(affine[:3, 3], stored(offset), rtol=0, atol=1e-12)


@PROPERTY
@given(q=quaternions, flip=flips, spacing=spacings, shear=shears)
def test_sheared_sform_spacing_is_the_distance_between_neighbouring_voxels(q, flip, spacing, shear):
    """A shear is kept as it is (the sform may hold one; only a qform cannot): spacing = column norms.

    With ``L = R F U S`` (``U`` unit upper triangular) column ``j`` is ``R F U[:, j] * s_j``, of length
    ``s_j * sqrt(1 + sum_i<j U_ij²)``: the step in mm to the next voxel along array axis ``j``, not ``s_j``.
    """
    upper = np.array([[1.0, shear[0], shear[1]], [0.0, 1.0, shear[2]], [0.0, 0.0, 1.0]])
    sform = affine_of(rotation(q) @ np.diag(flip) @ upper @ np.diag(spacing))
    h = header()
    h.set_sform(sform, 1)
    expected = np.asarray(spacing) * np.sqrt([1.0, 1.0 + shear[0] ** 2, 1.0 + shear[1] ** 2 + shear[2] ** 2])
    h["pixdim"][1:4] = expected
    affine, field, messages = read(h)
    assert field == "sform" and messages == []
    np.testing.assert_allclose(spacing_from_affine(affine).numpy(), expected, rtol=1e-5)


@PROPERTY
@given(spacing=spacings, shape=st.tuples(*[st.integers(1, 6)] * 3))
def test_no_form_falls_back_to_pixdim_with_a_warning(spacing, shape):
    h = header(shape)
    h["sform_code"] = h["qform_code"] = 0
    h["pixdim"][1:4] = spacing
    affine, field, messages = read(h)
    assert field == "pixdim"
    np.testing.assert_allclose(spacing_from_affine(affine).numpy(), stored(spacing), rtol=1e-12)
    (message,) = messages
    assert message.startswith(f"{SOURCE}: pixdim: sform_code and qform_code are 0")


# --- geometry that must be refused ------------------------------------------------------------------

small_vectors = st.tuples(*[st.integers(-5, 5)] * 3)


@PROPERTY
@given(
    first=small_vectors,
    second=small_vectors,
    a=st.integers(-3, 3),
    b=st.integers(-3, 3),
    order=st.permutations([0, 1, 2]),
    offset=offsets,
    sform_code=st.sampled_from(FORM_CODES),
)
def test_singular_sform_is_an_error_naming_file_and_field(first, second, a, b, order, offset, sform_code):
    """Columns ``c1, c2, a c1 + b c2`` in any order (small integers: exactly singular in float32)."""
    columns = np.array([first, second, np.add(np.multiply(a, first), np.multiply(b, second))], dtype=np.float64)
    linear = columns[list(order)].T
    h = header()
    h.set_sform(affine_of(linear, offset), sform_code)
    h["pixdim"][1:4] = 1.0
    with pytest.raises(ImageMetadataError) as error:
        nifti_affine(h, SOURCE)
    assert error.value.field == "sform" and error.value.source == SOURCE
    assert str(error.value).startswith(f"{SOURCE}: sform: ")
    zero = [j for j in range(3) if not linear[:, j].any()]
    if zero:
        assert re.search(rf"zero spacing along array axes {re.escape(str(zero))}", error.value.problem)
    else:
        assert error.value.problem.startswith("singular affine")


@PROPERTY
@given(
    q=quaternions,
    spacing=spacings,
    offset=offsets,
    entry=st.tuples(st.integers(0, 2), st.integers(0, 3)),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    sform_code=st.sampled_from(FORM_CODES),
)
def test_non_finite_sform_is_an_error_naming_file_and_field(q, spacing, offset, entry, bad, sform_code):
    sform = affine_of(rotation(q) @ np.diag(spacing), offset)
    sform[entry] = bad
    h = header()
    h.set_sform(sform, sform_code)
    h["pixdim"][1:4] = spacing
    with pytest.raises(ImageMetadataError, match=rf"^{re.escape(SOURCE)}: sform: non-finite values") as error:
        nifti_affine(h, SOURCE)
    assert error.value.field == "sform"


@PROPERTY
@given(
    q=quaternions,
    spacing=spacings,
    offset=offsets,
    qform_code=st.sampled_from(FORM_CODES),
    field=st.sampled_from(
        ["quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z", "pixdim1", "pixdim2", "pixdim3"]
    ),
    bad=st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -1.0]),
)
def test_bad_qform_is_an_error_naming_file_and_field(q, spacing, offset, qform_code, field, bad):
    """Any non-finite qform field, or a voxel size <= 0, or a quaternion longer than 1, is refused."""
    h = header()
    h.set_qform(affine_of(rotation(q) @ np.diag(spacing), offset), qform_code)
    h["sform_code"] = 0
    if field.startswith("pixdim"):
        h["pixdim"][int(field[-1])] = bad
    elif field.startswith("quatern") and np.isfinite(bad):
        h[field] = 1.5 + abs(bad)  # b² + c² + d² > 1: no rotation has this quaternion
    elif np.isfinite(bad) and bad <= 0:  # an offset of 0 or -1 is valid: make it non-finite instead
        h[field] = np.nan
    else:
        h[field] = bad
    with pytest.raises(ImageMetadataError, match=rf"^{re.escape(SOURCE)}: qform: ") as error:
        nifti_affine(h, SOURCE)
    assert error.value.field == "qform" and error.value.source == SOURCE
    if field.startswith("quatern") and not np.isnan(bad):
        assert error.value.problem.startswith("quatern_b, quatern_c, quatern_d = ")
        assert error.value.problem.endswith("are not a rotation: they must be finite with b² + c² + d² <= 1")


@PROPERTY
@given(spacing=spacings, axis=st.integers(1, 3), bad=st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.5, -3.0]))
def test_bad_pixdim_without_forms_is_an_error_naming_file_and_field(spacing, axis, bad):
    h = header()
    h["sform_code"] = h["qform_code"] = 0
    h["pixdim"][1:4] = spacing
    h["pixdim"][axis] = bad
    with pytest.raises(ImageMetadataError, match=rf"^{re.escape(SOURCE)}: pixdim: no sform or qform") as error:
        nifti_affine(h, SOURCE)
    assert error.value.field == "pixdim"


# --- the same refusal for a file: nibabel builds the qform on load and used to fail first, unnamed -----


def test_file_with_a_quaternion_longer_than_one_is_an_error_naming_file_and_field(tmp_path):
    from monai.transforms import LoadImage

    from monai_afpe.data.readers import NiftiReader, SimpleITKReader, load_image, stored_nifti_header

    img = nib.Nifti1Image(np.zeros((2, 3, 4), np.float32), None)
    img.header.set_qform(affine_of(np.diag([0.5, 2.0, 3.0])), 1)
    img.header["sform_code"] = 0
    img.header["quatern_b"], img.header["quatern_c"] = 0.9, 0.9  # b² + c² = 1.62
    path = str(tmp_path / "quaternion.nii.gz")
    nib.save(img, path)
    assert type(stored_nifti_header(path)) is nib.Nifti1Header  # found without nibabel.load, which fails here
    expected = rf"^{re.escape(path)}: qform: quatern_b, quatern_c, quatern_d = 0.9, 0.9, 0 are not a rotation"
    with pytest.raises(ImageMetadataError, match=expected):
        load_image(path)
    with pytest.raises(ImageMetadataError, match=expected):
        LoadImage(image_only=True)(path, reader=SimpleITKReader())
    with pytest.raises(RuntimeError) as error:  # MONAI tries its other readers, then reports every error
        LoadImage(image_only=True, reader=NiftiReader())(path)
    assert f"{path}: qform: quatern_b, quatern_c, quatern_d" in str(error.value)


@pytest.mark.parametrize("image_class", [nib.Nifti1Image, nib.Nifti2Image])
def test_stored_header_class_is_read_from_sizeof_hdr(tmp_path, image_class):
    from monai_afpe.data.readers import stored_nifti_header

    sform = affine_of(rotation((0.9, 0.1, -0.3, 0.2)) @ np.diag([0.7, 0.8, 2.5]), (1.0, 2.0, 3.0))
    img = image_class(np.zeros((2, 3, 4), np.float32), sform)
    img.header["pixdim"][1:4] = [0.7, 0.8, 2.5]
    path = str(tmp_path / "image.nii")
    nib.save(img, path)
    h = stored_nifti_header(path)
    assert type(h) is type(img.header)
    affine, field = nifti_affine(h, path)
    assert field == "sform"
    np.testing.assert_allclose(spacing_from_affine(affine).numpy(), [0.7, 0.8, 2.5], rtol=1e-5)
