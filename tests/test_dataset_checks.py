"""Data-set checks before training and inference: a bad-input matrix, the skip policy and its report.

Every case uses real files: NIfTI volumes written with the project's writer (nibabel), a truncated copy
of one of them, the synthetic echo generator's AVI files, a ``labels.csv``. Each error is asserted with
its text: it names the file (or CSV row), the field, the value found and what was expected.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from monai_afpe.data import (
    DATA_POLICIES,
    REPORT_COLUMNS,
    DatasetCheckError,
    DatasetCheckWarning,
    allowed_split_names,
    check_dataset,
    data_report_path,
    load_image_folder,
    split_name,
)
from monai_afpe.data.adapters import load_decathlon, load_echonet_datalist, load_hospital_folder
from monai_afpe.data.readers import NiftiReader
from monai_afpe.data.synthetic.writers import spacing_affine, write_nifti

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

EOF_ERROR = "EOFError: Compressed file ended before the end-of-stream marker was reached"
SPLITS = r"training \(or train\), validation \(or val\), test"
CLASSES_6 = r"\{0, 1, 2, 3, 4, 5\}"


def write_volume(path: Path, seed: int = 0, shape=(16, 16, 8)) -> Path:
    array = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    return write_nifti(path, array, spacing_affine((0.8, 0.8, 3.0), (0, 0, 0)))


def write_label(path: Path, values=(0, 1, 2)) -> Path:
    array = np.zeros((16, 16, 8), np.uint8)
    for i, value in enumerate(values):
        array[i] = value
    return write_nifti(path, array, spacing_affine((0.8, 0.8, 3.0), (0, 0, 0)))


def truncate(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def write_labels_csv(folder: Path, rows: list[tuple], header=("image", "label", "split")) -> Path:
    with open(folder / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return folder / "labels.csv"


def read_report(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def volumes(tmp_path):
    """Four items of a classification list; item 2's file is a truncated ``.nii.gz``."""
    items = [{"image": str(write_volume(tmp_path / f"case_{i}.nii.gz", seed=i)), "label": i} for i in range(4)]
    truncate(Path(items[2]["image"]))
    return items


# ------------------------------------------------------------------------------------------ check_dataset


def test_truncated_nifti_among_good_ones_names_the_file_and_the_reason(volumes):
    with pytest.raises(DatasetCheckError) as error:
        check_dataset(volumes, "training", reader=NiftiReader, label_key="label", classes=6, source="list.json")
    assert (
        str(error.value) == f"{volumes[2]['image']}: image (training item 2 of list.json): cannot be read: {EOF_ERROR}"
    )


def test_skip_policy_writes_the_report_warns_and_keeps_the_good_items(volumes, tmp_path):
    report_dir = tmp_path / "eval"
    with pytest.warns(
        DatasetCheckWarning,
        match=r"training: skipped 1 of 4 items whose files cannot be used \(first: .*case_2\.nii\.gz: cannot be read: EOFError",
    ):
        kept = check_dataset(volumes, "training", reader=NiftiReader, policy="skip", report_dir=report_dir)
    assert kept == [volumes[0], volumes[1], volumes[3]]
    report = data_report_path(report_dir, "training")
    assert report == report_dir / "data_report_training.csv"
    rows = read_report(report)
    assert list(rows[0]) == list(REPORT_COLUMNS)
    assert rows == [
        {
            "split": "training",
            "index": "2",
            "key": "image",
            "file": volumes[2]["image"],
            "problem": f"cannot be read: {EOF_ERROR}",
        }
    ]


def test_skip_policy_without_bad_items_writes_an_empty_report(volumes, tmp_path):
    good = [volumes[0], volumes[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetCheckWarning)
        assert check_dataset(good, "test", reader=NiftiReader, policy="skip", report_dir=tmp_path) == good
    assert read_report(tmp_path / "data_report_test.csv") == []


def test_every_item_skipped_is_an_error(volumes, tmp_path):
    with pytest.raises(DatasetCheckError, match=r"^x\.json: test split: test: skipped 1 of 1 items whose files"):
        check_dataset([volumes[2]], "test", policy="skip", report_dir=tmp_path, source="x.json")
    assert len(read_report(tmp_path / "data_report_test.csv")) == 1


@pytest.mark.parametrize("policy", DATA_POLICIES)
def test_class_index_outside_the_class_set_is_an_error_under_either_policy(volumes, tmp_path, policy):
    items = [volumes[0], dict(volumes[1], label=7)]
    with pytest.raises(
        DatasetCheckError,
        match=rf"^training item 1 of list\.json \({re.escape(volumes[1]['image'])}\): label: "
        rf"class index 7 is outside the class set {CLASSES_6}$",
    ):
        check_dataset(
            items, "training", label_key="label", classes=6, policy=policy, report_dir=tmp_path, source="list.json"
        )


def test_label_image_value_outside_the_class_set(tmp_path):
    image = write_volume(tmp_path / "img.nii.gz")
    items = [
        {"image": str(image), "label": str(write_label(tmp_path / "good.nii.gz", (0, 1, 4)))},
        {"image": str(image), "label": str(write_label(tmp_path / "bad.nii.gz", (0, 2, 9)))},
    ]
    options = {"reader": NiftiReader, "label_key": "label", "label_type": "path", "classes": 5}
    with pytest.raises(
        DatasetCheckError,
        match=rf"^{re.escape(items[1]['label'])}: label \(validation item 1\): "
        r"values 9 are outside the class set \{0, 1, 2, 3, 4\}$",
    ):
        check_dataset(items, "validation", **options)
    with pytest.warns(DatasetCheckWarning, match="skipped 1 of 2"):
        assert check_dataset(items, "validation", policy="skip", report_dir=tmp_path, **options) == items[:1]
    (row,) = read_report(tmp_path / "data_report_validation.csv")
    assert row["key"] == "label" and row["problem"] == "values 9 are outside the class set {0, 1, 2, 3, 4}"


def test_empty_validation_split_is_an_error():
    with pytest.raises(
        DatasetCheckError,
        match=rf"^data/labels\.csv: validation split: empty; expected at least one item \(split names: {SPLITS}\)$",
    ):
        check_dataset([], "validation", source="data/labels.csv")


def test_missing_file_and_key_are_list_errors(volumes, tmp_path):
    missing = str(tmp_path / "gone.nii.gz")
    with pytest.raises(DatasetCheckError, match=rf"^{re.escape(missing)}: image \(inference item 1\): file not found$"):
        check_dataset([volumes[0], {"image": missing}], "inference", policy="skip", report_dir=tmp_path)
    with pytest.raises(DatasetCheckError, match=r"^inference item 0: image: missing; the item has \['label'\]$"):
        check_dataset([{"label": 1}], "inference")


def test_bad_arguments_are_refused(volumes):
    with pytest.raises(ValueError, match=r"Unsupported option 'ignore'"):
        check_dataset(volumes, policy="ignore")
    with pytest.raises(ValueError, match=r"policy='skip' needs report_dir"):
        check_dataset(volumes, policy="skip")


# --------------------------------------------------------------------------------------------- split names


def test_one_split_vocabulary_with_aliases():
    assert [split_name(v) for v in ("training", "TRAIN", " val ", "Validation", "test")] == [
        "training", "training", "validation", "validation", "test",
    ]  # fmt: skip
    assert allowed_split_names() == "training (or train), validation (or val), test"
    with pytest.raises(
        ValueError, match=rf"^labels\.csv: row 3: unknown split name 'valid'; expected one of {SPLITS} \(any case\)\.$"
    ):
        split_name("valid", "labels.csv: row 3")


def test_hospital_folder_unknown_split_and_class_out_of_range_name_the_row(tmp_path):
    for i in range(3):
        write_volume(tmp_path / f"c{i}.nii.gz", seed=i)
    write_labels_csv(tmp_path, [("c0.nii.gz", 0, "train"), ("c1.nii.gz", 1, "valid"), ("c2.nii.gz", 2, "test")])
    with pytest.raises(
        ValueError,
        match=rf"labels\.csv: row 3: column split: unknown split name 'valid'; expected one of {SPLITS} \(any case\)\.",
    ):
        load_hospital_folder(tmp_path, split="training")
    write_labels_csv(tmp_path, [("c0.nii.gz", 0, "train"), ("c1.nii.gz", 1, "val"), ("c2.nii.gz", 7, "Validation")])
    with pytest.raises(
        ValueError, match=rf"labels\.csv: row 4: column label: class index 7 is outside the class set {CLASSES_6}\.$"
    ):
        load_hospital_folder(tmp_path, split="validation", classes=6)
    write_labels_csv(tmp_path, [("c0.nii.gz", 0, "train"), ("c1.nii.gz", 1, "val"), ("c2.nii.gz", 5, "Validation")])
    assert [Path(i["image"]).name for i in load_hospital_folder(tmp_path, split="val", classes=6)] == [
        "c1.nii.gz",
        "c2.nii.gz",
    ]


def test_decathlon_and_echonet_read_the_same_vocabulary(tmp_path):
    case = {"image": str(write_volume(tmp_path / "i.nii.gz")), "label": str(write_label(tmp_path / "l.nii.gz"))}
    dataset_json = tmp_path / "dataset.json"
    dataset_json.write_text(json.dumps({"training": [case, case], "validation": [case], "test": []}))
    assert load_decathlon(dataset_json, "train") == load_decathlon(dataset_json, "training")
    with pytest.raises(
        ValueError, match=rf"load_decathlon: argument split: unknown split name 'dev'; expected one of {SPLITS}"
    ):
        load_decathlon(dataset_json, "dev")
    (tmp_path / "echo").mkdir()
    with open(tmp_path / "echo" / "FileList.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["FileName", "EF", "ESV", "EDV", "FrameHeight", "FrameWidth", "FPS", "NumberOfFrames", "Split"])
        writer.writerow(["a", 60, 30, 75, 32, 32, 50, 24, "VALIDATION"])
        writer.writerow(["b", 60, 30, 75, 32, 32, 50, 24, "VAL"])
    names = [i["file_name"] for i in load_echonet_datalist(tmp_path / "echo", "validation", check_files=False)]
    assert names == ["a", "b"]


# -------------------------------------------------------------------------------------------- image folders


def test_empty_folder_and_folder_without_images_name_the_path(tmp_path):
    folder = tmp_path / "scans"
    with pytest.raises(
        FileNotFoundError,
        match=rf"^{re.escape(str(folder))}: no such folder; expected image files matching '\*\.nii\*'\.$",
    ):
        load_image_folder(folder)
    folder.mkdir()
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(folder))}: empty folder; expected image files matching '\*\.nii\*'\.$"
    ):
        load_image_folder(folder)
    (folder / "notes.txt").write_text("not an image")
    (folder / "series").mkdir()
    with pytest.raises(
        ValueError,
        match=rf"^{re.escape(str(folder))}: no image: no file matches '\*\.nii\*' among its 2 entries \(notes\.txt, series/\)\.$",
    ):
        load_image_folder(folder)
    write_volume(folder / "b.nii.gz")
    write_volume(folder / "a.nii")
    assert load_image_folder(folder) == [{"image": str(folder / "a.nii")}, {"image": str(folder / "b.nii.gz")}]


# ------------------------------------------------------------------------------------------------ videos


@pytest.fixture(scope="module")
def echo_root(tmp_path_factory):
    pytest.importorskip("av")
    from monai_afpe.data.synthetic import generate_echo

    root = tmp_path_factory.mktemp("echo_checks")
    options = {"num_frames": 24, "fps_range": (20, 20), "heart_rate_range": (60, 60)}  # a 20-frame heart period
    generate_echo(root, num_samples=3, seed=0, frame_size=32, fractions=(1.0, 0.0, 0.0), **options)
    return root


def _check_echo_items(items, **options):
    """``check_dataset`` of echo training items read as grey frames of 1 mm pixels, frame counts in ``num_frames``."""
    from monai_afpe.data.readers import VideoReader

    reader = VideoReader(pixel_spacing=1.0, grayscale=True)
    return check_dataset(items, "training", reader=reader, frames_key="num_frames", **options)


def test_truncated_avi_is_an_error_and_skipped_under_skip(echo_root, tmp_path):
    items = load_echonet_datalist(echo_root, "train")
    bad = tmp_path / "Echo_cut.avi"
    bad.write_bytes(Path(items[1]["image"]).read_bytes())
    truncate(bad)
    items[1] = dict(items[1], image=str(bad))
    with pytest.raises(
        DatasetCheckError,
        match=rf"^{re.escape(str(bad))}: image \(training item 1\): cannot be read: ImageMetadataError: "
        r"frames: declared 24 \(container header\), decoded \d+: the file is truncated or damaged$",
    ):
        _check_echo_items(items)
    with pytest.warns(DatasetCheckWarning, match="skipped 1 of 3"):
        kept = _check_echo_items(items, policy="skip", report_dir=tmp_path)
    assert kept == [items[0], items[2]]


def test_decoded_frames_other_than_the_data_list_says(echo_root, tmp_path):
    items = load_echonet_datalist(echo_root, "train")
    items[0] = dict(items[0], num_frames=30)
    with pytest.raises(
        DatasetCheckError,
        match=rf"^{re.escape(items[0]['image'])}: image \(training item 0\): "
        r"frames: decoded 24, data list 30 \(num_frames\): the file is truncated or the list is wrong$",
    ):
        _check_echo_items(items)
    with pytest.warns(
        DatasetCheckWarning, match=r"frames: decoded 24, data list 30 \(num_frames\); using the decoded frames"
    ):
        assert _check_echo_items(items, frame_count_mismatch="warn") == items
