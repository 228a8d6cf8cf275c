"""Every bundle's baseline overrides (configs/baselines/*.json, run by `monai-afpe bundle-baselines`) keep the
recipe and budget and change only how the network uses spacing."""

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
RECIPE = ("max_epochs", "batch_size", "learning_rate", "num_samples", "data_seed")
# bundle -> tiny network sizes, input shape, spacing
TINY = {
    "afpe_echo_regression": ({"hidden_size": 24, "mlp_dim": 32, "num_layers": 1, "num_heads": 2}, (16, 64, 64)),
    "afpe_unetr_ct_segmentation": ({"feature_size": 4, "hidden_size": 24, "mlp_dim": 32, "num_heads": 2}, (64, 64, 32)),
}
EXPECTED = {
    ("afpe_echo_regression", "sincos"): ("AFPEViT", "sincos", None, False),
    ("afpe_echo_regression", "sincos_spacing_embedding"): ("AFPEViT", "sincos", "tokens", False),
    ("afpe_echo_regression", "monai_vit_resample"): ("MonaiViTClassifier", None, None, True),
    ("afpe_echo_regression", "afpe_resample"): ("AFPEViT", "afpe", None, True),
    ("afpe_echo_regression", "class_token"): ("AFPEViT", "afpe", None, False),
    ("afpe_echo_regression", "lfpe"): ("AFPEViT", "lfpe", None, False),
    ("afpe_echo_regression", "learnable_positions"): ("AFPEViT", "learnable", None, False),
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
    sizes, shape = TINY[bundle]
    parser = parser_for(bundle, "train.json", f"baselines/{arm}.json")
    shipped = parser_for(bundle, "train.json")
    for key in RECIPE:
        assert parser.get(key) == shipped.get(key), key  # same recipe and budget
    for key, value in sizes.items():  # hidden 24: sincos needs a multiple of 2 x 3 axes
        if key in parser.get("network_def"):
            parser[f"network_def#{key}"] = value
    net = parser.get_parsed_content("network_def")
    assert type(net).__name__ == network
    if pos_embed is not None:
        assert parser.get("network_def#pos_embed") == pos_embed
    assert parser.get("network_def").get("spacing_embedding") == spacing_embedding
    spacing = torch.tensor([[0.1, 2.5, 2.5], [0.07, 2.2, 2.2]])
    with torch.no_grad():
        out = net(torch.randn(2, 1, *shape), spacing=spacing)
    assert out.shape[0] == 2
    grid = json.dumps(parser.get("fixed_grid" if bundle == "afpe_echo_regression" else "load_transforms"))
    assert ("resample_frame_rate" in grid or "Spacingd" in grid) == resamples


@pytest.mark.parametrize(
    "arm",
    [
        "sincos",
        "sincos_spacing_embedding",
        "monai_vit_resample",
        "afpe_resample",
        "class_token",
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


def test_echo_afpe_resample_differs_from_the_monai_arm_only_in_the_network():
    """The arm that separates the two changes of the winning arm: the shipped AFPEViT on its resampled clips."""
    afpe = parser_for("afpe_echo_regression", "train.json", "baselines/afpe_resample.json")
    monai = parser_for("afpe_echo_regression", "train.json", "baselines/monai_vit_resample.json")
    for key in ("fixed_fps", "fixed_pixel_spacing", "clip_period", "fixed_grid"):
        assert afpe.get(key) == monai.get(key), key
    assert afpe.get("network_def") == parser_for("afpe_echo_regression", "train.json").get("network_def")


def test_echo_class_token_arm_changes_only_the_pooling_also_on_top_of_resampling():
    """``class_token`` (and ``afpe_resample+class_token``, as `bundle-baselines` composes them) pools with a
    class token where the shipped AFPEViT averages its tokens; nothing else in the network changes."""
    shipped = parser_for("afpe_echo_regression", "train.json").get("network_def")
    resampled = parser_for("afpe_echo_regression", "train.json", "baselines/afpe_resample.json")
    for parser in (
        parser_for("afpe_echo_regression", "train.json", "baselines/class_token.json"),
        parser_for("afpe_echo_regression", "train.json", "baselines/afpe_resample.json", "baselines/class_token.json"),
    ):
        assert shipped["pooling"] == "mean" and parser.get("network_def#pooling") == "cls"
        assert {k: v for k, v in parser.get("network_def").items() if k != "pooling"} == {
            k: v for k, v in shipped.items() if k != "pooling"
        }
    assert parser.get("fixed_grid") == resampled.get("fixed_grid")
    assert parser.get("clip_period") == resampled.get("clip_period")
