"""Running the bundles in tests: ``ConfigWorkflow`` in this process, ``python -m monai.bundle`` in a subprocess.

Tests point ``bundle_root`` at a temporary folder so that data, checkpoints and outputs never land in
the repository; the configs themselves are read from ``bundles/<name>/configs``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from monai.bundle import ConfigWorkflow

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
TINY_VIT_RUN = {"max_epochs": 1, "batch_size": 8, "hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_threads": 1}
"""Overrides for a tiny run of a ViT classification bundle (CT, chest X-ray): one epoch of batches of 8 through a
one-block, two-head ViT 32 features wide, on one thread; a test adds the bundle's ``num_samples``."""
TINY_UNETR_ROI = [32, 32, 16]
TINY_UNETR_NETWORK = {
    "roi_size": TINY_UNETR_ROI,
    "network_def#feature_size": 4,
    "network_def#hidden_size": 32,
    "network_def#mlp_dim": 32,
    "network_def#num_heads": 2,
}
"""Overrides for a tiny network of the UNETR segmentation bundle: a two-head encoder 32 features wide and a decoder
of 4 features, on windows of ``TINY_UNETR_ROI`` (32 x 32 x 16 voxels)."""
TINY_UNETR_RUN = {
    "num_samples": 10,
    "synthetic_options#spatial_size": TINY_UNETR_ROI,
    **TINY_UNETR_NETWORK,
    "val_interval": 1,
}
"""Overrides for a tiny run of the UNETR segmentation bundle: :data:`TINY_UNETR_NETWORK` on ten synthetic abdomens
of one window each, validated every epoch; a test adds ``max_epochs``."""


def config_paths(bundle: str, *configs: str) -> list[str]:
    """Paths of ``bundles/<bundle>/configs/<config>`` for each config name (``"train.json"``, ...)."""
    folder = BUNDLES / bundle / "configs"
    return [str(folder / config) for config in configs]


def bundle_workflow(
    bundle: str, configs: list[str], workflow_type: str, bundle_root: Path, **override
) -> ConfigWorkflow:
    """A ``ConfigWorkflow`` of ``bundle`` built from ``configs`` (later ones override earlier ones), not yet initialised."""
    return ConfigWorkflow(
        config_file=config_paths(bundle, *configs),
        meta_file=str(BUNDLES / bundle / "configs" / "metadata.json"),
        logging_file=str(BUNDLES / bundle / "configs" / "logging.conf"),
        workflow_type=workflow_type,
        bundle_root=str(bundle_root),
        **override,
    )


def run_workflow(workflow: ConfigWorkflow) -> ConfigWorkflow:
    """Initialise the workflow, check its required properties, then run and finalise it."""
    workflow.initialize()
    missing = workflow.check_properties()
    assert not missing, f"missing required properties: {missing}"
    workflow.run()
    workflow.finalize()
    return workflow


def train_evaluate_and_infer(run: Callable[..., ConfigWorkflow], root: Path) -> tuple[Path, ConfigWorkflow]:
    """Train (``train.json``), evaluate (``train.json`` + ``evaluate.json``) and infer (``inference.json``) in
    ``root`` with a test file's ``run(configs, workflow_type, root)``; the training workflow comes back."""
    train = run(["train.json"], "train", root)
    run(["train.json", "evaluate.json"], "infer", root)
    run(["inference.json"], "infer", root)
    return root, train


def read_rows(path: Path) -> list[list[str]]:
    """The non-empty rows of a CSV file, header included."""
    with open(path, newline="") as f:
        return [row for row in csv.reader(f) if row]


def run_command(*args: str, cwd: Path | None = None, timeout: float = 600) -> str:
    """Run ``python -m <args>`` (e.g. ``monai.bundle ckpt_export ...``); fail with its output if it fails."""
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert result.returncode == 0, (
        f"python -m {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return result.stdout + result.stderr


def run_torchrun(bundle: str, configs: list[str], bundle_root: Path, overrides: dict, nproc: int = 2) -> None:
    """``torchrun --nproc_per_node=<nproc> -m monai.bundle run`` on the CPU (gloo), one thread per process."""
    folder = BUNDLES / bundle / "configs"
    arguments = [arg for key, value in overrides.items() for arg in (f"--{key}", json.dumps(value))]
    command = [
        sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "-m", "monai.bundle", "run",
        "--config_file", str(config_paths(bundle, *configs)), "--meta_file", str(folder / "metadata.json"),
        "--logging_file", str(folder / "logging.conf"), "--bundle_root", str(bundle_root), *arguments,
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1")
    )
    assert result.returncode == 0, result.stderr[-5000:]


def torchrun_train(bundle: str, trained_root: Path, bundle_root: Path, overrides: dict) -> dict:
    """Train ``bundle`` on two processes (``train.json`` + ``multi_gpu_train.json``, :func:`run_torchrun`) in
    ``bundle_root``, on a copy of the data of ``trained_root``; the checkpoint of the last epoch
    (``overrides["max_epochs"]``) comes back, loaded on the CPU."""
    shutil.copytree(trained_root / "data", bundle_root / "data")
    run_torchrun(bundle, ["train.json", "multi_gpu_train.json"], bundle_root, overrides)
    last = bundle_root / "models" / f"checkpoint_epoch={overrides['max_epochs']}.pt"
    return torch.load(last, weights_only=True)


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_logged(
    bundle: str,
    configs: list[str],
    workflow_type: str,
    bundle_root: Path,
    loggers: tuple[str, ...] = ("monai.handlers.StatsHandler",),
    **override,
) -> list[str]:
    """Run a workflow of ``bundle`` and return what ``loggers`` logged (INFO and above).

    The bundle's ``logging.conf`` is not applied (``fileConfig`` would remove pytest's handlers); MONAI's
    StatsHandler logs through its own logger, which does not propagate, so the messages are taken from there.
    """
    workflow = ConfigWorkflow(
        config_file=config_paths(bundle, *configs),
        meta_file=str(BUNDLES / bundle / "configs" / "metadata.json"),
        logging_file=False,
        workflow_type=workflow_type,
        bundle_root=str(bundle_root),
        **override,
    )
    handler = _Messages()
    for name in loggers:
        logging.getLogger(name).addHandler(handler)
    try:
        run_workflow(workflow)
    finally:
        for name in loggers:
            logging.getLogger(name).removeHandler(handler)
    return handler.messages


def logged_iterations(messages: list[str]) -> tuple[list[str], list[float], list[float]]:
    """The training iterations that MONAI's ``StatsHandler`` logged among ``messages``, in order: their positions
    (``"Epoch: e/E, Iter: i/I"``), losses and learning rates."""
    logged = [m for m in messages if "train_loss:" in m]
    losses, lrs = ([float(re.search(rf"{name}: (\S+)", m).group(1)) for m in logged] for name in ("train_loss", "lr"))
    return [m.split(" -- ")[0] for m in logged], losses, lrs


def tensorboard_events(log_dir: Path):
    """The TensorBoard events in ``log_dir``, loaded (a tensorboard ``EventAccumulator``); None without tensorboard."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return None
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    return events.Reload()


def assert_masks_are_the_networks(images, masks, preprocessing, net, roi) -> None:
    """Each saved mask has its image's affine and shape, uint8, and equals the sliding-window argmax of ``net``
    on the image preprocessed by ``preprocessing`` (overlap 0.25, each image's spacing passed to every window)."""
    import nibabel as nib
    import numpy as np
    import torch
    from monai.inferers import sliding_window_inference

    for image, mask in zip(images, masks):
        source, saved = nib.load(image), nib.load(mask)
        np.testing.assert_allclose(saved.affine, source.affine, atol=1e-5)
        assert saved.shape == source.shape and saved.get_data_dtype() == np.uint8
        data = preprocessing({"image": str(image)})
        with torch.no_grad():
            logits = sliding_window_inference(
                data["image"][None], roi, 4, net, overlap=0.25, spacing=data["image_spacing"][None]
            )
        np.testing.assert_array_equal(np.asarray(saved.dataobj), logits.argmax(1)[0].numpy())
