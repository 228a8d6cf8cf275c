"""``monai-afpe info DIR --summary``: what a folder of images holds, and what a bundle would do with it.

Before training or inferring on a hospital export, a user wants to know the spread of spacing, orientation
and shape across the folder, and which files a bundle would warn about (spacing outside the range it was
trained on, its spacing contract), crop (larger than the grid it resizes to) or refuse (unreadable).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["expand_folders", "summary_text", "bundle_expectations", "bundle_verdicts"]


def _is_image(path: Path) -> bool:
    """A file ``load_image`` reads: by its suffix (NIfTI, SimpleITK formats, video, PNG / JPEG) or, whatever its name,
    DICOM."""
    import pydicom
    from monai.data.utils import is_supported_format

    from monai_afpe.data.readers.raster import RASTER_SUFFIXES
    from monai_afpe.data.readers.sitk_reader import SITK_SUFFIXES
    from monai_afpe.data.readers.video import VIDEO_SUFFIXES

    if not path.is_file():
        return False
    suffixes = SITK_SUFFIXES + VIDEO_SUFFIXES + RASTER_SUFFIXES
    return is_supported_format(str(path), suffixes) or pydicom.misc.is_dicom(str(path))


def _is_dicom(path: Path) -> bool:
    import pydicom

    return path.is_file() and pydicom.misc.is_dicom(str(path))


def expand_folders(paths: Sequence[str]) -> list[str]:
    """Every image of each folder in ``paths`` (files and paths that are not folders are kept as they are).

    A folder whose files are all DICOM (recognised by content, with or without ``.dcm``) is one series;
    otherwise its image files are listed, and each sub-folder holding DICOM files counts as one series.

    Raises:
        ValueError: a folder without any image or series (naming it and the formats looked for).
    """
    expanded: list[str] = []
    for raw in paths:
        folder = Path(raw)
        if not folder.is_dir():
            expanded.append(raw)
            continue
        files = sorted(p for p in folder.iterdir() if _is_image(p))
        if files and all(_is_dicom(p) for p in files):
            expanded.append(raw)
            continue
        series = sorted(p for p in folder.iterdir() if p.is_dir() and any(_is_dicom(q) for q in p.iterdir()))
        found = [str(p) for p in files] + [str(p) for p in series]
        if not found:
            raise ValueError(
                f"{folder}: no image file (NIfTI, MHA / NRRD, DICOM, PNG / JPEG, video) and no DICOM series folder in it."
            )
        expanded.extend(found)
    return expanded


def _spread(values: np.ndarray) -> str:
    low, p5, median, p95, high = np.percentile(values, [0, 5, 50, 95, 100])
    return f"min {low:.4g}, 5% {p5:.4g}, median {median:.4g}, 95% {p95:.4g}, max {high:.4g}"


def summary_text(records: Sequence[dict[str, Any]], failed: int = 0) -> str:
    """Per-axis spacing spread, orientations and shapes of described images (records of ``monai-afpe info``)."""
    lines = [
        f"{len(records)} images described" + (f", {failed} could not be read (see the errors above)" if failed else "")
    ]
    by_rank: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        by_rank.setdefault(len(record["spacing"]), []).append(record)
    for rank, group in sorted(by_rank.items()):
        spacing = np.array([r["spacing"] for r in group], dtype=np.float64)
        units = Counter(tuple(r["units"]) for r in group).most_common(1)[0][0]
        lines.append(f"{len(group)} with {rank} spatial axes; spacing per array axis:")
        lines += [f"  axis {axis} ({units[axis]}): {_spread(spacing[:, axis])}" for axis in range(rank)]
    orientations = Counter(r["orientation"] or "n/a" for r in records)
    lines.append("orientation: " + ", ".join(f"{code} {count}" for code, count in orientations.most_common()))
    shapes = Counter("x".join(str(n) for n in r["spatial_shape"]) for r in records)
    shown = ", ".join(f"{shape} {count}" for shape, count in shapes.most_common(8))
    lines.append(f"spatial shape: {shown}" + (f" (and {len(shapes) - 8} more)" if len(shapes) > 8 else ""))
    return "\n".join(lines)


def bundle_expectations(bundle_root: os.PathLike | str) -> dict[str, Any]:
    """The spacing contract and the grid a bundle's ``configs/inference.json`` resizes to.

    The contract is the one training wrote (``models/spacing_contract.json``), else the config's
    ``trained_spacing_range`` (see :func:`~monai_afpe.transforms.load_spacing_contract`).

    Raises:
        FileNotFoundError: no ``configs/inference.json`` in ``bundle_root``.
        ValueError: no spacing contract in either place.
    """
    from monai_afpe.transforms import load_spacing_contract

    root = Path(bundle_root)
    config_file = root / "configs" / "inference.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file}: not found; --bundle takes a bundle folder (with configs/).")
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(config_file))
    parser["bundle_root"] = str(root)

    def value(key: str):
        return parser.get_parsed_content(key, instantiate=False) if key in parser else None

    default = value("trained_spacing_range")
    contract = load_spacing_contract(root / "models", dict(default) if default else None)
    if contract is None:
        raise ValueError(f"{config_file}: no trained_spacing_range, and no models/spacing_contract.json.")
    size = value("spatial_size")
    grid = [int(n) for n in size] if isinstance(size, (list, tuple)) and all(isinstance(n, int) for n in size) else None
    return {"contract": contract, "grid": grid}


_WORLD_AXIS = {"L": 0, "R": 0, "P": 1, "A": 1, "I": 2, "S": 2}


def _as_network_sees(values: Sequence[float], orientation: str | None) -> np.ndarray:
    """Per-array-axis values put in RAS axis order, as after the bundles' ``Orientationd(axcodes="RAS")``."""
    values = np.asarray(values, dtype=np.float64)
    if not orientation or len(orientation) != len(values) or len({_WORLD_AXIS[c] for c in orientation}) != len(values):
        return values
    ordered = np.empty_like(values)
    for axis, code in enumerate(orientation):
        ordered[_WORLD_AXIS[code]] = values[axis]
    return ordered


def bundle_verdicts(
    records: Sequence[dict[str, Any]], expectations: dict[str, Any], tolerance: float = 0.01
) -> list[str]:
    """One line per image a bundle would warn about (spacing outside its contract) or crop (larger than its grid).

    Spacing and shape of patient images are compared in RAS axis order (the bundles reorient to RAS before
    the check); videos and ultrasound as stored."""
    contract, grid = expectations["contract"], expectations["grid"]
    low, high = np.asarray(contract["min"], dtype=np.float64), np.asarray(contract["max"], dtype=np.float64)
    names = contract.get("axes") or [f"axis {i}" for i in range(len(low))]
    lines = []
    for record in records:
        spacing = _as_network_sees(record["spacing"], record["orientation"])
        shape = _as_network_sees(record["spatial_shape"], record["orientation"]).astype(int).tolist()
        if spacing.shape != low.shape:
            lines.append(f"{record['path']}: refused: {len(spacing)} spatial axes, the bundle takes {len(low)}")
            continue
        outside = [
            f"{names[i]} {spacing[i]:.4g} not in [{low[i]:.4g}, {high[i]:.4g}]"
            for i in range(len(low))
            if spacing[i] < low[i] * (1 - tolerance) or spacing[i] > high[i] * (1 + tolerance)
        ]
        if outside:
            lines.append(f"{record['path']}: spacing outside the trained range (inference warns): {'; '.join(outside)}")
        if grid is not None and len(grid) == len(shape):
            cropped = [f"axis {i} {n} > {g}" for i, (n, g) in enumerate(zip(shape, grid)) if n > g]
            if cropped:
                lines.append(f"{record['path']}: cropped to the bundle's grid {grid}: {'; '.join(cropped)}")
    source = contract.get("source", "bundle default")
    header = f"against the bundle (spacing contract from {source}" + (f", grid {grid})" if grid else ")")
    return [header + f": {len(lines)} findings"] + lines
