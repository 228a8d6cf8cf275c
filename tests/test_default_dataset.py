"""ensure_dataset: the bundles' offline default data."""

import json

import pytest

from monai_afpe.data import ensure_dataset


def test_generates_into_an_empty_folder_then_reuses_it(tmp_path, caplog):
    folder = tmp_path / "data"
    index = ensure_dataset(folder, "organ-shapes", seed=3, num_samples=12)
    assert index == folder / "datalist.json"
    datalist = json.loads(index.read_text())
    assert sum(len(datalist[split]) for split in ("training", "validation", "test")) == 12
    before = index.stat().st_mtime_ns
    assert ensure_dataset(folder, "organ-shapes", seed=99) == index
    assert index.stat().st_mtime_ns == before


def test_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds files but no datalist.json"):
        ensure_dataset(tmp_path, "organ-shapes")
    with pytest.raises(ValueError, match="Unsupported option .mri-shapes."):
        ensure_dataset(tmp_path / "new", "mri-shapes")
