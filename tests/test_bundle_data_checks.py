"""The three bundles check their data before training and inference (``data_policy``), on real bad files.

Training configs fail fast by default and name the file, the CSV row or the split; inference configs
skip what cannot be read, write predictions for every good input and list the rest in
``eval/data_report_inference.csv``. Tiny networks and data sets, ``bundle_root`` in a temporary folder.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from bundle_helpers import TINY_UNETR_NETWORK, bundle_workflow, read_rows, run_workflow

from monai_afpe.data import DatasetCheckError, DatasetCheckWarning
from monai_afpe.data.synthetic.writers import spacing_affine, write_nifti

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

CT = "afpe_ct_classification"
CT_TINY = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_threads": 1, "batch_size": 2}
UNETR = "afpe_unetr_ct_segmentation"
EOF_ERROR = "EOFError: Compressed file ended before the end-of-stream marker was reached"
SPLITS = r"training \(or train\), validation \(or val\), test"


def write_volume(path: Path, seed: int = 0, shape=(16, 16, 8), values=None) -> Path:
    rng = np.random.default_rng(seed)
    array = (
        rng.normal(size=shape).astype(np.float32) if values is None else rng.choice(values, size=shape).astype(np.uint8)
    )
    return write_nifti(path, array, spacing_affine((0.8, 0.8, 3.0), (0, 0, 0)))


def truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_rows(path: Path, rows: list[tuple], header=("image", "label", "split")) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def parse_error(workflow, key: str) -> BaseException:
    """The error a config expression raised (MONAI wraps it in a RuntimeError)."""
    workflow.initialize()
    with pytest.raises(RuntimeError) as error:
        workflow.parser.get_parsed_content(key)
    return error.value.__cause__


def save_tiny_network(bundle: str, root: Path, overrides: dict) -> None:
    """A randomly initialised tiny network as ``models/model.pt``: enough to run the inference config."""
    workflow = bundle_workflow(bundle, ["train.json"], "train", root, **overrides)
    workflow.initialize()
    (root / "models").mkdir(parents=True, exist_ok=True)
    torch.save(workflow.parser.get_parsed_content("network_def").state_dict(), root / "models" / "model.pt")


@pytest.fixture
def ct_folder(tmp_path):
    """A hospital folder: 6 NIfTI volumes, labels.csv (4 train, 1 validation, 1 test)."""
    folder = tmp_path / "hospital"
    folder.mkdir()
    splits = ["train", "train", "train", "train", "validation", "test"]
    rows = [(write_volume(folder / f"case_{i}.nii.gz", seed=i).name, i % 6, split) for i, split in enumerate(splits)]
    write_rows(folder / "labels.csv", rows)
    return folder


def ct_train(root: Path, folder: Path, **overrides):
    return bundle_workflow(
        CT, ["train.json"], "train", root, dataset_format="hospital", dataset_dir=str(folder), **CT_TINY, **overrides
    )


# ----------------------------------------------------------------------------------------- CT classification


def test_ct_training_names_a_truncated_nifti(ct_folder, tmp_path):
    truncate(ct_folder / "case_2.nii.gz")
    cause = parse_error(ct_train(tmp_path, ct_folder), "train#dataset#data")
    assert isinstance(cause, DatasetCheckError)
    assert str(cause) == (
        f"{ct_folder / 'case_2.nii.gz'}: image (training item 2 of {ct_folder / 'labels.csv'}): cannot be read: {EOF_ERROR}"
    )


def test_ct_training_skip_policy_reports_and_continues(ct_folder, tmp_path):
    truncate(ct_folder / "case_2.nii.gz")
    workflow = ct_train(tmp_path, ct_folder, data_policy="skip")
    workflow.initialize()
    with pytest.warns(DatasetCheckWarning, match=r"training: skipped 1 of 4 items"):
        items = workflow.parser.get_parsed_content("train#dataset#data")
    assert [Path(i["image"]).name for i in items] == ["case_0.nii.gz", "case_1.nii.gz", "case_3.nii.gz"]
    report = read_rows(tmp_path / "eval" / "data_report_training.csv")
    assert report == [
        ["split", "index", "key", "file", "problem"],
        ["training", "2", "image", str(ct_folder / "case_2.nii.gz"), f"cannot be read: {EOF_ERROR}"],
    ]


@pytest.mark.parametrize(
    "row, key, message",
    [
        (
            ("case_3.nii.gz", 7, "train"),
            "train#dataset#data",
            r"labels\.csv: row 5: column label: class index 7 is outside the class set \{0, 1, 2, 3, 4, 5\}\.$",
        ),
        (
            ("case_3.nii.gz", 3, "valid"),
            "train#dataset#data",
            rf"labels\.csv: row 5: column split: unknown split name 'valid'; expected one of {SPLITS} \(any case\)\.$",
        ),
        (
            ("case_4.nii.gz", 4, "train"),
            "validate#dataset#data",
            rf"labels\.csv: validation split: empty; expected at least one item \(split names: {SPLITS}\)$",
        ),
    ],
    ids=["class-out-of-range", "unknown-split", "empty-validation"],
)
def test_ct_training_refuses_a_wrong_labels_csv(ct_folder, tmp_path, row, key, message):
    rows = read_rows(ct_folder / "labels.csv")[1:]
    index = 3 if row[0] == "case_3.nii.gz" else 4
    rows[index] = list(row)
    write_rows(ct_folder / "labels.csv", rows)
    cause = parse_error(ct_train(tmp_path, ct_folder), key)
    assert isinstance(cause, ValueError) and re.search(message, str(cause)), str(cause)


def test_ct_inference_predicts_every_good_image_and_reports_the_bad_one(ct_folder, tmp_path):
    write_rows(ct_folder / "labels.csv", [(f"case_{i}.nii.gz", 0, "test") for i in range(4)])
    truncate(ct_folder / "case_1.nii.gz")
    save_tiny_network(CT, tmp_path, CT_TINY)
    workflow = bundle_workflow(
        CT, ["inference.json"], "infer", tmp_path, dataset_format="hospital", dataset_dir=str(ct_folder), **CT_TINY
    )
    with pytest.warns(DatasetCheckWarning, match=r"inference: skipped 1 of 4 items"):
        run_workflow(workflow)
    predicted = sorted(Path(row[0]).name for row in read_rows(tmp_path / "eval" / "predictions.csv")[1:])
    assert predicted == ["case_0.nii.gz", "case_2.nii.gz", "case_3.nii.gz"]
    _, row = read_rows(tmp_path / "eval" / "data_report_inference.csv")
    assert row == ["inference", "1", "image", str(ct_folder / "case_1.nii.gz"), f"cannot be read: {EOF_ERROR}"]


# ------------------------------------------------------------------------------------------ UNETR segmentation


def test_unetr_training_names_a_label_image_value_outside_the_class_set(tmp_path):
    folder = tmp_path / "hospital"
    rows = []
    for i, split in enumerate(["train", "train", "val"]):
        write_volume(folder / f"image{i}.nii.gz", seed=i)
        write_volume(folder / f"label{i}.nii.gz", seed=i, values=(0, 1, 4) if i != 1 else (0, 2, 9))
        rows.append((f"image{i}.nii.gz", f"label{i}.nii.gz", split))
    write_rows(folder / "labels.csv", rows)
    workflow = bundle_workflow(
        UNETR, ["train.json"], "train", tmp_path, dataset_format="hospital", dataset_dir=str(folder)
    )
    cause = parse_error(workflow, "train#dataset#data")
    assert isinstance(cause, DatasetCheckError)
    assert str(cause) == (
        f"{folder / 'label1.nii.gz'}: label (training item 1 of {folder / 'labels.csv'}): "
        "values 9 are outside the class set {0, 1, 2, 3, 4}"
    )


def test_unetr_inference_folder_checks(tmp_path):
    images = tmp_path / "scans"
    images.mkdir()
    infer = ["train.json", "inference.json"]
    cause = parse_error(bundle_workflow(UNETR, infer, "infer", tmp_path, image_dir=str(images)), "datalist")
    assert str(cause) == f"{images}: empty folder; expected image files matching '*.nii*'."
    (images / "notes.txt").write_text("not an image")
    cause = parse_error(bundle_workflow(UNETR, infer, "infer", tmp_path, image_dir=str(images)), "datalist")
    assert str(cause) == f"{images}: no image: no file matches '*.nii*' among its 1 entries (notes.txt)."

    for name in ("a", "b", "c"):
        write_volume(images / f"{name}.nii.gz", seed=ord(name), shape=(32, 32, 16))
    truncate(images / "b.nii.gz")
    save_tiny_network(UNETR, tmp_path, TINY_UNETR_NETWORK)
    workflow = bundle_workflow(UNETR, infer, "infer", tmp_path, image_dir=str(images), **TINY_UNETR_NETWORK)
    with pytest.warns(DatasetCheckWarning, match=r"inference: skipped 1 of 3 items"):
        run_workflow(workflow)
    assert sorted(p.name for p in (tmp_path / "eval" / "predictions").iterdir()) == ["a_seg.nii.gz", "c_seg.nii.gz"]
    _, row = read_rows(tmp_path / "eval" / "data_report_inference.csv")
    assert row == ["inference", "1", "image", str(images / "b.nii.gz"), f"cannot be read: {EOF_ERROR}"]


# ---------------------------------------------------------------------------------------------- echo regression


@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_echo_training_refuses_or_skips_an_avi_cut_in_half(tmp_path, policy):
    pytest.importorskip("av")
    from monai_afpe.data.synthetic import generate_echo

    options = {"num_frames": 24, "fps_range": (20, 20), "heart_rate_range": (60, 60)}
    generate_echo(tmp_path / "data", num_samples=8, seed=0, frame_size=32, **options)  # 6 train, 1 val, 1 test
    with open(tmp_path / "data" / "FileList.csv", newline="") as f:
        first = next(row["FileName"] for row in csv.DictReader(f) if row["Split"] == "TRAIN")
    bad = truncate(tmp_path / "data" / "Videos" / f"{first}.avi")
    workflow = bundle_workflow("afpe_echo_regression", ["train.json"], "train", tmp_path, data_policy=policy)
    if policy == "fail":
        cause = parse_error(workflow, "train_datalist")
        pattern = (
            rf"{re.escape(str(bad))}: image \(training item 0 of .*FileList\.csv\): cannot be read: ImageMetadataError: "
            r"frames: declared 24 \(container header\), decoded \d+: the file is truncated or damaged"
        )
        assert isinstance(cause, DatasetCheckError) and re.fullmatch(pattern, str(cause)), str(cause)
    else:
        workflow.initialize()
        with pytest.warns(DatasetCheckWarning, match=r"training: skipped 1 of 6 items"):
            items = workflow.parser.get_parsed_content("train_datalist")
        assert len(items) == 5 and str(bad) not in {i["image"] for i in items}
        _, row = read_rows(tmp_path / "eval" / "data_report_training.csv")
        assert row[:4] == ["training", "0", "image", str(bad)] and row[4].startswith(
            "cannot be read: ImageMetadataError"
        )
