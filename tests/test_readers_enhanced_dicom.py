"""Enhanced multi-frame DICOM: geometry from functional groups, cross-checked against a classic series."""

from __future__ import annotations

import numpy as np
import pytest
from monai.data import PydicomReader
from monai.transforms import LoadImage
from readers_testdata import CT_SMALL, rotation_z, write_enhanced_ct, write_slice

from monai_afpe.data.readers import EnhancedDicomReader, ImageMetadataError
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
