"""Enhanced multi-frame DICOM: geometry from functional groups, cross-checked against a classic series; XA / XRF."""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from monai.data import PydicomReader
from monai.data.utils import orientation_ras_lps
from monai.transforms import LoadImage
from pydicom.dataset import Dataset
from pydicom.uid import EnhancedUSVolumeStorage, ParametricMapStorage
from readers_testdata import CT_SMALL, rotation_z, write_enhanced, write_enhanced_ct, write_slice, write_xa

from monai_afpe.data.readers import EnhancedDicomReader, ImageMetadataError, projection_pixel_spacing
from monai_afpe.transforms import image_spacing

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")


def load(path, reader=None):
    return LoadImage(reader=reader or EnhancedDicomReader(), image_only=True, ensure_channel_first=True)(str(path))


def positions(offsets, orientation, origin=(10.0, -20.0, 30.0)):
    normal = np.cross(orientation[:3], orientation[3:])
    return [tuple(np.asarray(origin) + z * normal) for z in offsets]


def test_same_volume_and_affine_as_the_equivalent_classic_series(tmp_path):
    orientation, offsets = rotation_z(25), [0.0, 2.0, 4.0, 6.0]
    pixels = np.random.default_rng(0).integers(0, 4000, (4, 4, 5)).astype(np.uint16)
    enhanced = write_enhanced_ct(
        tmp_path / "enhanced.dcm", positions(offsets, orientation), orientation, rescale=None, pixels=pixels
    )
    folder = tmp_path / "series"
    folder.mkdir()
    for i, position in enumerate(positions(offsets, orientation)):
        write_slice(folder / f"s{i}.dcm", position, orientation, instance=i + 1, pixels=pixels[i])
    ours, theirs = load(enhanced), load(folder, PydicomReader())
    assert ours.shape == theirs.shape == (1, 5, 4, 4)  # (columns, rows, frames)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(ours.affine, theirs.affine, atol=1e-9)
    np.testing.assert_allclose(image_spacing(ours), [0.8, 0.7, 2.0])
    assert ours.meta["spacing_units"] == ("mm", "mm", "mm")


def test_rescale_and_per_frame_pixel_measures(tmp_path):
    path = write_enhanced_ct(
        tmp_path / "ct.dcm", [(0, 0, -3.0 * i) for i in range(3)], per_frame_measures=True, rescale=(2.0, -1024.0)
    )
    img = load(path)
    raw = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    np.testing.assert_allclose(img[0].numpy(), np.transpose(raw * 2.0 - 1024.0, (2, 1, 0)))
    np.testing.assert_allclose(image_spacing(img), [0.8, 0.7, 3.0])


def test_slice_thickness_disagreeing_with_positions_warns(tmp_path):
    path = write_enhanced_ct(tmp_path / "ct.dcm", [(0, 0, 2.0 * i) for i in range(3)], slice_thickness=5.0)
    with pytest.warns(UserWarning, match=r"PixelMeasuresSequence > SliceThickness \(0018,0050\): 5 mm disagrees"):
        load(path)


@pytest.mark.parametrize(
    "omit, field",
    [
        ("PixelMeasuresSequence", r"PixelMeasuresSequence > PixelSpacing \(0028,0030\): missing in frame 1"),
        ("PlanePositionSequence", r"PlanePositionSequence > ImagePositionPatient \(0020,0032\): missing in frame 1"),
        ("PlaneOrientationSequence", r"PlaneOrientationSequence > ImageOrientationPatient \(0020,0037\): missing"),
    ],
)
def test_missing_functional_groups(tmp_path, omit, field):
    path = write_enhanced_ct(tmp_path / "ct.dcm", [(0, 0, 2.0 * i) for i in range(3)], omit=(omit,))
    with pytest.raises(ImageMetadataError, match="ct.dcm: " + field):
        load(path)


def test_bad_frame_positions(tmp_path):
    uneven = write_enhanced_ct(tmp_path / "uneven.dcm", [(0, 0, z) for z in (0.0, 2.0, 4.0, 9.0)])
    with pytest.raises(ImageMetadataError, match=r"uneven.dcm: PlanePositionSequence > .*frame 3 -> frame 4: 5 mm"):
        load(uneven)
    two_times = write_enhanced_ct(tmp_path / "4d.dcm", [(0, 0, z) for z in (0.0, 2.0, 0.0, 2.0)])
    with pytest.raises(ImageMetadataError, match="do not advance in one direction"):
        load(two_times)


def test_single_frame_gives_a_2d_image(tmp_path):
    img = load(write_enhanced_ct(tmp_path / "one.dcm", [(0.0, 0.0, 0.0)]))
    assert img.shape == (1, 5, 4)
    np.testing.assert_allclose(image_spacing(img), [0.8, 0.7])


def test_classic_file_is_refused():
    with pytest.raises(ImageMetadataError, match=r"CT_small.dcm: NumberOfFrames \(0028,0008\): missing"):
        load(CT_SMALL)


def test_several_files_stack_as_channels(tmp_path):
    a = write_enhanced_ct(tmp_path / "a.dcm", [(0, 0, 2.0 * i) for i in range(3)])
    b = write_enhanced_ct(tmp_path / "b.dcm", [(0, 0, 2.0 * i) for i in range(3)])
    img = LoadImage(reader=EnhancedDicomReader(), image_only=True, ensure_channel_first=True)([str(a), str(b)])
    assert img.shape == (2, 5, 4, 3)


def test_us_volume_in_its_volume_frame_of_reference(tmp_path):
    """Enhanced US Volume planes stated only in the volume frame: the same affine as patient planes would give, with
    a warning that its directions are the transducer volume's."""
    orientation, offsets = rotation_z(30), [0.0, 0.5, 1.0, 1.5]
    kwargs = dict(sop_class=EnhancedUSVolumeStorage, modality="US", rescale=None, pixel_spacing=(0.3, 0.4))
    patient = load(write_enhanced(tmp_path / "patient.dcm", positions(offsets, orientation), orientation, **kwargs))
    path = write_enhanced(
        tmp_path / "volume.dcm", positions(offsets, orientation), orientation, volume_frame=True, **kwargs
    )
    with pytest.warns(
        UserWarning, match=r"volume.dcm: PlanePositionVolumeSequence > ImagePositionVolume .* not the patient's"
    ):
        volume = load(path)
    np.testing.assert_allclose(volume.affine, patient.affine, atol=1e-9)
    np.testing.assert_allclose(image_spacing(volume), [0.4, 0.3, 0.5])
    assert volume.meta["patient_affine"] is False and "patient_affine" not in patient.meta


def test_simpleitk_reads_some_enhanced_files_with_the_wrong_geometry(tmp_path):
    """Why EnhancedDicomReader builds its affine from the functional groups itself (module docstring): SimpleITK
    agrees on an Enhanced CT, but reads an Enhanced US Volume, a stack with uneven steps and Enhanced XA frames at
    1 mm without an error, and cannot read a Parametric Map. When this fails, SimpleITK may do for this reader."""
    orientation = rotation_z(25)

    def write(name, offsets=(0.0, 2.0, 4.0, 6.0), **kwargs):
        return str(
            write_enhanced(tmp_path / name, positions(offsets, orientation), orientation, rescale=None, **kwargs)
        )

    ct = write("ct.dcm")
    theirs, ours = sitk.ReadImage(ct), load(ct)
    expected = np.eye(4)
    expected[:3, :3] = np.reshape(theirs.GetDirection(), (3, 3)) @ np.diag(theirs.GetSpacing())
    expected[:3, 3] = theirs.GetOrigin()
    np.testing.assert_allclose(orientation_ras_lps(expected), ours.affine, atol=1e-6)

    us_volume = sitk.ReadImage(write("us.dcm", sop_class=EnhancedUSVolumeStorage, modality="US"))
    assert us_volume.GetSpacing() == (1.0, 1.0, 1.0) and us_volume.GetOrigin() == (0.0, 0.0, 0.0)
    np.testing.assert_allclose(image_spacing(load(tmp_path / "us.dcm")), [0.8, 0.7, 2.0])

    uneven = write("uneven.dcm", offsets=(0.0, 2.0, 4.2, 6.0))
    assert sitk.ReadImage(uneven).GetSpacing() == (1.0, 1.0, 1.0)
    with pytest.warns(UserWarning, match="not uniformly spaced.*using the mean step"):
        np.testing.assert_allclose(image_spacing(load(uneven, EnhancedDicomReader(tolerance=0.5))), [0.8, 0.7, 2.0])

    xa = sitk.ReadImage(str(write_xa(tmp_path / "xa.dcm", frames=4)))
    assert xa.GetSize() == (8, 6, 4) and xa.GetSpacing() == (1.0, 1.0, 1.0)

    with pytest.raises(RuntimeError, match="Unable to determine ImageIO reader"):
        sitk.ReadImage(write("map.dcm", sop_class=ParametricMapStorage, modality="MR"))


def test_xa_cine_layout_and_values(tmp_path):
    path = write_xa(tmp_path / "xa.dcm", frames=4, timing={"CineRate": 15})
    with pytest.warns(UserWarning, match="the pixel size at the detector"):
        img = load(path)
    assert img.shape == (1, 4, 6, 8) and img.meta["spacing_units"] == ("s", "mm", "mm")
    np.testing.assert_allclose(img.affine, np.diag([1 / 15, 0.2, 0.25, 1.0]))
    np.testing.assert_array_equal(img[0].numpy(), pydicom.dcmread(path).pixel_array)
    assert img.meta["frame_time_source"] == "CineRate" and img.meta["patient_affine"] is False


def _spacing_of(ds):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spacing, field = projection_pixel_spacing(ds, "xa.dcm")
    return spacing, field, [str(w.message) for w in caught]


def test_projection_pixel_spacing_sources_in_order_of_preference(tmp_path):
    ds = pydicom.dcmread(write_xa(tmp_path / "xa.dcm", pixel_spacing=(0.15, 0.16), imager_pixel_spacing=(0.2, 0.25)))
    ds.PixelSpacing, ds.ImagerPixelSpacing = [0.11, 0.12], [0.3, 0.3]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    spacing, source, messages = _spacing_of(ds)  # calibrated: no warning
    assert spacing == (0.15, 0.16) and source == "PixelMeasuresSequence > PixelSpacing (calibrated: GEOMETRY)"
    assert messages == []
    del ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence
    assert _spacing_of(ds) == ((0.11, 0.12), "PixelSpacing (calibrated: GEOMETRY)", [])
    del ds.PixelSpacingCalibrationType  # differs from ImagerPixelSpacing: corrected or calibrated, with a warning
    spacing, source, (message,) = _spacing_of(ds)
    assert (spacing, source) == ((0.11, 0.12), "PixelSpacing (calibration type not stated)")
    assert message.startswith("xa.dcm: PixelSpacing (0028,0030): ") and "it differs from Frame" in message
    del ds.PixelSpacing
    assert _spacing_of(ds)[:2] == (
        (0.2, 0.25),
        "FramePixelDataPropertiesSequence > ImagerPixelSpacing (detector plane, no magnification)",
    )
    del ds.SharedFunctionalGroupsSequence[0].FramePixelDataPropertiesSequence
    assert _spacing_of(ds)[:2] == ((0.3, 0.3), "ImagerPixelSpacing (detector plane, no magnification)")
    ds.EstimatedRadiographicMagnificationFactor = 1.2
    spacing, source, (message,) = _spacing_of(ds)
    np.testing.assert_allclose(spacing, (0.25, 0.25))
    assert source == "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor 1.2"
    del ds.ImagerPixelSpacing
    with pytest.raises(
        ImageMetadataError, match=r"xa.dcm: PixelSpacing \(0028,0030\) / ImagerPixelSpacing .*: missing"
    ):
        projection_pixel_spacing(ds, "xa.dcm")


def test_projection_pixel_spacing_per_frame(tmp_path):
    ds = pydicom.dcmread(write_xa(tmp_path / "xa.dcm", frames=3, imager_pixel_spacing=None))
    for frame, value in zip(ds.PerFrameFunctionalGroupsSequence, ([0.2, 0.2], [0.2, 0.2], [0.3, 0.2])):
        properties = Dataset()
        properties.ImagerPixelSpacing = value
        frame.FramePixelDataPropertiesSequence = [properties]
    with pytest.raises(
        ImageMetadataError,
        match=r"ImagerPixelSpacing \(0018,1164\): differs between frames \(0.2, 0.2 mm in frame 1, 0.3, 0.2 mm in frame 3\)",
    ):
        projection_pixel_spacing(ds, "xa.dcm")
    ds.PerFrameFunctionalGroupsSequence[2].FramePixelDataPropertiesSequence[0].ImagerPixelSpacing = [0.2]
    with pytest.raises(ImageMetadataError, match=r"expected 2 values in frame 3"):
        projection_pixel_spacing(ds, "xa.dcm")
