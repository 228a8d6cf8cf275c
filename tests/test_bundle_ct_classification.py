"""The afpe_ct_classification bundle: train, evaluate, infer, fine-tune, resume, DDP and MONAI's bundle tooling.

Every workflow runs on a tiny generated data set with a tiny network; ``bundle_root`` is a temporary
folder, so nothing is written into the repository.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import (
    BUNDLES,
    TINY_VIT_RUN,
    bundle_workflow,
    logged_iterations,
    read_rows,
    run_command,
    run_logged,
    run_torchrun,
    run_workflow,
    tensorboard_events,
    torchrun_train,
    train_evaluate_and_infer,
)
from monai.data import list_data_collate

from monai_afpe.commands.report import read_metrics
from monai_afpe.inferers import AutocastInferer

BUNDLE = "afpe_ct_classification"
CONFIGS = BUNDLES / BUNDLE / "configs"
TINY = {"num_samples": 60, **TINY_VIT_RUN}
NUM_CLASSES = 6


def run(configs: list[str], workflow_type: str, root: Path, **override):
    """Initialise, check the required properties, run and finalise a workflow of the bundle."""
    return run_workflow(bundle_workflow(BUNDLE, configs, workflow_type, bundle_root=root, **{**TINY, **override}))


def datalist(root: Path, split: str, folder: str = "data") -> list[dict]:
    return json.loads((root / folder / "datalist.json").read_text())[split]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A bundle root after one tiny training run, evaluation and inference."""
    return train_evaluate_and_infer(run, tmp_path_factory.mktemp("ct_classification"))


def test_train_generates_data_and_writes_checkpoints(trained):
    root, train = trained
    items = {split: datalist(root, split) for split in ("training", "validation", "test")}
    assert [len(v) for v in items.values()] == [48, 6, 6]  # split_fractions 0.8 / 0.1 / 0.1 of 60
    assert {item["label"] for item in items["training"]} == set(range(NUM_CLASSES))
    # the spacing the network gets is the one in the file's affine (flips and in-plane rotations keep it)
    sample = train.train_dataset[0]
    affine = nib.load(root / "data" / items["training"][0]["image"]).affine
    np.testing.assert_allclose(sample["image_spacing"].numpy(), np.abs(np.diag(affine)[:3]), rtol=1e-5)
    assert sample["image"].shape == (1, 32, 32, 32)
    last = torch.load(root / "models" / "checkpoint_epoch=1.pt", weights_only=True)  # monai_afpe ResumableCheckpoint
    assert {"model", "optimizer", "lr_scheduler", "trainer", "rng_state", "best_metric", "key_metric_savers"} == set(
        last
    )
    assert last["trainer"]["iteration"] == 48 // TINY["batch_size"]
    best = torch.load(root / "models" / "model.pt", weights_only=True)
    assert best.keys() == last["model"].keys()
    # the spacing contract: the per-axis range of the spacing the network was trained on
    contract = json.loads((root / "models" / "spacing_contract.json").read_text())
    spacings = np.array([np.abs(np.diag(nib.load(root / "data" / i["image"]).affine)[:3]) for i in items["training"]])
    np.testing.assert_allclose(contract["min"], spacings.min(0), rtol=1e-5)
    np.testing.assert_allclose(contract["max"], spacings.max(0), rtol=1e-5)
    assert (
        contract["samples"] == 48
        and contract["image_size"] == [32, 32, 32]
        and contract["source"] == "training batches"
    )


def test_training_logs_the_loss_and_the_learning_rate(trained, tmp_path):
    """The console gets the loss and the learning rate every log_interval iterations, TensorBoard (when installed)
    at every iteration: the learning rate of that iteration (one warm-up step from 0, then cosine decay)."""
    root, _ = trained
    shutil.copytree(root / "data", tmp_path / "data")
    evaluator_logger = "ignite.engine.engine.SupervisedEvaluator"
    messages = run_logged(
        BUNDLE,
        ["train.json"],
        "train",
        tmp_path,
        loggers=("monai.handlers.StatsHandler", evaluator_logger),
        **{**TINY, "log_interval": 2},
    )
    positions, _, lrs = logged_iterations(messages)
    assert positions == [f"Epoch: 1/1, Iter: {i}/6" for i in (2, 4, 6)]
    assert lrs[0] == pytest.approx(1e-3) and 0 < lrs[2] < lrs[1] < lrs[0]  # 1 warm-up step (iteration 1), decay
    # 6 validation volumes of 6 classes: a class may be missing, and a NaN AUROC then comes with a note
    (epoch,) = [m for m in messages if m.startswith("Epoch[1] Metrics") and "val_auroc" in m]
    if math.isnan(float(re.search(r"val_auroc: (\S+)", epoch).group(1))):
        assert any(m.startswith("val_auroc is NaN: AUROC needs positive and negative cases") for m in messages)
    events = tensorboard_events(tmp_path / "eval")
    if events is not None:
        assert {"train_loss", "lr", "val_accuracy", "val_auroc"} <= set(events.Tags()["scalars"])
        lr = [event.value for event in events.Scalars("lr")]
        assert len(lr) == 6 and lr[0] == 0.0 and lr[1] == pytest.approx(1e-3, rel=1e-4)
        assert lr[1:] == sorted(lr[1:], reverse=True)


def test_evaluate_writes_metrics_confusion_matrix_and_predictions(trained):
    root, _ = trained
    test_items = datalist(root, "test")
    metrics = dict(read_rows(root / "eval" / "metrics.csv"))
    assert set(metrics) == {"test_accuracy", "test_auroc"}
    confusion = np.loadtxt(root / "eval" / "confusion_matrix.csv", delimiter=",", ndmin=2)
    assert confusion.shape == (NUM_CLASSES, NUM_CLASSES)
    assert confusion.sum() == len(test_items)
    np.testing.assert_allclose(confusion.sum(axis=1), np.bincount([i["label"] for i in test_items], minlength=6))
    assert float(metrics["test_accuracy"]) == pytest.approx(np.trace(confusion) / confusion.sum())
    assert 0.0 <= float(metrics["test_auroc"]) <= 1.0
    rows = read_rows(root / "eval" / "test_predictions.csv")  # file, true label, class probabilities
    assert len(rows) == len(test_items)
    by_name = {Path(item["image"]).name: item["label"] for item in test_items}
    for row in rows:
        assert int(float(row[1])) == by_name[Path(row[0]).name]
        assert sum(float(p) for p in row[2:]) == pytest.approx(1.0, abs=1e-5)
    predicted = np.array([np.argmax([float(p) for p in row[2:]]) for row in rows])
    truth = np.array([int(float(row[1])) for row in rows])
    assert float(metrics["test_accuracy"]) == pytest.approx(np.mean(predicted == truth))


def test_inference_writes_the_networks_probabilities(trained):
    root, train = trained
    header, *rows = read_rows(root / "eval" / "predictions.csv")
    class_names = train.parser.get_parsed_content("class_names")
    assert header == ["image", *(f"p_{name}" for name in class_names), "predicted"]
    test_items = datalist(root, "test")
    assert sorted(Path(row[0]).name for row in rows) == sorted(Path(i["image"]).name for i in test_items)
    probabilities = torch.tensor([[float(p) for p in row[1:-1]] for row in rows])
    assert [row[-1] for row in rows] == [class_names[int(i)] for i in probabilities.argmax(1)]
    assert probabilities.shape == (len(test_items), NUM_CLASSES)
    # recompute the first row with the best checkpoint and the validation preprocessing
    network = train.parser.get_parsed_content("network_def", instantiate=True)
    network.load_state_dict(torch.load(root / "models" / "model.pt", weights_only=True))
    first = next(i for i in test_items if Path(i["image"]).name == Path(rows[0][0]).name)
    item = train.parser.get_parsed_content("validate#preprocessing")(
        {**first, "image": str(root / "data" / first["image"])}
    )
    inferer = AutocastInferer(enabled=train.parser.get("bf16"))  # the bundle's precision ("auto" by default)
    with torch.no_grad():
        logits = inferer(item["image"][None], network.eval(), spacing=item["image_spacing"][None])
    torch.testing.assert_close(probabilities[0], logits.softmax(-1)[0], atol=1e-5, rtol=1e-4)


def test_inference_on_unlabelled_images_from_a_folder_or_a_csv(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root / "models", tmp_path / "models")
    images = tmp_path / "unlabelled"
    images.mkdir()
    names = sorted(Path(item["image"]).name for item in datalist(root, "test"))[:3]
    for name in names:
        shutil.copy(next((root / "data").rglob(name)), images / name)
    (images / "notes.txt").write_text("not an image")
    run(["inference.json"], "infer", tmp_path, image_dir=str(images))
    header, *by_folder = read_rows(tmp_path / "eval" / "predictions.csv")
    assert header[0] == "image" and [Path(row[0]).name for row in by_folder] == names
    # a CSV with only an image column, saved by Excel ("CSV UTF-8": byte-order mark), paths relative to it
    (images / "list.csv").write_text("image\n" + "\n".join(names) + "\n", encoding="utf-8-sig")
    run(["inference.json"], "infer", tmp_path, image_csv=str(images / "list.csv"))
    _, *by_csv = read_rows(tmp_path / "eval" / "predictions.csv")
    assert [row[1:] for row in by_csv] == [row[1:] for row in by_folder]


@pytest.mark.parametrize("clip, moved", [(1e-12, False), (0, True)])
def test_gradient_clipping_applies_to_every_step(trained, tmp_path, clip, moved):
    root, _ = trained
    shutil.copytree(root / "data", tmp_path / "data")
    workflow = bundle_workflow(
        BUNDLE, ["train.json"], "train", bundle_root=tmp_path, **TINY, grad_clip_norm=clip, weight_decay=0.0
    )
    workflow.initialize()
    network = workflow.parser.get_parsed_content("network")
    start = {key: value.detach().clone() for key, value in network.named_parameters()}
    workflow.run()
    # AdamW steps are scale-free but for eps: gradients clipped to 1e-12 give steps of ~lr * 1e-4
    # (parameters only: the stem's batch-norm statistics move without gradients)
    parameters = dict(network.named_parameters())
    change = max(float((parameters[key] - value).abs().max()) for key, value in start.items())
    assert (change > 1e-4) == moved, change


def test_resume_continues_from_the_saved_iteration(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root / "data", tmp_path / "data")
    shutil.copytree(root / "models", tmp_path / "models")
    resumed = run(["train.json"], "train", tmp_path, max_epochs=2, resume=True)
    per_epoch = 48 // TINY["batch_size"]
    assert resumed.trainer.state.epoch == 2
    assert resumed.trainer.state.iteration == 2 * per_epoch
    assert (
        torch.load(tmp_path / "models" / "checkpoint_epoch=2.pt", weights_only=True)["trainer"]["iteration"]
        == 2 * per_epoch
    )
    # the spacing contract of the first run is extended, not restarted
    assert json.loads((tmp_path / "models" / "spacing_contract.json").read_text())["samples"] == 2 * 48


def test_finetune_loads_the_checkpoint_and_reads_the_new_spacing(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root / "models", tmp_path / "models")
    # a learning rate of 0 keeps the weights: the best fine-tuned model is exactly the loaded one, but for
    # the stem's batch-norm statistics, which follow the new data
    tune = run(["train.json", "finetune.json"], "train", tmp_path, learning_rate=0.0)
    first = datalist(tmp_path, "training", folder="data_finetune")[0]
    assert (tmp_path / "data_finetune" / first["image"]).is_file()
    sample = tune.train_dataset[0]
    torch.testing.assert_close(sample["image_spacing"], torch.tensor([1.0, 1.0, 4.0]))  # stride-4 protocol
    assert sample["image"].shape == (1, 32, 32, 8)
    before = torch.load(root / "models" / "model.pt", weights_only=True)
    after = torch.load(tmp_path / "models" / "finetune" / "model.pt", weights_only=True)
    assert before.keys() == after.keys()
    statistics = ("running_mean", "running_var", "num_batches_tracked")
    for key in before:
        if not key.endswith(statistics):
            torch.testing.assert_close(after[key], before[key])
    run(["train.json", "finetune.json", "evaluate.json"], "infer", tmp_path)
    assert dict(read_rows(tmp_path / "eval" / "finetune" / "metrics.csv")).keys() == {"test_accuracy", "test_auroc"}


def test_finetune_to_another_class_count_keeps_everything_but_the_head(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root / "models", tmp_path / "models")
    classes = ["cyst", "solid", "mixed"]
    workflow = bundle_workflow(
        BUNDLE, ["train.json", "finetune.json"], "train", bundle_root=tmp_path, **TINY, class_names=classes
    )
    workflow.initialize()  # loads the pretrained weights; no data is read yet
    _, loaded, kept = workflow.parser.get_parsed_content("pretrained_weights")
    before = torch.load(root / "models" / "model.pt", weights_only=True)
    network = workflow.parser.get_parsed_content("network")
    state = network.state_dict()
    assert sorted(kept) == sorted(k for k in before if before[k].shape != state[k].shape)
    assert kept and all(k.startswith("head.") for k in kept) and state["head.weight"].shape[0] == len(classes)
    for key in loaded:
        torch.testing.assert_close(state[key], before[key].to(state[key].device))


def test_hospital_folder_format_trains_on_nifti_files_with_a_label_csv(trained, tmp_path):
    root, _ = trained
    folder = tmp_path / "my_ct"
    folder.mkdir()
    rows = ["image,label,split"]
    for key, split in (("training", "train"), ("validation", "validation"), ("test", "test")):
        for index, item in enumerate(datalist(root, key)[:16]):
            name = f"{split}_{index:02d}.nii.gz"
            shutil.copy(root / "data" / item["image"], folder / name)
            rows.append(f"{name},{item['label']},{split}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    workflow = run(["train.json"], "train", tmp_path, dataset_format="hospital", dataset_dir=str(folder))
    assert len(workflow.train_dataset) == 16
    assert workflow.trainer.state.iteration == 16 // TINY["batch_size"]
    assert (tmp_path / "models" / "model.pt").is_file()


def test_unknown_dataset_format_is_refused(tmp_path):
    workflow = bundle_workflow(BUNDLE, ["train.json"], "train", bundle_root=tmp_path, dataset_format="npz")
    workflow.initialize()
    with pytest.raises(RuntimeError) as error:
        workflow.parser.get_parsed_content("train#dataset#data")
    cause = str(error.value.__cause__)
    assert (
        cause
        == "dataset_format (task 'ct-classification'): Unsupported option 'npz'; available options are ['datalist', 'hospital']."
    )
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_metadata_net_in_out_and_torchscript_export(trained, tmp_path):
    root, _ = trained
    run_command(
        "monai.bundle",
        "verify_metadata",
        "--meta_file",
        str(CONFIGS / "metadata.json"),
        "--filepath",
        str(BUNDLES / "meta_schema.json"),
    )
    small = [arg for key in ("hidden_size", "num_layers", "num_heads") for arg in (f"--{key}", str(TINY[key]))]
    common = ["--meta_file", str(CONFIGS / "metadata.json"), "--config_file", str(CONFIGS / "inference.json"), *small]
    run_command("monai.bundle", "verify_net_in_out", "network_def", *common)
    ts = tmp_path / "model.ts"
    run_command(
        "monai.bundle",
        "ckpt_export",
        "network_def",
        "--filepath",
        str(ts),
        "--ckpt_file",
        str(root / "models" / "model.pt"),
        *common,
    )
    exported = torch.jit.load(str(ts)).eval()
    x = torch.rand(2, 1, 32, 32, 32)
    spacing = torch.tensor([[0.7, 0.7, 1.0], [1.1, 1.1, 4.5]])
    out = exported(x, spacing)
    assert out.shape == (2, NUM_CLASSES)
    # the spacing is a real input of the exported network
    assert not torch.allclose(out[0], exported(x, spacing.flip(0))[0])


@pytest.mark.slow
def test_infer_properties_and_download_from_zip(trained, tmp_path):
    root, _ = trained
    archive = tmp_path / f"{BUNDLE}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in (BUNDLES / BUNDLE).rglob("*"):
            relative = path.relative_to(BUNDLES / BUNDLE)
            if path.is_file() and relative.parts[0] in ("configs", "docs", "LICENSE"):
                z.write(path, Path(BUNDLE) / relative)
        z.write(root / "models" / "model.pt", Path(BUNDLE) / "models" / "model.pt")
    target = tmp_path / "downloaded"
    run_command("monai.bundle", "download", "--name", BUNDLE, "--url", f"file://{archive}", "--bundle_dir", str(target))
    assert (target / BUNDLE / "configs" / "inference.json").is_file()
    from monai.bundle import load

    small = {key: TINY[key] for key in ("hidden_size", "num_layers", "num_heads")}
    small["mlp_dim"] = 4 * small["hidden_size"]
    net = load(name=BUNDLE, bundle_dir=str(target), workflow_type="inference", device="cpu", net_override=small)
    state = torch.load(root / "models" / "model.pt", weights_only=True)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, state[key])


@pytest.mark.slow
def test_onnx_export(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    root, _ = trained
    onnx_file = tmp_path / "model.onnx"
    small = [arg for key in ("hidden_size", "num_layers", "num_heads") for arg in (f"--{key}", str(TINY[key]))]
    run_command(
        "monai.bundle",
        "onnx_export",
        "network_def",
        "--filepath",
        str(onnx_file),
        "--ckpt_file",
        str(root / "models" / "model.pt"),
        "--meta_file",
        str(CONFIGS / "metadata.json"),
        "--config_file",
        str(CONFIGS / "inference.json"),
        "--input_shape",
        "[1, 1, 32, 32, 32]",
        "--use_trace",
        "true",
        *small,
    )
    # the ONNX graph has one input: the spacing is the network's default_spacing
    x = np.random.default_rng(0).random((1, 1, 32, 32, 32), dtype=np.float32)
    session = ort.InferenceSession(str(onnx_file))
    (onnx_out,) = session.run(None, {session.get_inputs()[0].name: x})
    network = bundle_workflow(BUNDLE, ["inference.json"], "infer", bundle_root=root, **TINY)
    network.initialize()
    net = network.parser.get_parsed_content("network_def")
    net.load_state_dict(torch.load(root / "models" / "model.pt", weights_only=True))
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(x), spacing=torch.tensor([[0.9, 0.9, 3.0]]))
    np.testing.assert_allclose(onnx_out, expected.numpy(), atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_multi_gpu_train_torchrun_gloo(trained, tmp_path):
    root, _ = trained
    last = torchrun_train(BUNDLE, root, tmp_path, TINY)
    per_rank = 48 // 2  # DistributedSampler: half of the 48 training volumes on each rank
    assert last["trainer"]["iteration"] == per_rank // TINY["batch_size"]
    assert not any(key.startswith("module.") for key in last["model"])
    assert (tmp_path / "models" / "model.pt").is_file()


@pytest.mark.slow
def test_multi_gpu_evaluate_torchrun_gloo_gives_the_single_process_metrics(trained, tmp_path):
    root, _ = trained
    for folder in ("data", "models"):
        shutil.copytree(root / folder, tmp_path / folder)
    run_torchrun(BUNDLE, ["train.json", "evaluate.json", "multi_gpu_evaluate.json"], tmp_path, TINY)
    single, multi = (read_metrics(folder / "eval") for folder in (root, tmp_path))
    assert single.keys() == multi.keys() and {"test_accuracy", "test_auroc"} <= set(multi)
    for key in single:
        assert multi[key] == pytest.approx(single[key], abs=1e-6), key
    rows = {
        folder: sorted((folder / "eval" / "test_predictions.csv").read_text().replace(str(folder), "").splitlines())
        for folder in (root, tmp_path)
    }
    assert len(rows[tmp_path]) == 6  # every one of the 6 test volumes once, gathered from both ranks
    assert rows[tmp_path] == rows[root]
    assert (tmp_path / "eval" / "confusion_matrix.csv").read_text() == (
        root / "eval" / "confusion_matrix.csv"
    ).read_text()


def test_training_batches_are_augmented_after_collation_and_leave_the_cache_unchanged(trained):
    root, _ = trained
    workflow = bundle_workflow(BUNDLE, ["train.json"], "train", bundle_root=root, **TINY)
    workflow.initialize()
    loader = workflow.parser.get_parsed_content("train#dataloader")
    cached = [loader.dataset[i]["image"].clone() for i in range(len(loader.dataset))]
    torch.manual_seed(0)
    batches = list(loader)
    assert type(batches[0]["image"]) is torch.Tensor  # plain tensors: no MetaTensor bookkeeping per volume
    assert batches[0]["image_spacing"].shape == (TINY["batch_size"], 3)
    assert all(torch.equal(loader.dataset[i]["image"], image) for i, image in enumerate(cached))
    items = [loader.dataset[i] for i in range(TINY["batch_size"])]
    torch.manual_seed(1)
    augmented, plain = loader.collate_fn(items), list_data_collate(items)
    assert not torch.equal(augmented["image"], plain["image"])  # flips / quarter turns applied to the batch
    assert sorted(augmented["image"].flatten().tolist()) == sorted(plain["image"].flatten().tolist())
