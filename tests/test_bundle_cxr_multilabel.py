"""The afpe_cxr_multilabel bundle: train, evaluate, infer (DICOM and PNG), fine-tune, DDP, metrics and its data.

Every workflow runs on a tiny generated data set with a tiny network; ``bundle_root`` is a temporary folder, so
nothing is written into the repository.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from bundle_helpers import (
    BUNDLES,
    TINY_VIT_RUN,
    bundle_workflow,
    read_rows,
    run_torchrun,
    run_workflow,
    torchrun_train,
    train_evaluate_and_infer,
)
from ignite.engine import Engine
from monai.bundle import ConfigParser, ckpt_export, verify_metadata, verify_net_in_out
from monai.metrics import compute_average_precision
from PIL import Image

from monai_afpe.commands.report import read_metrics
from monai_afpe.data import BundleData, DatasetCheckError, check_dataset
from monai_afpe.data.adapters import load_chest_xray_csv
from monai_afpe.data.readers import EnhancedDicomReader, RasterImageReader
from monai_afpe.data.synthetic import CHEST_XRAY_LABELS, generate_chest_xray
from monai_afpe.handlers import per_label_metrics

pytestmark = pytest.mark.filterwarnings("ignore:.*(nvImageCodec|NvImgCodec).*")

BUNDLE = "afpe_cxr_multilabel"
CONFIGS = BUNDLES / BUNDLE / "configs"
TINY = {"num_samples": 40, **TINY_VIT_RUN}
SCORES = ("auroc", "auprc")


def run(configs: list[str], workflow_type: str, root: Path, **override):
    """Initialise, check the required properties, run and finalise a workflow of the bundle."""
    return run_workflow(bundle_workflow(BUNDLE, configs, workflow_type, bundle_root=root, **{**TINY, **override}))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A bundle root after one tiny training run, evaluation and inference on the generated DICOM files."""
    return train_evaluate_and_infer(run, tmp_path_factory.mktemp("cxr_multilabel"))


def test_train_generates_dicom_data_and_records_the_resized_spacing(trained):
    root, train = trained
    assert (root / "data" / "labels.csv").is_file() and (root / "models" / "model.pt").is_file()
    assert any((root / "data" / "images").glob("*.dcm"))
    contract = ConfigParser.load_config_file(root / "models" / "spacing_contract.json")
    assert contract["image_size"] == [64, 64] and contract["units"] == ["mm", "mm"]
    # 256-384 pixels of 0.14-0.2 mm resized to 64: 0.56-1.2 mm, the declared range
    assert all(0.56 <= low <= high <= 1.2 for low, high in zip(contract["min"], contract["max"]))
    assert isinstance(train.parser.get_parsed_content("loss"), torch.nn.BCEWithLogitsLoss)


def test_resized_images_keep_their_physical_spacing(trained):
    """Resized to 64 x 64, each axis's pixel size is the file's times the original size over 64, in the affine and
    in ``image_spacing``, which the network receives."""
    root, train = trained
    item = load_chest_xray_csv(root / "data" / "labels.csv", "validation")[0]
    rows = {r[0]: r for r in read_rows(root / "data" / "labels.csv")}
    row = rows[item["image_id"]]
    header = read_rows(root / "data" / "labels.csv")[0]
    value = dict(zip(header, row))
    expected = [
        float(value["PixelSpacingRow"]) * int(value["Rows"]) / 64,
        float(value["PixelSpacingColumn"]) * int(value["Columns"]) / 64,
    ]
    out = train.parser.get_parsed_content("validate#preprocessing")(item)
    assert tuple(out["image"].shape) == (1, 64, 64)
    np.testing.assert_allclose(out["image_spacing"].numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(np.abs(np.diag(out["image"].affine.numpy())[:2]), expected, rtol=1e-5)
    assert out["label"].dtype == torch.float32 and out["label"].shape == (len(CHEST_XRAY_LABELS),)


def test_evaluate_writes_macro_and_per_label_auroc_and_auprc(trained):
    root, _ = trained
    metrics = read_metrics(root / "eval")
    per_label = {f"test_{s}_{n}" for n in CHEST_XRAY_LABELS for s in SCORES}
    assert set(metrics) == {"test_auroc", "test_auprc"} | per_label
    rows = read_rows(root / "eval" / "test_predictions.csv")
    assert rows[0] == ["image", *(f"label_{n}" for n in CHEST_XRAY_LABELS), *(f"p_{n}" for n in CHEST_XRAY_LABELS)]
    assert len(rows) - 1 == 4  # the 4 test images of 40 (80 / 10 / 10 %)
    values = torch.tensor([[float(v) for v in row[1:]] for row in rows[1:]])
    labels, probabilities = values[:, :4], values[:, 4:]
    assert ((probabilities > 0) & (probabilities < 1)).all()
    for index, name in enumerate(CHEST_XRAY_LABELS):
        ap = compute_average_precision(probabilities[:, index], labels[:, index])
        stored = metrics[f"test_auprc_{name}"]
        assert (math.isnan(ap) and math.isnan(stored)) or stored == pytest.approx(ap, abs=1e-6), name
    macro = [metrics[f"test_auprc_{n}"] for n in CHEST_XRAY_LABELS]
    assert math.isnan(metrics["test_auprc"]) == any(map(math.isnan, macro))
    if not math.isnan(metrics["test_auprc"]):
        assert metrics["test_auprc"] == pytest.approx(np.mean(macro), abs=1e-6)


def test_inference_writes_probabilities_and_the_labels_above_the_threshold(trained):
    root, _ = trained
    rows = read_rows(root / "eval" / "predictions.csv")
    assert rows[0] == ["image", *(f"p_{n}" for n in CHEST_XRAY_LABELS), "predicted"]
    assert len(rows) - 1 == 4 and all(row[0].endswith(".dcm") for row in rows[1:])
    for row in rows[1:]:
        above = [n for n, p in zip(CHEST_XRAY_LABELS, row[1:5]) if float(p) >= 0.5]
        assert row[5] == ";".join(above)


def test_inference_on_png_files_needs_their_pixel_size(trained, tmp_path):
    root, _ = trained
    folder = tmp_path / "pngs"
    folder.mkdir()
    for path in sorted((root / "data" / "png").glob("*.png"))[:2]:
        shutil.copy(path, folder)
    common = {"image_dir": str(folder), "image_pattern": "*.png", "dataset_format": "png"}
    common.update({"ckpt_dir": str(root / "models"), "output_dir": str(tmp_path / "eval")})
    with pytest.raises(Exception) as error:
        run(["inference.json"], "infer", tmp_path, **common)
    message = "".join(str(e) for e in (error.value, error.value.__cause__) if e is not None)
    assert f"{folder / 'CXR00000.png'}: pixel_spacing: a PNG / JPEG file states no pixel size" in message
    run(["inference.json"], "infer", tmp_path, pixel_spacing=0.15, **common)
    rows = read_rows(tmp_path / "eval" / "predictions.csv")
    assert len(rows) == 3 and rows[1][0].endswith("CXR00000.png")


def test_png_format_reads_the_exports_with_the_csv_pixel_size(trained):
    root, train = trained
    generated = {"label_names": CHEST_XRAY_LABELS, "num_samples": 40, "split_fractions": [0.8, 0.1, 0.1]}
    data = BundleData("cxr-multilabel", root / "data", "png", **generated)
    assert isinstance(data.reader, RasterImageReader)
    png = data.split("validation")
    dicom = BundleData("cxr-multilabel", root / "data", **generated).split("validation")
    assert [i["image_id"] for i in png] == [i["image_id"] for i in dicom]
    assert all(i["image"].endswith(".png") and len(i["pixel_spacing"]) == 2 for i in png)
    train.parser["dataset_format"] = "png"
    train.parser["image_readers"] = "$monai_afpe.data.readers.RasterImageReader(pixel_spacing=1.0)"
    from_png = train.parser.get_parsed_content("validate#preprocessing", instantiate=True, lazy=False)(png[0])
    train.parser["dataset_format"] = "dicom"
    train.parser["image_readers"] = "$@bundle_data.reader"
    from_dicom = train.parser.get_parsed_content("validate#preprocessing", lazy=False)(dicom[0])
    # 8-bit PNG against 12-bit DICOM: the same pixel size after resizing, the same picture up to quantisation
    np.testing.assert_allclose(from_png["image_spacing"].numpy(), from_dicom["image_spacing"].numpy(), rtol=1e-5)
    assert torch.corrcoef(torch.stack([from_png["image"].flatten(), from_dicom["image"].flatten()]))[0, 1] > 0.99


def test_average_precision_matches_hand_computed_values():
    """Two labels over five images; AP = sum_n (R_n - R_(n-1)) P_n, worked out by hand.

    a: scores 0.9 (pos), 0.8 (pos), 0.5, 0.4 (pos), 0.3: precision 1, 1, 3/4 at the positives -> 11/12.
    b: scores 0.8 (pos), 0.6, 0.3 (pos), 0.2, 0.1: precision 1, 2/3 at the positives -> 5/6.
    AUROC a: 5 of the 6 (positive, negative) pairs ordered -> 5/6; b: 5 of 6 -> 5/6.
    """
    y = torch.tensor([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]], dtype=torch.float32)
    p = torch.tensor([[0.9, 0.2], [0.3, 0.8], [0.4, 0.3], [0.5, 0.1], [0.8, 0.6]])
    engine = Engine(lambda engine, batch: [{"pred": p[i], "label": y[i]} for i in range(len(y))])
    for name, metric in per_label_metrics("test", ["a", "b"]).items():
        metric.attach(engine, name)
    engine.run([0])
    metrics = engine.state.metrics
    assert metrics["test_auprc_a"] == pytest.approx(11 / 12) and metrics["test_auprc_b"] == pytest.approx(5 / 6)
    assert metrics["test_auroc_a"] == pytest.approx(5 / 6) and metrics["test_auroc_b"] == pytest.approx(5 / 6)
    assert list(metrics) == ["test_auroc_a", "test_auprc_a", "test_auroc_b", "test_auprc_b"]
    with pytest.raises(ValueError, match="label_names must be unique and non-empty"):
        per_label_metrics("test", ["a", "a"])


# -------------------------------------------------------------------------------------- data and bad input


@pytest.fixture(scope="module")
def cxr_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cxr_data")
    return generate_chest_xray(folder, num_samples=10, seed=3, fractions=(0.6, 0.2, 0.2))


def test_bundle_data_task_defaults_and_label_order(cxr_csv):
    data = BundleData("cxr-multilabel", cxr_csv.parent, label_names=["Nodule", "Cardiomegaly"])
    assert data.dataset_format == "dicom" and isinstance(data.reader, EnhancedDicomReader)
    assert data.source == str(cxr_csv)
    items = data.split("train")
    full = {i["image_id"]: i["label"] for i in load_chest_xray_csv(cxr_csv, "training")}
    for item in items:
        assert "pixel_spacing" not in item  # DICOM: the pixel size comes from the file
        np.testing.assert_array_equal(item["label"], full[item["image_id"]][[2, 0]])
    assert BundleData("cxr-multilabel", cxr_csv.parent).label_names == CHEST_XRAY_LABELS
    with pytest.raises(ValueError, match="label_names: the 'cxr-multilabel' task needs the label names"):
        BundleData("cxr-multilabel", cxr_csv.parent, label_names=["Nodule", "Nodule"])
    with pytest.raises(ValueError, match="pixel_spacing: only used by the 'cxr-multilabel' task"):
        BundleData("ct-classification", cxr_csv.parent, pixel_spacing=0.2)


def test_bad_labels_csv_errors_name_the_file_row_and_column(cxr_csv, tmp_path):
    text = cxr_csv.read_text().splitlines()
    header, first = text[0].split(","), text[1].split(",")
    copy = tmp_path / "labels.csv"
    shutil.copytree(cxr_csv.parent / "images", tmp_path / "images")
    split = first[header.index("Split")]

    def write(row):
        copy.write_text("\n".join([text[0], ",".join(row), *text[2:]]) + "\n")

    write([*first[:8], "2", *first[9:]])
    with pytest.raises(ValueError, match=rf"{copy}: row 2 \(Path 'images/CXR00000.dcm'\): column Cardiomegaly: "):
        load_chest_xray_csv(copy, split)
    write([*first[:3], "testing", *first[4:]])
    with pytest.raises(ValueError, match=rf"{copy}: row 2: column Split: unknown split name 'testing'"):
        load_chest_xray_csv(copy, split)
    write(["CXR00000", "images/missing.dcm", *first[2:]])
    with pytest.raises(FileNotFoundError, match=rf"{copy}: row 2 \(Path 'images/missing.dcm'\): image not found"):
        load_chest_xray_csv(copy, split)
    write(first)
    with pytest.raises(ValueError, match=r"columns \['Atelectasis'\] are missing"):
        load_chest_xray_csv(copy, split, labels=["Atelectasis"])
    with pytest.raises(ValueError, match="image_column must be one of"):
        load_chest_xray_csv(copy, split, image_column="JPEG")


def test_bad_label_vectors_and_unreadable_files_name_the_item(cxr_csv, tmp_path):
    items = load_chest_xray_csv(cxr_csv, "training")
    short = [{**items[0], "label": [1, 0]}]
    with pytest.raises(
        DatasetCheckError, match=r"training item 0 \(.*CXR.*\.dcm\): label: expected 4 labels of 0 or 1"
    ):
        check_dataset(short, "training", label_key="label", label_type="multilabel", classes=4)
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"not a DICOM file")
    with pytest.raises(DatasetCheckError, match=rf"{broken}: image \(training item 0\): cannot be read"):
        check_dataset([{**items[0], "image": str(broken)}], "training", reader=EnhancedDicomReader())


def _nih(root: Path) -> Path:
    """Ten NIH ChestX-ray14 images of ten patients (odd ones with Effusion): eight in train_val_list.txt."""
    header = (
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
        "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
    )
    rows, train = [], []
    for n in range(1, 11):
        name = f"0000000{n - 1}_000.png"
        rows.append(f"{name},{'Effusion' if n % 2 else 'No Finding'},0,{n},60,M,PA,2048,2048,0.15,0.15,")
        (root / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(root / "images" / name)
        if n <= 8:
            train.append(name)
    (root / "Data_Entry_2017.csv").write_text(header + "\n".join(rows) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(train) + "\n")
    (root / "test_list.txt").write_text("00000008_000.png\n00000009_000.png\n")
    return root


def test_chestxray14_format_holds_out_patients_for_validation(tmp_path):
    root = _nih(tmp_path)
    names = ["Effusion", "Cardiomegaly"]
    with pytest.raises(ValueError, match="NIH ChestX-ray14 has no validation list .* --validation_fraction 0.1"):
        BundleData("cxr-multilabel", root, "chestxray14", label_names=names).load("validation")
    data = BundleData("cxr-multilabel", root, "chestxray14", label_names=names, validation_fraction=0.25)
    training, validation, test = (data.load(s) for s in ("training", "validation", "test"))
    assert len(validation) == 2 and len(training) == 6 and len(test) == 2
    assert not {i["patient_id"] for i in training} & {i["patient_id"] for i in validation}
    assert [i["label"].tolist() for i in test] == [[1.0, 0.0], [0.0, 0.0]]  # patients 9 (Effusion) and 10
    assert all(len(i["pixel_spacing"]) == 2 for i in test)
    assert data.source == str(root / "Data_Entry_2017.csv") and isinstance(data.reader, RasterImageReader)
    with pytest.raises(ValueError, match=r"label_names: \['Fracture'\] are not NIH ChestX-ray14 findings"):
        BundleData("cxr-multilabel", root, "chestxray14", label_names=["Fracture"]).load("test")


# ------------------------------------------------------------------------------------- MONAI bundle tooling


def test_metadata_network_input_output_and_torchscript_export(trained, tmp_path):
    root, _ = trained
    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(BUNDLES / "meta_schema.json"))
    common = dict(
        meta_file=str(CONFIGS / "metadata.json"),
        config_file=str(CONFIGS / "inference.json"),
        bundle_root=str(root),
        hidden_size=TINY["hidden_size"],
        num_layers=TINY["num_layers"],
        num_heads=TINY["num_heads"],
    )
    verify_net_in_out(net_id="network_def", **common)
    ts = tmp_path / "model.ts"
    ckpt_export(net_id="network_def", filepath=str(ts), ckpt_file=str(root / "models" / "model.pt"), **common)
    exported = torch.jit.load(str(ts)).eval()
    x = torch.rand(2, 1, 64, 64)
    spacing = torch.tensor([[0.6, 0.7], [1.1, 1.0]])
    assert exported(x, spacing).shape == (2, len(CHEST_XRAY_LABELS))
    # physical-mode AFPE: the logits depend on the pixel spacing of the image
    assert not torch.allclose(exported(x, spacing)[0], exported(x, spacing.flip(0))[0])


@pytest.mark.slow
def test_finetune_to_another_label_set_keeps_everything_but_the_head(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root / "models", tmp_path / "models")
    names = ["Effusion", "Nodule"]
    workflow = run(["train.json", "finetune.json"], "train", tmp_path, num_samples=20, label_names=names)
    loaded, kept = workflow.parser.get_parsed_content("pretrained_weights")[1:]
    assert any(k.startswith("blocks.") for k in loaded) and kept and all(k.startswith("head.") for k in kept)
    spacing = ConfigParser.load_config_file(tmp_path / "models" / "finetune" / "spacing_contract.json")
    # 0.25-0.35 mm pixels of 256-384 resized to 64: 1.0-2.1 mm, beyond the trained 0.56-1.2 mm
    assert min(spacing["min"]) >= 1.0 - 1e-6 and max(spacing["max"]) > 1.2
    run(["train.json", "finetune.json", "evaluate.json"], "infer", tmp_path, num_samples=20, label_names=names)
    metrics = read_metrics(tmp_path / "eval" / "finetune")
    assert {"test_auroc_Effusion", "test_auprc_Nodule"} <= set(metrics)


@pytest.mark.slow
def test_multi_gpu_train_and_evaluate_torchrun_gloo(trained, tmp_path):
    root, _ = trained
    last = torchrun_train(BUNDLE, root, tmp_path, TINY)
    assert last["trainer"]["iteration"] == (32 // 2) // TINY["batch_size"]  # half of the 32 training images per rank
    shutil.rmtree(tmp_path / "models")
    shutil.copytree(root / "models", tmp_path / "models")
    run_torchrun(BUNDLE, ["train.json", "evaluate.json", "multi_gpu_evaluate.json"], tmp_path, TINY)
    single, multi = (read_metrics(folder / "eval") for folder in (root, tmp_path))
    assert single.keys() == multi.keys()
    for key in single:
        assert (math.isnan(single[key]) and math.isnan(multi[key])) or multi[key] == pytest.approx(single[key]), key
    rows = {
        folder: sorted((folder / "eval" / "test_predictions.csv").read_text().replace(str(folder), "").splitlines())
        for folder in (root, tmp_path)
    }
    assert rows[tmp_path] == rows[root]
