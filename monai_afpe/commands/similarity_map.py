"""Render similarity maps of positional encodings side by side to a PNG (the figure of arXiv 2509.02488).

Every panel shows the cosine similarity of each token's positional embedding to one reference token
(default: the centre) on a 2D grid or on a plane of a 3D grid, drawn in millimetres so that the
physical shape of each encoding's kernel is visible. AFPE scales follow the physical policy
(``s_i = s0 * extent_i / max extent``, docs/design.md §2) unless ``--afpe-scales`` gives them.
"""

from __future__ import annotations

import argparse

AXIS_NAMES = "xyzt"


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
    parser.add_argument("--plane-axis", type=int, default=1, help="for 3D grids: the axis the plane is perpendicular to")
    parser.add_argument("--plane-index", type=int, help="for 3D grids: the plane's index (default: the token's)")
    parser.add_argument("--hidden-size", type=int, default=1536, help="embedding size D (larger: smoother maps)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Fourier draw G")
    parser.add_argument("--output", default="similarity_map.png", help="PNG file to write")


def run(args: argparse.Namespace) -> int:
    import torch

    from monai_afpe.networks.blocks import build_positional_embedding
    from monai_afpe.transforms import compute_afpe_scales
    from monai_afpe.visualize import plane_of, plot_similarity_maps, token_similarity

    grid = list(args.grid)
    m = len(grid)
    if m not in (2, 3):
        raise SystemExit(f"monai-afpe similarity-map: --grid needs 2 or 3 axes, got {grid}")
    spacing, patch = args.spacing, args.patch_size
    if len(spacing) != m or len(patch) != m:
        raise SystemExit(
            f"monai-afpe similarity-map: --spacing and --patch-size need {m} values (one per --grid axis), "
            f"got --spacing {spacing} --patch-size {patch}"
        )
    token = args.token if args.token is not None else [n // 2 for n in grid]
    if args.afpe_scales is not None:
        afpe_scales = [float(s) for s in args.afpe_scales]
    else:
        image_size = [n * p for n, p in zip(grid, patch)]
        afpe_scales = compute_afpe_scales(
            torch.tensor(spacing), patch, image_size, policy="physical", base_scale=args.base_scale
        ).tolist()

    maps = {}
    for kind in args.encodings:
        options = {"seed": args.seed}
        label = kind
        if kind in ("ifpe", "lfpe"):
            options["scales"] = args.base_scale
            label = f"{kind} (s={args.base_scale:g})"
        elif kind in ("afpe", "afpe_learnable_scales"):
            options["scales"] = afpe_scales
            label = f"{kind} (s=" + ", ".join(f"{s:.2g}" for s in afpe_scales) + ")"
        try:
            embedding = build_positional_embedding(kind, grid, args.hidden_size, **options)
            similarity = token_similarity(embedding, token)
            if m == 3:
                plane_index = args.plane_index if args.plane_index is not None else token[args.plane_axis]
                similarity = plane_of(similarity, args.plane_axis, plane_index)
            maps[label] = similarity
        except ValueError as error:
            raise SystemExit(f"monai-afpe similarity-map: {kind}: {error}") from None

    shown = [a for a in range(m) if m == 2 or a != args.plane_axis]
    token_mm = [token[a] * patch[a] * spacing[a] for a in shown]
    figure = plot_similarity_maps(
        maps,
        token=token_mm,
        axis_labels=[f"{AXIS_NAMES[a]} (mm, token = {patch[a] * spacing[a]:g} mm)" for a in shown],
        extent_mm=[grid[a] * patch[a] * spacing[a] for a in shown],
        title=f"grid {grid} tokens, spacing {spacing} mm, patch {patch}, D = {args.hidden_size}",
    )
    figure.savefig(args.output, dpi=120)
    print(f"wrote {args.output}: {len(maps)} encodings, token {token}, afpe scales {[round(s, 4) for s in afpe_scales]}")
    return 0
