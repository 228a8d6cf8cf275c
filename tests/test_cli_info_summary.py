"""``monai-afpe info DIR --summary [--bundle B]``: the spread of a folder, and what a bundle would do with it."""

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_afpe.cli import main

CT_BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "afpe_ct_classification"


def _nifti(path: Path, shape, spacing, axcodes_flip=False):
    affine = np.diag([*spacing, 1.0])
    if axcodes_flip:  # LPS storage: x and y run the other way
        affine[0, 0], affine[1, 1] = -spacing[0], -spacing[1]
    nib.save(nib.Nifti1Image(np.zeros(shape, np.int16), affine), path)


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "export"
    images.mkdir()
    _nifti(images / "a.nii.gz", (32, 32, 32), (0.8, 0.8, 2.0))
    _nifti(images / "b.nii.gz", (32, 32, 40), (0.7, 0.7, 8.0), axcodes_flip=True)
    _nifti(images / "c.nii.gz", (32, 32, 32), (1.0, 1.0, 3.0))
    (images / "notes.txt").write_text("not an image")
    (images / "broken.nii.gz").write_bytes(b"\x1f\x8b\x08\x00broken")
    return images


def test_summary_gives_the_spread_of_spacing_orientation_and_shape(folder, capsys):
    assert main(["info", str(folder), "--summary"]) == 1  # the broken file is named, the others described
    out, err = capsys.readouterr()
    assert "broken.nii.gz" in err and "error" in err
    assert "3 images described, 1 could not be read" in out
    assert "axis 2 (mm): min 2, 5% 2.1, median 3, 95% 7.5, max 8" in out
    assert "orientation: RAS 2, LPS 1" in out
    assert "spatial shape: 32x32x32 2, 32x32x40 1" in out


def test_bundle_verdicts_name_the_files_a_bundle_would_warn_about_or_crop(folder, tmp_path, capsys):
    bundle = tmp_path / "bundle"
    shutil.copytree(CT_BUNDLE / "configs", bundle / "configs")
    main(["info", str(folder), "--summary", "--bundle", str(bundle)])
    out = capsys.readouterr().out
    assert "against the bundle (spacing contract from bundle default, grid [32, 32, 32]): 2 findings" in out
    assert "b.nii.gz: spacing outside the trained range (inference warns): z (inferior-superior) 8 not in [1, 5]" in out
    assert "b.nii.gz: cropped to the bundle's grid [32, 32, 32]: axis 2 40 > 32" in out
    assert "a.nii.gz:" not in out.split("findings")[1] and "c.nii.gz:" not in out.split("findings")[1]
    # a contract written by training wins over the bundle's default
    (bundle / "models").mkdir()
    contract = json.loads((bundle / "configs" / "inference.json").read_text())["trained_spacing_range"]
    written = {**contract, "max": [1.2, 1.2, 2.5], "image_size": [32, 32, 32]}
    (bundle / "models" / "spacing_contract.json").write_text(json.dumps(written))
    main(["info", str(folder), "--summary", "--bundle", str(bundle)])
    out = capsys.readouterr().out
    assert (
        "c.nii.gz: spacing outside the trained range (inference warns): z (inferior-superior) 3 not in [1, 2.5]" in out
    )


def test_bad_arguments(tmp_path, capsys):
    assert main(["info", str(tmp_path), "--bundle", str(tmp_path)]) == 2
    assert "--bundle needs --summary" in capsys.readouterr().err
    assert main(["info", str(tmp_path), "--summary"]) == 2
    assert "no image file" in capsys.readouterr().err


def test_dicom_series_without_suffix_counts_as_one_image(folder, capsys):
    from readers_testdata import write_series

    series = folder / "series"
    for path in write_series(series, [0.0, 2.5, 5.0]):
        path.rename(path.with_suffix(""))  # hospital exports often name slices without .dcm
    main(["info", str(folder), "--summary"])
    out = capsys.readouterr().out
    assert "4 images described, 1 could not be read" in out
    assert "series" in out and "spatial shape:" in out
