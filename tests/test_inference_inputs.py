"""Unlabelled inference inputs (a folder, a CSV with an image column) and the prediction table's header."""

import csv

import pytest

from monai_afpe.data import inference_items, label_prediction_csv, load_image_csv


def _files(folder, names):
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")
    return folder


def _csv_rows(path):
    """The rows of a CSV file, as lists of strings."""
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_folder_csv_or_nothing(tmp_path):
    folder = _files(tmp_path / "images", ["b.nii.gz", "a.nii.gz", "readme.txt"])
    assert inference_items(folder) == [{"image": str(folder / "a.nii.gz")}, {"image": str(folder / "b.nii.gz")}]
    assert inference_items(folder, name_key="file_name")[0]["file_name"] == "a.nii.gz"
    assert inference_items(None, None) is None
    (tmp_path / "list.csv").write_text(
        "image,site\nimages/b.nii.gz,A\n" + f"{folder / 'a.nii.gz'},B\n", encoding="utf-8-sig"
    )
    assert inference_items(image_csv=tmp_path / "list.csv") == [
        {"image": str(tmp_path / "images" / "b.nii.gz"), "site": "A"},
        {"image": str(folder / "a.nii.gz"), "site": "B"},
    ]
    with pytest.raises(ValueError, match=r"give image_dir \(.*images\) or image_csv \(.*list.csv\), not both"):
        inference_items(folder, tmp_path / "list.csv")


@pytest.mark.parametrize(
    "text, error, message",
    [
        ("file\na.nii.gz\n", ValueError, r"list.csv: no 'image' column in the header \(columns: file\)"),
        ("image\n", ValueError, r"list.csv: no rows under the header"),
        ('image\na.nii.gz\n""\n', ValueError, r"list.csv, row 3: empty 'image' cell"),
        ("image\nmissing.nii.gz\n", FileNotFoundError, r"list.csv, row 2: image 'missing.nii.gz': no such file"),
    ],
)
def test_a_bad_csv_names_the_file_row_and_field(tmp_path, text, error, message):
    _files(tmp_path, ["a.nii.gz"])
    (tmp_path / "list.csv").write_text(text)
    with pytest.raises(error, match=message):
        load_image_csv(tmp_path / "list.csv")
    with pytest.raises(FileNotFoundError, match=r"nothing.csv: image CSV not found"):
        load_image_csv(tmp_path / "nothing.csv")


def test_prediction_table_gets_a_header_and_the_predicted_class(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("a.nii.gz,0.1,0.7,0.2\nb.nii.gz,0.5,0.2,0.3\n")
    label_prediction_csv(path, ["sphere", "torus", "capsule"])
    assert _csv_rows(path) == [
        ["image", "p_sphere", "p_torus", "p_capsule", "predicted"],
        ["a.nii.gz", "0.1", "0.7", "0.2", "torus"],
        ["b.nii.gz", "0.5", "0.2", "0.3", "sphere"],
    ]
    with pytest.raises(ValueError, match=r"predictions.csv: already has a header"):
        label_prediction_csv(path, ["sphere", "torus", "capsule"])
    path.write_text("a.avi,55.5\n")
    label_prediction_csv(path, ["ejection_fraction"], predicted_column=None)
    assert path.read_text().splitlines() == ["image,ejection_fraction", "a.avi,55.5"]
    path.write_text("a.avi,55.5,1\n")
    with pytest.raises(ValueError, match=r"predictions.csv, row 1: 2 values, expected 1 \(ejection_fraction\)"):
        label_prediction_csv(path, ["ejection_fraction"], predicted_column=None)


def test_multi_label_prediction_table_lists_every_label_at_or_above_the_threshold(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("a.dcm,0.9,0.5,0.1\nb.dcm,0.2,0.49,0.3\n")
    label_prediction_csv(path, ["Effusion", "Nodule", "Cardiomegaly"], threshold=0.5)
    assert _csv_rows(path) == [
        ["image", "p_Effusion", "p_Nodule", "p_Cardiomegaly", "predicted"],
        ["a.dcm", "0.9", "0.5", "0.1", "Effusion;Nodule"],
        ["b.dcm", "0.2", "0.49", "0.3", ""],
    ]
