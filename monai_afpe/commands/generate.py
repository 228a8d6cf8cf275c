"""Generate a synthetic data set (organ shapes, CT segmentation, echo or chest radiographs) as real files, seeded.

The same seed and options give byte-identical files. Data sets:

- ``organ-shapes``: anisotropic CT classification, six shapes defined in mm (NIfTI + datalist.json);
  ``--protocol mixed`` draws every volume's spacing, ``--protocol stride --anisotropy k`` keeps every
  k-th slice of isotropic volumes (the OrganMNIST3D protocol of arXiv 2509.02488).
- ``ct-segmentation``: a toy abdomen with four labelled structures (Decathlon layout + dataset.json).
- ``echo``: apical long-axis loops with an exact ejection fraction (EchoNet-Dynamic layout:
  Videos/*.avi + FileList.csv; ``--dicom`` adds ultrasound cine DICOM).
- ``chest-xray``: PA chest radiographs with four binary labels exact in mm (cardiomegaly, effusion, nodule,
  elevated hemidiaphragm): DX DICOM (images/) and 8-bit PNG (png/) + labels.csv with the pixel spacing.

Lengths are in mm and times in s; the spacing is in each file's affine, frame rate or DICOM header.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

DATASETS = ("organ-shapes", "ct-segmentation", "echo", "chest-xray")


def _common(parser: argparse.ArgumentParser, num: int) -> None:
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="folder to write the data set into")
    parser.add_argument("--num", type=int, default=num, help=f"number of samples (default {num})")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty OUTPUT_DIR (same names replaced)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    datasets = parser.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    shapes = datasets.add_parser("organ-shapes", help="anisotropic CT classification: six shapes defined in mm")
    _common(shapes, 600)
    shapes.add_argument("--protocol", choices=("mixed", "stride"), default="mixed", help="spacing protocol")
    shapes.add_argument("--anisotropy", type=int, help="slice stride k of --protocol stride (default 4)")
    shapes.add_argument("--size", type=int, nargs="+", default=[32], help="voxels per axis: 1 or 3 values (default 32)")
    shapes.add_argument(
        "--radius", type=float, nargs=2, metavar=("LOW", "HIGH"), help="range of the equal-volume ball radius, mm"
    )
    shapes.add_argument("--masks", action="store_true", help="also write binary organ masks (masks/)")
    segmentation = datasets.add_parser("ct-segmentation", help="toy abdomen with four labelled structures")
    _common(segmentation, 40)
    segmentation.add_argument(
        "--size", type=int, nargs="+", default=[64, 64, 32], help="voxels per axis: 1 or 3 values (default 64 64 32)"
    )
    echo = datasets.add_parser("echo", help="apical long-axis echo loops with exact ejection fraction")
    _common(echo, 200)
    echo.add_argument("--frame-size", type=int, nargs="+", default=[112], help="pixels: 1 or 2 values (default 112)")
    echo.add_argument("--frames", type=int, default=96, help="frames per video (default 96)")
    echo.add_argument("--codec", choices=("ffv1", "rawvideo", "mjpeg"), default="ffv1", help="AVI codec (default ffv1)")
    echo.add_argument("--dicom", action="store_true", help="also write ultrasound cine DICOM files (DICOM/)")
    cxr = datasets.add_parser("chest-xray", help="PA chest radiographs with four labels exact in mm")
    _common(cxr, 1000)
    cxr.add_argument(
        "--size", type=int, nargs=2, metavar=("LOW", "HIGH"), help="range of rows and columns, pixels (default 256 384)"
    )
    cxr.add_argument(
        "--spacing", type=float, nargs=2, metavar=("LOW", "HIGH"), help="range of the pixel size, mm (default 0.14 0.2)"
    )
    cxr.add_argument(
        "--formats", nargs="+", choices=("dicom", "png"), default=["dicom", "png"], help="files (default dicom png)"
    )


def _size(values: list[int], dims: int, option: str) -> int | tuple[int, ...]:
    if len(values) not in (1, dims):
        raise ValueError(f"{option} takes 1 or {dims} values, got {values}.")
    return values[0] if len(values) == 1 else tuple(values)


def _generate(args: argparse.Namespace) -> Path:
    """Write the data set; return the path of its index file."""
    from monai_afpe.data.synthetic import (
        generate_chest_xray,
        generate_ct_segmentation,
        generate_echo,
        generate_organ_shapes,
    )

    common = {"num_samples": args.num, "seed": args.seed, "progress": not args.quiet}
    if args.dataset == "organ-shapes":
        return generate_organ_shapes(
            args.output_dir,
            protocol=args.protocol,
            anisotropy=args.anisotropy,
            spatial_size=_size(args.size, 3, "--size"),
            write_masks=args.masks,
            **({"radius_range": tuple(args.radius)} if args.radius else {}),
            **common,
        )
    if args.dataset == "chest-xray":
        return generate_chest_xray(
            args.output_dir,
            formats=tuple(args.formats),
            **({"image_size_range": tuple(args.size)} if args.size else {}),
            **({"spacing_range": tuple(args.spacing)} if args.spacing else {}),
            **common,
        )
    if args.dataset == "ct-segmentation":
        return generate_ct_segmentation(args.output_dir, spatial_size=_size(args.size, 3, "--size"), **common)
    return generate_echo(
        args.output_dir,
        frame_size=_size(args.frame_size, 2, "--frame-size"),
        num_frames=args.frames,
        codec=args.codec,
        write_dicom=args.dicom,
        **common,
    )


def _column_range(csv_path: Path, column: str) -> str:
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        values = [float(row[column]) for row in csv.DictReader(f)]
    low, high = f"{min(values):.3g}", f"{max(values):.3g}"
    return low if low == high else f"{low}-{high}"


def _summary(dataset: str, index: Path) -> list[str]:
    """What the written data set holds, read back from its files (counts, drawn spacing / rates in mm, s)."""
    if dataset == "echo":
        with open(index, newline="", encoding="utf-8-sig") as f:
            splits = Counter(row["Split"] for row in csv.DictReader(f))
        return [
            "videos: " + ", ".join(f"{splits[name]} {name}" for name in ("TRAIN", "VAL", "TEST")),
            f"EF {_column_range(index, 'EF')} %, frame rate {_column_range(index, 'FPS')} frames/s, "
            f"pixel size {_column_range(index, 'PixelSpacing')} mm (FileList.csv column PixelSpacing)",
        ]
    if dataset == "chest-xray":
        from monai_afpe.data.synthetic import CHEST_XRAY_LABELS

        with open(index, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
        splits = Counter(row["Split"] for row in rows)
        positives = ", ".join(f"{name} {sum(int(row[name]) for row in rows)}" for name in CHEST_XRAY_LABELS)
        return [
            "images: " + ", ".join(f"{splits[name]} {name}" for name in ("training", "validation", "test")),
            f"positives: {positives}",
            f"pixel size {_column_range(index, 'PixelSpacingRow')} mm, rows {_column_range(index, 'Rows')}, "
            f"columns {_column_range(index, 'Columns')} (labels.csv)",
        ]
    header = json.loads(index.read_text())
    geometry = index.parent / "geometry.csv"
    return [
        f"{header['name']}: {header['numTraining']} training, {header['numValidation']} validation, "
        f"{header['numTest']} test; labels {header['labels']}",
        f"spacing in mm: in-plane {_column_range(geometry, 'spacing_x')}, slice {_column_range(geometry, 'spacing_z')}",
    ]


def run(args: argparse.Namespace) -> int:
    output_dir = Path(args.output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise SystemExit(f"monai-afpe generate: OUTPUT_DIR {output_dir} exists and is not a folder")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not args.force:
        raise SystemExit(
            f"monai-afpe generate: OUTPUT_DIR {output_dir} is not empty; choose another folder or pass --force"
        )
    try:
        index = _generate(args)
    except (ValueError, ImportError) as error:
        raise SystemExit(f"monai-afpe generate {args.dataset}: {error}") from None
    print(f"wrote {args.dataset} (seed {args.seed}) to {output_dir}; index file {index}")
    for line in _summary(args.dataset, index):
        print(f"  {line}")
    return 0
