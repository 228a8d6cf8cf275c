"""Every bundle's ``inference.json`` stands alone and agrees with its ``train.json``.

As in the model zoo, ``python -m monai.bundle run --config_file configs/inference.json``, ``verify_net_in_out``,
``ConfigWorkflow(workflow_type="infer")`` and ``monai.bundle.load(workflow_type="inference")`` read
``inference.json`` alone, so it repeats the network and the deterministic transforms of ``train.json``. These tests
check that the copies agree: the same network class and constructor arguments and, with the same seed, the same
weights; and, on the same files, the same output of the preprocessing as training's validation and
``evaluate.json``'s evaluation (tensor values, affine and ``image_spacing``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import BUNDLES, assert_masks_are_the_networks, bundle_workflow, run_command
from monai.bundle import load, verify_net_in_out
from monai.engines import SupervisedEvaluator
from monai.inferers import Inferer

from monai_afpe.data.adapters import load_echonet_datalist
from monai_afpe.data.synthetic.chest_xray import generate_chest_xray
from monai_afpe.data.synthetic.echo import generate_echo
from monai_afpe.transforms import CheckSpacingRanged

CT, UNETR, ECHO = "afpe_ct_classification", "afpe_unetr_ct_segmentation", "afpe_echo_regression"
CXR = "afpe_cxr_multilabel"
ALL = [CT, UNETR, ECHO, CXR]
UNETR_ROI = [32, 32, 16]
# a small default data set for each bundle's default input (its generated test split)
TINY_DATA = {
    CT: {"num_samples": 60},
    UNETR: {"num_samples": 10, "synthetic_options#spatial_size": UNETR_ROI, "roi_size": UNETR_ROI},
    ECHO: {"num_samples": 24, "synthetic_frame_size": 32, "frame_size": 32},
    CXR: {"num_samples": 20},
}
# a small network of each bundle, as overrides of network_def's arguments
TINY_NET = {
    CT: {"hidden_size": 32, "mlp_dim": 128, "num_layers": 1, "num_heads": 2},
    UNETR: {"feature_size": 4, "hidden_size": 32, "mlp_dim": 32, "num_heads": 2},
    ECHO: {"hidden_size": 16, "mlp_dim": 32, "num_layers": 2, "num_heads": 2},
    CXR: {"hidden_size": 32, "mlp_dim": 128, "num_layers": 1, "num_heads": 2},
}
# echo regression: training starts the head at the training targets' mean and standard deviation
# (output_bias, output_scale: computed from the training list); inference takes both from the checkpoint
DATA_DERIVED = {ECHO: ({"output_bias", "output_scale"}, {"head.bias", "output_scale"})}
TRAIN_OVERRIDES = {ECHO: {"target_mean": 55.0, "target_std": 12.0}}
# every bundle's validation preprocessing is train.json's validate#preprocessing; echo validation takes every
# 4th clip (val_clip_stride 4) to save time, evaluation (evaluate.json) and inference every clip
# the CT bundle caches validation volumes as plain tensors (the same values, no metadata): compared without that step
VALIDATION_OVERRIDES = {ECHO: {"val_clip_stride": 1}, CT: {"plain_tensors": []}}


def net_overrides(bundle: str) -> dict:
    return {f"network_def#{key}": value for key, value in TINY_NET[bundle].items()}


def initialised(bundle: str, configs: list[str], kind: str, root: Path, **override):
    """An initialised workflow (the CT and chest X-ray bundles limited to one thread, as every test here)."""
    threads = {"num_threads": 1} if bundle in (CT, CXR) else {}
    workflow = bundle_workflow(bundle, configs, kind, root, **{**threads, **override})
    workflow.initialize()
    return workflow


@pytest.mark.parametrize("bundle", ALL)
def test_inference_alone_initialises_with_the_infer_properties(bundle, tmp_path):
    workflow = initialised(bundle, ["inference.json"], "infer", tmp_path, **TINY_DATA[bundle], **net_overrides(bundle))
    assert workflow.check_properties() == []  # bundle_root, device, dataset_dir, dataset, evaluator, network_def, ...
    assert isinstance(workflow.evaluator, SupervisedEvaluator) and isinstance(workflow.inferer, Inferer)
    assert isinstance(workflow.network_def, torch.nn.Module)
    assert len(workflow.dataset) > 0  # the default input: the test split of the generated data set
    assert workflow.parser.get_parsed_content("data_policy") == "skip"
    check = workflow.parser.get_parsed_content("spacing_check")
    assert isinstance(check, CheckSpacingRanged) and check.checker.action == "warn"
    declared = workflow.parser.get_parsed_content("trained_spacing_range")
    assert workflow.parser.get_parsed_content("spacing_contract")["min"] == declared["min"]  # no file: the default


@pytest.mark.parametrize("bundle", ALL)
def test_inference_alone_serves_the_bundle_tooling(bundle, tmp_path):
    configs = BUNDLES / bundle / "configs"
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(configs / "metadata.json"),
        config_file=str(configs / "inference.json"),
        n=2,
        **net_overrides(bundle),
    )
    # monai.bundle.load(workflow_type="inference") builds the network from inference.json alone
    shutil.copytree(configs, tmp_path / bundle / "configs")
    (tmp_path / bundle / "models").mkdir()
    setup = initialised(bundle, ["inference.json"], "infer", tmp_path, **net_overrides(bundle))
    torch.manual_seed(1)
    state = setup.parser.get_parsed_content("network_def").state_dict()
    torch.save(state, tmp_path / bundle / "models" / "model.pt")
    net = load(
        name=bundle, bundle_dir=str(tmp_path), workflow_type="inference", device="cpu", net_override=TINY_NET[bundle]
    )
    assert net.state_dict().keys() == state.keys()
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


@pytest.mark.parametrize("bundle", ALL)
def test_inference_network_equals_the_training_network(bundle, tmp_path):
    """Default sizes: the same class and constructor arguments; seeded alike, the same state dict."""
    arguments, networks = {}, {}
    for configs, kind, override in (
        (["train.json"], "train", TRAIN_OVERRIDES.get(bundle, {})),
        (["inference.json"], "infer", {}),
    ):
        parser = initialised(bundle, configs, kind, tmp_path, **override).parser
        names = [key for key in parser.get("network_def") if key != "_target_"]
        arguments[kind] = {key: parser.get_parsed_content(f"network_def#{key}") for key in names}
        torch.manual_seed(0)
        networks[kind] = parser.get_parsed_content("network_def")
    train, infer = networks["train"], networks["infer"]
    assert type(train) is type(infer)
    data_arguments, data_tensors = DATA_DERIVED.get(bundle, (set(), set()))
    assert arguments["train"].keys() == arguments["infer"].keys()
    for key in arguments["train"].keys() - data_arguments:
        assert arguments["train"][key] == arguments["infer"][key], key
    train_state, infer_state = train.state_dict(), infer.state_dict()
    assert list(train_state) == list(infer_state)
    for key, value in train_state.items():
        assert value.shape == infer_state[key].shape and value.dtype == infer_state[key].dtype, key
        if key not in data_tensors:
            torch.testing.assert_close(value, infer_state[key], rtol=0, atol=0, msg=key)


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> str:
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    nib.save(image, str(path))
    return str(path)


def ct_items(folder: Path, bundle: str) -> tuple[list[dict], list[dict]]:
    """Two CT volumes (one in LPS orientation, one in RAS), inside the bundle's trained spacing range."""
    rng = np.random.default_rng(0)
    validation, inference = [], []
    for index, (shape, spacing, flips) in enumerate(
        (((40, 36, 20), (0.9, 1.1, 3.0), (-1, -1, 1)), ((30, 28, 12), (1.0, 0.85, 4.5), (1, 1, 1)))
    ):
        affine = np.diag([*(s * f for s, f in zip(spacing, flips)), 1.0])
        affine[:3, 3] = (12.0, -30.0, 7.5)
        image = write_nifti(folder / f"ct{index}.nii.gz", rng.integers(-1000, 1000, shape).astype(np.int16), affine)
        label = write_nifti(folder / f"label{index}.nii.gz", rng.integers(0, 5, shape).astype(np.uint8), affine)
        inference.append({"image": image})
        validation.append({"image": image, "label": label if bundle == UNETR else index})
    return validation, inference


def echo_items(folder: Path) -> tuple[list[dict], list[dict]]:
    """Two synthetic echo loops of another frame size than the network's (resized by the preprocessing)."""
    generate_echo(folder, num_samples=2, seed=0, frame_size=48, num_frames=80, fractions=(0.5, 0.0, 0.5))
    items = load_echonet_datalist(folder, split="all")
    return items, items


def cxr_items(folder: Path) -> tuple[list[dict], list[dict]]:
    """Two synthetic DX radiographs of different size and pixel spacing (resized by the preprocessing)."""
    generate_chest_xray(folder, num_samples=2, seed=0, formats="dicom", fractions=(0.5, 0.0, 0.5))
    images = sorted(str(p) for p in (folder / "images").glob("*.dcm"))
    return [{"image": i, "label": np.zeros(4, np.float32)} for i in images], [{"image": i} for i in images]


def same_outputs(actual: dict, expected: dict, where: str) -> None:
    for key in ("image", "image_spacing"):
        a, e = actual[key], expected[key]
        assert type(a) is type(e) and a.shape == e.shape and a.dtype == e.dtype, (where, key)
        torch.testing.assert_close(torch.as_tensor(a), torch.as_tensor(e), rtol=0, atol=0, msg=f"{where}: {key}")
        if hasattr(e, "affine"):
            torch.testing.assert_close(a.affine, e.affine, rtol=0, atol=0, msg=f"{where}: {key} affine")


def transform_types(compose) -> list[type]:
    return [type(t) for t in compose.flatten().transforms if not isinstance(t, CheckSpacingRanged)]


@pytest.mark.parametrize("bundle", ALL)
def test_inference_preprocessing_equals_validation_and_evaluation(bundle, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    if bundle == ECHO:
        validation_items, inference_items = echo_items(folder)
    elif bundle == CXR:
        validation_items, inference_items = cxr_items(folder)
    else:
        validation_items, inference_items = ct_items(folder, bundle)
    infer = initialised(bundle, ["inference.json"], "infer", tmp_path)
    inference = infer.parser.get_parsed_content("preprocessing")
    assert any(isinstance(t, CheckSpacingRanged) for t in inference.flatten().transforms)
    references = {
        "validation": initialised(bundle, ["train.json"], "train", tmp_path, **VALIDATION_OVERRIDES.get(bundle, {})),
        "evaluation": initialised(bundle, ["train.json", "evaluate.json"], "infer", tmp_path),
    }
    for name, workflow in references.items():
        reference = workflow.parser.get_parsed_content("validate#preprocessing")
        assert transform_types(inference) == transform_types(reference), name
        for validation_item, inference_item in zip(validation_items, inference_items):
            expected = reference(dict(validation_item))
            same_outputs(inference(dict(inference_item)), expected, f"{name}, {Path(inference_item['image']).name}")


@pytest.mark.slow
def test_unetr_inference_alone_from_the_command_line_writes_a_mask_per_image(tmp_path):
    """The README's ``python -m monai.bundle run --config_file configs/inference.json``, run from the bundle folder."""
    overrides = {**TINY_DATA[UNETR], **net_overrides(UNETR)}
    setup = initialised(UNETR, ["inference.json"], "infer", tmp_path, **overrides)
    net = setup.parser.get_parsed_content("network_def").eval()
    (tmp_path / "models").mkdir()
    torch.save(net.state_dict(), tmp_path / "models" / "model.pt")
    arguments = [arg for key, value in overrides.items() for arg in (f"--{key}", json.dumps(value))]
    run_command(
        "monai.bundle", "run", "--config_file", "configs/inference.json", "--bundle_root", str(tmp_path), *arguments,
        cwd=BUNDLES / UNETR,
    )  # fmt: skip
    images = sorted((tmp_path / "data" / "imagesTs").glob("*.nii.gz"))
    masks = sorted((tmp_path / "eval" / "predictions").glob("*.nii.gz"))
    assert images and [m.name for m in masks] == [i.name.replace(".nii.gz", "_seg.nii.gz") for i in images]
    assert_masks_are_the_networks(images, masks, setup.parser.get_parsed_content("preprocessing"), net, UNETR_ROI)
