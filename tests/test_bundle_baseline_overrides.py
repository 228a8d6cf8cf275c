"""Every bundle's baseline overrides (configs/baselines/*.json, run by `monai-afpe bundle-baselines`) keep the
recipe and budget and change only how the network uses spacing."""

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from monai_afpe.data.synthetic import CHEST_XRAY_LABELS

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
RECIPE = ("max_epochs", "batch_size", "learning_rate", "num_samples", "data_seed", "spatial_size", "patch_size")
# bundle -> tiny network sizes, input shape, per-sample spacing, outputs of the network
TINY = {
    "afpe_ct_classification": (
        {"hidden_size": 24, "num_layers": 1, "num_heads": 2},
        (32, 32, 32),
        [[0.7, 0.7, 3.0], [1.1, 1.1, 1.5]],
        6,
    ),
    "afpe_cxr_multilabel": (
        {"hidden_size": 24, "num_layers": 1, "num_heads": 2},
        (64, 64),
        [[0.6, 0.7], [1.1, 1.0]],
        len(CHEST_XRAY_LABELS),
    ),
    "afpe_echo_regression": (
        {"hidden_size": 24, "mlp_dim": 32, "num_layers": 1, "num_heads": 2},
        (16, 64, 64),
        [[0.1, 2.5, 2.5], [0.07, 2.2, 2.2]],
        1,
    ),
    "afpe_unetr_ct_segmentation": (
        {"feature_size": 4, "hidden_size": 24, "mlp_dim": 32, "num_heads": 2},
        (64, 64, 32),
        [[1.0, 1.0, 3.5], [0.8, 0.8, 2.0]],
        5,
    ),
}
EXPECTED = {
    **{
        (bundle, arm): expected
        for bundle in ("afpe_ct_classification", "afpe_cxr_multilabel")
        for arm, expected in {
            "sincos": ("AFPEViT", "sincos", None, False),
            "sincos_spacing_embedding": ("AFPEViT", "sincos", "cls", False),
            "monai_vit_resample": ("MonaiViTClassifier", None, None, True),
        }.items()
    },
    ("afpe_echo_regression", "sincos"): ("AFPEViT", "sincos", None, True),
    ("afpe_echo_regression", "sincos_spacing_embedding"): ("AFPEViT", "sincos", "tokens", True),
    ("afpe_echo_regression", "monai_vit_resample"): ("MonaiViTClassifier", None, None, True),
    ("afpe_echo_regression", "native"): ("AFPEViT", "afpe", None, False),
    ("afpe_echo_regression", "mean_pooling"): ("AFPEViT", "afpe", None, True),
    ("afpe_echo_regression", "lfpe"): ("AFPEViT", "lfpe", None, True),
    ("afpe_echo_regression", "learnable_positions"): ("AFPEViT", "learnable", None, True),
    ("afpe_unetr_ct_segmentation", "sincos"): ("AFPEUNETR", "sincos", None, False),
    ("afpe_unetr_ct_segmentation", "sincos_spacing_embedding"): ("AFPEUNETR", "sincos", "tokens", False),
    ("afpe_unetr_ct_segmentation", "monai_unetr_resample"): ("MonaiUNETR", None, None, True),
}


def parser_for(bundle: str, *configs: str, **override) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(BUNDLES / bundle / "configs" / c) for c in configs])
    parser.update({"bundle_root": ".", "target_mean": 55.0, "target_std": 12.0, **override})
    return parser


def test_every_override_file_is_covered():
    files = {(p.parts[-4], p.stem) for p in BUNDLES.glob("*/configs/baselines/*.json")}
    assert {key for key in files if key[0] in TINY} == set(EXPECTED)


@pytest.mark.parametrize("bundle, arm", sorted(EXPECTED))
def test_override_changes_only_the_use_of_spacing(bundle, arm):
    network, pos_embed, spacing_embedding, resamples = EXPECTED[bundle, arm]
    sizes, shape, spacing, outputs = TINY[bundle]
    parser = parser_for(bundle, "train.json", f"baselines/{arm}.json")
    shipped = parser_for(bundle, "train.json")
    for key in RECIPE:
        assert parser.get(key) == shipped.get(key), key  # same recipe and budget
    for key, value in sizes.items():  # hidden 24: sincos needs a multiple of 2 x 3 axes
        if key in parser.get("network_def"):
            parser[f"network_def#{key}"] = value
    net = parser.get_parsed_content("network_def")
    assert type(net).__name__ == network

    def resolved(key: str):
        return parser.get_parsed_content(f"network_def#{key}") if key in parser.get("network_def") else None

    if pos_embed is not None:
        assert resolved("pos_embed") == pos_embed
    assert resolved("spacing_embedding") == spacing_embedding
    with torch.no_grad():
        out = net(torch.randn(2, 1, *shape), spacing=torch.tensor(spacing))
    assert out.shape[:2] == (2, outputs)
    grid = parser.get("fixed_grid" if bundle == "afpe_echo_regression" else "load_transforms")
    assert any(transform["_target_"] == "Spacingd" for transform in grid) == resamples


@pytest.mark.parametrize(
    "arm",
    [
        "sincos",
        "sincos_spacing_embedding",
        "monai_vit_resample",
        "native",
        "mean_pooling",
        "lfpe",
        "learnable_positions",
    ],
)
def test_echo_overrides_apply_to_inference_alike(arm):
    trained = parser_for("afpe_echo_regression", "train.json", f"baselines/{arm}.json")
    inference = parser_for("afpe_echo_regression", "inference.json", f"baselines/{arm}.json")
    inference.update({"target_mean": None, "target_std": 1.0})  # from the checkpoint at inference
    assert trained.get("fixed_grid") == inference.get("fixed_grid")
    assert trained.get("clip_period") == inference.get("clip_period")
    torch.manual_seed(0)
    a = trained.get_parsed_content("network_def").state_dict()
    torch.manual_seed(0)
    b = inference.get_parsed_content("network_def").state_dict()
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)


def test_echo_monai_arm_differs_from_the_shipped_configuration_only_in_the_network():
    """Both resample every video to 30 fps and 2.5 mm and cut clips 0.1 s apart; the network differs."""
    shipped = parser_for("afpe_echo_regression", "train.json")
    monai = parser_for("afpe_echo_regression", "train.json", "baselines/monai_vit_resample.json")
    for key in ("fixed_fps", "fixed_pixel_spacing", "clip_period", "fixed_grid"):
        assert monai.get(key) == shipped.get(key), key
    assert "resample_frame_rate" in json.dumps(shipped.get("fixed_grid")) and shipped.get("clip_period") == 3
    assert monai.get("network_def#_target_") != shipped.get("network_def#_target_")


def test_echo_native_and_mean_pooling_compose_back_to_the_0_2_configuration():
    """``native+mean_pooling`` (as `bundle-baselines` composes it) is the shipped configuration of 0.2.x: native
    frame rate and pixel size, every 4th frame, AFPEViT averaging its tokens; each part changes one thing."""
    shipped = parser_for("afpe_echo_regression", "train.json")
    native = parser_for("afpe_echo_regression", "train.json", "baselines/native.json")
    mean = parser_for("afpe_echo_regression", "train.json", "baselines/mean_pooling.json")
    both = parser_for("afpe_echo_regression", "train.json", "baselines/native.json", "baselines/mean_pooling.json")
    assert shipped.get("network_def#pooling") == "cls"
    assert both.get("fixed_grid") == [] and both.get("clip_period") == 4 and both.get("network_def#pooling") == "mean"
    assert native.get("network_def") == shipped.get("network_def") and native.get("fixed_grid") == []
    assert mean.get("fixed_grid") == shipped.get("fixed_grid")
    assert {k: v for k, v in mean.get("network_def").items() if k != "pooling"} == {
        k: v for k, v in shipped.get("network_def").items() if k != "pooling"
    }
