"""The two slice orders of a DICOM series folder: DicomSeriesReader stacks by InstanceNumber (as MONAI's
PydicomReader), SimpleITKReader by position along the slice normal (as MONAI's ITKReader); either way the affine
follows the array, so every voxel lies at its file's world position."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from monai.transforms import LoadImage
from readers_testdata import AXIAL, rotation_z, write_series

from monai_afpe.data.readers import DicomSeriesReader, SimpleITKReader
from monai_afpe.transforms import image_spacing

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

ORIENTATIONS = {
    "axial": AXIAL,
    "oblique": rotation_z(30),
    "normal-to-feet": (1.0, 0.0, 0.0, 0.0, -1.0, 0.0),
    "sagittal": (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
}
OFFSETS = {"rising-along-the-normal": (0.0, 2.5, 5.0, 7.5), "rising-against-the-normal": (7.5, 5.0, 2.5, 0.0)}
ROWS, COLUMNS, ROW_SPACING, COLUMN_SPACING = 4, 5, 0.7, 0.8  # write_slice's defaults


@pytest.mark.parametrize("reader", [DicomSeriesReader, SimpleITKReader], ids=lambda r: r.__name__)
@pytest.mark.parametrize("orientation", ORIENTATIONS, ids=str)
@pytest.mark.parametrize("instances", OFFSETS, ids=str)
def test_each_voxel_lies_at_its_files_position_in_either_slice_order(tmp_path, reader, orientation, instances):
    offsets = OFFSETS[instances]  # offset of the file with InstanceNumber i + 1 along the slice normal
    files = write_series(tmp_path, offsets, orientation=ORIENTATIONS[orientation])
    img = LoadImage(reader=reader(), image_only=True, ensure_channel_first=True)(str(tmp_path))
    assert img.shape == (1, COLUMNS, ROWS, len(files))
    np.testing.assert_allclose(image_spacing(img), [COLUMN_SPACING, ROW_SPACING, 2.5], rtol=1e-6)

    stacked = [int(img[0, 0, 0, k]) // 100 for k in range(len(files))]  # write_slice: pixel = instance * 100 + index
    by_position = sorted(range(1, len(files) + 1), key=lambda instance: offsets[instance - 1])
    assert stacked == ([1, 2, 3, 4] if reader is DicomSeriesReader else by_position)

    for k, instance in enumerate(stacked):
        ds = pydicom.dcmread(files[instance - 1])
        row, column = np.asarray(ds.ImageOrientationPatient[:3]), np.asarray(ds.ImageOrientationPatient[3:])
        for i, j in ((0, 0), (COLUMNS - 1, 0), (0, ROWS - 1), (COLUMNS - 1, ROWS - 1)):  # column i, row j
            assert int(img[0, i, j, k]) == instance * 100 + j * COLUMNS + i
            lps = np.asarray(ds.ImagePositionPatient) + i * COLUMN_SPACING * row + j * ROW_SPACING * column
            world = (img.affine.numpy() @ [i, j, k, 1.0])[:3]
            np.testing.assert_allclose(world, lps * [-1.0, -1.0, 1.0], atol=1e-6)  # RAS
