"""ONNX export with the spacing input and dynamic batch and image size: parity with eager at other batch sizes,
image sizes and spacings; the ``monai-afpe export-onnx`` command on each bundle's own network definition.
All slow: torch's ONNX exporter takes seconds even for a tiny network."""

import shutil
from pathlib import Path

import pytest
import torch

from monai_afpe.cli import main
from monai_afpe.commands.export_onnx import load_bundle_network
from monai_afpe.networks.onnx_export import check_onnx_parity, export_onnx, onnx_predict

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def _batch(n, shape, channels=1, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, *shape, generator=generator), 0.5 + 4 * torch.rand(
        n, len(shape), generator=generator
    )


@pytest.mark.slow
def test_vit_graph_takes_spacing_and_any_batch_and_size(tmp_path, tiny_vit):
    net = tiny_vit(
        1,
        (16, 16, 8),
        (8, 8, 4),
        num_classes=3,
        pos_embed="afpe",
        pos_embed_kwargs={"mode": "physical", "reference_extent": 50.0},
        spacing_embedding="film",
    )
    torch.nn.init.normal_(net.spacing_embedding.mlp[2].weight, std=0.5)  # a trained embedding: spacing matters
    path = export_onnx(net, *_batch(2, (16, 16, 8)), tmp_path / "vit.onnx")
    worst = check_onnx_parity(
        path, net, [_batch(3, (16, 16, 8), seed=1), _batch(2, (24, 32, 12), seed=2), _batch(1, (8, 8, 4))]
    )
    assert worst < 1e-4
    image, spacing = _batch(2, (16, 16, 8), seed=3)
    assert not torch.allclose(onnx_predict(path, image, spacing), onnx_predict(path, image, spacing.flip(0)), atol=1e-3)
    other = tiny_vit(1, (16, 16, 8), (8, 8, 4), seed=1, num_classes=3)
    with pytest.raises(ValueError, match=r"vit.onnx: the ONNX graph's output differs from the eager network's"):
        check_onnx_parity(path, other, [_batch(2, (16, 16, 8))])
    with pytest.raises(ValueError, match=r"spacing must have shape \(B, spatial_dims\) = \(2, 3\) .* got \(2, 2\)"):
        export_onnx(net, torch.zeros(2, 1, 16, 16, 8), torch.ones(2, 2), tmp_path / "x.onnx")


@pytest.mark.slow
def test_unetr_graph_has_dynamic_dense_output(tmp_path, tiny_unetr):
    net = tiny_unetr(
        1, 2, (32, 32, 16), pos_embed="afpe", pos_embed_kwargs={"mode": "physical", "reference_extent": 64.0}
    )
    path = export_onnx(net, *_batch(2, (32, 32, 16)), tmp_path / "unetr.onnx")
    assert check_onnx_parity(path, net, [_batch(3, (32, 32, 16), seed=1), _batch(2, (48, 32, 32), seed=2)]) < 1e-4
    assert tuple(onnx_predict(path, *_batch(1, (48, 32, 32))).shape) == (1, 2, 48, 32, 32)


@pytest.mark.slow
@pytest.mark.parametrize(
    "bundle, configs",
    [
        ("afpe_ct_classification", ["configs/inference.json"]),
        ("afpe_echo_regression", ["configs/inference.json"]),
        ("afpe_cxr_multilabel", ["configs/inference.json"]),
        ("afpe_unetr_ct_segmentation", ["configs/train.json"]),
    ],
)
def test_export_onnx_command_on_each_bundle(bundle, configs, tmp_path, capsys):
    root = tmp_path / bundle
    shutil.copytree(BUNDLES / bundle / "configs", root / "configs")
    network, _, _ = load_bundle_network(root, configs, "network_def", None)
    (root / "models").mkdir()
    torch.save(network.state_dict(), root / "models" / "model.pt")
    argv = ["export-onnx", str(root)] + [a for c in configs for a in ("--config-file", c)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ONNX Runtime against eager" in out and (root / "models" / "model.onnx").is_file()
    with pytest.raises(SystemExit, match=r"missing\.pt: checkpoint not found"):
        main(argv + ["--ckpt", "models/missing.pt"])
