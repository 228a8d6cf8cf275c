"""BundleData: the bundles' data source, equal to the config expressions it replaces, on tiny real data sets.

``old_*`` below are the Python expressions that the bundle configs held in ``"$..."`` strings before
``monai_afpe.data.BundleData`` (bundles 0.4.3 / 0.2.2 / 0.2.3), written out as functions: every test
compares the component's items (values and order) and errors with theirs on the same folder. Two
differences are intended and tested at the end: the user's images (``--image_dir`` / ``--image_csv``) are
inferred on with the CT bundle's ``hospital`` format too, and the echo bundle generates no default data set
for them.
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from bundle_helpers import bundle_workflow, run_command, run_workflow
from monai.bundle import ConfigParser
from monai.data import load_decathlon_datalist
from monai.utils import look_up_option

import monai_afpe.data.bundle_data as bundle_data_module
from monai_afpe.data import (
    BUNDLE_TASKS,
    BundleData,
    DatasetCheckError,
    DatasetCheckWarning,
    check_dataset,
    ensure_dataset,
    inference_items,
    split_name,
)
from monai_afpe.data.adapters import load_decathlon, load_echonet_datalist, load_hospital_folder
from monai_afpe.data.default_dataset import GENERATION_RECORD, DatasetOptionsWarning, generation_record
from monai_afpe.data.readers import UltrasoundCineReader, VideoReader
from monai_afpe.data.synthetic.writers import spacing_affine, write_nifti

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
NIFTI = "monai_afpe.data.readers.NiftiReader"
CT_GEN = {"num_samples": 10, "split_fractions": [0.6, 0.2, 0.2], "synthetic_options": {"spatial_size": 32}}
SEG_GEN = {"num_samples": 8, "synthetic_options": {"spatial_size": [32, 32, 16]}}
ECHO_GEN = {
    "num_samples": 8,
    "synthetic_frame_size": 32,
    "synthetic_options": {"num_frames": 24, "fps_range": [20, 20], "heart_rate_range": [60, 60]},
}


# ------------------------------------------------------------------- the config expressions BundleData replaces


def old_ct_split(dataset_dir, dataset_format, split, num_classes, report_dir, policy="fail", seed=0, **gen):
    """CT train.json: ``datalist_file``, ``load_split``, ``data_source``, ``checked_split``."""
    datalist_file = (
        ensure_dataset(
            dataset_dir,
            "organ-shapes",
            seed=seed,
            regenerate=False,
            num_samples=gen["num_samples"],
            fractions=gen["split_fractions"],
            progress=True,
            **gen["synthetic_options"],
        )
        if look_up_option(dataset_format, ["datalist", "hospital"]) == "datalist"
        else None
    )
    items = (
        load_decathlon_datalist(datalist_file, is_segmentation=False, data_list_key=split_name(split))
        if dataset_format == "datalist"
        else load_hospital_folder(dataset_dir, split=split, classes=num_classes)
    )
    source = str(datalist_file) if dataset_format == "datalist" else os.path.join(dataset_dir, "labels.csv")
    return check_dataset(
        items,
        split_name(split),
        reader=NIFTI,
        label_key="label",
        label_type="class",
        classes=num_classes,
        policy=policy,
        report_dir=report_dir,
        source=source,
    )


def old_seg_datalists(dataset_dir, dataset_format, split, dataset_json=None, validation_fraction=0.0, seed=0, **gen):
    """UNETR train.json / inference.json: ``datalists``."""
    return look_up_option(
        dataset_format,
        {
            "decathlon": lambda split: load_decathlon(
                dataset_json
                or ensure_dataset(
                    dataset_dir,
                    "ct-segmentation",
                    seed=seed,
                    regenerate=False,
                    num_samples=gen["num_samples"],
                    **gen["synthetic_options"],
                ),
                split,
                validation_fraction=validation_fraction,
                seed=seed,
            ),
            "hospital": lambda split: load_hospital_folder(
                dataset_dir, csv_file="labels.csv", label_type="path", split=split
            ),
        },
    )(split)


def old_seg_split(dataset_dir, dataset_format, split, report_dir, dataset_json=None, validation_fraction=0.0, **gen):
    """UNETR train.json: ``data_source``, ``checked_datalist``."""
    source = (
        (dataset_json or os.path.join(dataset_dir, "dataset.json"))
        if dataset_format == "decathlon"
        else os.path.join(dataset_dir, "labels.csv")
    )
    items = old_seg_datalists(dataset_dir, dataset_format, split, dataset_json, validation_fraction, **gen)
    return check_dataset(
        items,
        split_name(split),
        reader=NIFTI,
        label_key="label",
        label_type="path",
        classes=5,
        policy="fail",
        report_dir=report_dir,
        source=source,
    )


def old_echo(dataset_dir, dataset_format, report_dir, **gen):
    """Echo train.json / inference.json: ``video_dir``, ``reader``, ``dataset_index``, ``dataset_root``."""
    video_dir = {"echonet": "Videos", "dicom": "DICOM"}[dataset_format]
    reader = (
        VideoReader(grayscale=True, pixel_spacing=1.0, frame_count_mismatch="error")
        if dataset_format == "echonet"
        else UltrasoundCineReader()
    )
    index = ensure_dataset(
        dataset_dir,
        "echo",
        seed=0,
        regenerate=False,
        num_samples=gen["num_samples"],
        frame_size=gen["synthetic_frame_size"],
        progress=True,
        **gen["synthetic_options"],
    )
    return video_dir, reader, index, os.path.dirname(str(index))


def old_echo_split(dataset_dir, dataset_format, split, report_dir, **gen):
    """Echo train.json: ``checked_datalist``."""
    video_dir, reader, index, root = old_echo(dataset_dir, dataset_format, report_dir, **gen)
    return check_dataset(
        load_echonet_datalist(root, split=split, video_dir=video_dir),
        split_name(split),
        reader=reader,
        frames_key="num_frames",
        frame_count_mismatch="error",
        policy="fail",
        report_dir=report_dir,
        source=str(index),
    )


# ------------------------------------------------------------------------------------------------- helpers


def write_volume(path: Path, seed: int = 0, values=None) -> str:
    rng = np.random.default_rng(seed)
    shape = (16, 16, 8)
    array = rng.normal(size=shape).astype(np.float32) if values is None else rng.choice(values, size=shape)
    return str(
        write_nifti(
            path, array.astype(np.float32 if values is None else np.uint8), spacing_affine((0.8, 0.8, 3.0), (0, 0, 0))
        )
    )


def write_rows(path: Path, rows, header=("image", "label", "split")) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def ct(dataset_dir, report_dir, **options) -> BundleData:
    arguments = {"classes": 6, "reader": NIFTI, "report_dir": report_dir, "progress": True, **CT_GEN, **options}
    return BundleData("ct-classification", dataset_dir, **arguments)


def seg(dataset_dir, report_dir, **options) -> BundleData:
    return BundleData(
        "ct-segmentation", dataset_dir, classes=5, reader=NIFTI, report_dir=report_dir, **{**SEG_GEN, **options}
    )


def echo(dataset_dir, report_dir, **options) -> BundleData:
    return BundleData("echo-regression", dataset_dir, report_dir=report_dir, progress=True, **{**ECHO_GEN, **options})


@pytest.fixture
def ct_hospital(tmp_path):
    """labels.csv with 4 training, 1 validation and 2 test volumes (class indices 0-5)."""
    folder = tmp_path / "hospital"
    folder.mkdir()
    splits = ["train", "train", "val", "Test", "training", "train", "test"]
    write_rows(
        folder / "labels.csv",
        [(Path(write_volume(folder / f"case_{i}.nii.gz", seed=i)).name, i % 6, s) for i, s in enumerate(splits)],
    )
    return folder


@pytest.fixture
def seg_hospital(tmp_path):
    """An image and a label image per row (3 train, 1 val, 1 test) in labels.csv."""
    folder = tmp_path / "seg_hospital"
    rows = []
    for i, split in enumerate(["train", "val", "train", "test", "train"]):
        image = write_volume(folder / f"image{i}.nii.gz", seed=i)
        label = write_volume(folder / f"label{i}.nii.gz", seed=i, values=(0, 1, 4))
        rows.append((Path(image).name, Path(label).name, split))
    write_rows(folder / "labels.csv", rows)
    return folder


# ------------------------------------------------------------------------------------------ CT classification


def test_ct_generated_default_equals_the_old_expressions_and_is_generated_with_the_options(tmp_path):
    data, report = tmp_path / "data", tmp_path / "eval"
    source = ct(data, report)
    assert not data.exists()  # nothing read or generated when built
    assert source.source == str(data / "datalist.json") and source.dataset_format == "datalist"
    items = {split: source.split(split) for split in ("training", "validation", "test")}
    record = generation_record("organ-shapes", 0, {"num_samples": 10, "fractions": [0.6, 0.2, 0.2], "spatial_size": 32})
    assert json.loads((data / GENERATION_RECORD).read_text()) == record
    assert [len(v) for v in items.values()] == [6, 2, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetOptionsWarning)  # the same options as the old expression's
        for split, expected in items.items():
            assert old_ct_split(data, "datalist", split, 6, report, **CT_GEN) == expected
    assert source.split("val") == items["validation"] and source.split("TRAIN") == items["training"]
    assert source.inference_items() == items["test"]  # the default input: the test split, checked
    assert source.inference_items(split="train") == items["training"]


def test_ct_hospital_folder_equals_the_old_expressions(ct_hospital, tmp_path):
    source = ct(ct_hospital, tmp_path / "eval", dataset_format="hospital")
    assert source.source == os.path.join(ct_hospital, "labels.csv")
    for split in ("training", "validation", "test"):
        expected = old_ct_split(ct_hospital, "hospital", split, 6, tmp_path / "eval", **CT_GEN)
        assert source.split(split) == expected
    assert [Path(i["image"]).name for i in source.split("training")] == [f"case_{i}.nii.gz" for i in (0, 1, 4, 5)]
    assert [i["label"] for i in source.split("test")] == [3, 0]
    assert not (tmp_path / "data").exists()


def test_ct_hospital_errors_are_the_old_ones(ct_hospital, tmp_path):
    write_rows(ct_hospital / "labels.csv", [("case_0.nii.gz", 7, "train"), ("case_1.nii.gz", 0, "valid")])
    for split, message in (
        (
            "training",
            r"labels\.csv: row 2: column label: class index 7 is outside the class set \{0, 1, 2, 3, 4, 5\}\.$",
        ),
        ("dev", r"^load_hospital_folder: argument split: unknown split name 'dev'; expected one of training"),
    ):
        with pytest.raises(ValueError) as old:
            old_ct_split(ct_hospital, "hospital", split, 6, tmp_path, **CT_GEN)
        with pytest.raises(ValueError, match=message) as new:
            ct(ct_hospital, tmp_path, dataset_format="hospital").split(split)
        assert str(new.value) == str(old.value)
    # inference on the hospital split does not check class indices, as before
    write_rows(ct_hospital / "labels.csv", [("case_0.nii.gz", 7, "test")])
    items = ct(ct_hospital, tmp_path, dataset_format="hospital").inference_items()
    assert items == [{"image": str(ct_hospital / "case_0.nii.gz"), "label": 7}]


def test_ct_skip_policy_reports_the_bad_file_and_names_the_source(ct_hospital, tmp_path):
    truncate(ct_hospital / "case_1.nii.gz")
    report = tmp_path / "eval"
    with pytest.raises(DatasetCheckError) as error:
        ct(ct_hospital, report, dataset_format="hospital").split("training")
    assert str(error.value).startswith(
        f"{ct_hospital / 'case_1.nii.gz'}: image (training item 1 of {ct_hospital / 'labels.csv'}): cannot be read:"
    )
    with pytest.warns(DatasetCheckWarning, match="training: skipped 1 of 4 items"):
        kept = ct(ct_hospital, report, dataset_format="hospital", data_policy="skip").split("train")
    assert [Path(i["image"]).name for i in kept] == ["case_0.nii.gz", "case_4.nii.gz", "case_5.nii.gz"]
    assert (report / "data_report_training.csv").is_file()


def test_generation_options_warn_regenerate_and_generate_once(tmp_path, monkeypatch):
    data = tmp_path / "data"
    calls = []
    original = bundle_data_module.ensure_dataset
    monkeypatch.setattr(bundle_data_module, "ensure_dataset", lambda *a, **k: calls.append((a, k)) or original(*a, **k))
    source = ct(data, tmp_path)
    source.split("training"), source.split("validation"), source.inference_items()
    assert len(calls) == 1  # once per component
    assert calls[0][1] == {
        "seed": 0,
        "regenerate": False,
        "num_samples": 10,
        "fractions": [0.6, 0.2, 0.2],
        "progress": True,
        "spatial_size": 32,
    }
    with pytest.warns(DatasetOptionsWarning, match=r"num_samples 10 -> 15"):
        assert len(ct(data, tmp_path, num_samples=15).split("training")) == 6  # kept as it is
    assert len(ct(data, tmp_path, num_samples=15, regenerate_data=True).split("training")) == 9
    assert json.loads((data / GENERATION_RECORD).read_text())["options"]["num_samples"] == 15
    other = tmp_path / "other"
    ct(other, tmp_path, data_seed=4, num_samples=5, split_fractions=None, synthetic_options={}).split("training")
    assert json.loads((other / GENERATION_RECORD).read_text()) == {
        "dataset": "organ-shapes",
        "seed": 4,
        "options": {"num_samples": 5},
    }


# ----------------------------------------------------------------------------------------- CT segmentation


def test_segmentation_generated_decathlon_equals_the_old_expressions(tmp_path):
    data, report = tmp_path / "data", tmp_path / "eval"
    source = seg(data, report)
    assert source.dataset_format == "decathlon"
    train, val, test = (source.split(s) for s in ("training", "validation", "test"))
    assert [len(train), len(val), len(test)] == [6, 1, 1]
    assert train == old_seg_split(data, "decathlon", "training", report, **SEG_GEN)
    assert val == old_seg_split(data, "decathlon", "validation", report, **SEG_GEN)
    assert source.source == str(data / "dataset.json")
    # inference keeps only the image of the split's items, as before
    assert source.inference_items() == [{"image": item["image"]} for item in test]
    assert source.inference_items(split="val") == [
        {"image": item["image"]} for item in old_seg_datalists(data, "decathlon", "validation", **SEG_GEN)
    ]


def test_segmentation_dataset_json_with_a_hold_out(tmp_path):
    data, report = tmp_path / "data", tmp_path / "eval"
    seg(data, report).split("training")  # generate, then drop the validation list, as in Decathlon files
    content = json.loads((data / "dataset.json").read_text())
    del content["validation"]
    dataset_json = data / "dataset_0.json"
    dataset_json.write_text(json.dumps(content))
    source = seg(tmp_path / "unused", report, dataset_json=str(dataset_json), validation_fraction=0.25)
    assert source.source == str(dataset_json)
    for split in ("training", "validation"):
        expected = old_seg_split(data, "decathlon", split, report, str(dataset_json), 0.25, **SEG_GEN)
        assert source.split(split) == expected
    assert len(source.split("training")) + len(source.split("validation")) == 6
    with pytest.raises(ValueError, match="has no 'validation' list") as error:
        seg(tmp_path / "unused", report, dataset_json=str(dataset_json)).split("validation")
    with pytest.raises(ValueError) as old:
        old_seg_split(data, "decathlon", "validation", report, str(dataset_json), **SEG_GEN)
    assert str(error.value) == str(old.value)
    assert not (tmp_path / "unused").exists()


def test_segmentation_hospital_folder_equals_the_old_expressions(seg_hospital, tmp_path):
    source = seg(seg_hospital, tmp_path, dataset_format="hospital")
    for split in ("training", "validation", "test"):
        assert source.split(split) == old_seg_split(seg_hospital, "hospital", split, tmp_path, **SEG_GEN)
    assert source.load("training") == [
        {"image": str(seg_hospital / f"image{i}.nii.gz"), "label": str(seg_hospital / f"label{i}.nii.gz")}
        for i in (0, 2, 4)
    ]
    assert source.inference_items() == [{"image": str(seg_hospital / "image3.nii.gz")}]
    write_rows(seg_hospital / "other.csv", [("image1.nii.gz", "label1.nii.gz", "test")])
    other = seg(seg_hospital, tmp_path, dataset_format="hospital", hospital_csv="other.csv")
    assert other.source == os.path.join(seg_hospital, "other.csv")
    assert other.inference_items() == [{"image": str(seg_hospital / "image1.nii.gz")}]


def test_segmentation_label_values_outside_the_class_set(seg_hospital, tmp_path):
    write_volume(seg_hospital / "label2.nii.gz", seed=2, values=(0, 9))
    with pytest.raises(DatasetCheckError) as error:
        seg(seg_hospital, tmp_path, dataset_format="hospital").split("training")
    assert str(error.value) == (
        f"{seg_hospital / 'label2.nii.gz'}: label (training item 1 of {os.path.join(seg_hospital, 'labels.csv')}): "
        "values 9 are outside the class set {0, 1, 2, 3, 4}"
    )


# --------------------------------------------------------------------------------------------------- echo


def test_echo_generated_echonet_equals_the_old_expressions(tmp_path):
    pytest.importorskip("av")
    data, report = tmp_path / "data", tmp_path / "eval"
    source = echo(data, report)
    assert isinstance(source.reader, VideoReader) and source.reader is source.reader
    assert source.reader.grayscale and source.reader.frame_count_mismatch == "error"
    assert not data.exists()
    train = source.split("training")
    for split in ("training", "validation", "test"):
        assert source.split(split) == old_echo_split(data, "echonet", split, report, **ECHO_GEN)
    assert len(train) == 6 and {"image", "label", "file_name", "fps", "num_frames"} <= set(train[0])
    assert source.source == str(data / "FileList.csv")
    _, _, _, root = old_echo(data, "echonet", report, **ECHO_GEN)
    assert source.inference_items(split="all") == load_echonet_datalist(root, split="all")
    assert source.inference_items() == load_echonet_datalist(root, split="test")


def test_echo_dicom_format_reads_the_dicom_folder(tmp_path):
    pytest.importorskip("av")
    from monai_afpe.data.synthetic import generate_echo

    generate_echo(
        tmp_path / "src", num_samples=6, seed=3, frame_size=32, write_dicom=True, **ECHO_GEN["synthetic_options"]
    )
    data = tmp_path / "data"
    (data / "DICOM").mkdir(parents=True)
    for file in (tmp_path / "src" / "DICOM").iterdir():
        (data / "DICOM" / file.name).write_bytes(file.read_bytes())
    with open(tmp_path / "src" / "FileList.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(data / "FileList.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([dict(r, FileName=r["FileName"] + ".dcm") for r in rows])
    source = echo(data, tmp_path / "eval", dataset_format="dicom")
    assert isinstance(source.reader, UltrasoundCineReader)
    train = source.split("train")
    assert train == old_echo_split(data, "dicom", "training", tmp_path / "eval", **ECHO_GEN)
    assert train and all(Path(i["image"]).parent == data / "DICOM" for i in train)
    assert [Path(i["image"]).name for i in source.inference_items(split="all")] == [
        r["FileName"] + ".dcm" for r in rows
    ]


def test_echo_inference_on_a_folder_names_each_file_and_generates_nothing(tmp_path):
    pytest.importorskip("av")
    from monai_afpe.data.synthetic import generate_echo

    generate_echo(tmp_path / "videos", num_samples=3, seed=1, frame_size=32, **ECHO_GEN["synthetic_options"])
    folder = tmp_path / "videos" / "Videos"
    source = echo(tmp_path / "data", tmp_path / "eval", data_policy="skip")
    items = source.inference_items(image_dir=folder, pattern="*.avi")
    expected = inference_items(folder, None, "*.avi", name_key="file_name")
    assert items == expected and len(items) == 3 and items[0]["file_name"] == Path(items[0]["image"]).name
    assert source.inference_items(image_dir=folder) == expected  # the task's pattern: *.avi
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------------------------------- inference inputs


def test_inference_on_an_image_folder_or_csv_reads_nothing_of_the_data_source(ct_hospital, tmp_path):
    images = tmp_path / "images"
    for name in ("b", "a", "c"):
        write_volume(images / f"{name}.nii.gz", seed=ord(name))
    truncate(images / "b.nii.gz")
    source = ct(tmp_path / "data", tmp_path / "eval", data_policy="skip")
    with pytest.warns(DatasetCheckWarning, match="inference: skipped 1 of 3 items"):
        items = source.inference_items(image_dir=images, pattern="*.nii*")
    assert items == [{"image": str(images / "a.nii.gz")}, {"image": str(images / "c.nii.gz")}]
    assert (tmp_path / "eval" / "data_report_inference.csv").is_file()
    write_rows(images / "list.csv", [("a.nii.gz",), ("c.nii.gz",)], header=("image",))
    assert source.inference_items(image_csv=images / "list.csv") == items
    assert not (tmp_path / "data").exists()
    # a hospital data source: the user's images win over the split (the old CT expression returned the split)
    hospital = ct(ct_hospital, tmp_path / "eval", dataset_format="hospital", data_policy="skip")
    assert hospital.inference_items(image_csv=images / "list.csv") == items
    with pytest.raises(ValueError, match="give image_dir .* or image_csv .*, not both"):
        source.inference_items(image_dir=images, image_csv=images / "list.csv")


def test_inference_errors_on_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    source = seg(tmp_path / "data", tmp_path / "eval", data_policy="skip")
    with pytest.raises(ValueError, match=r"empty folder; expected image files matching '\*\.nii\*'"):
        source.inference_items(image_dir=tmp_path / "empty")


# ------------------------------------------------------------------------------------------ argument checks


@pytest.mark.parametrize(
    "task, formats", [(task, spec.formats) for task, spec in BUNDLE_TASKS.items()], ids=list(BUNDLE_TASKS)
)
def test_unknown_dataset_format_lists_the_tasks_formats(task, formats, tmp_path):
    assert BundleData(task, tmp_path).dataset_format == formats[0]
    assert BundleData(task, tmp_path, dataset_format=f" {formats[-1]} ").dataset_format == formats[-1]
    with pytest.raises(ValueError) as error:
        BundleData(task, tmp_path, dataset_format="npz")
    assert str(error.value) == (
        f"dataset_format (task {task!r}): Unsupported option 'npz'; available options are {list(formats)}."
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"task": "ct"}, "task: Unsupported option 'ct'; available options are ['ct-classification', 'ct-segmentation', 'echo-regression', 'cxr-multilabel']."),
        ({"data_policy": "ignore"}, "data_policy: Unsupported option 'ignore'; available options are ['fail', 'skip']."),
        ({"data_policy": "skip"}, "data_policy 'skip' needs report_dir"),
        ({"frame_count_mismatch": "drop"}, "frame_count_mismatch: Unsupported option 'drop'; available options are ['error', 'warn']."),
        ({"dataset_json": "d.json"}, "dataset_json: only used by the 'ct-segmentation' task, not by 'ct-classification'"),
        ({"synthetic_frame_size": 32}, "synthetic_frame_size: only used by the 'echo-regression' task"),
        ({"validation_fraction": 0.1}, "validation_fraction: only used by the 'ct-segmentation' and 'cxr-multilabel' tasks, not by 'ct-classification'"),
        ({"label_names": ["Nodule"]}, "label_names: only used by the 'cxr-multilabel' task, not by 'ct-classification'"),
        ({"task": "ct-segmentation", "validation_fraction": 1.0}, "validation_fraction must lie in [0, 1), got 1.0."),
        ({"num_samples": 4, "synthetic_options": {"num_samples": 5}}, "synthetic_options: 'num_samples' is set by the argument num_samples"),
        ({"synthetic_options": {"seed": 5}}, "synthetic_options: 'seed' is set by the argument data_seed"),
    ],
)  # fmt: skip
def test_arguments_are_checked_when_built(arguments, message, tmp_path):
    arguments = {"task": "ct-classification", "dataset_dir": tmp_path / "data", **arguments}
    with pytest.raises(ValueError) as error:
        BundleData(**arguments)
    assert str(error.value).startswith(message), str(error.value)
    assert not (tmp_path / "data").exists()


def test_hospital_or_dataset_json_has_no_generated_index(seg_hospital, tmp_path):
    with pytest.raises(ValueError, match="dataset_format 'hospital' has no generated index file; the items come from"):
        seg(seg_hospital, tmp_path, dataset_format="hospital").dataset_index()
    assert seg(tmp_path, tmp_path, dataset_json="a.json").generated_format is False


# -------------------------------------------------------------------------------------------- the bundles


CONFIGS = {
    "afpe_ct_classification": ("ct-classification", "datalist", "@image_readers"),
    "afpe_unetr_ct_segmentation": ("ct-segmentation", "decathlon", "@image_reader"),
    "afpe_echo_regression": ("echo-regression", "echonet", None),
    "afpe_cxr_multilabel": ("cxr-multilabel", "dicom", None),
}
DATA_CALLS = (
    "ensure_dataset",
    "check_dataset",
    "load_hospital_folder",
    "load_decathlon",
    "load_echonet",
    "monai_afpe.data.inference_items",
    "split_name",
)


@pytest.mark.parametrize("bundle", list(CONFIGS))
@pytest.mark.parametrize("config", ["train.json", "inference.json"])
def test_bundle_configs_take_their_data_from_one_component(bundle, config, tmp_path):
    task, default_format, reader = CONFIGS[bundle]
    text = (BUNDLES / bundle / "configs" / config).read_text()
    raw = json.loads(text)["bundle_data"]
    assert raw["_target_"] == "monai_afpe.data.BundleData" and raw["task"] == task
    assert raw.get("reader") == reader and raw["dataset_format"] == "@dataset_format"
    for name in ("evaluate.json", "finetune.json", "multi_gpu_train.json", config):
        expressions = [v for v in _strings(json.loads((BUNDLES / bundle / "configs" / name).read_text()))]
        assert not [e for e in expressions if e.startswith("$") and any(call in e for call in DATA_CALLS)], name
    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "configs" / config))
    parser.update({"bundle_root": str(tmp_path)})
    component = parser.get_parsed_content("bundle_data")
    assert isinstance(component, BundleData) and component.dataset_format == default_format
    assert component.data_policy == ("fail" if config == "train.json" else "skip")
    assert component.report_dir == str(tmp_path) + "/eval"
    parser = ConfigParser()
    parser.read_config(str(BUNDLES / bundle / "configs" / config))
    parser.update({"bundle_root": str(tmp_path), "dataset_format": "npz"})
    with pytest.raises(RuntimeError) as error:
        parser.get_parsed_content("datalist" if config == "inference.json" else "bundle_data")
    assert f"dataset_format (task {task!r}): Unsupported option 'npz'" in str(error.value.__cause__)
    assert not (tmp_path / "data").exists()


ECHO_TINY = {
    "frame_size": 32,
    "network_def#hidden_size": 16,
    "network_def#mlp_dim": 32,
    "network_def#num_layers": 2,
    "network_def#num_heads": 2,
}
CT_TINY = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_threads": 1}


def save_tiny_network(bundle: str, root: Path, overrides: dict) -> None:
    workflow = bundle_workflow(bundle, ["inference.json"], "infer", root, **overrides)
    workflow.initialize()
    (root / "models").mkdir(parents=True, exist_ok=True)
    torch.save(workflow.parser.get_parsed_content("network_def").state_dict(), root / "models" / "model.pt")


@pytest.mark.slow
def test_echo_bundle_infers_on_an_image_folder_from_the_command_line_without_generating_data(tmp_path):
    """The README's ``inference.json --image_dir /data/new --pixel_spacing 0.7``: one prediction per video, named by
    file, and no synthetic data set generated into the default ``dataset_dir`` (the old config generated it)."""
    pytest.importorskip("av")
    from monai_afpe.data.synthetic import generate_echo

    generate_echo(tmp_path / "new", num_samples=3, seed=2, frame_size=32, **ECHO_GEN["synthetic_options"])
    save_tiny_network("afpe_echo_regression", tmp_path, ECHO_TINY)
    overrides = {**ECHO_TINY, "image_dir": str(tmp_path / "new" / "Videos"), "pixel_spacing": 0.7}
    arguments = [arg for key, value in overrides.items() for arg in (f"--{key}", json.dumps(value))]
    run_command(
        "monai.bundle", "run", "--config_file", "configs/inference.json", "--bundle_root", str(tmp_path), *arguments,
        cwd=BUNDLES / "afpe_echo_regression",
    )  # fmt: skip
    with open(tmp_path / "eval" / "predictions.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["image", "ejection_fraction"]
    assert sorted(row[0] for row in rows[1:]) == sorted(p.name for p in (tmp_path / "new" / "Videos").iterdir())
    assert not (tmp_path / "data").exists()


def test_ct_bundle_infers_on_an_image_folder_with_the_hospital_format(ct_hospital, tmp_path):
    """``--dataset_format hospital --image_dir ...``: the folder's images, not the hospital test split."""
    images = tmp_path / "new"
    for name in ("x", "y"):
        write_volume(images / f"{name}.nii.gz", seed=ord(name))
    save_tiny_network("afpe_ct_classification", tmp_path, CT_TINY)
    overrides = {**CT_TINY, "dataset_format": "hospital", "dataset_dir": str(ct_hospital), "image_dir": str(images)}
    run_workflow(bundle_workflow("afpe_ct_classification", ["inference.json"], "infer", tmp_path, **overrides))
    with open(tmp_path / "eval" / "predictions.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert [Path(row[0]).name for row in rows[1:]] == ["x.nii.gz", "y.nii.gz"]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
