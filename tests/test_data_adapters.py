"""Adapters on tiny files of the real formats: OrganMNIST3D npz, EchoNet-Dynamic, Decathlon JSON, hospital folders."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.transforms import Compose, LoadImaged

from monai_afpe.data.adapters import (
    export_organmnist3d,
    load_decathlon,
    load_echonet_datalist,
    load_hospital_folder,
    load_organmnist3d,
    read_medmnist_split,
)
from monai_afpe.data.synthetic import generate_ct_segmentation, generate_echo
from monai_afpe.data.synthetic.writers import spacing_affine, write_nifti
from monai_afpe.inferers import ClipAveragingInferer
from monai_afpe.transforms.clip_sampling import SampleClipd

# ----------------------------------------------------------------------------------------------- OrganMNIST3D


@pytest.fixture
def medmnist_npz(tmp_path):
    """A MedMNIST-style npz: 3 / 2 / 2 volumes of 28³ uint8 with (N, 1) labels."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 11, (n, 1))
    path = tmp_path / "organmnist3d.npz"
    np.savez_compressed(path, **arrays)
    return path, arrays


def test_organmnist3d_stride_protocol_in_memory(medmnist_npz):
    path, arrays = medmnist_npz
    items = load_organmnist3d(path, "train", anisotropy=4, spacing=0.5)
    assert len(items) == 3
    for item, volume, label in zip(items, arrays["train_images"], arrays["train_labels"][:, 0]):
        image = item["image"]
        assert image.shape == (1, 28, 28, 7) and image.dtype == torch.uint8
        np.testing.assert_array_equal(image[0].numpy(), volume[..., ::4])
        np.testing.assert_allclose(image.pixdim, (0.5, 0.5, 2.0))
        assert item["label"] == int(label)
    full = load_organmnist3d(path, "test", anisotropy=1)[0]["image"]
    np.testing.assert_array_equal(full[0].numpy(), arrays["test_images"][0])


def test_organmnist3d_resampling_back_to_isotropic(medmnist_npz):
    path, arrays = medmnist_npz
    image = load_organmnist3d(path, "val", anisotropy=6, resample=True)[0]["image"]
    assert image.shape == (1, 28, 28, 25)  # (5 kept slices - 1) x 6 + 1 positions
    np.testing.assert_allclose(image.pixdim, (1.0, 1.0, 1.0))
    kept = arrays["val_images"][0][..., ::6].astype(np.float32)
    np.testing.assert_allclose(image[0, :, :, ::6].numpy(), kept, atol=1e-3)  # kept slices unchanged
    np.testing.assert_allclose(image[0, :, :, 3].numpy(), (kept[..., 0] + kept[..., 1]) / 2, atol=1e-3)  # linear


def test_organmnist3d_export_loads_with_load_imaged(medmnist_npz, tmp_path):
    path, arrays = medmnist_npz
    datalist = export_organmnist3d(path, tmp_path / "export", anisotropy=4)
    header = json.loads(datalist.read_text())
    assert header["labels"]["0"] == "liver" and header["labels"]["10"] == "pancreas"
    assert (header["numTraining"], header["numValidation"], header["numTest"]) == (3, 2, 2)
    from monai.data import load_decathlon_datalist

    items = load_decathlon_datalist(datalist, False, "validation")
    loaded = LoadImaged("image", ensure_channel_first=True)(items[1])
    np.testing.assert_array_equal(loaded["image"][0].numpy(), arrays["val_images"][1][..., ::4])
    np.testing.assert_allclose(loaded["image"].pixdim, (1.0, 1.0, 4.0))
    assert loaded["label"] == int(arrays["val_labels"][1, 0])


def test_organmnist3d_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, train_images=np.zeros((2, 8, 8, 8), np.uint8), train_labels=np.zeros((3, 1), int))
    with pytest.raises(ValueError, match=r"bad.npz: key 'val_images' is missing"):
        read_medmnist_split(bad, "val")
    with pytest.raises(ValueError, match=r"train_labels must be 2 integer labels"):
        read_medmnist_split(bad, "train")
    np.savez(bad, train_images=np.zeros((2, 8, 8), np.float32), train_labels=np.zeros((2, 1), int))
    with pytest.raises(ValueError, match=r"train_images must be a uint8 array \(N, X, Y, Z\)"):
        read_medmnist_split(bad, "train")
    with pytest.raises(FileNotFoundError, match="MedMNIST file not found"):
        read_medmnist_split(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="anisotropy must be a positive integer"):
        load_organmnist3d(bad, anisotropy=0)
    with pytest.raises(ValueError, match="validation"):
        read_medmnist_split(bad, "validation")


# ----------------------------------------------------------------------------------------------- EchoNet-Dynamic

ECHO_OPTIONS = {"frame_size": 32, "num_frames": 24, "fps_range": (20, 20), "heart_rate_range": (60, 60)}


@pytest.fixture(scope="module")
def echonet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("echonet")
    generate_echo(root, num_samples=8, seed=0, **ECHO_OPTIONS)
    return root


def test_echonet_splits_and_items(echonet_root):
    with open(echonet_root / "FileList.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    every = load_echonet_datalist(echonet_root, split="all")
    assert [item["file_name"] for item in every] == [row["FileName"] for row in rows]
    sizes = {split: len(load_echonet_datalist(echonet_root, split=split)) for split in ("TRAIN", "val", "Test")}
    assert sizes == {"TRAIN": 6, "val": 1, "Test": 1}
    item = load_echonet_datalist(echonet_root, split="val")[0]
    row = next(r for r in rows if r["Split"] == "VAL")
    assert item["image"].endswith(f"Videos/{row['FileName']}.avi")
    assert item["label"] == float(row["EF"]) and item["fps"] == 20.0 and item["num_frames"] == 24
    assert item["pixel_spacing"] == float(row["PixelSpacing"])
    edv = load_echonet_datalist(echonet_root, split="val", target="EDV")[0]["label"]
    assert edv == float(row["EDV"])


def _write_file_list(path, rows, columns=None):
    columns = columns or list(rows[0])
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def test_echonet_real_layout_without_extra_columns(echonet_root, tmp_path):
    """EchoNet-Dynamic's own FileList: the nine columns, names without ``.avi``."""
    (tmp_path / "Videos").mkdir()
    (tmp_path / "Videos" / "0X1A.avi").write_bytes((echonet_root / "Videos" / "Echo0000.avi").read_bytes())
    row = {"FileName": "0X1A", "EF": "61.5", "ESV": "30", "EDV": "78", "FrameHeight": "112", "FrameWidth": "112",
           "FPS": "50", "NumberOfFrames": "24", "Split": "TRAIN"}  # fmt: skip
    _write_file_list(tmp_path / "FileList.csv", [row])
    (item,) = load_echonet_datalist(tmp_path, "train")
    assert item["label"] == 61.5 and "pixel_spacing" not in item
    assert item["image"] == str(tmp_path / "Videos" / "0X1A.avi")


def _add_byte_order_mark(path):
    """Re-save a CSV as Excel's "CSV UTF-8" does: a UTF-8 byte-order mark before the header."""
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def test_echonet_file_list_with_a_byte_order_mark(echonet_root, tmp_path):
    """A FileList.csv saved by Excel as "CSV UTF-8" starts with a BOM; its first column is still FileName."""
    root = tmp_path / "echonet"
    (root / "Videos").mkdir(parents=True)
    for video in (echonet_root / "Videos").iterdir():
        (root / "Videos" / video.name).write_bytes(video.read_bytes())
    (root / "FileList.csv").write_bytes((echonet_root / "FileList.csv").read_bytes())
    _add_byte_order_mark(root / "FileList.csv")
    assert (root / "FileList.csv").read_bytes().startswith(b"\xef\xbb\xbfFileName")
    assert load_echonet_datalist(root, split="all") == [
        {**item, "image": item["image"].replace(str(echonet_root), str(root))}
        for item in load_echonet_datalist(echonet_root, split="all")
    ]


def test_echonet_errors_name_row_and_column(echonet_root, tmp_path):
    with open(echonet_root / "FileList.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    (tmp_path / "Videos").mkdir()
    _write_file_list(tmp_path / "FileList.csv", rows[:2])
    with pytest.raises(
        FileNotFoundError, match=r"FileList.csv: row 2 \(FileName 'Echo0000'\): video not found: .*Echo0000.avi"
    ):
        load_echonet_datalist(tmp_path, "all")
    assert len(load_echonet_datalist(tmp_path, "all", check_files=False)) == 2
    _write_file_list(tmp_path / "FileList.csv", [rows[0], dict(rows[1], EF="n/a")])
    with pytest.raises(
        ValueError, match=r"row 3 \(FileName 'Echo0001'\): column EF: expected a finite number, got 'n/a'"
    ):
        load_echonet_datalist(tmp_path, "all", check_files=False)
    _write_file_list(tmp_path / "FileList.csv", [dict(rows[0], Split="HOLDOUT")])
    with pytest.raises(
        ValueError, match=r"row 2 .*column Split: unknown split name 'HOLDOUT'; expected one of training"
    ):
        load_echonet_datalist(tmp_path, "all", check_files=False)
    _write_file_list(tmp_path / "FileList.csv", [{k: v for k, v in rows[0].items() if k != "FPS"}])
    with pytest.raises(ValueError, match=r"columns \['FPS'\] are missing"):
        load_echonet_datalist(tmp_path, "all")
    with pytest.raises(ValueError, match="holdout"):
        load_echonet_datalist(echonet_root, split="holdout")


def test_echonet_test_time_averaging_over_all_clips(echonet_root):
    """Every clip of a test video goes through the network; the prediction is their mean."""
    from monai_afpe.data.readers import VideoReader

    items = load_echonet_datalist(echonet_root, split="all")[:2]
    transform = Compose(
        [
            LoadImaged("image", reader=VideoReader(pixel_spacing=1.0, grayscale=True)),
            SampleClipd("image", frames=4, period=2, mode="all"),
        ]
    )
    batch = next(iter(DataLoader(Dataset(items, transform), batch_size=2)))
    assert batch["image"].shape == (2, 18, 1, 4, 32, 32)  # 24 - 7 + 1 clips of 4 frames at period 2

    def network(x, scale=None):
        mean = x.float().mean(dim=(1, 2, 3, 4))[:, None]
        return mean if scale is None else mean * scale[:, :1]

    expected = torch.stack([network(video.as_tensor()).mean(dim=0) for video in batch["image"]])
    for clip_batch_size in (None, 5):
        averaged = ClipAveragingInferer(clip_batch_size)(batch["image"].as_tensor(), network)
        torch.testing.assert_close(averaged, expected)
    scale = torch.tensor([[2.0], [3.0]])
    scaled = ClipAveragingInferer(7)(batch["image"].as_tensor(), network, scale=scale)
    torch.testing.assert_close(scaled, expected * scale)
    with pytest.raises(ValueError, match="clip_batch_size must be a positive integer"):
        ClipAveragingInferer(0)
    with pytest.raises(ValueError, match=r"inputs \(batch, clips, ...\)"):
        ClipAveragingInferer()(torch.zeros(4, 2), network)


# ----------------------------------------------------------------------------------------------- Decathlon


def test_decathlon_synthetic_dataset_json(tmp_path):
    dataset_json = generate_ct_segmentation(tmp_path, num_samples=6, seed=0, spatial_size=(32, 32, 8))
    sizes = {key: len(load_decathlon(dataset_json, key)) for key in ("training", "validation", "test")}
    assert sizes == {"training": 4, "validation": 1, "test": 1}
    item = load_decathlon(dataset_json, "test")[0]
    assert item["image"].startswith(str(tmp_path)) and "labelsTs" in item["label"]
    with pytest.raises(ValueError, match="already has a 'validation' list"):
        load_decathlon(dataset_json, "training", validation_fraction=0.2)


def _decathlon_task(root, num_training=5, folds=False, test=True):
    """A Decathlon-style task: imagesTr / labelsTr, test as a list of strings, no validation list."""
    training = []
    for i in range(num_training):
        image, label = f"./imagesTr/case_{i}.nii.gz", f"./labelsTr/case_{i}.nii.gz"
        write_nifti(root / image, np.zeros((4, 4, 2), np.int16), spacing_affine((1.0, 1.0, 3.0), (0, 0, 0)))
        write_nifti(root / label, np.zeros((4, 4, 2), np.uint8), spacing_affine((1.0, 1.0, 3.0), (0, 0, 0)))
        training.append({"image": image, "label": label, **({"fold": i % 2} if folds else {})})
    tests = []
    if test:
        write_nifti(root / "imagesTs/case_9.nii.gz", np.zeros((4, 4, 2), np.int16), np.eye(4))
        tests = ["./imagesTs/case_9.nii.gz"]
    content = {"name": "Task99_Toy", "labels": {"0": "background", "1": "organ"}, "numTraining": num_training,
               "training": training, "test": tests}  # fmt: skip
    path = root / "dataset.json"
    path.write_text(json.dumps(content))
    return path


def test_decathlon_hold_out_validation_and_folds(tmp_path):
    path = _decathlon_task(tmp_path, num_training=10)
    train = load_decathlon(path, "training", validation_fraction=0.2, seed=1)
    val = load_decathlon(path, "validation", validation_fraction=0.2, seed=1)
    assert len(train) == 8 and len(val) == 2
    assert {i["image"] for i in train} | {i["image"] for i in val} == {i["image"] for i in load_decathlon(path)}
    assert val == load_decathlon(path, "validation", validation_fraction=0.2, seed=1)
    assert load_decathlon(path, "test") == [{"image": str(tmp_path / "imagesTs" / "case_9.nii.gz")}]
    with pytest.raises(ValueError, match="has no 'validation' list .* give validation_fraction or fold"):
        load_decathlon(path, "validation")
    with pytest.raises(ValueError, match=r"training items \[0, 1, 2, 3, 4\] have no 'fold' key"):
        load_decathlon(path, "validation", fold=0)

    folded = _decathlon_task(tmp_path / "folds", num_training=5, folds=True, test=False)
    assert [i["fold"] for i in load_decathlon(folded, "validation", fold=1)] == [1, 1]
    assert [i["fold"] for i in load_decathlon(folded, "training", fold=1)] == [0, 0, 0]
    assert load_decathlon(folded, "test") == []  # an empty test list, which MONAI's loader cannot read


def test_decathlon_missing_file_names_the_item(tmp_path):
    path = _decathlon_task(tmp_path, num_training=3)
    (tmp_path / "labelsTr" / "case_1.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"dataset.json: training\[1\] label: file not found: .*case_1.nii.gz"):
        load_decathlon(path)
    assert len(load_decathlon(path, check_files=False)) == 3
    with pytest.raises(FileNotFoundError, match="Decathlon dataset file not found"):
        load_decathlon(tmp_path / "nope.json")


# ----------------------------------------------------------------------------------------------- hospital folder


def _write_dicom_series(folder, spacing=(0.7, 0.8), step=2.5, slices=3):
    """A CT series written with pydicom: one file per slice, positions ``step`` mm apart."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    series = generate_uid(entropy_srcs=[str(folder)])
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(folder), str(k)])
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "CT", series, series + ".1"
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, step * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = list(spacing)
        ds.SliceThickness = step
        ds.Rows, ds.Columns = 6, 5
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = np.full((6, 5), k, np.int16).tobytes()
        ds.save_as(folder / f"IM{k:04d}", enforce_file_format=True)


@pytest.fixture
def hospital(tmp_path):
    write_nifti(tmp_path / "case_001.nii.gz", np.zeros((5, 6, 4), np.int16), spacing_affine((0.9, 0.9, 5.0), (0, 0, 0)))
    write_nifti(tmp_path / "seg" / "case_001.nii.gz", np.zeros((5, 6, 4), np.uint8), np.eye(4))
    _write_dicom_series(tmp_path / "case_002")
    _write_file_list(
        tmp_path / "labels.csv",
        [
            {"image": "case_001.nii.gz", "label": "1", "mask": "seg/case_001.nii.gz", "split": "train"},
            {"image": "case_002", "label": "0", "mask": "seg/case_001.nii.gz", "split": "test"},
        ],
    )
    return tmp_path


def test_hospital_folder_items_load_with_spacing(hospital):
    items = load_hospital_folder(hospital)
    assert items == [
        {"image": str(hospital / "case_001.nii.gz"), "label": 1},
        {"image": str(hospital / "case_002"), "label": 0},
    ]
    nifti = LoadImaged("image", ensure_channel_first=True)(items[0])["image"]
    np.testing.assert_allclose(nifti.pixdim, (0.9, 0.9, 5.0))
    series = LoadImaged("image", reader="PydicomReader", ensure_channel_first=True)(items[1])["image"]
    assert series.shape == (1, 5, 6, 3)
    np.testing.assert_allclose(series.pixdim, (0.8, 0.7, 2.5), rtol=1e-5)  # (column, row) spacing, then slices
    assert load_hospital_folder(hospital, split="TEST") == [items[1]]
    masks = load_hospital_folder(hospital, label_column="mask", label_type="path")
    assert masks[0]["label"] == str(hospital / "seg" / "case_001.nii.gz")
    values = load_hospital_folder(hospital, label_type="value")
    assert values[0]["label"] == 1.0 and isinstance(values[0]["label"], float)


NIFTI = {"image": "case_001.nii.gz", "label": "1"}


@pytest.mark.parametrize(
    "rows, options, error, message",
    [
        ([{"image": "case_404.nii.gz", "label": "1"}], {}, FileNotFoundError, r"row 2: column image: file not found"),
        (
            [NIFTI, {"image": "empty", "label": "0"}],
            {},
            ValueError,
            r"row 3: column image: folder .*empty holds no DICOM",
        ),
        (
            [{"image": "notes.txt", "label": "1"}],
            {},
            ValueError,
            r"row 2: column image: .*notes.txt is neither a NIfTI",
        ),
        (
            [dict(NIFTI, label="1.5")],
            {},
            ValueError,
            r"row 2: column label: expected an integer class index, got '1.5'",
        ),
        ([dict(NIFTI, label="")], {}, ValueError, r"row 2: column label is empty"),
        ([dict(NIFTI, label="x")], {"label_type": "value"}, ValueError, "expected a finite number, got 'x'"),
        ([NIFTI], {"split": "train"}, ValueError, r"columns \['split'\] are missing"),
        ([NIFTI], {"label_type": "mask"}, ValueError, "mask"),
    ],
)
def test_hospital_folder_errors_name_the_row(hospital, rows, options, error, message):
    (hospital / "empty").mkdir()
    (hospital / "empty" / "readme.txt").write_text("not dicom")
    (hospital / "notes.txt").write_text("not an image")
    _write_file_list(hospital / "labels.csv", rows)
    with pytest.raises(error, match=message):
        load_hospital_folder(hospital, **options)


def test_hospital_folder_csv_with_a_byte_order_mark(hospital):
    """labels.csv saved by Excel as "CSV UTF-8": the BOM is not part of the first column's name."""
    expected = load_hospital_folder(hospital, split="train")
    _add_byte_order_mark(hospital / "labels.csv")
    assert load_hospital_folder(hospital, split="train") == expected
    assert load_hospital_folder(hospital, label_column="mask", label_type="path", split="test")[0]["image"] == str(
        hospital / "case_002"
    )


def test_hospital_folder_missing_csv(tmp_path):
    with pytest.raises(FileNotFoundError, match="label CSV not found: .*labels.csv"):
        load_hospital_folder(tmp_path)
