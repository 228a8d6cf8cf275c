"""ensure_dataset: the bundles' offline default data."""

import json
import warnings

import pytest

from monai_afpe.data import ensure_dataset
from monai_afpe.data.default_dataset import GENERATION_RECORD, DatasetOptionsWarning


def test_generates_into_an_empty_folder_then_reuses_it(tmp_path, caplog):
    folder = tmp_path / "data"
    index = ensure_dataset(folder, "organ-shapes", seed=3, num_samples=12)
    assert index == folder / "datalist.json"
    datalist = json.loads(index.read_text())
    assert sum(len(datalist[split]) for split in ("training", "validation", "test")) == 12
    before = index.stat().st_mtime_ns
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same options: no warning
        assert ensure_dataset(folder, "organ-shapes", seed=3, num_samples=12, progress=True) == index
    with pytest.warns(
        DatasetOptionsWarning,
        match=r"other options than asked for \(num_samples 12 -> '\(default\)'; seed 3 -> 99\); using it as it is",
    ):
        assert ensure_dataset(folder, "organ-shapes", seed=99) == index
    assert index.stat().st_mtime_ns == before


def _count(index):
    datalist = json.loads(index.read_text())
    return sum(len(datalist[split]) for split in ("training", "validation", "test"))


def test_other_options_warn_and_regenerate_replaces_only_a_generated_folder(tmp_path):
    folder = tmp_path / "data"
    ensure_dataset(folder, "organ-shapes", seed=3, num_samples=6, fractions=(0.5, 0.25, 0.25))
    assert json.loads((folder / GENERATION_RECORD).read_text()) == {
        "dataset": "organ-shapes",
        "options": {"fractions": [0.5, 0.25, 0.25], "num_samples": 6},
        "seed": 3,
    }
    with pytest.warns(DatasetOptionsWarning, match=r"num_samples 6 -> 8.*--regenerate_data true"):
        index = ensure_dataset(folder, "organ-shapes", seed=3, num_samples=8, fractions=(0.5, 0.25, 0.25))
    assert _count(index) == 6
    index = ensure_dataset(folder, "organ-shapes", seed=3, regenerate=True, num_samples=8, fractions=(0.5, 0.25, 0.25))
    assert _count(index) == 8
    assert json.loads((folder / GENERATION_RECORD).read_text())["options"]["num_samples"] == 8
    (folder / GENERATION_RECORD).unlink()  # now it looks like a user's folder
    with pytest.raises(ValueError, match=r"regenerate asked, but the folder has no generation.json.*not deleted"):
        ensure_dataset(folder, "organ-shapes", seed=3, regenerate=True, num_samples=10)
    assert index.is_file()


def test_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds files but no datalist.json"):
        ensure_dataset(tmp_path, "organ-shapes")
    with pytest.raises(ValueError, match="Unsupported option .mri-shapes."):
        ensure_dataset(tmp_path / "new", "mri-shapes")
