"""Show shape, spacing (with units), orientation and derived AFPE scales of images, DICOM series and videos.

Each PATH is a NIfTI, MHA / MHD, NRRD or DICOM file (single slice, enhanced multi-frame of any SOP
class, projection X-ray: CR / DX / MG / XA / XRF, ultrasound cine or still image), a DICOM series folder,
a PNG / JPEG file (with --pixel-spacing), or a video (AVI, MP4, ...).
Spacing is given per array axis of MONAI's channel-first layout (channel excluded), in mm along
space and s along time, as read from the loaded affine (for NIfTI: the sform, else the qform, else
pixdim with a warning, as the NIfTI-1 standard says; see :class:`~monai_afpe.data.readers.NiftiReader`);
orientation as axis codes (RAS world) for patient images (none for cines, ultrasound and projection
X-ray images, whose axes are not patient directions); for projection X-ray and PNG / JPEG files, the field
the pixel size came from (``spacing_source``: e.g. "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor
1.15"; a SPACING FROM column in the table, null in JSON for other files); scales by the chosen policy (arXiv 2509.02488,
docs/design.md §2). Bad input gives a one-line error naming the file and the field on stderr and exit
status 1; warnings about the data are printed on stderr, one line each.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

__all__ = ["add_arguments", "run"]

_PROG = "monai-afpe info"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image file, DICOM file or series folder, or video")
    parser.add_argument(
        "--patch-size",
        nargs="+",
        type=int,
        default=[1],
        metavar="N",
        help="patch (tubelet) size along each array axis, or one value for all (default: 1, a token per voxel)",
    )
    parser.add_argument(
        "--policy", default="physical", help="scale policy: physical, resolution or fixed (default: physical)"
    )
    parser.add_argument(
        "--base-scale", type=float, default=1.0, metavar="S0", help="base scale of the spatial axes (default: 1)"
    )
    parser.add_argument(
        "--temporal-base-scale",
        type=float,
        default=None,
        metavar="S0",
        help="base scale of the time axis of videos and cine files; needed to derive their scales",
    )
    parser.add_argument("--scales", nargs="+", type=float, metavar="S", help="per-axis scales for --policy fixed")
    parser.add_argument("--multipliers", nargs="+", type=float, metavar="M", help="per-axis factors on the scales")
    parser.add_argument(
        "--pixel-spacing",
        nargs="+",
        type=float,
        metavar="MM",
        help="pixel size (dy dx, or one value) in mm for videos and PNG / JPEG files, and for ultrasound files "
        "instead of their regions",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        metavar="MM",
        help="non-uniformity of DICOM slice steps (mm) accepted with a warning (default: 0)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per path and line")
    parser.add_argument(
        "--summary",
        action="store_true",
        help="for folders of images: describe every image of each folder, then the spread of spacing per axis, "
        "the orientations and the shapes",
    )
    parser.add_argument(
        "--bundle",
        metavar="DIR",
        help="with --summary: list the images this bundle would warn about (spacing outside the range it was "
        "trained on), crop (larger than its grid) or refuse",
    )


def _number(value: float) -> float:
    """``value`` without float noise: a float32 value (NIfTI headers store float32) as the shortest decimal
    that reads back as it (0.800000011920929 -> 0.8), others with 10 significant digits (0.48828100000000004
    -> 0.488281)."""
    single = np.float32(value)
    return float(str(single)) if float(single) == value else float(f"{value:.10g}")


def _describe(path: str, args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """Load ``path`` and describe it; returns the record and notes (for stderr) about the scales.

    Raises:
        Exception: whatever loading or the scale computation raises for bad input.
    """
    import nibabel as nib

    from monai_afpe.data.readers import load_image
    from monai_afpe.transforms import compute_afpe_scales, image_spacing, image_spatial_shape, spacing_units

    img = load_image(path, pixel_spacing=args.pixel_spacing, tolerance=args.tolerance)
    spacing = [_number(v) for v in image_spacing(img).tolist()]
    units = list(spacing_units(img))
    spatial_shape = list(image_spatial_shape(img))
    temporal_axes = tuple(axis for axis, unit in enumerate(units) if unit == "s")
    patient_axes = not temporal_axes and bool(img.meta.get("patient_affine", True))
    orientation = "".join(nib.aff2axcodes(img.affine.numpy()))[: len(spatial_shape)] if patient_axes else None
    notes = []
    if temporal_axes and args.temporal_base_scale is None and args.policy != "fixed":
        scales = None
        notes.append(
            f"{path}: scales: not derived: the time axis needs --temporal-base-scale "
            "(space and time have different units)"
        )
    else:
        scales = compute_afpe_scales(
            spacing=spacing,
            patch_size=args.patch_size if len(args.patch_size) > 1 else args.patch_size[0],
            image_size=spatial_shape,
            policy=args.policy,
            base_scale=args.base_scale,
            temporal_base_scale=args.temporal_base_scale if temporal_axes else None,
            temporal_axes=temporal_axes,
            multipliers=args.multipliers,
            scales=args.scales,
            units=units,
        )
        scales = [_number(v) for v in scales.tolist()]
    record = {
        "path": path,
        "shape": list(img.shape),
        "spatial_shape": spatial_shape,
        "spacing": spacing,
        "units": units,
        "spacing_source": img.meta.get("spacing_source"),
        "orientation": orientation,
        "policy": args.policy,
        "patch_size": args.patch_size,
        "scales": scales,
    }
    return record, notes


def _spacing_text(spacing: list[float], units: list[str]) -> str:
    if len(set(units)) == 1:
        return ", ".join(f"{v:.6g}" for v in spacing) + f" {units[0]}"
    return ", ".join(f"{v:.6g} {u}" for v, u in zip(spacing, units))


def _table(records: list[dict[str, Any]]) -> str:
    sources = any(r.get("spacing_source") for r in records)  # the SPACING FROM column only when a reader chose
    header = ("PATH", "SHAPE (C, ...)", "SPACING") + (("SPACING FROM",) if sources else ()) + ("ORIENTATION", "SCALES")
    rows = [header] + [
        (
            r["path"],
            "(" + ", ".join(str(n) for n in r["shape"]) + ")",
            _spacing_text(r["spacing"], r["units"]),
            *((r.get("spacing_source") or "-",) if sources else ()),
            r["orientation"] or ("n/a (time axis)" if "s" in r["units"] else "n/a (no patient axes)"),
            "-" if r["scales"] is None else ", ".join(f"{v:.4g}" for v in r["scales"]),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _say(kind: str, message: object, path: str | None = None) -> None:
    text = " ".join(str(message).split())  # one line, whatever the message
    if path is not None and path not in text:
        text = f"{path}: {text}"
    print(f"{_PROG}: {kind}: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    import logging
    import warnings

    from monai_afpe.transforms import ScalePolicy, check_patch_size

    # MONAI's LoadImage builds all its default readers; without the optional nvImageCodec, its DICOM
    # reader reports that on every load. That is no news about the data, so it is not shown.
    logging.getLogger("monai.data.nvimgcodec_pydicom_plugin").setLevel(logging.ERROR)
    # nibabel logs the header fields it "fixes" on load (a zero pixdim "set to 1"); NiftiReader reads the
    # header as stored and reports what it uses (or the error) as a warning naming the file, so the
    # log line would only mislead.
    logging.getLogger("nibabel.global").setLevel(logging.ERROR)
    try:
        temporal_axes = () if args.temporal_base_scale is None else (0,)  # validates the value alone
        check_patch_size(args.patch_size)
        ScalePolicy(
            policy=args.policy,
            base_scale=args.base_scale,
            temporal_base_scale=args.temporal_base_scale,
            temporal_axes=temporal_axes,
            multipliers=args.multipliers,
            scales=args.scales,
        )
    except ValueError as e:
        _say("error", e)
        return 2

    from monai_afpe.commands.folder_summary import bundle_expectations, bundle_verdicts, expand_folders, summary_text

    paths = args.paths
    expectations = None
    if args.bundle and not args.summary:
        _say("error", "--bundle needs --summary")
        return 2
    if args.summary:
        try:
            paths = expand_folders(args.paths)
            expectations = bundle_expectations(args.bundle) if args.bundle else None
        except (ValueError, OSError) as e:
            _say("error", e)
            return 2
    records, failed = [], 0
    for path in paths:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message="NvImgCodecPydicomReader")
            try:
                record, notes = _describe(path, args)
            except Exception as e:  # bad input: one line naming the file and the field, no traceback
                record, notes = None, []
                failed += 1
                _say("error", e if isinstance(e, (ValueError, OSError)) else f"{type(e).__name__}: {e}", path)
        for warning in caught:
            _say("warning", warning.message, path)
        for note in notes:
            _say("note", note)
        if record is not None:
            records.append(record)
            if args.json:
                print(json.dumps(record), flush=True)
    if records and not args.json:
        print(_table(records))
    if args.summary:
        print(summary_text(records, failed) if records else f"no image could be read ({failed} failed)")
        if expectations is not None:
            print("\n".join(bundle_verdicts(records, expectations)))
    return 1 if failed else 0
