"""Export a bundle's network to ONNX with the spacing input and dynamic batch and image size, then check it.

Reads the network definition from the bundle's configs (as ``python -m monai.bundle onnx_export`` does),
loads the checkpoint, writes a graph with two inputs, ``image`` ``(B, C, *spatial)`` and ``spacing``
``(B, spatial_dims)``, and runs it with ONNX Runtime against the eager network at batch 2 and 3 on the
training size and on a larger size (one more patch per axis), with spacings drawn around the defaults.
MONAI's ``onnx_export`` keeps one input of one fixed shape, so its graph always uses the default spacing.

Example (in a bundle folder)::

    monai-afpe export-onnx . --config-file configs/inference.json --ckpt models/model.pt --output models/model.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["load_bundle_network"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle_root", help="the bundle folder (its configs' @bundle_root)")
    parser.add_argument(
        "--config-file",
        action="append",
        help="config file(s) relative to the bundle folder, merged in order (default: configs/inference.json); "
        "repeat for several, e.g. --config-file configs/train.json for the UNETR bundle",
    )
    parser.add_argument(
        "--net-id", default="network_def", help="the network's key in the config (default: network_def)"
    )
    parser.add_argument("--ckpt", default="models/model.pt", help="checkpoint relative to the bundle folder")
    parser.add_argument("--output", default="models/model.onnx", help="ONNX file relative to the bundle folder")
    parser.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    parser.add_argument("--no-check", action="store_true", help="skip the ONNX Runtime parity check")


def load_bundle_network(bundle_root: Path | str, config_files, net_id: str, checkpoint: Path | str | None):
    """The bundle's network with the checkpoint's weights, its input channels and training image size.

    Raises:
        FileNotFoundError: a config file or the checkpoint is missing (named).
        KeyError: ``net_id`` (or its ``in_channels`` / ``img_size``) is not in the configs.
    """
    import torch
    from monai.bundle import ConfigParser

    root = Path(bundle_root)
    files = [root / f for f in config_files]
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(f"{file}: config file not found")
    parser = ConfigParser()
    parser.read_config([str(f) for f in files])
    parser["bundle_root"] = str(root)
    if net_id not in parser:
        raise KeyError(f"{', '.join(map(str, files))}: no {net_id!r} in the configs (give --net-id or --config-file)")
    network = parser.get_parsed_content(net_id)
    in_channels = int(parser.get_parsed_content(f"{net_id}#in_channels"))
    img_size = parser.get_parsed_content(f"{net_id}#img_size")
    if checkpoint is not None:
        path = root / checkpoint
        if not path.is_file():
            raise FileNotFoundError(f"{path}: checkpoint not found (train the bundle first, or give --ckpt)")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        network.load_state_dict(state)
    return network.cpu().eval(), in_channels, img_size


def run(args: argparse.Namespace) -> int:
    import torch
    from monai.utils import ensure_tuple_rep

    from monai_afpe.networks.onnx_export import check_onnx_parity, export_onnx

    root = Path(args.bundle_root)
    try:
        network, channels, img_size = load_bundle_network(
            root, args.config_file or ["configs/inference.json"], args.net_id, args.ckpt
        )
    except (FileNotFoundError, KeyError) as error:
        raise SystemExit(f"monai-afpe export-onnx: {error.args[0]}") from None
    patch = getattr(network, "patch_size", None)
    spatial_dims = next((len(v) for v in (img_size, patch) if isinstance(v, (list, tuple))), 3)
    size = [int(s) for s in ensure_tuple_rep(img_size, spatial_dims)]
    step = [int(p) for p in ensure_tuple_rep(patch, spatial_dims)]
    generator = torch.Generator().manual_seed(0)

    def batch(n: int, shape: list[int]):
        image = torch.randn(n, channels, *shape, generator=generator)
        spacing = 0.5 + 2.5 * torch.rand(n, spatial_dims, generator=generator)
        return image, spacing

    output = export_onnx(network, *batch(2, size), root / args.output, opset_version=args.opset)
    print(
        f"wrote {output} (inputs image (B, {channels}, {', '.join(f'D{i}' for i in range(spatial_dims))}), spacing (B, {spatial_dims}))"
    )
    if not args.no_check:
        larger = [s + p for s, p in zip(size, step)]
        worst = check_onnx_parity(output, network, [batch(3, size), batch(2, larger)])
        print(f"ONNX Runtime against eager at batch 3 x {size} and batch 2 x {larger}: largest difference {worst:.2g}")
    return 0
