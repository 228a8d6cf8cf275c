"""Render similarity maps of positional encodings side by side to a PNG (the figure of arXiv 2509.02488).

Every panel shows the cosine similarity of each token's positional embedding to one reference token
(default: the centre) on a 2D grid or on a plane of a 3D grid, drawn in millimetres so that the
physical shape of each encoding's kernel is visible. AFPE scales follow the physical policy
(``s_i = s0 * extent_i / max extent``, docs/design.md §2) unless ``--afpe-scales`` gives them.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grid", type=int, nargs="+", default=[16, 16, 16], help="tokens per axis (2 or 3 axes)")
    parser.add_argument("--spacing", type=float, nargs="+", default=[0.7, 0.7, 5.0], help="voxel spacing per axis, mm")
    parser.add_argument("--patch-size", type=int, nargs="+", default=[8, 8, 2], help="voxels per token per axis")
    parser.add_argument(
        "--encodings",
        nargs="+",
        default=["learnable", "sincos", "ifpe", "afpe"],
        help="encodings to compare: none, learnable, sincos, ifpe, afpe, lfpe, afpe_learnable_scales",
    )
    parser.add_argument("--base-scale", type=float, default=1.0, help="s0: the ifpe scale and the largest afpe scale")
    parser.add_argument("--afpe-scales", type=float, nargs="+", help="explicit per-axis afpe scales")
    parser.add_argument("--token", type=int, nargs="+", help="reference token index per axis (default: centre)")
    parser.add_argument(
        "--plane-axis", type=int, default=1, help="for 3D grids: the axis the plane is perpendicular to"
    )
    parser.add_argument("--plane-index", type=int, help="for 3D grids: the plane's index (default: the token's)")
    parser.add_argument("--hidden-size", type=int, default=1536, help="embedding size D (larger: smoother maps)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Fourier draw G")
    parser.add_argument("--output", default="similarity_map.png", help="PNG file to write")


def run(args: argparse.Namespace) -> int:
    from monai_afpe.visualize import similarity_map_figure

    m = len(args.grid)
    if m not in (2, 3):
        raise SystemExit(f"monai-afpe similarity-map: --grid needs 2 or 3 axes, got {args.grid}")
    if len(args.spacing) != m or len(args.patch_size) != m:
        raise SystemExit(
            f"monai-afpe similarity-map: --spacing and --patch-size need {m} values (one per --grid axis), "
            f"got --spacing {args.spacing} --patch-size {args.patch_size}"
        )
    try:
        figure, afpe_scales, token = similarity_map_figure(
            args.grid,
            args.spacing,
            args.patch_size,
            args.encodings,
            args.hidden_size,
            token=args.token,
            plane_axis=args.plane_axis,
            plane_index=args.plane_index,
            base_scale=args.base_scale,
            afpe_scales=args.afpe_scales,
            seed=args.seed,
        )
    except ValueError as error:
        raise SystemExit(f"monai-afpe similarity-map: {error}") from None
    figure.savefig(args.output, dpi=120)
    print(
        f"wrote {args.output}: {len(args.encodings)} encodings, token {token}, afpe scales {[round(s, 4) for s in afpe_scales]}"
    )
    return 0
