"""The afpe_echo_regression bundle: train, evaluate, infer, resume, fine-tune, multi-GPU and exports on tiny data."""

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from bundle_helpers import (
    BUNDLES,
    bundle_workflow,
    logged_iterations,
    run_logged,
    run_workflow,
    tensorboard_events,
    torchrun_train,
)
from ignite.engine import Events
from monai.bundle import ckpt_export, download, load, onnx_export, verify_metadata, verify_net_in_out

BUNDLE = "afpe_echo_regression"
CONFIGS = BUNDLES / BUNDLE / "configs"
# 24 videos of 32x32 pixels (18 train, 3 val, 3 test; 4.4-5.6 mm pixels, resampled to 5 mm), a two-layer
# network with 16 tokens per clip
TINY = {
    "num_samples": 24,
    "synthetic_frame_size": 32,
    "frame_size": 32,
    "fixed_pixel_spacing": 5.0,
    "batch_size": 6,
    "max_epochs": 2,
    "val_interval": 1,
    "network_def#hidden_size": 16,
    "network_def#mlp_dim": 32,
    "network_def#num_layers": 2,
    "network_def#num_heads": 2,
}
INFER_TINY = {k: v for k, v in TINY.items() if k not in ("batch_size", "max_epochs", "val_interval")}


def train(root, configs=("train.json",), **overrides):
    """Run a training workflow; return the trainer's final state (a finalised workflow forgets its content)."""
    workflow = bundle_workflow(BUNDLE, list(configs), "train", bundle_root=root, **overrides)
    workflow.initialize()
    assert workflow.check_properties() == []
    workflow.run()
    state = workflow.trainer.state
    workflow.finalize()
    return state


def read_predictions(path, header=False):
    """File name -> EF of evaluation's table, or (``header``) of inference's, whose first row names the columns."""
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    if header:
        assert rows.pop(0) == ["image", "ejection_fraction"]
    return {row[0]: float(row[1]) for row in rows}


def read_file_list(root):
    with open(Path(root) / "FileList.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A bundle root with the synthetic data generated and a model trained for 2 epochs."""
    root = tmp_path_factory.mktemp("echo_bundle")
    state = train(root, **TINY)
    assert state.epoch == 2
    return root, state.iteration


def test_train_writes_data_and_checkpoints(trained):
    root, iterations = trained
    rows = read_file_list(root / "data")
    assert len(rows) == 24 and {r["Split"] for r in rows} == {"TRAIN", "VAL", "TEST"}
    assert iterations == 2 * (sum(r["Split"] == "TRAIN" for r in rows) // TINY["batch_size"])
    for name in ("model.pt", "checkpoint_epoch=2.pt"):  # best model; monai_afpe ResumableCheckpoint's last epoch
        assert (root / "models" / name).is_file()
    last = torch.load(root / "models" / "checkpoint_epoch=2.pt", weights_only=True)
    assert {"model", "optimizer", "lr_scheduler", "trainer", "rng_state", "best_metric", "key_metric_savers"} == set(
        last
    )
    assert last["trainer"]["iteration"] == iterations
    # the regression head starts in normalised units: output_scale is the training std of the EF
    train_ef = torch.tensor([float(r["EF"]) for r in rows if r["Split"] == "TRAIN"], dtype=torch.float64)
    assert float(last["model"]["output_scale"]) == pytest.approx(float(train_ef.std(unbiased=False)), rel=1e-5)
    # the spacing contract: every video was resampled to 30 fps and 5 mm pixels (from 30-60 fps and 4.4-5.6 mm),
    # so every clip the network saw had frames 3 / 30 s apart and 5 mm pixels, 32-pixel frames
    contract = json.loads((root / "models" / "spacing_contract.json").read_text())
    train_rows = [r for r in rows if r["Split"] == "TRAIN"]
    assert len({r["FPS"] for r in train_rows}) > 1 and len({r["PixelSpacing"] for r in train_rows}) > 1
    assert contract["min"] == pytest.approx([0.1, 5.0, 5.0], rel=1e-4)
    assert contract["max"] == pytest.approx([0.1, 5.0, 5.0], rel=1e-4)
    assert contract["units"] == ["s", "mm", "mm"] and contract["image_size"] == [16, 32, 32]
    assert contract["samples"] == iterations * TINY["batch_size"]


def test_a_training_clip_is_preprocessed_as_evaluation_preprocesses_it(trained):
    """Training resizes the whole video before the cache and leaves the intensity scaling to the batch
    normalisation (it cancels there); each clip it yields, once normalised, equals one of the clips that
    evaluation cuts from the same video (every start, one frame apart), resized and scaled per clip."""
    root, _ = trained
    workflow = bundle_workflow(BUNDLE, ["train.json"], "train", bundle_root=root, **TINY, val_clip_stride=1)
    workflow.initialize()
    parsed = workflow.parser.get_parsed_content
    item = parsed("train_datalist")[0]
    clip = parsed("train#preprocessing")(dict(item))
    normalise = parsed("train#batch_augmentation")[-1]
    trained_clip = normalise({"image": clip["image"][None]})["image"][0]
    evaluated = parsed("validate#preprocessing")(dict(item))
    clips = evaluated["image"]
    assert trained_clip.shape == clips.shape[1:] and len(clips) > 1
    errors = (clips - trained_clip).abs().flatten(1).amax(1)
    assert float(errors.min()) < 1e-4 and float(errors.max()) > 0.1  # one of them, not every clip alike
    torch.testing.assert_close(clip["image_spacing"], evaluated["image_spacing"])


def test_training_logs_the_loss_and_the_learning_rate(trained, tmp_path):
    """The console gets the loss and the learning rate every log_interval iterations, TensorBoard (when installed)
    at every iteration (the trainer keeps its output as one dictionary, decollate=False)."""
    root, _ = trained
    shutil.copytree(root / "data", tmp_path / "data")
    messages = run_logged(BUNDLE, ["train.json"], "train", tmp_path, **{**TINY, "log_interval": 2})
    positions, losses, lrs = logged_iterations(messages)
    assert positions == ["Epoch: 1/2, Iter: 2/3", "Epoch: 2/2, Iter: 1/3", "Epoch: 2/2, Iter: 3/3"]
    assert lrs[0] == pytest.approx(5e-4) and 0 < lrs[2] < lrs[1] < lrs[0]  # 1 warm-up step (iteration 1), decay
    assert all(loss > 0 for loss in losses)
    events = tensorboard_events(tmp_path / "eval")
    if events is not None:
        assert {"train_loss", "lr", "val_r2", "val_mae"} <= set(events.Tags()["scalars"])
        assert [event.step for event in events.Scalars("train_loss")] == [1, 2, 3, 4, 5, 6]
        lr = [event.value for event in events.Scalars("lr")]
        assert lr[0] == 0.0 and lr[1] == pytest.approx(5e-4, rel=1e-4)


def test_evaluate_metrics_and_inference_predictions(trained):
    root, _ = trained
    run_workflow(bundle_workflow(BUNDLE, ["train.json", "evaluate.json"], "train", bundle_root=root, **INFER_TINY))
    with open(root / "eval" / "metrics.csv", newline="") as f:
        metrics = {row[0]: float(row[1]) for row in csv.reader(f)}
    assert set(metrics) == {"test_r2", "test_mae", "test_rmse"}
    assert 0.0 <= metrics["test_mae"] <= metrics["test_rmse"]
    evaluated = read_predictions(root / "eval" / "predictions.csv")
    test_names = {r["FileName"] for r in read_file_list(root / "data") if r["Split"] == "TEST"}
    assert set(evaluated) == test_names
    # the metrics are those of the saved predictions (clip-averaged, one per video)
    truth = {r["FileName"]: float(r["EF"]) for r in read_file_list(root / "data")}
    mae = sum(abs(evaluated[n] - truth[n]) for n in test_names) / len(test_names)
    assert metrics["test_mae"] == pytest.approx(mae, rel=1e-4)

    (root / "eval" / "predictions.csv").unlink()
    run_workflow(bundle_workflow(BUNDLE, ["inference.json"], "infer", bundle_root=root, **INFER_TINY))
    inferred = read_predictions(root / "eval" / "predictions.csv", header=True)
    assert set(inferred) == test_names
    for name in test_names:
        assert inferred[name] == pytest.approx(evaluated[name], abs=1e-3)


def test_resume_continues_from_last_checkpoint(trained, tmp_path):
    root, iterations = trained
    shutil.copytree(root / "data", tmp_path / "data")
    shutil.copytree(root / "models", tmp_path / "models")
    workflow = bundle_workflow(
        BUNDLE, ["train.json"], "train", bundle_root=tmp_path, **dict(TINY, max_epochs=3, resume=True)
    )
    workflow.initialize()
    started = []
    workflow.trainer.add_event_handler(Events.ITERATION_STARTED, lambda engine: started.append(engine.state.iteration))
    workflow.run()
    state = workflow.trainer.state
    workflow.finalize()
    assert started[0] == iterations + 1  # ignite counts the iteration before firing ITERATION_STARTED
    assert state.epoch == 3
    assert state.iteration == iterations * 3 // 2


def test_finetune_loads_weights_on_data_with_other_spacing(trained, tmp_path):
    root, _ = trained
    shutil.copytree(root / "models", tmp_path / "models", ignore=shutil.ignore_patterns("checkpoint*"))
    # learning rate 0: the fine-tuned weights must equal the pretrained ones exactly
    overrides = dict(TINY, num_samples=16, max_epochs=1, learning_rate=0.0)
    train(tmp_path, ("train.json", "finetune.json"), **overrides)
    before = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    after = torch.load(tmp_path / "models" / "finetune" / "checkpoint_epoch=1.pt", weights_only=True)["model"]
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    pretrain = [float(r["PixelSpacing"]) for r in read_file_list(root / "data")]
    finetune = [float(r["PixelSpacing"]) for r in read_file_list(tmp_path / "data_finetune")]
    assert min(finetune) > max(pretrain)  # deeper imaging: larger pixels than anything seen in training


def test_inference_on_ultrasound_cine_dicom(trained, tmp_path):
    root, _ = trained
    from monai_afpe.data.synthetic import generate_echo

    generate_echo(tmp_path / "source", num_samples=6, seed=3, frame_size=32, write_dicom=True)
    data = tmp_path / "data"
    shutil.copytree(tmp_path / "source" / "DICOM", data / "DICOM")
    rows = read_file_list(tmp_path / "source")
    with open(data / "FileList.csv", "w", newline="") as f:  # DICOM files listed with their suffix
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([dict(r, FileName=r["FileName"] + ".dcm", PixelSpacing="999") for r in rows])
    shutil.copytree(root / "models", tmp_path / "models")
    overrides = dict(INFER_TINY, dataset_format="dicom", infer_split="all")
    # spacing from the DICOM (frame time, calibrated region), not from the CSV column; seen without the
    # resampling (which makes every clip's spacing 0.1 s and fixed_pixel_spacing)
    native = bundle_workflow(BUNDLE, ["inference.json", "baselines/native.json"], "infer", tmp_path, **overrides)
    native.initialize()
    expected = [4.0 / float(rows[0]["FPS"]), float(rows[0]["PixelSpacing"]), float(rows[0]["PixelSpacing"])]
    torch.testing.assert_close(native.dataset[0]["image_spacing"], torch.tensor(expected), rtol=1e-3, atol=0)
    workflow = bundle_workflow(BUNDLE, ["inference.json"], "infer", bundle_root=tmp_path, **overrides)
    workflow.initialize()
    torch.testing.assert_close(workflow.dataset[0]["image_spacing"], torch.tensor([0.1, 5.0, 5.0]), rtol=1e-4, atol=0)
    workflow.run()
    workflow.finalize()
    assert set(read_predictions(tmp_path / "eval" / "predictions.csv", header=True)) == {
        r["FileName"] + ".dcm" for r in rows
    }


def test_properties_metadata_and_exports(trained, tmp_path):
    root, _ = trained
    for configs, kind in ((["train.json"], "train"), (["inference.json"], "infer")):
        workflow = bundle_workflow(BUNDLE, configs, kind, bundle_root=root)
        workflow.initialize()  # MONAI 1.6: properties are only readable after initialize
        assert workflow.check_properties() == []
    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(BUNDLES / "meta_schema.json"))
    small = {key: value for key, value in TINY.items() if key.startswith("network_def")}
    common = dict(
        meta_file=str(CONFIGS / "metadata.json"),
        config_file=str(CONFIGS / "inference.json"),
        bundle_root=str(root),
        **small,
    )
    verify_net_in_out(net_id="network_def", **common)
    ts = tmp_path / "model.ts"
    ckpt_export(net_id="network_def", filepath=str(ts), ckpt_file=str(root / "models" / "model.pt"), **common)
    exported = torch.jit.load(str(ts)).eval()
    x = torch.rand(2, 1, 16, 64, 64)
    spacing = torch.tensor([[0.08, 2.5, 2.5], [0.12, 2.2, 2.2]])
    assert exported(x, spacing).shape == (2, 1)
    # physical-mode AFPE: the prediction depends on the spacing of the clip
    assert not torch.allclose(exported(x, spacing)[0], exported(x, spacing.flip(0))[0])


def test_download_from_zip_and_load(trained, tmp_path):
    root, _ = trained
    archive = tmp_path / f"{BUNDLE}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in (BUNDLES / BUNDLE).rglob("*"):
            if path.is_file() and "models" not in path.parts and "data" not in path.parts and "eval" not in path.parts:
                z.write(path, Path(BUNDLE) / path.relative_to(BUNDLES / BUNDLE))
        z.write(root / "models" / "model.pt", Path(BUNDLE) / "models" / "model.pt")
    target = tmp_path / "downloaded"
    download(name=BUNDLE, url=f"file://{archive}", bundle_dir=str(target))
    assert (target / BUNDLE / "configs" / "inference.json").is_file()
    small = {"hidden_size": 16, "mlp_dim": 32, "num_layers": 2, "num_heads": 2}
    net = load(name=BUNDLE, bundle_dir=str(target), workflow_type="inference", device="cpu", net_override=small)
    state = torch.load(root / "models" / "model.pt", weights_only=True)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, state[key])


@pytest.mark.slow
def test_onnx_export(trained, tmp_path):
    pytest.importorskip("onnxruntime")
    root, _ = trained
    onnx_file = tmp_path / "model.onnx"
    small = {key: value for key, value in TINY.items() if key.startswith("network_def")}
    export_options = dict(
        net_id="network_def",
        ckpt_file=str(root / "models" / "model.pt"),
        meta_file=str(CONFIGS / "metadata.json"),
        config_file=str(CONFIGS / "inference.json"),
        bundle_root=str(root),
        **small,
    )
    onnx_export(filepath=str(onnx_file), input_shape=[1, 1, 16, 64, 64], **export_options)
    import onnxruntime

    x = torch.rand(1, 1, 16, 64, 64)
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    ts = tmp_path / "model.ts"
    ckpt_export(filepath=str(ts), **export_options)
    with torch.no_grad():
        expected = torch.jit.load(str(ts))(x)
    torch.testing.assert_close(torch.as_tensor(output), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.slow
def test_multi_gpu_train_torchrun_gloo(trained, tmp_path):
    root, _ = trained
    last = torchrun_train(BUNDLE, root, tmp_path, TINY)
    rows = read_file_list(tmp_path / "data")
    per_rank = -(-sum(r["Split"] == "TRAIN" for r in rows) // 2)  # DistributedSampler pads to an even split
    assert last["trainer"]["iteration"] == 2 * (per_rank // TINY["batch_size"])
    assert not any(k.startswith("module.") for k in last["model"])
    # the spacing contract covers the batches of both ranks (all-reduced), written once by rank 0
    contract = json.loads((tmp_path / "models" / "spacing_contract.json").read_text())
    assert contract["samples"] == 2 * 2 * (per_rank // TINY["batch_size"]) * TINY["batch_size"]
