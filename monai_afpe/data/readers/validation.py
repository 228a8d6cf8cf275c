"""The error raised on bad geometry metadata, the check every reader applies to a spacing value, and message helpers.

AFPE scales (arXiv 2509.02488) follow the data's physical spacing, so a reader must never hand a
missing, zero, negative or non-finite spacing to the rest of the pipeline, nor guess one silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "SourceFieldError",
    "ImageMetadataError",
    "check_metadata_spacing",
    "format_list",
    "format_values",
    "is_missing",
]

_MAX_LISTED = 5  # items named in one message


class SourceFieldError(ValueError):
    """An error whose one-line message names where (a file, folder, list item) and which field is wrong.

    The message is ``"<source>: <field>: <problem>"``; the three parts stay available as attributes.

    Args:
        source: the file, folder or list item the problem is in.
        field: the metadata field or item key.
        problem: what is wrong and, where useful, what was expected.
    """

    def __init__(self, source: object, field: str, problem: str):
        self.source = str(source)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.source}: {field}: {problem}")

    def __reduce__(self):  # picklable, e.g. across DataLoader worker processes
        return type(self), (self.source, self.field, self.problem)


class ImageMetadataError(SourceFieldError):
    """Missing, malformed or inconsistent geometry metadata in an image file, DICOM series or video, e.g.
    ``"ct/0001.dcm: PixelSpacing (0028,0030): missing"`` (source: the file or folder; field: the metadata
    field, a DICOM keyword and tag, a container property, ...)."""


def format_values(values: Sequence[float] | np.ndarray | float, unit: str = "") -> str:
    """``(0.5, 0.5, 2.5)`` -> ``"0.5, 0.5, 2.5 mm"``: numbers with 6 significant digits for messages."""
    text = ", ".join(f"{v:.6g}" for v in np.asarray(values, dtype=np.float64).reshape(-1).tolist())
    return f"{text} {unit}" if unit else text


def format_list(items: Sequence[str]) -> str:
    """``"a, b, c, d, e and 2 more"``: the first five items for messages, and how many more there are."""
    shown = ", ".join(items[:_MAX_LISTED])
    return shown if len(items) <= _MAX_LISTED else f"{shown} and {len(items) - _MAX_LISTED} more"


def is_missing(value: object) -> bool:
    """Whether a metadata value is absent: ``None`` or a blank string (an empty DICOM element)."""
    return value is None or (isinstance(value, str) and not value.strip())


def check_metadata_spacing(spacing: object, source: object, field: str, unit: str = "mm") -> tuple[float, ...]:
    """Return a spacing read from a file's metadata as a tuple of floats, or raise if it is missing, zero, negative,
    NaN or infinite.

    For values given as arguments by a user, see :func:`monai_afpe.validation.check_per_axis`.

    Args:
        spacing: one number or a sequence of numbers (a DICOM multi-value, a tuple, an array); ``None``
            or an empty value means the field is missing.
        source: the file or folder, for the message.
        field: the metadata field, for the message.
        unit: the unit of the values, for the message.

    Raises:
        ImageMetadataError: naming ``source`` and ``field``.
    """
    if is_missing(spacing):
        raise ImageMetadataError(source, field, "missing")
    try:
        values = tuple(np.asarray(spacing, dtype=np.float64).reshape(-1).tolist())
    except (TypeError, ValueError):
        raise ImageMetadataError(source, field, f"expected numbers, got {spacing!r}") from None
    if not values:
        raise ImageMetadataError(source, field, "missing (empty value)")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ImageMetadataError(source, field, f"spacing must be finite and > 0, got {format_values(values, unit)}")
    return values
