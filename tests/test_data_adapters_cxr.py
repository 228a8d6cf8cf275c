"""Chest radiograph adapters on tiny hand-written layouts: NIH ChestX-ray14, NIH-CXR-LT, CheXpert."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monai_afpe.data.adapters import (
    CHESTXRAY14_LABELS,
    CHEXPERT_LABELS,
    load_chestxray14,
    load_chexpert,
    load_nih_cxr_lt,
)

Image = pytest.importorskip("PIL.Image")

NIH_HEADER = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
)


def _png(path: Path, size=(16, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros(size[::-1], dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def nih(tmp_path):
    rows = [
        "00000001_000.png,Cardiomegaly|Effusion,0,1,58,M,PA,2682,2749,0.143,0.143,",
        "00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.168,0.168,",
        "00000003_000.png,Nodule,0,3,74,F,AP,3056,2544,0.139,0.139,",
    ]
    (tmp_path / "Data_Entry_2017.csv").write_text(NIH_HEADER + "\n".join(rows) + "\n")
    (tmp_path / "train_val_list.txt").write_text("00000001_000.png\n00000002_000.png\n")
    (tmp_path / "test_list.txt").write_text("00000003_000.png\n")
    _png(tmp_path / "images_001" / "images" / "00000001_000.png")
    _png(tmp_path / "images_001" / "images" / "00000002_000.png")
    _png(tmp_path / "images_002" / "images" / "00000003_000.png", size=(32, 24))
    return tmp_path


def test_chestxray14_items_labels_and_scaled_spacing(nih):
    train = load_chestxray14(nih, split="train")
    assert [Path(i["image"]).name for i in train] == ["00000001_000.png", "00000002_000.png"]
    first = train[0]
    assert first["label"].dtype == np.float32 and first["label"].shape == (14,)
    assert {CHESTXRAY14_LABELS[i] for i in np.flatnonzero(first["label"])} == {"Cardiomegaly", "Effusion"}
    assert not train[1]["label"].any()  # No Finding
    # PNG 16 x 12 (width x height): spacing scaled by original / actual size, returned as (row, column)
    assert first["pixel_spacing"] == pytest.approx((0.143 * 2749 / 12, 0.143 * 2682 / 16))
    assert first["patient_id"] == "1" and first["view"] == "PA"
    (test,) = load_chestxray14(nih, split="test")
    assert test["pixel_spacing"] == pytest.approx((0.139 * 2544 / 24, 0.139 * 3056 / 32))
    assert len(load_chestxray14(nih, split="all")) == 3
    # a given image size instead of the PNG headers
    (fixed,) = load_chestxray14(nih, split="test", image_size=1024)
    assert fixed["pixel_spacing"] == pytest.approx((0.139 * 2544 / 1024, 0.139 * 3056 / 1024))


def test_chestxray14_errors_name_file_row_and_column(nih):
    with pytest.raises(ValueError, match="no validation list"):
        load_chestxray14(nih, split="validation")
    with pytest.raises(ValueError, match="unknown split name"):
        load_chestxray14(nih, split="holdout")
    (nih / "images_002" / "images" / "00000003_000.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"row 4 \(Image Index '00000003_000.png'\): image not found"):
        load_chestxray14(nih, split="test")
    assert load_chestxray14(nih, split="test", check_files=False, image_size=(1024, 1024))[0]["image"].endswith(
        "images/00000003_000.png"
    )
    (nih / "test_list.txt").unlink()
    with pytest.raises(FileNotFoundError, match="test_list.txt"):
        load_chestxray14(nih, split="test")
    text = (nih / "Data_Entry_2017.csv").read_text()
    (nih / "Data_Entry_2017.csv").write_text(text.replace("Cardiomegaly|Effusion", "Cardiomegaly|Flu"))
    with pytest.raises(ValueError, match=r"row 2 .*column Finding Labels: expected findings.*'Cardiomegaly\|Flu'"):
        load_chestxray14(nih)
    (nih / "Data_Entry_2017.csv").write_text(text.replace(",0.143,0.143,", ",0.143,zero,"))
    with pytest.raises(ValueError, match=r"row 2 .*column y\]: expected a finite number > 0, got 'zero'"):
        load_chestxray14(nih)
    (nih / "Data_Entry_2017.csv").write_text(text.replace("OriginalImagePixelSpacing[x", "Spacing[x"))
    with pytest.raises(
        ValueError, match=r"Data_Entry_2017.csv: columns \['OriginalImagePixelSpacing\[x'\] are missing"
    ):
        load_chestxray14(nih)
    with pytest.raises(FileNotFoundError, match="Data_Entry_2017.csv not found"):
        load_chestxray14(nih / "elsewhere")


def test_nih_cxr_lt_labels_from_the_header(nih):
    (nih / "lt_train.csv").write_text(
        "id,Atelectasis,Cardiomegaly,Tortuous Aorta,No Finding,subj_id\n"
        "00000001_000.png,0,1,1,0,1\n"
        "00000002_000.png,0,0,0,1,2\n"
    )
    items, labels = load_nih_cxr_lt(nih, "lt_train.csv")
    assert labels == ("Atelectasis", "Cardiomegaly", "Tortuous Aorta", "No Finding")
    assert items[0]["label"].tolist() == [0, 1, 1, 0] and items[0]["label"].dtype == np.float32
    assert items[0]["pixel_spacing"] == pytest.approx((0.143 * 2749 / 12, 0.143 * 2682 / 16))
    chosen, names = load_nih_cxr_lt(nih, "lt_train.csv", labels=["No Finding"], data_entry=None)
    assert names == ("No Finding",) and chosen[1]["label"].tolist() == [1.0] and "pixel_spacing" not in chosen[1]


def test_nih_cxr_lt_errors(nih):
    (nih / "bad.csv").write_text("id,Atelectasis,subj_id\n00000001_000.png,2,1\n")
    with pytest.raises(
        ValueError, match=r"bad.csv: row 2 \(id '00000001_000.png'\): column Atelectasis: expected a label 0 or 1"
    ):
        load_nih_cxr_lt(nih, "bad.csv")
    (nih / "ids.csv").write_text("id,subj_id\n00000001_000.png,1\n")
    with pytest.raises(ValueError, match="no label column"):
        load_nih_cxr_lt(nih, "ids.csv")
    with pytest.raises(ValueError, match=r"columns \['Hernia'\] are missing"):
        load_nih_cxr_lt(nih, "ids.csv", labels=["Hernia"])
    (nih / "missing.csv").write_text("id,Atelectasis\n99999999_000.png,1\n")
    with pytest.raises(FileNotFoundError, match=r"row 2 \(id '99999999_000.png'\): image not found"):
        load_nih_cxr_lt(nih, "missing.csv")


@pytest.fixture
def chexpert(tmp_path):
    root = tmp_path / "CheXpert-v1.0-small"
    header = "Path,Sex,Age,Frontal/Lateral,AP/PA," + ",".join(CHEXPERT_LABELS)
    values = [
        ["1.0", "", "", "", "", "", "", "", "", "", "", "", "", "1.0"],
        ["", "", "-1.0", "", "", "0.0", "", "", "-1.0", "", "1.0", "", "", ""],
    ]
    lines = [header]
    for n, v in enumerate(values, start=1):
        path = f"CheXpert-v1.0-small/train/patient0000{n}/study1/view1_frontal.jpg"
        _png(tmp_path / path)  # content does not matter to the adapter
        lines.append(f"{path},Female,{60 + n},Frontal,AP," + ",".join(v))
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    (root / "valid.csv").write_text(lines[0] + "\n" + lines[1] + "\n")
    return root


@pytest.mark.parametrize(
    "policy, label, mask",
    [
        ("zeros", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], [1] * 14),
        ("ones", [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0], [1] * 14),
        ("ignore", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], [1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1]),
    ],
)
def test_chexpert_uncertain_policies(chexpert, policy, label, mask):
    items = load_chexpert(chexpert, uncertain=policy)
    assert len(items) == 2 and Path(items[1]["image"]).is_file()
    assert items[1]["label"].tolist() == label and items[1]["label_mask"].tolist() == mask
    assert items[1]["label"].dtype == np.float32
    assert items[0]["label"].tolist() == [1] + [0] * 12 + [1]  # blank is negative
    assert items[0]["sex"] == "Female" and items[0]["view"] == "Frontal" and items[0]["projection"] == "AP"
    assert "pixel_spacing" not in items[0]


def test_chexpert_splits_and_errors(chexpert):
    assert len(load_chexpert(chexpert, split="valid")) == 1
    assert len(load_chexpert(chexpert, split="validation")) == 1
    assert load_chexpert(chexpert, labels=("Cardiomegaly",))[1]["label"].shape == (1,)
    with pytest.raises(ValueError, match="argument uncertain must be one of.*half"):
        load_chexpert(chexpert, uncertain="half")
    with pytest.raises(ValueError, match="csv_file"):
        load_chexpert(chexpert, split="test")
    with pytest.raises(ValueError, match=r"train.csv: columns \['Hernia'\] are missing"):
        load_chexpert(chexpert, labels=("Hernia",))
    text = (chexpert / "train.csv").read_text()
    (chexpert / "train.csv").write_text(text.replace(",1.0\n", ",yes\n", 1))
    with pytest.raises(
        ValueError,
        match=r"row 2 \(Path .*\): column Support Devices: expected 1, 0, -1 \(uncertain\) or blank, got 'yes'",
    ):
        load_chexpert(chexpert)
    (chexpert / "train.csv").write_text(text)
    next(chexpert.parent.rglob("*.jpg")).unlink()
    with pytest.raises(FileNotFoundError, match=r"row [23] \(Path .*\): image not found"):
        load_chexpert(chexpert)
    assert len(load_chexpert(chexpert, check_files=False)) == 2
    with pytest.raises(FileNotFoundError, match="CheXpert label CSV not found"):
        load_chexpert(chexpert.parent)
