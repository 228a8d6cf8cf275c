"""The ``afpe_unetr_ct_segmentation`` bundle: train, resume, evaluate, infer, fine-tune, export and tooling.

Every run uses a tiny synthetic abdomen (32x32x16 voxels) and a tiny network through the bundle's own
configs, with ``bundle_root`` in a temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import monai
import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import (
    BUNDLES,
    TINY_UNETR_ROI,
    TINY_UNETR_RUN,
    assert_masks_are_the_networks,
    bundle_workflow,
    config_paths,
    logged_iterations,
    run_command,
    run_logged,
    run_workflow,
    tensorboard_events,
)
from ignite.engine import Events
from monai.inferers import sliding_window_inference
from monai.metrics import DiceMetric
from monai.networks.utils import one_hot

BUNDLE = "afpe_unetr_ct_segmentation"
META = str(BUNDLES / BUNDLE / "configs" / "metadata.json")
ROI = TINY_UNETR_ROI
# a tiny network and data set: each run takes seconds on two CPU cores
TINY = {**TINY_UNETR_RUN, "max_epochs": 1}


def cli_overrides(overrides: dict) -> list[str]:
    """``--key value`` pairs for ``python -m monai.bundle`` (values as JSON, which fire parses)."""
    return [arg for key, value in overrides.items() for arg in (f"--{key}", json.dumps(value))]


def tiny_network(bundle_root: Path):
    """The bundle's ``network_def`` with the tiny overrides, best checkpoint loaded."""
    workflow = bundle_workflow(BUNDLE, ["train.json"], "train", bundle_root, **TINY)
    workflow.initialize()
    net = workflow.parser.get_parsed_content("network_def")
    net.load_state_dict(torch.load(bundle_root / "models" / "model.pt", weights_only=True))
    return net.eval(), workflow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A bundle root after one training epoch of the tiny configuration."""
    root = tmp_path_factory.mktemp("unetr_bundle")
    workflow = run_workflow(bundle_workflow(BUNDLE, ["train.json"], "train", root, **TINY))
    return root, workflow


def test_train_writes_checkpoints_metrics_and_generates_data(trained):
    root, workflow = trained
    dataset = json.loads((root / "data" / "dataset.json").read_text())
    assert dataset["numTraining"] == 6 and dataset["config"]["spatial_size"] == ROI
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.epoch == 1 and trainer.state.iteration == 3  # 6 volumes, batch size 2
    assert (root / "models" / "model.pt").is_file() and (root / "models" / "checkpoint_epoch=1.pt").is_file()
    contract = json.loads((root / "models" / "spacing_contract.json").read_text())  # the spacing range trained on
    training = [nib.load(root / "data" / item["image"]).header.get_zooms()[:3] for item in dataset["training"]]
    assert contract["samples"] == 6 and contract["image_size"] == ROI
    np.testing.assert_allclose(contract["min"], np.min(training, axis=0), rtol=1e-5)
    np.testing.assert_allclose(contract["max"], np.max(training, axis=0), rtol=1e-5)
    metrics = dict(line.split(",") for line in (root / "eval" / "metrics.csv").read_text().splitlines())
    assert list(metrics) == ["val_mean_dice", "dice_liver", "dice_kidney", "dice_spleen", "dice_aorta"]
    assert all(0.0 <= float(value) <= 1.0 for value in metrics.values())
    details = (root / "eval" / "val_mean_dice_raw.csv").read_text().splitlines()
    assert details[0].split(",")[1:] == ["class0", "class1", "class2", "class3", "mean"]
    assert len(details) == 1 + dataset["numValidation"]


def test_training_logs_loss_learning_rate_and_validation_images(trained, tmp_path):
    """The console gets the loss and the learning rate every log_interval iterations; TensorBoard (when
    installed) both at every iteration, and image, label and prediction of a validation case at each validation."""
    root, _ = trained
    (tmp_path / "data").symlink_to(root / "data")
    messages = run_logged(BUNDLE, ["train.json"], "train", tmp_path, **{**TINY, "max_epochs": 2, "log_interval": 2})
    positions, _, lrs = logged_iterations(messages)
    assert positions == ["Epoch: 1/2, Iter: 2/3", "Epoch: 2/2, Iter: 1/3", "Epoch: 2/2, Iter: 3/3"]
    # the learning rate of the iteration logged (warm-up over the 3 iterations of epoch 1, then cosine decay)
    assert lrs[0] == pytest.approx(1e-3 / 3, rel=1e-3) and lrs[1] == pytest.approx(1e-3, rel=1e-3) and lrs[2] < 1e-3
    events = tensorboard_events(tmp_path / "eval")
    if events is None:
        return
    assert {"train_loss", "lr", "val_mean_dice"} <= set(events.Tags()["scalars"])
    lr = [event.value for event in events.Scalars("lr")]
    assert len(lr) == 6 and lr[:3] == pytest.approx([0.0, 1e-3 / 3, 2e-3 / 3], rel=1e-3)
    assert [event.step for event in events.Scalars("train_loss")] == [1, 2, 3, 4, 5, 6]
    # animated GIFs along z of image, label and prediction: at each validation, stepped by the trainer's epoch
    assert {"input_0_HWD/image", "input_1_HWD/image", "output_HWD/image"} <= set(events.Tags()["images"])
    assert [event.step for event in events.Images("output_HWD/image")] == [1, 2]


def test_resume_continues_from_the_last_checkpoint(trained, tmp_path):
    root, _ = trained
    (tmp_path / "data").symlink_to(root / "data")
    (tmp_path / "models").mkdir()
    last = torch.load(root / "models" / "checkpoint_epoch=1.pt", weights_only=True)
    torch.save(last, tmp_path / "models" / "checkpoint_epoch=1.pt")
    workflow = bundle_workflow(BUNDLE, ["train.json"], "train", tmp_path, **{**TINY, "max_epochs": 2, "resume": True})
    workflow.initialize()
    trainer = workflow.parser.get_parsed_content("train#trainer")
    started, iterations = [], []
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda engine: started.append(engine.state.epoch))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: iterations.append(engine.state.iteration))
    workflow.run()
    workflow.finalize()
    assert started == [2] and iterations == [4, 5, 6]  # only epoch 2 ran, numbering continued
    assert trainer.state.epoch == 2 and (tmp_path / "models" / "checkpoint_epoch=2.pt").is_file()
    resumed = torch.load(tmp_path / "models" / "checkpoint_epoch=2.pt", weights_only=True)
    assert resumed["trainer"]["iteration"] == 6 and resumed["lr_scheduler"]["last_epoch"] == 6


def test_resume_without_checkpoint_names_the_pattern(tmp_path):
    workflow = bundle_workflow(BUNDLE, ["train.json"], "train", tmp_path, **{**TINY, "resume": True})
    workflow.initialize()
    with pytest.raises(RuntimeError) as error:  # MONAI wraps the error of the config expression that failed
        workflow.run()
    assert isinstance(error.value.__cause__, FileNotFoundError)
    assert str(tmp_path / "models" / "checkpoint_epoch=*.pt") in str(error.value.__cause__)


def test_evaluate_reports_the_best_models_dice_on_the_test_split(trained, tmp_path):
    root, _ = trained
    for folder in ("data", "models"):
        (tmp_path / folder).symlink_to(root / folder)
    workflow = run_workflow(bundle_workflow(BUNDLE, ["train.json", "evaluate.json"], "train", tmp_path, **TINY))
    evaluator = workflow.parser.get_parsed_content("validate#evaluator")
    test_items = json.loads((root / "data" / "dataset.json").read_text())["test"]
    assert evaluator.state.iteration == len(test_items) and not (tmp_path / "models" / "finetune").exists()
    metrics = dict(line.split(",") for line in (tmp_path / "eval" / "metrics.csv").read_text().splitlines())

    # the same numbers from the checkpoint, the test files and each image's spacing, computed here
    net, _ = tiny_network(root)
    preprocessing = workflow.parser.get_parsed_content("validate#preprocessing")
    dice = DiceMetric(include_background=False, reduction="mean_batch")
    with torch.no_grad():
        for item in test_items:
            data = preprocessing({k: str(root / "data" / v) for k, v in item.items()})
            image, spacing = data["image"][None], data["image_spacing"][None]
            zooms = nib.load(data["image"].meta["filename_or_obj"]).header.get_zooms()
            torch.testing.assert_close(spacing, torch.tensor([zooms]))  # the network gets each image's spacing
            logits = sliding_window_inference(image, ROI, 4, net, overlap=0.25, spacing=spacing)
            pred = one_hot(logits.argmax(1, keepdim=True), 5)
            dice(pred, one_hot(data["label"][None], 5))
    per_class = dice.aggregate()
    expected = {
        f"test_dice_{name}": float(value) for name, value in zip(("liver", "kidney", "spleen", "aorta"), per_class)
    }
    assert list(metrics) == ["test_mean_dice", *expected]  # test results are named test_*, as in the other bundles
    assert (tmp_path / "eval" / "test_mean_dice_raw.csv").is_file()
    # PNG overlays (image, label, prediction) of the first test cases, when matplotlib is installed
    if monai.utils.optional_import("matplotlib")[1]:
        names = [Path(item["image"]).name.removesuffix(".nii.gz") for item in test_items[:3]]
        assert sorted(p.name for p in (tmp_path / "eval" / "overlays").iterdir()) == sorted(
            f"{name}_overlay.png" for name in names
        )
    for name, value in expected.items():
        assert float(metrics[name]) == pytest.approx(value, abs=1e-4)


def test_inference_writes_masks_with_the_input_affine(trained, tmp_path):
    root, _ = trained
    for folder in ("data", "models"):
        (tmp_path / folder).symlink_to(root / folder)
    workflow = bundle_workflow(BUNDLE, ["train.json", "inference.json"], "infer", tmp_path, **TINY)
    run_workflow(workflow)
    net, _ = tiny_network(root)
    images = sorted((root / "data" / "imagesTs").glob("*.nii.gz"))
    masks = sorted((tmp_path / "eval" / "predictions").glob("*.nii.gz"))
    assert [m.name for m in masks] == [i.name.replace(".nii.gz", "_seg.nii.gz") for i in images]
    assert_masks_are_the_networks(images, masks, workflow.parser.get_parsed_content("preprocessing"), net, ROI)


def test_inference_reads_an_image_folder(trained, tmp_path):
    root, _ = trained
    (tmp_path / "models").symlink_to(root / "models")
    images = tmp_path / "hospital"
    images.mkdir()
    source = sorted((root / "data" / "imagesTs").glob("*.nii.gz"))[0]
    (images / "case_a.nii.gz").write_bytes(source.read_bytes())
    workflow = bundle_workflow(
        BUNDLE, ["train.json", "inference.json"], "infer", tmp_path, **{**TINY, "image_dir": str(images)}
    )
    run_workflow(workflow)
    assert [p.name for p in (tmp_path / "eval" / "predictions").iterdir()] == ["case_a_seg.nii.gz"]
    assert not (tmp_path / "data").exists()  # no synthetic data generated for a given image folder


def test_hospital_folder_and_unknown_format(trained, tmp_path):
    root, _ = trained
    hospital = tmp_path / "hospital"
    hospital.mkdir()
    rows = ["image,label,split"]
    for index, item in enumerate(json.loads((root / "data" / "dataset.json").read_text())["training"][:3]):
        for key in ("image", "label"):
            (hospital / f"{key}{index}.nii.gz").write_bytes((root / "data" / item[key]).read_bytes())
        rows.append(f"image{index}.nii.gz,label{index}.nii.gz,{'val' if index == 2 else 'train'}")
    (hospital / "labels.csv").write_text("\n".join(rows) + "\n")
    workflow = bundle_workflow(
        BUNDLE, ["train.json"], "train", tmp_path, dataset_format="hospital", dataset_dir=str(hospital)
    )
    workflow.initialize()
    data = workflow.parser.get_parsed_content("bundle_data")
    assert data.load("training") == [
        {"image": str(hospital / f"image{i}.nii.gz"), "label": str(hospital / f"label{i}.nii.gz")} for i in (0, 1)
    ]
    assert len(data.load("validation")) == 1
    workflow = bundle_workflow(BUNDLE, ["train.json"], "train", tmp_path, dataset_format="nifti")
    workflow.initialize()
    with pytest.raises(RuntimeError) as error:
        workflow.parser.get_parsed_content("train#dataset#data")
    assert str(error.value.__cause__) == (
        "dataset_format (task 'ct-segmentation'): Unsupported option 'nifti'; available options are ['decathlon', 'hospital']."
    )


def test_finetune_starts_from_the_checkpoint_on_data_with_other_spacing(trained, tmp_path):
    root, _ = trained
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.pt").symlink_to(root / "models" / "model.pt")
    workflow = bundle_workflow(BUNDLE, ["train.json", "finetune.json"], "train", tmp_path, **TINY)
    workflow.initialize()
    assert not workflow.check_properties()
    pretrained = torch.load(root / "models" / "model.pt", weights_only=True)
    net = workflow.parser.get_parsed_content("network")
    loaded = []
    trainer = workflow.parser.get_parsed_content("train#trainer")
    trainer.add_event_handler(
        Events.STARTED,
        lambda engine: loaded.append(all(torch.equal(v, pretrained[k]) for k, v in net.state_dict().items())),
    )
    workflow.run()
    assert loaded == [True]
    geometry = (tmp_path / "data_finetune" / "geometry.csv").read_text().splitlines()
    header = geometry[0].split(",")
    slices = [float(row.split(",")[header.index("spacing_z")]) for row in geometry[1:]]
    assert min(slices) >= 5.0  # thicker slices than the 2-5 mm of the training data
    assert (tmp_path / "models" / "finetune" / "model.pt").is_file()
    assert (tmp_path / "eval" / "finetune" / "metrics.csv").is_file()


def test_finetune_from_monai_unetr_weights(tmp_path):
    from monai.networks.nets import UNETR

    torch.manual_seed(0)
    monai_net = UNETR(1, 5, ROI, feature_size=4, hidden_size=32, mlp_dim=32, num_heads=2, proj_type="conv")
    torch.save(monai_net.state_dict(), tmp_path / "unetr.pt")
    overrides = {**TINY, "pretrained_checkpoint": None, "monai_unetr_weights": str(tmp_path / "unetr.pt")}
    overrides["network_def#num_layers"] = 12
    workflow = bundle_workflow(BUNDLE, ["train.json", "finetune.json"], "train", tmp_path, **overrides)
    workflow.initialize()
    net = workflow.parser.get_parsed_content("network")
    torch.testing.assert_close(net.decoder2.transp_conv.conv.weight, monai_net.decoder2.transp_conv.conv.weight)
    torch.testing.assert_close(net.vit.blocks[11].mlp.linear1.weight, monai_net.vit.blocks[11].mlp.linear1.weight)


@pytest.mark.slow
def test_metadata_and_network_verify():
    schema = str(BUNDLES / "meta_schema.json")
    run_command("monai.bundle", "verify_metadata", "--meta_file", META, "--filepath", schema)
    train = config_paths(BUNDLE, "train.json")[0]
    run_command(
        "monai.bundle",
        "verify_net_in_out",
        "network_def",
        "--meta_file",
        META,
        "--config_file",
        train,
        "--n",
        "2",
        *cli_overrides({k: v for k, v in TINY.items() if k.startswith("network_def")}),
    )


def export_tiny_network(command: str, bundle_root: Path, exported: Path, *options: str) -> None:
    """Export the trained tiny network to ``exported`` with ``python -m monai.bundle <command> network_def``
    (``ckpt_export``, ``onnx_export``), passing ``options`` before the tiny overrides."""
    overrides = cli_overrides({k: v for k, v in TINY.items() if k.startswith("network_def") or k == "roi_size"})
    run_command(
        "monai.bundle",
        command,
        "network_def",
        "--filepath",
        str(exported),
        "--ckpt_file",
        str(bundle_root / "models" / "model.pt"),
        "--meta_file",
        META,
        "--config_file",
        config_paths(BUNDLE, "train.json")[0],
        *options,
        *overrides,
    )


@pytest.mark.slow
def test_torchscript_export_matches_the_network(trained, tmp_path):
    root, _ = trained
    exported = tmp_path / "model.ts"
    export_tiny_network("ckpt_export", root, exported)
    scripted = torch.jit.load(str(exported))
    net, _ = tiny_network(root)
    x, spacing = torch.rand(1, 1, *ROI), torch.tensor([[0.9, 0.9, 4.0]])
    with torch.no_grad():
        torch.testing.assert_close(scripted(x, spacing), net(x, spacing=spacing))
        torch.testing.assert_close(scripted(x), net(x))  # default spacing [1, 1, 3.5] mm


@pytest.mark.slow
def test_onnx_export(trained, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    root, _ = trained
    exported = tmp_path / "model.onnx"
    export_tiny_network("onnx_export", root, exported, "--input_shape", json.dumps([1, 1, *ROI]))
    net, _ = tiny_network(root)
    x = torch.rand(1, 1, *ROI)
    session = onnxruntime.InferenceSession(str(exported))
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(out, net(x).numpy(), atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_download_from_a_local_zip_then_load(trained, tmp_path):
    root, _ = trained
    archive = tmp_path / f"{BUNDLE}.zip"
    bundle = BUNDLES / BUNDLE
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(bundle.rglob("*")):
            if path.is_file() and not {"data", "eval"} & set(path.relative_to(bundle).parts):
                zf.write(path, Path(BUNDLE) / path.relative_to(bundle))
        zf.write(root / "models" / "model.pt", Path(BUNDLE) / "models" / "model.pt")
    target = tmp_path / "downloaded"
    run_command("monai.bundle", "download", "--name", BUNDLE, "--url", f"file://{archive}", "--bundle_dir", str(target))
    assert (target / BUNDLE / "configs" / "train.json").is_file()
    from monai.bundle import load

    network = {k.split("#")[1]: v for k, v in TINY.items() if k.startswith("network_def")}
    net = load(name=BUNDLE, bundle_dir=str(target), device="cpu", net_override={**network, "img_size": ROI})
    reference, _ = tiny_network(root)
    x = torch.rand(1, 1, *ROI)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x), reference(x))


@pytest.mark.slow
def test_multi_gpu_train_with_torchrun_on_cpu(tmp_path):
    args = cli_overrides({**TINY, "max_epochs": 2, "log_interval": 1})
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        "--tee=3",  # each line prefixed with its rank: [default0]: / [default1]:
        "-m",
        "monai.bundle",
        "run",
        "--config_file",
        json.dumps(config_paths(BUNDLE, "train.json", "multi_gpu_train.json")),
        "--meta_file",
        META,
        "--logging_file",
        str(BUNDLES / BUNDLE / "configs" / "logging.conf"),
        "--bundle_root",
        str(tmp_path),
        *args,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    # only rank 0 logs: the loss, the learning rate and the metrics once; rank 1 keeps its warnings only
    output = (result.stdout + result.stderr).replace("[default", "\n[default").splitlines()
    rank0, rank1 = ([line for line in output if line.startswith(f"[default{r}]:")] for r in (0, 1))
    assert sum("train_loss:" in line and "lr:" in line for line in rank0) == 4  # log_interval 1, 2 x 2 iterations
    assert sum("Epoch[2] Metrics" in line and "val_mean_dice" in line for line in rank0) == 1
    training_lines = ("Epoch", "Engine run", "train_loss", "Metrics", "Loading dataset", "Saved checkpoint", "Spacing")
    assert rank1 and not [line for line in rank1 if any(text in line for text in training_lines)]
    checkpoint = torch.load(tmp_path / "models" / "checkpoint_epoch=2.pt", weights_only=True)
    # ignite stores the iteration, not the epoch: 6 volumes over 2 ranks, batch size 2: 2 iterations per epoch
    assert checkpoint["trainer"]["epoch_length"] == 2
    assert checkpoint["trainer"]["iteration"] == 4
    assert not any(key.startswith("module.") for key in checkpoint["model"])
    assert (tmp_path / "eval" / "metrics.csv").is_file()
